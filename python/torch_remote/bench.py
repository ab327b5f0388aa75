"""``python -m torch_remote.bench``: figures of the remote device next to their baselines,
each pair measured in the same run, printed as ratios (``--json FILE`` also writes them).

- a chain of tiny elementwise ops plus one ``.cpu()``: remote vs local eager CPU, and the
  round trips it made;
- upload and download of a large tensor vs a plain loopback TCP socket moving as many bytes;
- the guest's shape inference through wasmtime vs PyTorch's meta tensors from Python;
- an MLP (784-256-10, batch 128, SGD) training step: remote vs local CPU, and its round trips;
- a small residual CNN (convolutions, batch norms; batch 16 of 3x32x32, SGD with momentum)
  training step: remote vs local CPU, and its round trips;
- where this process sees a CUDA GPU and the host computes on one (both on one machine): a
  4096x4096 float32 matmul loop and the MLP step, remote vs the same code on native CUDA.
"""

from __future__ import annotations

import argparse
import json
import socket
import threading
import time
from collections.abc import Callable

import torch

from torch_remote import _native


def _timed(fn: Callable[[], object], repeat: int) -> float:
    """Best wall time of `repeat` runs, after one warm-up run."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _round_trips(fn: Callable[[], object]) -> int:
    before = torch.remote.stats()["round_trips"]
    fn()
    return torch.remote.stats()["round_trips"] - before


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
    return {
        "cpu_us_per_op": cpu / ops * 1e6,
        "remote_us_per_op": remote / ops * 1e6,
        "ratio": remote / cpu,
        "round_trips": _round_trips(remote_run),
    }


def _socket_seconds(nbytes: int) -> float:
    """Seconds to move `nbytes` through a plain loopback TCP socket into a ready buffer."""
    server = socket.create_server(("127.0.0.1", 0))
    received = bytearray(nbytes)

    def receive():
        conn, _ = server.accept()
        with conn:
            view, got = memoryview(received), 0
            while got < nbytes:
                got += conn.recv_into(view[got:], nbytes - got)
            conn.sendall(b"k")

    thread = threading.Thread(target=receive)
    thread.start()
    payload = bytes(nbytes)
    with socket.create_connection(server.getsockname()) as conn:
        start = time.perf_counter()
        conn.sendall(payload)
        conn.recv(1)
        seconds = time.perf_counter() - start
    thread.join()
    server.close()
    return seconds


def bench_transfers(mib: int, repeat: int) -> dict[str, float]:
    nbytes = mib << 20
    cpu = torch.rand(nbytes // 4)
    socket_s = min(_socket_seconds(nbytes) for _ in range(repeat))
    uploaded: list[torch.Tensor] = []

    def upload():
        uploaded[:] = [cpu.to("remote")]
        torch.remote.synchronize()

    up = _timed(upload, repeat)
    remote = uploaded[0]
    # Like the socket's receiver, into a buffer that exists already; `.cpu()` also pays for
    # the fresh tensor's first-touch page faults.
    ready = torch.empty_like(cpu)
    down = _timed(lambda: ready.copy_(remote), repeat)
    down_new = _timed(remote.cpu, repeat)
    if not torch.equal(ready, cpu) or not torch.equal(remote.cpu(), cpu):
        raise AssertionError("the downloaded tensor differs from the uploaded one")
    rate = lambda s: nbytes / s / 2**20  # noqa: E731 - MiB/s
    return {
        "mib": mib,
        "socket_mib_s": rate(socket_s),
        "upload_mib_s": rate(up),
        "download_mib_s": rate(down),
        "cpu_call_mib_s": rate(down_new),
        "upload_vs_socket": socket_s / up,
        "download_vs_socket": socket_s / down,
        "cpu_call_vs_socket": socket_s / down_new,
    }


def _inference_cases() -> dict[str, tuple[str, str, list, Callable[[], object]]]:
    """Each op: its guest name, overload and arguments, and the same op on meta tensors."""
    meta = lambda *s: torch.empty(*s, device="meta")  # noqa: E731
    a, b = meta(64, 64), meta(64, 64)
    x, w, bias = meta(8, 3, 32, 32), meta(16, 3, 3, 3), meta(16)
    f32 = lambda *s: (list(s), "float32")  # noqa: E731
    return {
        "add": ("add", "Tensor", [f32(64, 64), f32(64, 64)], lambda: torch.add(a, b)),
        "mm": ("mm", "", [f32(64, 64), f32(64, 64)], lambda: torch.mm(a, b)),
        "conv2d": (
            "_convolution",
            "",
            [
                f32(8, 3, 32, 32),
                f32(16, 3, 3, 3),
                f32(16),
                [1, 1],
                [1, 1],
                [1, 1],
                False,
                [0, 0],
                1,
            ],
            lambda: torch.nn.functional.conv2d(x, w, bias, padding=1),
        ),
        "sum": ("sum", "", [f32(64, 64), None], lambda: torch.sum(a)),
    }


def bench_inference(repeat: int) -> dict[str, dict[str, float]]:
    figures = {}
    calls = 200
    for label, (name, overload, args, on_meta) in _inference_cases().items():
        meta_s = _timed(lambda f=on_meta: [f() for _ in range(calls)], repeat) / calls
        # Best of `repeat` runs, as for meta; each run gives both costs per call.
        runs = [_native.time_inference(name, overload, args, 2000) for _ in range(repeat + 1)]
        guest_s = min(guest for guest, _ in runs[1:])
        memo_s = min(memo for _, memo in runs[1:])
        figures[label] = {
            "meta_us": meta_s * 1e6,
            "guest_us": guest_s * 1e6,
            "memoised_us": memo_s * 1e6,
            "meta_vs_guest": meta_s / guest_s,
            "meta_vs_memoised": meta_s / memo_s,
        }
    return figures


def _training_step(
    model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, device: str, **sgd: float
) -> Callable[[], float]:
    """One SGD step of classifier `model` on `(x, y)` on `device`; its one read is the loss."""
    model = model.to(device)
    optimizer = torch.optim.SGD(model.parameters(), **sgd)
    x, y = x.to(device), y.to(device)

    def step() -> float:
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def _bench_steps(
    make_step: Callable[[str], Callable[[], float]], steps: int, repeat: int
) -> dict[str, float]:
    """`steps` training steps on the CPU and on remote, and the round trips of one on remote."""
    runs = {}
    for device in ("cpu", "remote"):
        step = make_step(device)
        runs[device] = _timed(lambda f=step: [f() for _ in range(steps)], repeat) / steps
    return {
        "cpu_ms_per_step": runs["cpu"] * 1e3,
        "remote_ms_per_step": runs["remote"] * 1e3,
        "ratio": runs["remote"] / runs["cpu"],
        "round_trips": _round_trips(step),
    }


def mlp_step(device: str) -> Callable[[], float]:
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10)
    )
    return _training_step(
        model, torch.randn(128, 784), torch.randint(0, 10, (128,)), device, lr=0.01
    )


def bench_mlp(repeat: int) -> dict[str, float]:
    return _bench_steps(mlp_step, 10, repeat)


def _residual_cnn() -> torch.nn.Module:
    """Two residual stages of 3x3 convolutions with batch norms, pooled into 10 classes."""
    nn = torch.nn

    def stage(c: int) -> nn.Module:
        return nn.Sequential(
            nn.Conv2d(c, c, 3, padding=1, bias=False),
            nn.BatchNorm2d(c),
            nn.ReLU(),
            nn.Conv2d(c, c, 3, padding=1, bias=False),
            nn.BatchNorm2d(c),
        )

    class Residual(nn.Module):
        def __init__(self, c: int):
            super().__init__()
            self.body = stage(c)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.relu(x + self.body(x))

    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1, bias=False),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        Residual(16),
        nn.Conv2d(16, 32, 3, stride=2, padding=1, bias=False),
        Residual(32),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(32, 10),
    )


def cnn_step(device: str) -> Callable[[], float]:
    torch.manual_seed(0)
    model = _residual_cnn()
    x, y = torch.randn(16, 3, 32, 32), torch.randint(0, 10, (16,))
    return _training_step(model, x, y, device, lr=0.05, momentum=0.9)


def bench_cnn(repeat: int) -> dict[str, float]:
    return _bench_steps(cnn_step, 3, repeat)


class _SequenceClassifier(torch.nn.Module):
    """A two-layer LSTM (64 -> 128) over the sequence, classified from its last step."""

    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(64, 128, num_layers=2, batch_first=True)
        self.head = torch.nn.Linear(128, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.lstm(x)[0][:, -1])


def lstm_step(device: str) -> Callable[[], float]:
    torch.manual_seed(0)
    x, y = torch.randn(16, 50, 64), torch.randint(0, 5, (16,))
    return _training_step(_SequenceClassifier(), x, y, device, lr=0.05, momentum=0.9)


def bench_lstm(repeat: int) -> dict[str, float]:
    return _bench_steps(lstm_step, 3, repeat)


def matmul_loop(device: str, n: int, iters: int) -> Callable[[], float]:
    """`iters` products of two n x n float32 matrices, then one read that waits for them."""
    torch.manual_seed(0)
    a = torch.randn(n, n).to(device)
    b = (torch.randn(n, n) / n**0.5).to(device)

    def run() -> float:
        c = a
        for _ in range(iters):
            c = c @ b
        return c.norm().item()

    return run


def bench_accelerator(baseline: str, n: int, iters: int, repeat: int) -> dict[str, float]:
    """The matmul loop and the MLP step on `remote` next to the same code on `baseline`."""
    loops = {device: matmul_loop(device, n, iters) for device in (baseline, "remote")}
    norms = {device: loop() for device, loop in loops.items()}
    if abs(norms["remote"] - norms[baseline]) > 1e-3 * abs(norms[baseline]):
        raise AssertionError(
            f"matmul loop: remote gives norm {norms['remote']}, {baseline} {norms[baseline]}"
        )
    matmul = {device: _timed(loop, repeat) for device, loop in loops.items()}
    steps = 10
    mlp = {}
    for device in (baseline, "remote"):
        step = mlp_step(device)
        mlp[device] = _timed(lambda f=step: [f() for _ in range(steps)], repeat) / steps
    flops = 2 * n**3 * iters
    return {
        "baseline": baseline,
        "host_device": torch.remote.get_device_properties().host_device,
        "matmul_n": n,
        "matmul_iters": iters,
        "matmul_baseline_tflops": flops / matmul[baseline] / 1e12,
        "matmul_remote_tflops": flops / matmul["remote"] / 1e12,
        "matmul_ratio": matmul["remote"] / matmul[baseline],
        "mlp_baseline_ms_per_step": mlp[baseline] * 1e3,
        "mlp_remote_ms_per_step": mlp["remote"] * 1e3,
        "mlp_ratio": mlp["remote"] / mlp[baseline],
    }


def _host_on_cuda() -> bool:
    return (
        torch.cuda.is_available()
        and torch.remote.get_device_properties().host_device.startswith("cuda")
    )


def report(figures: dict) -> None:
    chain = figures["tiny_op_chain"]
    print(f"tiny-op chain + .cpu():  cpu {chain['cpu_us_per_op']:.2f} us/op, ", end="")
    print(f"remote {chain['remote_us_per_op']:.2f} us/op", end="")
    print(f"  ratio {chain['ratio']:.2f}x  round trips {chain['round_trips']}")
    t = figures["transfers"]
    print(
        f"{t['mib']} MiB transfers: socket {t['socket_mib_s']:.0f} MiB/s, "
        f"upload {t['upload_mib_s']:.0f} MiB/s ({t['upload_vs_socket']:.2f} of socket), "
        f"download {t['download_mib_s']:.0f} MiB/s ({t['download_vs_socket']:.2f} of socket; "
        f"`.cpu()` into a new tensor {t['cpu_call_vs_socket']:.2f})"
    )
    print("shape inference per op: PyTorch meta from Python vs guest in wasmtime (memoised)")
    for op, f in figures["inference"].items():
        print(
            f"  {op:7s} meta {f['meta_us']:7.2f} us  guest {f['guest_us']:6.2f} us "
            f"({f['memoised_us']:.2f} us)  meta/guest {f['meta_vs_guest']:6.1f}x "
            f"({f['meta_vs_memoised']:.0f}x)"
        )
    m = figures["mlp_step"]
    print(
        f"MLP 784-256-10 SGD step: cpu {m['cpu_ms_per_step']:.3f} ms, remote "
        f"{m['remote_ms_per_step']:.3f} ms  ratio {m['ratio']:.2f}x  round trips "
        f"{m['round_trips']}"
    )
    c = figures["cnn_step"]
    print(
        f"residual CNN step (batch 16, 3x32x32): cpu {c['cpu_ms_per_step']:.2f} ms, remote "
        f"{c['remote_ms_per_step']:.2f} ms  ratio {c['ratio']:.2f}x  round trips "
        f"{c['round_trips']}"
    )
    r = figures["lstm_step"]
    print(
        f"LSTM step (2 layers 64->128, 50 steps, batch 16): cpu {r['cpu_ms_per_step']:.2f} ms, "
        f"remote {r['remote_ms_per_step']:.2f} ms  ratio {r['ratio']:.2f}x  round trips "
        f"{r['round_trips']}"
    )
    if "accelerator" in figures:
        a = figures["accelerator"]
        print(
            f"on {a['host_device']} vs native {a['baseline']}: {a['matmul_iters']} matmuls "
            f"{a['matmul_n']}x{a['matmul_n']} float32: {a['baseline']} "
            f"{a['matmul_baseline_tflops']:.1f} TFLOP/s, remote {a['matmul_remote_tflops']:.1f} "
            f"TFLOP/s  ratio {a['matmul_ratio']:.2f}x; MLP step: {a['baseline']} "
            f"{a['mlp_baseline_ms_per_step']:.3f} ms, remote {a['mlp_remote_ms_per_step']:.3f} ms"
            f"  ratio {a['mlp_ratio']:.2f}x"
        )
    print(f"client counters (torch.remote.stats()): {figures['stats']}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ops", type=int, default=2000, help="ops in the tiny-op chain")
    parser.add_argument("--mib", type=int, default=256, help="MiB per transfer")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per figure")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)

    figures = {
        "tiny_op_chain": bench_tiny_ops(args.ops, args.repeat),
        "transfers": bench_transfers(args.mib, min(args.repeat, 3)),
        "inference": bench_inference(args.repeat),
        "mlp_step": bench_mlp(args.repeat),
        "cnn_step": bench_cnn(args.repeat),
        "lstm_step": bench_lstm(args.repeat),
    }
    if _host_on_cuda():
        figures["accelerator"] = bench_accelerator("cuda", 4096, 20, args.repeat)
    figures["stats"] = torch.remote.stats()
    report(figures)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=2)


if __name__ == "__main__":
    main()
