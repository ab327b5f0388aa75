"""The benchmark command runs end to end on small sizes, and what it measures holds: one round
trip per tiny-op chain and per training step, and the same matmul results on remote."""

from __future__ import annotations

import json
import math

from torch_remote import bench


def test_bench_writes_every_figure_with_one_round_trip_per_chain_and_step(tmp_path):
    out = tmp_path / "figures.json"
    bench.main(["--ops", "40", "--mib", "1", "--repeat", "1", "--json", str(out)])
    figures = json.loads(out.read_text())
    assert figures["tiny_op_chain"]["round_trips"] == 1
    assert figures["mlp_step"]["round_trips"] == 1
    assert figures["cnn_step"]["round_trips"] == 1
    assert figures["lstm_step"]["round_trips"] == 1
    assert set(figures["inference"]) == {"add", "mm", "conv2d", "sum"}
    for op in figures["inference"].values():
        assert op["guest_us"] > 0 and op["meta_us"] > 0
    assert figures["stats"]["bytes_up"] >= 1 << 20
    assert figures["stats"]["bytes_down"] >= 1 << 20


def test_accelerator_figures_compare_remote_with_the_baseline_device():
    figures = bench.bench_accelerator("cpu", n=48, iters=3, repeat=1)
    assert figures["host_device"] == "cpu"
    for key in ("matmul_ratio", "mlp_ratio", "matmul_remote_tflops", "mlp_remote_ms_per_step"):
        assert math.isfinite(figures[key]) and figures[key] > 0
