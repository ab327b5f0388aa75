"""``python -m torch_remote.bench``: figures of the remote device next to local eager CPU,
each pair measured in the same run, printed as ratios (``--json FILE`` also writes them)."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import torch

import torch_remote  # noqa: F401


def _timed(fn: Callable[[], object], repeat: int) -> float:
    """Best wall time of `repeat` runs, after one warm-up run."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def tiny_op_chain(device: str, ops: int) -> Callable[[], object]:
    def run():
        x = torch.ones(8, device=device)
        for _ in range(ops // 2):
            x = x * 1.0001 + 0.5
        return x.cpu()

    return run


def bench_tiny_ops(ops: int, repeat: int) -> dict[str, float]:
    cpu = _timed(tiny_op_chain("cpu", ops), repeat)
    remote_run = tiny_op_chain("remote", ops)
    remote = _timed(remote_run, repeat)
    before = torch.remote.stats()["round_trips"]
    remote_run()
    trips = torch.remote.stats()["round_trips"] - before
    return {
        "cpu_us_per_op": cpu / ops * 1e6,
        "remote_us_per_op": remote / ops * 1e6,
        "ratio": remote / cpu,
        "round_trips": trips,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ops", type=int, default=2000, help="ops in the tiny-op chain")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per figure")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)

    figures = {"tiny_op_chain": bench_tiny_ops(args.ops, args.repeat)}
    chain = figures["tiny_op_chain"]
    print(f"tiny-op chain of {args.ops} ops + .cpu() (best of {args.repeat}):")
    print(f"  local eager CPU   {chain['cpu_us_per_op']:8.2f} us/op")
    print(f"  remote            {chain['remote_us_per_op']:8.2f} us/op")
    print(f"  ratio remote/cpu  {chain['ratio']:8.2f}x   round trips: {chain['round_trips']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=2)


if __name__ == "__main__":
    main()
