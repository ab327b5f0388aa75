"""Cross-check harness: each op runs three ways (CPU reference, remote host, dry run).
Sizes, strides, storage offset and dtype must agree across all three; values must equal
the CPU's."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
import torch
import torch.nn.functional as F
import torch_remote
from conftest import meta, outputs, to_remote


@dataclass
class Sample:
    name: str
    fn: Callable
    inputs: Callable[[], list]


def randn(*shape, dtype=torch.float32):
    return lambda: torch.randn(*shape, generator=GEN, dtype=dtype)


GEN = torch.Generator().manual_seed(0)


def inputs(*makers):
    return lambda: [m() if callable(m) else m for m in makers]


SAMPLES = [
    Sample("add", lambda a, b: a + b, inputs(randn(3, 4), randn(4))),
    Sample("add_alpha", lambda a, b: torch.add(a, b, alpha=2.5), inputs(randn(2, 3), randn(2, 3))),
    Sample("sub_scalar", lambda a: a - 1.5, inputs(randn(5))),
    Sample("rsub", lambda a: 2 - a, inputs(randn(5))),
    Sample("mul_broadcast", lambda a, b: a * b, inputs(randn(2, 1, 3), randn(4, 1))),
    Sample("div", lambda a, b: a / b, inputs(randn(3, 3), randn(3, 3))),
    Sample("div_int_promotes", lambda a: a / 2, inputs(lambda: torch.arange(6))),
    Sample("add_int_float", lambda a, b: a + b, inputs(lambda: torch.arange(6), randn(6))),
    Sample("mul_double_float", lambda a, b: a * b, inputs(randn(4, dtype=torch.float64), randn(4))),
    Sample(
        "div_floor", lambda a, b: torch.div(a, b, rounding_mode="floor"), inputs(randn(6), randn(6))
    ),
    Sample("neg", torch.neg, inputs(randn(2, 3))),
    Sample("exp", torch.exp, inputs(randn(2, 3))),
    Sample("sqrt", lambda a: torch.sqrt(a.abs()), inputs(randn(7))),
    Sample("relu", torch.relu, inputs(randn(4, 4))),
    Sample("inplace_add", lambda a, b: a.add_(b), inputs(randn(3, 4), randn(3, 4))),
    Sample("inplace_mul_scalar", lambda a: a.mul_(3), inputs(randn(3, 4))),
    Sample(
        "eq",
        lambda a, b: a == b,
        inputs(lambda: torch.tensor([1.0, 2, 3]), lambda: torch.tensor([1.0, 0, 3])),
    ),
    Sample("lt_scalar", lambda a: a < 0, inputs(randn(5))),
    Sample("ge", lambda a, b: a >= b, inputs(randn(2, 3), randn(3))),
    Sample("where", lambda a, b: torch.where(a > 0, a, b), inputs(randn(3, 3), randn(3, 3))),
    Sample("sum_all", torch.sum, inputs(randn(3, 4))),
    Sample("sum_dim", lambda a: a.sum(1), inputs(randn(3, 4))),
    Sample("sum_keepdim", lambda a: a.sum((0, 2), keepdim=True), inputs(randn(2, 3, 4))),
    Sample("sum_int", lambda a: a.sum(), inputs(lambda: torch.arange(10, dtype=torch.int32))),
    Sample("mean_dim", lambda a: a.mean(0), inputs(randn(5, 2))),
    Sample("max_all", torch.max, inputs(randn(4, 5))),
    Sample("max_dim", lambda a: a.max(1), inputs(randn(4, 5))),
    Sample("argmax", lambda a: a.argmax(1), inputs(randn(4, 5))),
    Sample("argmax_all", lambda a: a.argmax(), inputs(randn(4, 5))),
    Sample("mm", torch.mm, inputs(randn(3, 4), randn(4, 5))),
    Sample("matmul_t", lambda a, b: a @ b.t(), inputs(randn(3, 4), randn(5, 4))),
    Sample(
        "addmm",
        lambda c, a, b: torch.addmm(c, a, b, beta=0.5, alpha=2),
        inputs(randn(5), randn(3, 4), randn(4, 5)),
    ),
    Sample("bmm", torch.bmm, inputs(randn(2, 3, 4), randn(2, 4, 5))),
    Sample("linear", F.linear, inputs(randn(6, 4), randn(3, 4), randn(3))),
    Sample("log_softmax", lambda a: F.log_softmax(a, dim=1), inputs(randn(4, 6))),
    Sample("softmax", lambda a: F.softmax(a, dim=0), inputs(randn(4, 6))),
    Sample(
        "nll_loss",
        lambda a, t: F.nll_loss(F.log_softmax(a, 1), t),
        inputs(randn(8, 5), lambda: torch.randint(0, 5, (8,), generator=GEN)),
    ),
    Sample(
        "cross_entropy_sum",
        lambda a, t: F.cross_entropy(a, t, reduction="sum"),
        inputs(randn(8, 5), lambda: torch.randint(0, 5, (8,), generator=GEN)),
    ),
    Sample("transpose", lambda a: a.transpose(0, 2), inputs(randn(2, 3, 4))),
    Sample("permute", lambda a: a.permute(2, 0, 1), inputs(randn(2, 3, 4))),
    Sample("select", lambda a: a[1], inputs(randn(3, 4))),
    Sample("slice_step", lambda a: a[:, 1::2], inputs(randn(3, 6))),
    Sample("expand", lambda a: a.expand(3, 4), inputs(randn(1, 4))),
    Sample("view", lambda a: a.view(4, 3), inputs(randn(3, 4))),
    Sample("reshape_copy", lambda a: a.t().reshape(12), inputs(randn(3, 4))),
    Sample("squeeze_unsqueeze", lambda a: a.squeeze(1).unsqueeze(0), inputs(randn(3, 1, 4))),
    Sample("contiguous", lambda a: a.t().contiguous(), inputs(randn(3, 4))),
    Sample("to_double", lambda a: a.to(torch.float64), inputs(randn(3))),
    Sample("to_int", lambda a: (a * 10).to(torch.int64), inputs(randn(5))),
    Sample("zero_", lambda a: a.zero_(), inputs(randn(3))),
    Sample("fill_", lambda a: a.fill_(2.5), inputs(randn(3))),
    Sample(
        "addcmul",
        lambda a, b, c: torch.addcmul(a, b, c, value=0.5),
        inputs(randn(4), randn(4), randn(4)),
    ),
    Sample(
        "addcdiv",
        lambda a, b, c: torch.addcdiv(a, b, c.abs() + 1, value=-2),
        inputs(randn(4), randn(4), randn(4)),
    ),
    Sample("lerp", lambda a, b: torch.lerp(a, b, 0.3), inputs(randn(4), randn(4))),
    Sample("write_through_view", lambda a: (a[:, 0].mul_(2), a)[1], inputs(randn(3, 3))),
]


def run_three_ways(sample: Sample):
    args = sample.inputs()
    expected = outputs(sample.fn(*[a.clone() if isinstance(a, torch.Tensor) else a for a in args]))
    remote = outputs(sample.fn(*to_remote(args)))
    with torch_remote.dry_run():
        dry = outputs(sample.fn(*to_remote(args)))
    return expected, remote, dry


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.name for s in SAMPLES])
def test_op_agrees_three_ways(sample):
    expected, remote, dry = run_three_ways(sample)
    assert len(expected) == len(remote) == len(dry)
    for cpu_t, remote_t, dry_t in zip(expected, remote, dry, strict=True):
        assert meta(dry_t) == meta(remote_t), "dry run and host metadata differ"
        assert meta(remote_t) == meta(cpu_t), "remote metadata differs from CPU"
        torch.testing.assert_close(remote_t.cpu(), cpu_t)
