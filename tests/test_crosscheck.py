"""Cross-check harness: each op runs three ways (CPU reference, remote host, dry run).
Sizes, strides, storage offset and dtype must agree across all three; values must equal
the CPU's."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
import torch
import torch.nn.functional as F
import torch_remote
from conftest import meta, outputs, to_remote

# PyTorch's own warnings: on every device alike, or (the deprecations) from its CPU kernels.
pytestmark = [
    pytest.mark.filterwarnings(r"ignore:index_reduce\(\) is in beta"),
    pytest.mark.filterwarnings(r"ignore:torch.(triangular_solve|cholesky) is deprecated"),
    pytest.mark.filterwarnings(r"ignore:The reduce argument of torch.scatter"),
]


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


def spd(a: torch.Tensor) -> torch.Tensor:
    """A well-conditioned symmetric positive definite batch built from `a`."""
    return a @ a.mT + 3 * torch.eye(a.shape[-1], device=a.device)


# `torch.lstm`'s input and states, then each layer's (or direction's) weights and biases.
LSTM_TWO_LAYERS = inputs(
    randn(6, 3, 5),
    randn(2, 3, 4),
    randn(2, 3, 4),
    *[randn(*s) for s in [(16, 5), (16, 4), (16,), (16,), (16, 4), (16, 4), (16,), (16,)]],
)
LSTM_BIDIRECTIONAL = inputs(
    randn(3, 6, 5), randn(2, 3, 4), randn(2, 3, 4), *[randn(16, s) for s in (5, 4) * 2]
)

SAMPLES = [
    Sample("triu", lambda a: torch.triu(a, 1), inputs(randn(4, 5))),
    Sample("tril_batched", lambda a: a.tril(-1), inputs(randn(2, 3, 3))),
    Sample("triu_inplace_t", lambda a: a.t().triu_(), inputs(randn(3, 4))),
    Sample(
        "isinf_family",
        lambda a: (torch.isneginf(a), torch.isposinf(a)),
        inputs(lambda: torch.tensor([1.0, float("inf"), -float("inf"), float("nan")])),
    ),
    Sample("add", lambda a, b: a + b, inputs(randn(3, 4), randn(4))),
    Sample("add_alpha", lambda a, b: torch.add(a, b, alpha=2.5), inputs(randn(2, 3), randn(2, 3))),
    Sample("sub_scalar", lambda a: a - 1.5, inputs(randn(5))),
    Sample("rsub", lambda a: 2 - a, inputs(randn(5))),
    Sample(
        "add_bool_alpha_false",
        lambda a, b: torch.add(a, b, alpha=False),
        inputs(
            lambda: torch.tensor([True, False, True]), lambda: torch.tensor([True, True, False])
        ),
    ),
    Sample(
        "clamp_min_bool_tensor",
        lambda a, b: (torch.clamp_min(a, b), torch.clamp_max(a, b)),
        inputs(
            lambda: torch.tensor([True, False, False]), lambda: torch.tensor([False, True, False])
        ),
    ),
    Sample(
        "rsub_tensor_alpha", lambda a, b: torch.rsub(a, b, alpha=3), inputs(randn(2, 3), randn(3))
    ),
    Sample(
        "sgn",
        torch.sgn,
        inputs(lambda: torch.tensor([-2.0, 0.0, 3.0, float("nan"), -float("inf")])),
    ),
    Sample("unfold_view", lambda a: a.unfold(1, 3, 2), inputs(randn(4, 7))),
    Sample(
        "unfold_t_scalar",
        lambda a, s: (a.t().unfold(0, 2, 3), s.unfold(0, 1, 1)),
        inputs(randn(4, 7), lambda: torch.tensor(1.5)),
    ),
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
    Sample(
        "scatter_reduce_named",
        lambda x, s: (
            x.scatter(0, torch.tensor([[0, 1, 2, 0]], device=x.device), s, reduce="multiply"),
            x.scatter(1, torch.tensor([[3, 3], [0, 1]], device=x.device), 2.0, reduce="add"),
            x.clone().scatter_(0, torch.tensor([[2, 2, 2, 2]], device=x.device), s, reduce="add"),
        ),
        inputs(randn(3, 4), randn(2, 4)),
    ),
    Sample("matmul_t", lambda a, b: a @ b.t(), inputs(randn(3, 4), randn(5, 4))),
    Sample(
        "addmm",
        lambda c, a, b: torch.addmm(c, a, b, beta=0.5, alpha=2),
        inputs(randn(5), randn(3, 4), randn(4, 5)),
    ),
    Sample("bmm", torch.bmm, inputs(randn(2, 3, 4), randn(2, 4, 5))),
    Sample(
        "addbmm_scaled_strided",
        lambda c, x, y: (
            torch.addbmm(c, x, y, beta=0.5, alpha=-1.5),
            torch.addbmm(c[:3], y.transpose(1, 2), x.transpose(1, 2), beta=0),
            c.expand(3, 5).clone().addbmm_(x[:, :, :4], y[:, :4]),
        ),
        inputs(randn(5), randn(2, 3, 6), randn(2, 6, 5)),
    ),
    Sample(
        "standard_gamma_grad",
        lambda a, x: torch._standard_gamma_grad(a.abs() + 0.5, x.abs() + 0.1),
        inputs(randn(3, 4), randn(3, 4)),
    ),
    Sample(
        "renorm",
        lambda x: (
            torch.renorm(x, 2, 0, 1.0),
            torch.renorm(x.transpose(0, 1), 1, -1, 0.5),
            x.clone().renorm_(3, 1, 2.0),
        ),
        inputs(randn(3, 4, 5)),
    ),
    Sample(
        "kaiser_window",
        lambda x: (
            torch.kaiser_window(8, device=x.device),
            torch.kaiser_window(7, periodic=False, beta=5.0, device=x.device, dtype=torch.float64),
            torch.kaiser_window(1, device=x.device),
        ),
        inputs(randn(1)),
    ),
    # The SVD drivers on tall systems read values (tests/test_data_dependent.py).
    Sample(
        "linalg_lstsq_drivers",
        lambda a, b: tuple(
            torch.linalg.lstsq(x, y, driver=d)
            for x, y in ((a, b), (a.mT, b[..., :3, :]), (a[0], b[0, :, 0]))
            for d in ("gels", "gelsy", "gelsd", "gelss")
            if x.shape[-2] <= x.shape[-1] or d in ("gels", "gelsy")
        ),
        inputs(randn(2, 5, 3), randn(2, 5, 2)),
    ),
    Sample("rrelu_eval", lambda a: F.rrelu(a.t(), 0.1, 0.5), inputs(randn(4, 3))),
    Sample(
        "linalg_lu",
        lambda a: (torch.linalg.lu(a), torch.linalg.lu(a.mT), torch.linalg.lu(a[0, :, :3])),
        inputs(randn(2, 3, 5)),
    ),
    Sample(
        "linalg_eig",
        # Eigenvectors are unique only up to a phase: compare magnitudes and residuals.
        lambda a: (
            torch.linalg.eigvals(a),
            (lambda w, v: (w, v.abs(), (a.to(w.dtype) @ v - v * w.unsqueeze(-2)).abs()))(
                *torch.linalg.eig(a)
            ),
        ),
        inputs(randn(2, 4, 4, dtype=torch.float64)),
    ),
    Sample(
        "multi_margin_loss",
        lambda x, w: (
            F.multi_margin_loss(x, torch.tensor([0, 2, 1, 4], device=x.device)),
            F.multi_margin_loss(
                x, torch.tensor([3, 3, 0, 1], device=x.device), p=2, margin=0.5, weight=w
            ),
            F.multi_margin_loss(x, torch.tensor([1, 0, 2, 2], device=x.device), reduction="none"),
            F.multi_margin_loss(x[0], torch.tensor([2], device=x.device), reduction="sum"),
        ),
        inputs(randn(4, 5), lambda: torch.rand(5, generator=GEN)),
    ),
    Sample(
        "fftfreq",
        lambda x: (
            torch.fft.fftfreq(8, d=0.5, device=x.device),
            torch.fft.fftfreq(7, device=x.device, dtype=torch.float64),
            torch.fft.rfftfreq(9, device=x.device),
        ),
        inputs(randn(1)),
    ),
    Sample(
        # PyTorch grows a view within its storage in place, so the view keeps aliasing.
        "resize_view_within_storage",
        lambda x: (x[2:5].resize_(6), x.view(-1)[3:3].resize_(2, 2).fill_(7.0), x),
        inputs(randn(10)),
    ),
    Sample(
        "half_addcmul_addcdiv_lerp",
        lambda x, y: (
            torch.addcmul(x, x, y, value=0.3),
            torch.addcdiv(x, y, x + 3, value=0.3),
            torch.lerp(x, y * 2, 0.3),
            x.clone().addcmul_(x, y),
            x.clone().lerp_(y, 0.7),
        ),
        inputs(randn(4, 33, dtype=torch.float16), randn(33, dtype=torch.float16)),
    ),
    Sample(
        "addmm_integer_float_scales",
        lambda c, x, y: (
            torch.addmm(c, x, y, beta=2.2, alpha=0.7),
            torch.addmv(c[:, 0], x, y[:, 0], beta=0.2, alpha=2.6),
            torch.addbmm(c, x.expand(2, 3, 4), y.expand(2, 4, 5), beta=0.6, alpha=1.7),
        ),
        inputs(
            lambda: torch.randint(-5, 5, (3, 5), generator=GEN),
            lambda: torch.randint(-5, 5, (3, 4), generator=GEN),
            lambda: torch.randint(-5, 5, (4, 5), generator=GEN),
        ),
    ),
    Sample("matmul_matrix_vector", torch.matmul, inputs(randn(3, 4), randn(4))),
    Sample("matmul_vector_vector", torch.matmul, inputs(randn(5), randn(5))),
    Sample("matmul_batched_vector", torch.matmul, inputs(randn(2, 3, 4), randn(4))),
    Sample("mv_strided", lambda m, v: torch.mv(m.t(), v[::2]), inputs(randn(6, 3), randn(12))),
    Sample(
        "addmv_scaled",
        lambda b, m, v: torch.addmv(b, m, v, beta=0.5, alpha=2.0),
        inputs(randn(1), randn(3, 4), randn(4)),
    ),
    Sample(
        "baddbmm_scaled",
        lambda b, x, y: torch.baddbmm(b, x, y, beta=0.5, alpha=-1.5),
        inputs(randn(3, 1), randn(2, 3, 4), randn(2, 4, 5)),
    ),
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
    Sample(
        "unary_float_family",
        lambda a, p: (
            a.tan(),
            a.atan(),
            a.sinh(),
            a.cosh(),
            a.asinh(),
            a.erfc(),
            a.lgamma(),
            a.digamma(),
            a.sinc(),
            a.i0(),
            a.frac(),
            a.signbit(),
            a.exp2(),
            p.log2(),
            p.log10(),
            (p + 1).acosh(),
            (p / 4).asin(),
            (p / 4).acos(),
            (p / 4).atanh(),
            (p / 4).erfinv(),
        ),
        inputs(randn(3, 4), lambda: torch.rand(3, 4, generator=GEN) + 0.1),
    ),
    Sample(
        "unary_float_promotes_integers",
        lambda a: (a.tan(), a.log2(), a.lgamma(), (a - a).logit(), torch.sinc(a)),
        inputs(lambda: torch.arange(1, 7).reshape(2, 3)),
    ),
    Sample(
        "logit_eps_inplace_t",
        lambda a: (torch.logit(a, eps=0.2), a.t().logit_(1e-3)),
        inputs(lambda: torch.rand(3, 4, generator=GEN)),
    ),
    Sample(
        "binary_float_family",
        lambda a, b: (
            torch.fmod(a, 0.7),
            torch.hypot(a, b),
            torch.xlogy(a.abs(), b.abs()),
            torch.logaddexp(a, b),
            torch.logaddexp2(a, b),
            torch.copysign(a, b),
            torch.heaviside(a, b),
            torch.fmax(a, b),
            torch.fmin(a, b),
            a // 0.3,
        ),
        inputs(randn(3, 4), randn(4)),
    ),
    Sample(
        "binary_integer_family",
        lambda a, b: (a << 2, a >> b, torch.fmod(a, 3), torch.floor_divide(a, b), a.xlogy(2)),
        inputs(
            lambda: torch.randint(-20, 20, (3, 4), generator=GEN),
            lambda: torch.randint(1, 4, (4,), generator=GEN),
        ),
    ),
    Sample(
        "activation_family",
        lambda a: (
            F.mish(a),
            F.hardswish(a),
            F.hardsigmoid(a),
            F.hardshrink(a, 0.3),
            F.softshrink(a, 0.4),
            F.relu6(a),
        ),
        inputs(randn(3, 5)),
    ),
    Sample(
        "eye_trace",
        lambda a: (torch.eye(3, device=a.device), torch.eye(2, 4, device=a.device), a.trace()),
        inputs(randn(4, 3)),
    ),
    Sample(
        "nan_to_num",
        lambda a: (torch.nan_to_num(a.log()), a.log().nan_to_num_(nan=1.0, posinf=2.0)),
        inputs(lambda: torch.tensor([[0.0, -1.0, 2.0], [float("inf"), -float("inf"), 1.0]])),
    ),
    Sample("trace_long", torch.trace, inputs(lambda: torch.arange(9).reshape(3, 3))),
    Sample(
        "linspace_logspace",
        lambda a: (
            torch.linspace(-1, 2, 7, device=a.device),
            torch.linspace(0, 10, 4, device=a.device, dtype=torch.int64),
            torch.logspace(0, 2, 5, device=a.device),
            torch.logspace(0, 3, 4, base=2, device=a.device, dtype=torch.float64),
        ),
        inputs(randn(1)),
    ),
    Sample(
        "norm_overloads",
        lambda a, b: (
            torch.ops.aten.norm.Scalar(a, 3),
            torch.ops.aten.norm.ScalarOpt_dim(a, None, [1], True),
            torch.ops.aten.norm.ScalarOpt_dim_dtype(a, 1, [0], False, dtype=torch.float64),
            F.pairwise_distance(a, b),
        ),
        inputs(randn(4, 5), randn(4, 5)),
    ),
    Sample(
        "count_nonzero",
        lambda a: (torch.count_nonzero(a), torch.count_nonzero(a, dim=1), a.count_nonzero((0, 1))),
        inputs(lambda: torch.tensor([[0.0, 1.0, 0.0], [2.0, 0.0, 3.0]])),
    ),
    Sample(
        "order_statistics",
        lambda a: (
            *a.kthvalue(2, 1),
            *a.t().kthvalue(3, 0, keepdim=True),
            *a.median(1),
            a.median(),
            *a.nanmedian(0),
            a.nanmedian(),
        ),
        inputs(lambda: torch.tensor([[3.0, float("nan"), 1.0, 2.0], [0.5, 4.0, -1.0, 7.0]])),
    ),
    Sample(
        "mode_integers",
        lambda a: (*a.mode(1), *a.mode(0, keepdim=True)),
        inputs(lambda: torch.tensor([[1, 2, 2, 3, 3], [5, 5, 0, 0, 4]])),
    ),
    Sample(
        "linalg_factorizations",
        lambda a, b: (
            torch.linalg.inv(spd(a)),
            torch.linalg.cholesky(spd(a)),
            torch.linalg.cholesky(spd(a), upper=True),
            torch.linalg.det(a),
            torch.linalg.eigvalsh(spd(a)),
            *torch.linalg.qr(b),
            *torch.linalg.qr(b, mode="complete"),
            torch.linalg.svdvals(b),
        ),
        inputs(randn(2, 3, 3), randn(4, 3)),
    ),
    Sample(
        "linalg_solve_forms",
        lambda a, b, v: (
            torch.linalg.solve(spd(a), b),
            torch.linalg.solve(spd(a), v),
            torch.linalg.solve(spd(a[0]), b),
            torch.linalg.solve(spd(a), b.mT, left=False),
        ),
        inputs(randn(2, 3, 3), randn(2, 3, 4), randn(2, 3)),
    ),
    Sample("glu", lambda a: (F.glu(a), F.glu(a.t(), 0)), inputs(randn(3, 4))),
    Sample(
        "lstm_cell",
        lambda x, h, c, wi, wh, bi, bh: torch.lstm_cell(x, (h, c), wi, wh, bi, bh),
        inputs(
            randn(3, 5), randn(3, 4), randn(3, 4), randn(16, 5), randn(16, 4), randn(16), randn(16)
        ),
    ),
    Sample(
        "lstm_two_layers",
        lambda x, h, c, *w: torch.lstm(x, (h, c), w, True, 2, 0.0, True, False, False),
        LSTM_TWO_LAYERS,
    ),
    Sample(
        "lstm_bidirectional_batch_first_unbiased",
        lambda x, h, c, *w: torch.lstm(x, (h, c), w, False, 1, 0.0, False, True, True),
        LSTM_BIDIRECTIONAL,
    ),
    Sample(
        "gru_rnn_tanh_rnn_relu",
        lambda x, h, *w: (
            torch.gru(x, h[:1], w[:4], True, 1, 0.0, True, False, False),
            torch.rnn_tanh(x, h, w[4:], False, 2, 0.0, False, False, False),
            torch.rnn_relu(x, h, w[4:], False, 1, 0.0, True, True, False),
        ),
        inputs(
            randn(6, 2, 4),
            randn(2, 2, 4),
            randn(12, 4),
            randn(12, 4),
            randn(12),
            randn(12),
            randn(4, 4),
            randn(4, 4),
            randn(4, 4),
            randn(4, 4),
        ),
    ),
    Sample(
        "native_multi_head_attention",
        lambda x, w, b, pw, pb: (
            torch._native_multi_head_attention(x, x, x, 8, 2, w, b, pw, pb, None, True, False),
            torch._native_multi_head_attention(x, x, x, 8, 4, w, b, pw, pb)[1],
        ),
        inputs(randn(2, 5, 8), randn(24, 8), randn(24), randn(8, 8), randn(8)),
    ),
    Sample(
        "gru_cell_double",
        lambda x, h, wi, wh: torch.gru_cell(x, h, wi, wh),
        inputs(*(randn(*s, dtype=torch.float64) for s in [(2, 3), (2, 4), (12, 3), (12, 4)])),
    ),
    Sample(
        "take",
        lambda a: a.t().take(torch.tensor([[0, 5], [3, 11]], device=a.device)),
        inputs(randn(3, 4)),
    ),
    Sample(
        "searchsorted_bucketize",
        lambda s, v: (
            torch.searchsorted(s, v),
            torch.searchsorted(s, v, right=True, out_int32=True),
            torch.searchsorted(s[None].expand(2, 5).contiguous(), v.reshape(2, 3), side="right"),
            torch.bucketize(v, s),
            torch.bucketize(v, s, right=True),
        ),
        inputs(
            lambda: torch.tensor([-1.0, 0.0, 0.5, 2.0, 3.0]),
            lambda: torch.tensor([0.0, 2.5, -3.0, 0.5, 9.0, 1.0]),
        ),
    ),
    Sample(
        "cholesky_family",
        lambda a, b: (
            torch.cholesky(spd(a)),
            torch.cholesky(spd(a[0]), upper=True),
            torch.cholesky_solve(b, torch.linalg.cholesky(spd(a))),
            torch.cholesky_solve(b[0], torch.linalg.cholesky(spd(a)).mT, upper=True),
            torch.cholesky_inverse(torch.linalg.cholesky(spd(a))),
            torch.cholesky_inverse(torch.linalg.cholesky(spd(a[0])).mT, upper=True),
            torch.triangular_solve(b, torch.linalg.cholesky(spd(a)), upper=False),
            torch.triangular_solve(b[0], spd(a).triu(), transpose=True, unitriangular=True),
        ),
        inputs(randn(2, 3, 3, dtype=torch.float64), randn(2, 3, 4, dtype=torch.float64)),
    ),
    Sample(
        "isin",
        lambda e, t: (
            torch.isin(e, t),
            torch.isin(e.t(), t, invert=True),
            torch.isin(e, 3),
            torch.isin(4, t),
            torch.isin(e.float(), t.double(), assume_unique=True),
        ),
        inputs(
            lambda: torch.tensor([[1, 2, 3], [4, 5, 6]]),
            lambda: torch.tensor([2, 4, 9, 3]),
        ),
    ),
    Sample(
        "unfold_fold",
        lambda a: (
            F.unfold(a, (2, 3), dilation=1, padding=(1, 0), stride=(2, 1)),
            F.unfold(a[0], 2),
            F.fold(F.unfold(a, 3, padding=1), (5, 6), 3, padding=1),
        ),
        inputs(randn(2, 3, 5, 6)),
    ),
    Sample(
        "tril_triu_indices",
        lambda a: (
            torch.tril_indices(4, 3, 1, device=a.device),
            torch.triu_indices(4, 3, -1, device=a.device),
            torch.tril_indices(3, 5, -1, device=a.device, dtype=torch.int32),
        ),
        inputs(randn(1)),
    ),
    Sample(
        "put",
        lambda a, v: (
            a.clone().put_(torch.tensor([0, 7, 7], device=a.device), v),
            a.clone().put_(torch.tensor([[1], [7]], device=a.device), v[:2], accumulate=True),
            a.put(torch.tensor([11, 0, 3], device=a.device), v, accumulate=True),
        ),
        inputs(randn(3, 4), randn(3)),
    ),
    Sample(
        "prelu",
        lambda a, w: (F.prelu(a, w), F.prelu(a.transpose(1, 2), w[:1])),
        inputs(randn(2, 3, 4), randn(3)),
    ),
    Sample("mse_loss", F.mse_loss, inputs(randn(4, 5), randn(4, 5))),
    Sample(
        "mse_loss_unreduced_promoted",
        lambda a, b: F.mse_loss(a, b.double(), reduction="none"),
        inputs(randn(3, 4), randn(3, 4)),
    ),
    Sample(
        "smooth_l1_loss_sum",
        lambda a, b: F.smooth_l1_loss(a, b, reduction="sum", beta=0.5),
        inputs(randn(6, 3), randn(6, 3)),
    ),
    Sample(
        "huber_loss_unreduced_t",
        lambda a, b: F.huber_loss(a.t(), b.t(), reduction="none", delta=0.7),
        inputs(randn(3, 5), randn(3, 5)),
    ),
    Sample(
        "bce_weighted",
        lambda a, b, w: F.binary_cross_entropy(torch.sigmoid(a), torch.sigmoid(b), weight=w),
        inputs(randn(4, 3), randn(4, 3), lambda: torch.rand(3, generator=GEN)),
    ),
    Sample(
        "bce_unreduced_channels_last",
        lambda a, b: F.binary_cross_entropy(
            torch.sigmoid(a.to(memory_format=torch.channels_last)),
            torch.sigmoid(b),
            reduction="none",
        ),
        inputs(randn(2, 3, 2, 2), randn(2, 3, 2, 2)),
    ),
    Sample("l1_loss", F.l1_loss, inputs(randn(5, 2), randn(5, 2))),
    Sample(
        "bce_with_logits_pos_weight",
        lambda a, b: F.binary_cross_entropy_with_logits(
            a, torch.sigmoid(b), pos_weight=torch.tensor([1.0, 2.0, 0.5], device=a.device)
        ),
        inputs(randn(4, 3), randn(4, 3)),
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
    # activations
    Sample("gelu", F.gelu, inputs(randn(3, 4))),
    Sample("gelu_tanh", lambda a: F.gelu(a, approximate="tanh"), inputs(randn(3, 4))),
    Sample("gelu_", lambda a: torch.ops.aten.gelu_(a.t()), inputs(randn(3, 4))),
    Sample(
        "gelu_out_resized",
        lambda a: torch._C._nn.gelu(a.t(), out=a.new_empty(0)),
        inputs(randn(3, 4)),
    ),
    Sample("silu", F.silu, inputs(randn(5))),
    Sample("silu_", lambda a: F.silu(a, inplace=True), inputs(randn(2, 3))),
    Sample(
        "silu_out", lambda a: torch.ops.aten.silu.out(a, out=a.new_empty(2, 3)), inputs(randn(2, 3))
    ),
    Sample("leaky_relu", lambda a: F.leaky_relu(a, 0.2), inputs(randn(4, 3))),
    Sample("leaky_relu_", lambda a: F.leaky_relu(a, 0.2, inplace=True), inputs(randn(4, 3))),
    Sample(
        "leaky_relu_out",
        lambda a: torch._C._nn.leaky_relu(a, 0.1, out=a.new_empty(0)),
        inputs(randn(4)),
    ),
    Sample("hardtanh", lambda a: F.hardtanh(a, -0.5, 0.5), inputs(randn(4, 3))),
    Sample("hardtanh_int", lambda a: F.hardtanh(a, -2, 3), inputs(lambda: torch.arange(-4, 5))),
    Sample("hardtanh_", lambda a: F.hardtanh(a, inplace=True), inputs(randn(4, 3))),
    Sample("relu6", F.relu6, inputs(lambda: torch.randn(8, generator=GEN) * 5)),
    Sample(
        "hardtanh_out", lambda a: torch._C._nn.hardtanh(a, out=a.new_empty(0)), inputs(randn(6))
    ),
    Sample("softplus", lambda a: F.softplus(a, beta=2, threshold=1), inputs(randn(4, 3))),
    Sample(
        "softplus_out", lambda a: torch._C._nn.softplus(a, out=a.new_empty(0)), inputs(randn(4, 3))
    ),
    Sample("elu", lambda a: F.elu(a, alpha=0.5), inputs(randn(4, 3))),
    Sample("elu_", lambda a: F.elu(a, inplace=True), inputs(randn(4, 3))),
    Sample("selu", F.selu, inputs(randn(4, 3))),
    Sample("celu", lambda a: F.celu(a, alpha=2.0), inputs(randn(4, 3))),
    Sample("elu_out", lambda a: torch._C._nn.elu(a, out=a.new_empty(0)), inputs(randn(4, 3))),
    Sample("clamp", lambda a: a.clamp(-0.5, 0.5), inputs(randn(4, 3))),
    Sample("clamp_min_only", lambda a: torch.clamp(a, min=0.1), inputs(randn(4, 3))),
    Sample("clamp_int_float", lambda a: torch.clamp(a, max=2.5), inputs(lambda: torch.arange(6))),
    Sample(
        "clamp_tensor",
        lambda a, lo, hi: torch.clamp(a, lo, hi),
        inputs(
            randn(4, 3),
            lambda: -torch.rand(3, generator=GEN),
            lambda: torch.rand(4, 1, generator=GEN),
        ),
    ),
    Sample("clamp_", lambda a: a.clamp_(min=-0.2, max=0.3), inputs(randn(4, 3))),
    Sample(
        "clamp_out", lambda a: torch.clamp(a.t(), -1, 1, out=a.new_empty(0)), inputs(randn(4, 3))
    ),
    Sample("clamp_min_", lambda a: a.clamp_min_(0), inputs(randn(5))),
    Sample("clamp_max_tensor", lambda a, b: torch.clamp_max(a, b), inputs(randn(3, 4), randn(4))),
    Sample(
        "clamp_max_out",
        lambda a, b: torch.clamp_max(a, b, out=a.new_empty(0)),
        inputs(randn(3, 4), randn(4)),
    ),
    # indexing and rearranging
    Sample("cat", lambda a, b: torch.cat([a, b]), inputs(randn(2, 3), randn(4, 3))),
    Sample("cat_dim1_t", lambda a, b: torch.cat([a.t(), b], 1), inputs(randn(3, 2), randn(2, 5))),
    Sample(
        "cat_promotes",
        lambda a, b: torch.cat([a, b, a.new_empty(0)]),
        inputs(randn(2, 3), lambda: torch.arange(3.0, dtype=torch.float64).view(1, 3)),
    ),
    Sample(
        "cat_channels_last",
        lambda a, b: torch.cat([a, b], 1),
        inputs(
            lambda: torch.randn(2, 3, 4, 5, generator=GEN).to(memory_format=torch.channels_last),
            lambda: torch.randn(2, 2, 4, 5, generator=GEN).to(memory_format=torch.channels_last),
        ),
    ),
    Sample(
        "cat_out",
        lambda a, b: torch.cat([a, b], out=a.new_empty(0)),
        inputs(randn(2, 3), randn(1, 3)),
    ),
    Sample("stack", lambda a, b: torch.stack([a, b], 1), inputs(randn(2, 3), randn(2, 3))),
    Sample(
        "index_select",
        lambda a, i: torch.index_select(a.t(), 0, i),
        inputs(randn(3, 4), lambda: torch.tensor([0, 2, 2])),
    ),
    Sample(
        "index_select_out",
        lambda a, i: torch.index_select(a, 1, i, out=a.new_empty(0)),
        inputs(randn(3, 4), lambda: torch.tensor([3, 0], dtype=torch.int32)),
    ),
    Sample(
        "gather",
        lambda a, i: torch.gather(a, 1, i),
        inputs(randn(3, 4), lambda: torch.tensor([[0, 1], [2, 0], [3, 3]])),
    ),
    Sample(
        "gather_out",
        lambda a, i: torch.gather(a.t(), 0, i, out=a.new_empty(0)),
        inputs(randn(3, 4), lambda: torch.tensor([[0, 1, 2], [2, 0, 1]])),
    ),
    Sample(
        "scatter_src",
        lambda a, i, s: torch.scatter(a, 1, i, s),
        inputs(randn(3, 4), lambda: torch.tensor([[0, 1], [2, 0], [3, 3]]), randn(3, 2)),
    ),
    Sample(
        "scatter_value_",
        lambda a, i: a.scatter_(0, i, 7.5),
        inputs(randn(3, 4), lambda: torch.tensor([[0, 1, 2, 0]])),
    ),
    Sample(
        "scatter_out",
        lambda a, i: torch.scatter(a, 1, i, -1.0, out=a.new_empty(0)),
        inputs(randn(3, 4), lambda: torch.tensor([[0], [2], [3]])),
    ),
    Sample(
        "scatter_add",
        lambda a, i, s: torch.scatter_add(a, 0, i, s),
        inputs(randn(3, 4), lambda: torch.tensor([[0, 1, 2, 0], [0, 0, 0, 0]]), randn(2, 4)),
    ),
    Sample(
        "scatter_add_",
        lambda a, i, s: a.scatter_add_(1, i, s),
        inputs(randn(2, 4), lambda: torch.tensor([[0, 0, 3], [1, 1, 1]]), randn(2, 3)),
    ),
    Sample(
        "index_add",
        lambda a, i, s: torch.index_add(a, 0, i, s, alpha=2),
        inputs(randn(3, 4), lambda: torch.tensor([0, 2, 0]), randn(3, 4)),
    ),
    Sample(
        "index_add_",
        lambda a, i, s: a.index_add_(1, i, s),
        inputs(randn(3, 4), lambda: torch.tensor([1, 1]), randn(3, 2)),
    ),
    Sample("masked_fill", lambda a: a.masked_fill(a > 0, 1.5), inputs(randn(3, 4))),
    Sample(
        "masked_fill_bcast", lambda a, m: a.masked_fill(m > 0, -2.0), inputs(randn(4), randn(3, 4))
    ),
    Sample("masked_fill_", lambda a: a.masked_fill_(a < 0, 0.0), inputs(randn(3, 4))),
    Sample(
        "masked_fill_tensor", lambda a, v: a.masked_fill_(a < 0, v), inputs(randn(3, 4), randn(()))
    ),
    Sample("masked_fill_int", lambda a: a.masked_fill(a > 2, 9), inputs(lambda: torch.arange(6))),
    Sample("flip", lambda a: torch.flip(a.t(), [0]), inputs(randn(3, 4))),
    Sample("flip_all", lambda a: torch.flip(a, [0, 1, 2]), inputs(randn(2, 3, 4))),
    Sample("roll", lambda a: torch.roll(a.t(), 1, 0), inputs(randn(3, 4))),
    Sample("roll_flat", lambda a: torch.roll(a, 5), inputs(randn(3, 4))),
    Sample("roll_dims", lambda a: torch.roll(a, (1, -2), (0, 1)), inputs(randn(3, 4))),
    Sample("cumsum", lambda a: torch.cumsum(a.t(), 0), inputs(randn(3, 4))),
    Sample(
        "cumsum_int",
        lambda a: torch.cumsum(a, 0),
        inputs(lambda: torch.arange(6, dtype=torch.int32)),
    ),
    Sample("cumsum_dtype", lambda a: torch.cumsum(a, 1, dtype=torch.float64), inputs(randn(3, 4))),
    Sample("cumsum_", lambda a: a.cumsum_(1), inputs(randn(3, 4))),
    Sample(
        "cumsum_out",
        lambda a: torch.cumsum(a, 0, out=a.new_empty(0, dtype=torch.float64)),
        inputs(randn(3, 4)),
    ),
    Sample("cumprod", lambda a: torch.cumprod(a, 1), inputs(randn(3, 4))),
    Sample("cumprod_out", lambda a: torch.cumprod(a, 0, out=a.new_empty(0)), inputs(randn(3, 4))),
    Sample("sort", lambda a: torch.sort(a), inputs(randn(3, 4))),
    Sample("sort_t_desc", lambda a: torch.sort(a.t(), 0, descending=True), inputs(randn(3, 4))),
    Sample(
        "sort_stable",
        lambda a: torch.sort(a, stable=True, dim=0),
        inputs(lambda: torch.randint(0, 3, (5, 3), generator=GEN)),
    ),
    Sample(
        "sort_out",
        lambda a: torch.sort(a, 1, out=(a.new_empty(0), a.new_empty(0, dtype=torch.long))),
        inputs(randn(3, 4)),
    ),
    Sample("topk", lambda a: torch.topk(a, 2), inputs(randn(3, 4))),
    Sample(
        "topk_dim0_smallest", lambda a: torch.topk(a.t(), 2, 0, largest=False), inputs(randn(3, 4))
    ),
    Sample(
        "topk_out",
        lambda a: torch.topk(a, 3, out=(a.new_empty(0), a.new_empty(0, dtype=torch.long))),
        inputs(randn(3, 4)),
    ),
    Sample("max_k", lambda a: a.sort(descending=True).values[:, :2], inputs(randn(3, 5))),
    # advanced indexing
    Sample("index", lambda a, i: a[i], inputs(randn(3, 4, 5), lambda: torch.tensor([0, 2]))),
    Sample(
        "index_t",
        lambda a, i: a.permute(2, 1, 0)[:, i],
        inputs(randn(5, 4, 3), lambda: torch.tensor([3, 0, 1])),
    ),
    Sample(
        "index_broadcast",
        lambda a, i, j: a[j, i],
        inputs(randn(3, 4, 5), lambda: torch.tensor([0, 3]), lambda: torch.tensor([[1], [0]])),
    ),
    Sample(
        "index_separated",
        lambda a, i: a[i, :, i],
        inputs(randn(3, 4, 3), lambda: torch.tensor([[0, 2], [1, 1]])),
    ),
    Sample(
        "index_int32",
        lambda a, i: a[:, i],
        inputs(randn(3, 4), lambda: torch.tensor([1, 1], dtype=torch.int32)),
    ),
    Sample(
        "index_put_",
        lambda a, i, v: a.index_put_((i,), v),
        inputs(randn(4, 3), lambda: torch.tensor([0, 2]), randn(3)),
    ),
    Sample(
        "index_put_accumulate",
        lambda a, i, j, v: a.index_put_((i, j), v, accumulate=True),
        inputs(
            randn(4, 3), lambda: torch.tensor([0, 2, 0]), lambda: torch.tensor([1, 1, 1]), randn(3)
        ),
    ),
    Sample(
        "index_put",
        lambda a, i: torch.index_put(a, (i,), a.new_ones(())),
        inputs(randn(4, 3), lambda: torch.tensor([2])),
    ),
    Sample(
        "setitem",
        lambda a, i: (a.__setitem__(i, 0.5), a)[1],
        inputs(randn(4, 3), lambda: torch.tensor([1, 3])),
    ),
    Sample(
        "setitem_columns",
        lambda a, i, v: (a.__setitem__((slice(None), i), v), a)[1],
        inputs(randn(4, 3), lambda: torch.tensor([2, 0]), randn(4, 1)),
    ),
    # normalization
    Sample(
        "layer_norm",
        lambda a, w, b: F.layer_norm(a, (5,), w, b),
        inputs(randn(4, 3, 5), randn(5), randn(5)),
    ),
    Sample(
        "layer_norm_t", lambda a: F.layer_norm(a.transpose(0, 2), (3, 4)), inputs(randn(4, 3, 5))
    ),
    Sample(
        "native_layer_norm",
        lambda a, w: torch.ops.aten.native_layer_norm(a, [4], w, None, 1e-3),
        inputs(randn(2, 3, 4), randn(4)),
    ),
    Sample(
        "batch_norm_train",
        lambda a, w, b, rm, rv: (
            F.batch_norm(a, rm, rv, w, b, training=True, momentum=0.2),
            rm,
            rv,
        ),
        inputs(
            randn(4, 3, 5), randn(3), randn(3), randn(3), lambda: torch.rand(3, generator=GEN) + 0.5
        ),
    ),
    Sample(
        "batch_norm_eval",
        lambda a, w, b, rm, rv: F.batch_norm(a, rm, rv, w, b, training=False),
        inputs(
            randn(4, 3), randn(3), randn(3), randn(3), lambda: torch.rand(3, generator=GEN) + 0.5
        ),
    ),
    Sample(
        "batch_norm_legit_forms",
        lambda a, w, b, rm, rv: (
            torch.ops.aten._native_batch_norm_legit(a, w, b, rm, rv, True, 0.3, 1e-4),
            torch.ops.aten._native_batch_norm_legit.no_stats(a, w, None, True, 0.1, 1e-5),
            torch.ops.aten._native_batch_norm_legit_no_training(a, None, b, rm, rv, 0.1, 1e-3),
            torch.ops.aten._native_batch_norm_legit_functional(a, w, b, rm, rv, True, 0.5, 1e-5),
            torch.ops.aten._batch_norm_with_update(a, w, b, rm, rv, 0.2, 1e-5),
            torch.ops.aten._batch_norm_no_update(a, w, b, rm, rv, 0.2, 1e-5),
            rm,
            rv,
        ),
        inputs(
            randn(4, 3, 5), randn(3), randn(3), randn(3), lambda: torch.rand(3, generator=GEN) + 0.5
        ),
    ),
    Sample(
        "batch_norm_channels_last",
        lambda a: torch.ops.aten.native_batch_norm(a, None, None, None, None, True, 0.1, 1e-5),
        inputs(
            lambda: torch.randn(2, 3, 4, 5, generator=GEN).to(memory_format=torch.channels_last)
        ),
    ),
    Sample(
        "group_norm",
        lambda a, w, b: F.group_norm(a, 2, w, b),
        inputs(randn(3, 4, 5), randn(4), randn(4)),
    ),
    Sample(
        "native_group_norm",
        lambda a: torch.ops.aten.native_group_norm(a, None, None, 2, 6, 4, 3, 1e-5),
        inputs(randn(2, 6, 2, 2)),
    ),
    Sample(
        "layer_norm_backward_mask",
        lambda g, a, w: torch.ops.aten.native_layer_norm_backward(
            g,
            a,
            [4],
            *torch.ops.aten.native_layer_norm(a, [4], w, w, 1e-5)[1:],
            w,
            w,
            [True, False, True],
        ),
        inputs(randn(3, 4), randn(3, 4), randn(4)),
    ),
    Sample(
        "layer_norm_backward_bias_without_weight",
        lambda g, a, b: torch.ops.aten.native_layer_norm_backward(
            g,
            a,
            [4],
            *torch.ops.aten.native_layer_norm(a, [4], None, b, 1e-5)[1:],
            None,
            b,
            [True, False, True],
        ),
        inputs(randn(3, 4), randn(3, 4), randn(4)),
    ),
    # statistical reductions
    Sample("var", lambda a: a.t().var(1), inputs(randn(4, 3))),
    Sample("var_all", torch.var, inputs(randn(4, 3))),
    Sample(
        "std_unbiased_false", lambda a: a.std(0, unbiased=False, keepdim=True), inputs(randn(4, 3))
    ),
    Sample("std_correction", lambda a: torch.std(a, (0, 2), correction=2), inputs(randn(3, 4, 5))),
    Sample(
        "var_out",
        lambda a: torch.var(a, 1, out=a.new_empty(0, dtype=torch.float64)),
        inputs(randn(4, 3)),
    ),
    Sample("var_mean", lambda a: torch.var_mean(a, 0), inputs(randn(4, 3))),
    Sample("std_mean", lambda a: torch.std_mean(a, correction=0), inputs(randn(4, 3))),
    Sample("vector_norm", lambda a: torch.linalg.vector_norm(a.t(), 3, 1), inputs(randn(4, 3))),
    Sample("vector_norm_all", lambda a: torch.linalg.vector_norm(a), inputs(randn(4, 3))),
    Sample(
        "vector_norm_inf",
        lambda a: torch.linalg.vector_norm(a, float("inf"), 0, keepdim=True),
        inputs(randn(4, 3)),
    ),
    Sample(
        "vector_norm_dtype",
        lambda a: torch.linalg.vector_norm(a, 1, dtype=torch.float64),
        inputs(randn(4, 3)),
    ),
    Sample(
        "vector_norm_out",
        lambda a: torch.linalg.vector_norm(a, 2, 1, out=a.new_empty(0)),
        inputs(randn(4, 3)),
    ),
    Sample("norm", lambda a: a.norm(dim=1), inputs(randn(4, 3))),
    Sample("logsumexp", lambda a: torch.logsumexp(a.t(), 0), inputs(randn(4, 3))),
    Sample(
        "logsumexp_int",
        lambda a: torch.logsumexp(a, 1, keepdim=True),
        inputs(lambda: torch.arange(6).view(2, 3)),
    ),
    Sample(
        "logsumexp_out",
        lambda a: torch.logsumexp(a, 1, out=a.new_empty(0, dtype=torch.float64)),
        inputs(randn(4, 3)),
    ),
    # pooling
    Sample(
        "lu_solve",
        lambda a, b: (
            torch.linalg.lu_solve(*torch.linalg.lu_factor(spd(a)), b),
            torch.linalg.lu_solve(*torch.linalg.lu_factor(spd(a)), b.mT, left=False),
            torch.linalg.lu_solve(*torch.linalg.lu_factor(spd(a)), b[0], adjoint=True),
        ),
        inputs(randn(2, 3, 3), randn(2, 3, 2)),
    ),
    Sample(
        "solve_triangular_lu_unpack",
        lambda a, b: (
            torch.linalg.solve_triangular(spd(a).triu(), b, upper=True),
            torch.linalg.solve_triangular(spd(a).tril(), b.mT, upper=False, left=False),
            torch.lu_unpack(*torch.linalg.lu_factor(a)),
            torch.lu_unpack(*torch.linalg.lu_factor(a[0]), unpack_pivots=False),
        ),
        inputs(randn(2, 3, 3), randn(2, 3, 2)),
    ),
    Sample(
        "polygamma_all_no_dims",
        lambda a, u: (
            torch.polygamma(1, a.abs() + 0.5),
            torch.polygamma(2, torch.tensor([1, 2, 3], device=a.device)),
            a.clone().abs_().add_(1).polygamma_(3),
            torch.all(a, dim=()),
            torch.any(u, dim=(), keepdim=True),
        ),
        inputs(randn(3, 4), lambda: torch.tensor([0, 3, 0], dtype=torch.uint8)),
    ),
    Sample(
        "slogdet",
        lambda a: (torch.linalg.slogdet(a), torch.linalg.slogdet(a[0].t()), torch.logdet(spd(a))),
        inputs(randn(2, 4, 4)),
    ),
    Sample(
        "embedding_renorm",
        lambda w: (
            F.embedding(torch.tensor([1, 3, 1], device=w.device), w.clone(), max_norm=1.0),
            torch.embedding_renorm_(w.clone(), torch.tensor([0, 2], device=w.device), 0.5, 1.0),
        ),
        inputs(lambda: torch.randn(4, 3, generator=GEN) * 3),
    ),
    Sample(
        "gcd_lcm",
        lambda a, b: (torch.gcd(a, b), torch.lcm(a[:, None], b), a.clone().gcd_(b)),
        inputs(lambda: torch.tensor([12, 18, -7, 0, 9]), lambda: torch.tensor([8, 27, 21, 5, 0])),
    ),
    Sample("frexp", lambda a: (*torch.frexp(a), *torch.frexp(a.t() * 1e30)), inputs(randn(3, 4))),
    Sample(
        "nonzero_static",
        lambda a: (
            torch.nonzero_static(a, size=6),
            torch.nonzero_static(a, size=2, fill_value=9),
            torch.nonzero_static(a[0, 0], size=3),
        ),
        inputs(lambda: torch.tensor([[0, 1, 2], [3, 0, 0]])),
    ),
    Sample(
        "matrix_exp",
        lambda a, b: (
            torch.linalg.matrix_exp(a),
            torch.linalg.matrix_exp(a.mT),
            torch.matrix_exp(b),
            torch.matrix_exp(b.transpose(0, 1)),
        ),
        inputs(lambda: torch.randn(2, 3, 3, generator=GEN) / 3, randn(2, 3, 1, 1)),
    ),
    Sample(
        "weight_norm_interface",
        lambda v, g, h: (
            *torch._weight_norm_interface(v, g, 0),
            *torch._weight_norm_interface(v, h, 2),
        ),
        inputs(randn(4, 3, 5), randn(4, 1, 1), randn(1, 1, 5)),
    ),
    Sample(
        "vdot",
        lambda a, b: (torch.vdot(a, b), torch.vdot(a.double(), b.double())),
        inputs(randn(6), randn(6)),
    ),
    Sample("pdist", lambda a: (F.pdist(a), F.pdist(a, p=1), F.pdist(a[:1])), inputs(randn(5, 4))),
    Sample(
        "cdist",
        lambda a, b: (
            torch.cdist(a, b),
            torch.cdist(a, b, p=1),
            torch.cdist(a[None], b.expand(2, 5, 3), p=3.0),
            torch.cdist(a, b, p=0),
            torch.cdist(a, b, p=float("inf")),
        ),
        inputs(randn(4, 3), randn(5, 3)),
    ),
    Sample(
        "linalg_cross",
        lambda a, b: (
            torch.linalg.cross(a, b),
            torch.linalg.cross(a.t(), b.t(), dim=0),
            torch.linalg.cross(a[:1], b),
        ),
        inputs(randn(4, 3), randn(4, 3)),
    ),
    Sample(
        "grid_sample",
        lambda a, g, v: (
            F.grid_sample(a, g, align_corners=False),
            F.grid_sample(
                a.to(memory_format=torch.channels_last), g, mode="nearest", align_corners=False
            ),
            F.grid_sample(a, g, mode="bicubic", padding_mode="border", align_corners=True),
            F.grid_sample(a, g, padding_mode="reflection", align_corners=False),
            F.grid_sample(
                v,
                g[:, None].expand(2, 2, 4, 6, 2)[..., :1].repeat(1, 1, 1, 1, 3),
                align_corners=True,
            ),
        ),
        inputs(
            randn(2, 3, 5, 5),
            lambda: torch.rand(2, 4, 6, 2, generator=GEN) * 2.2 - 1.1,
            randn(2, 3, 3, 5, 5),
        ),
    ),
    Sample(
        "channel_shuffle",
        lambda a: (
            F.channel_shuffle(a, 2),
            F.channel_shuffle(a.to(memory_format=torch.channels_last), 3),
        ),
        inputs(randn(2, 6, 3, 3)),
    ),
    Sample(
        "aminmax_nansum",
        lambda a: (
            torch.aminmax(a),
            torch.aminmax(a.t(), dim=0, keepdim=True),
            torch.aminmax(a[0, 0], dim=0),
            torch.nansum(a.masked_fill(a > 0.5, float("nan")), 1),
            torch.nansum(a, (0, 1), keepdim=True, dtype=torch.float64),
            torch.nanmean(a.masked_fill(a < 0, float("nan"))),
        ),
        inputs(randn(3, 4)),
    ),
    Sample(
        "scans",
        lambda a, i: (
            torch.logcumsumexp(a.t(), 1),
            torch.logcumsumexp(a[0, 0], 0),
            torch.cummax(a, 0),
            torch.cummin(a.t(), 1),
            torch.cummax(i, 0),
        ),
        inputs(randn(3, 4), lambda: torch.tensor([1, 3, 2, 3])),
    ),
    Sample(
        "special_family",
        lambda a, i: (
            torch.special.erfcx(a),
            torch.special.i0e(a),
            torch.special.i1(a.t()),
            torch.special.i1e(a),
            torch.special.ndtr(a),
            torch.special.ndtri(a.sigmoid()),
            torch.special.log_ndtr(a),
            torch.angle(a),
            torch.angle(i),
            torch.special.i1(i),
        ),
        inputs(randn(3, 4), lambda: torch.tensor([-2, 0, 3])),
    ),
    Sample(
        "round_decimals",
        lambda a: (
            (a * 100).round(decimals=1),
            (a * 1000).t().round(decimals=-2),
            a.clone().round_(decimals=3),
        ),
        inputs(randn(3, 4)),
    ),
    Sample(
        "scatter_reduce",
        lambda a, s: tuple(
            a.scatter_reduce(
                0, torch.tensor([[0, 2], [2, 2], [1, 0]], device=a.device), s, r, include_self=i
            )
            for r in ("sum", "prod", "mean", "amax", "amin")
            for i in (True, False)
        ),
        inputs(randn(3, 4), randn(3, 2)),
    ),
    Sample(
        "index_reduce",
        lambda a, s: tuple(
            a.t().index_reduce(0, torch.tensor([1, 3, 1], device=a.device), s, r, include_self=i)
            for r in ("prod", "mean", "amax", "amin")
            for i in (True, False)
        ),
        inputs(randn(3, 4), randn(3, 3)),
    ),
    Sample(
        "index_copy",
        lambda a, s: (
            a.index_copy(1, torch.tensor([3, 0], device=a.device), s),
            a.clone().index_copy_(1, torch.tensor([1, 2], device=a.device), s),
        ),
        inputs(randn(3, 4), randn(3, 2)),
    ),
    Sample(
        "index_fill",
        lambda a, v: (
            a.index_fill(1, torch.tensor([3, 0], device=a.device), -1.5),
            a.t().clone().t().index_fill_(0, torch.tensor([1], device=a.device), v),
            a[0, 0].index_fill(0, torch.tensor(0, device=a.device), 2),
        ),
        inputs(randn(3, 4), lambda: torch.tensor(7.0)),
    ),
    Sample(
        "max_pool3d",
        lambda a: (
            F.max_pool3d(a, 2, return_indices=True),
            F.max_pool3d(a.to(memory_format=torch.channels_last_3d), (2, 3, 2), 1, 1),
            F.max_pool3d(a[0], 3, 2, ceil_mode=True, dilation=(1, 2, 1)),
        ),
        inputs(randn(2, 3, 5, 7, 6)),
    ),
    Sample(
        "avg_pool3d",
        lambda a: (
            F.avg_pool3d(a, 2),
            F.avg_pool3d(a.to(memory_format=torch.channels_last_3d), 3, 2, 1, ceil_mode=True),
            F.avg_pool3d(a, 2, count_include_pad=False, padding=1, divisor_override=3),
        ),
        inputs(randn(2, 3, 5, 7, 6)),
    ),
    Sample(
        "adaptive_pool3d",
        lambda a: (
            F.adaptive_avg_pool3d(a, (2, 3, 1)),
            F.adaptive_max_pool3d(a.to(memory_format=torch.channels_last_3d), 2, True),
            F.adaptive_avg_pool3d(a[0], 1),
        ),
        inputs(randn(2, 3, 5, 7, 6)),
    ),
    Sample(
        "adaptive_max_pool2d",
        lambda a: (
            F.adaptive_max_pool2d(a, (3, 2), return_indices=True),
            F.adaptive_max_pool2d(a.to(memory_format=torch.channels_last), 4, True),
            F.adaptive_max_pool2d(a[0], (1, 5)),
        ),
        inputs(randn(2, 3, 7, 8)),
    ),
    Sample("max_pool2d", lambda a: F.max_pool2d(a, 2), inputs(randn(2, 3, 7, 8))),
    Sample(
        "interpolate_antialiased_layouts",
        lambda a: (
            F.interpolate(a, size=(4, 5), mode="bilinear", antialias=True),
            F.interpolate(
                a.to(memory_format=torch.channels_last),
                scale_factor=0.5,
                mode="bicubic",
                antialias=True,
            ),
            F.interpolate(a, size=(12, 3), mode="bicubic", antialias=True),
        ),
        inputs(randn(2, 3, 7, 8)),
    ),
    Sample(
        "threshold",
        lambda a, i: (
            F.threshold(a, 0.2, -1.0),
            F.threshold(i, 3, 0),
            torch.threshold_(a.clone(), 0.0, 5.0),
            torch.threshold(a, 0.0, 2.0, out=torch.empty(0, device=a.device)),
        ),
        inputs(randn(3, 4), lambda: torch.arange(8)),
    ),
    Sample(
        "max_unpool",
        lambda a, v: (
            F.max_unpool2d(*F.max_pool2d(a, 2, return_indices=True), 2),
            F.max_unpool2d(*F.max_pool2d(a[0], 3, 2, 1, return_indices=True), 3, 2, 1, (7, 8)),
            F.max_unpool2d(
                *F.max_pool2d(
                    a.contiguous(memory_format=torch.channels_last), 2, return_indices=True
                ),
                2,
            ),
            F.max_unpool1d(*F.max_pool1d(a[0], 2, return_indices=True), 2),
            F.max_unpool3d(*F.max_pool3d(v, 2, return_indices=True), 2),
            F.max_unpool3d(
                *F.max_pool3d(v[0], 2, 1, return_indices=True), 2, 1, output_size=(4, 4, 6)
            ),
        ),
        inputs(
            randn(2, 3, 7, 8),
            lambda: torch.randn(2, 2, 4, 4, 6, generator=GEN).contiguous(
                memory_format=torch.channels_last_3d
            ),
        ),
    ),
    Sample(
        "max_pool2d_indices",
        lambda a: F.max_pool2d(a, 3, 2, 1, dilation=1, ceil_mode=True, return_indices=True),
        inputs(randn(2, 3, 7, 8)),
    ),
    Sample(
        "max_pool2d_channels_last",
        lambda a: F.max_pool2d(a, (2, 3), (1, 2), return_indices=True),
        inputs(
            lambda: torch.randn(2, 3, 7, 8, generator=GEN).to(memory_format=torch.channels_last)
        ),
    ),
    Sample(
        "max_pool2d_unbatched", lambda a: F.max_pool2d(a, 2, dilation=2), inputs(randn(3, 7, 8))
    ),
    Sample("avg_pool2d", lambda a: F.avg_pool2d(a, 2), inputs(randn(2, 3, 7, 8))),
    Sample(
        "avg_pool2d_options",
        lambda a: F.avg_pool2d(
            a, 3, 2, 1, ceil_mode=True, count_include_pad=False, divisor_override=4
        ),
        inputs(randn(2, 3, 7, 8)),
    ),
    Sample("avg_pool2d_t", lambda a: F.avg_pool2d(a.transpose(2, 3), 2), inputs(randn(2, 3, 8, 7))),
    Sample(
        "adaptive_avg_pool2d", lambda a: F.adaptive_avg_pool2d(a, (3, 4)), inputs(randn(2, 3, 7, 8))
    ),
    Sample(
        "adaptive_avg_pool2d_channels_last",
        lambda a: F.adaptive_avg_pool2d(a, 3),
        inputs(
            lambda: torch.randn(2, 3, 7, 8, generator=GEN).to(memory_format=torch.channels_last)
        ),
    ),
    # convolution
    Sample(
        "conv2d",
        lambda a, w, b: F.conv2d(a, w, b, stride=2, padding=1),
        inputs(randn(2, 3, 8, 8), randn(4, 3, 3, 3), randn(4)),
    ),
    Sample(
        "conv2d_channels_last",
        lambda a, w: F.conv2d(a, w),
        inputs(
            lambda: torch.randn(2, 3, 6, 6, generator=GEN).to(memory_format=torch.channels_last),
            randn(4, 3, 3, 3),
        ),
    ),
    Sample(
        "conv2d_groups_dilation",
        lambda a, w: F.conv2d(a, w, groups=2, dilation=2, padding=(2, 1)),
        inputs(randn(2, 4, 8, 8), randn(6, 2, 3, 3)),
    ),
    Sample(
        "conv1d",
        lambda a, w: F.conv1d(a, w, stride=2, padding=1),
        inputs(randn(2, 3, 10), randn(4, 3, 3)),
    ),
    Sample(
        "conv3d", lambda a, w: F.conv3d(a, w), inputs(randn(1, 2, 4, 4, 4), randn(3, 2, 3, 3, 3))
    ),
    Sample(
        "conv_transpose2d",
        lambda a, w, b: F.conv_transpose2d(a, w, b, stride=2, padding=1, output_padding=1),
        inputs(randn(2, 3, 5, 5), randn(3, 5, 3, 3), randn(5)),
    ),
    Sample(
        "conv2d_unbatched",
        lambda a, w: F.conv2d(a, w, padding="same"),
        inputs(randn(3, 6, 6), randn(4, 3, 3, 3)),
    ),
    Sample("log_sigmoid", F.logsigmoid, inputs(randn(3, 4))),
    Sample("log_sigmoid_t", lambda a: F.logsigmoid(a.t()), inputs(randn(3, 4))),
    Sample(
        "log_sigmoid_forward", lambda a: torch.ops.aten.log_sigmoid_forward(a), inputs(randn(3, 4))
    ),
    Sample("index_cpu_indices", lambda a: a[torch.tensor([2, 0])], inputs(randn(3, 4))),
    Sample(
        "index_put_cpu_indices",
        lambda a: a.index_put_((torch.tensor([1, 1]),), a.new_ones(4), accumulate=True),
        inputs(randn(3, 4)),
    ),
]


def run_three_ways(sample: Sample):
    args = sample.inputs()
    expected = outputs(sample.fn(*[a.clone() if isinstance(a, torch.Tensor) else a for a in args]))
    remote = outputs(sample.fn(*to_remote(args)))
    with torch_remote.dry_run():
        dry = outputs(sample.fn(*to_remote(args)))
    return expected, remote, dry


def assert_three_ways_agree(expected, remote, dry, **close):
    """Metadata equal three ways, values equal to the CPU's (`close`: `assert_close` options)."""
    assert len(expected) == len(remote) == len(dry)
    for cpu_t, remote_t, dry_t in zip(expected, remote, dry, strict=True):
        assert meta(dry_t) == meta(remote_t), "dry run and host metadata differ"
        assert meta(remote_t) == meta(cpu_t), "remote metadata differs from CPU"
        torch.testing.assert_close(remote_t.cpu(), cpu_t, **close)


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.name for s in SAMPLES])
def test_op_agrees_three_ways(sample):
    assert_three_ways_agree(*run_three_ways(sample), equal_nan=True)


@dataclass
class GradSample:
    """`fn(*inputs)` is backpropagated with a fixed gradient; the inputs' `.grad` must agree."""

    name: str
    fn: Callable
    inputs: Callable[[], list]
    tolerance: dict = field(default_factory=dict)


# The host runs a recurrent layer as one matmul for every step's input and one per step for
# the hidden state (host/src/kernels/recurrent_layer.rs), the CPU's composite as a linear per
# step: a weight's gradient sums the same products in another order, which float32's default
# tolerance does not always cover where they cancel (5.8e-6 relative seen on one element).
RECURRENT_LAYER_TOLERANCE = {"rtol": 2e-5, "atol": 1e-5}


def leaves(args, device=None):
    out = []
    for a in args:
        if isinstance(a, torch.Tensor) and a.is_floating_point():
            a = (a.to(device) if device else a.clone()).detach().requires_grad_(True)
        elif isinstance(a, torch.Tensor) and device:
            a = a.to(device)
        out.append(a)
    return out


def grads_of(sample: GradSample, args, device=None):
    xs = leaves(args, device)
    y = sample.fn(*xs)
    seed = torch.Generator().manual_seed(1)
    g = torch.randn(y.shape, generator=seed, dtype=y.dtype)
    y.backward(g.to(device) if device else g)
    return [x.grad for x in xs if isinstance(x, torch.Tensor) and x.requires_grad]


def lstm_summed(*args):
    """`torch.lstm`'s output plus its final states, so that every result has a gradient."""
    output, hy, cy = torch.lstm(*args)
    return output + (hy * cy).sum()


GRAD_SAMPLES = [
    GradSample(
        "fractional_max_pool2d",
        lambda a: F.fractional_max_pool2d(
            a,
            (3, 2),
            output_size=(4, 5),
            _random_samples=torch.tensor([[[0.1, 0.9], [0.5, 0.5]]], device=a.device),
        ),
        inputs(randn(1, 2, 7, 8)),
    ),
    GradSample(
        "fractional_max_pool3d_unbatched",
        lambda a: F.fractional_max_pool3d(
            a,
            2,
            output_size=(2, 3, 3),
            _random_samples=torch.tensor([[[0.3, 0.7, 0.2]]], device=a.device),
        ),
        inputs(randn(1, 4, 5, 6)),
    ),
    GradSample(
        "multilabel_margin_loss",
        lambda a: F.multilabel_margin_loss(
            a, torch.tensor([[3, 0, -1, 1], [0, 1, 2, 3], [1, -1, 2, 2]], device=a.device)
        ),
        inputs(randn(3, 4)),
    ),
    GradSample(
        "multilabel_margin_loss_vector_unreduced",
        lambda a: F.multilabel_margin_loss(
            a, torch.tensor([2, 0, -1, 1], device=a.device), reduction="none"
        ),
        inputs(randn(4)),
    ),
    GradSample(
        "multi_margin_loss",
        lambda a: F.multi_margin_loss(
            a, torch.tensor([0, 2, 1], device=a.device), p=2, reduction="none"
        ),
        inputs(randn(3, 4)),
    ),
    GradSample("pad_reflect_1d", lambda a: F.pad(a, (2, 1), mode="reflect"), inputs(randn(2, 5))),
    GradSample(
        "pad_reflect_2d_channels_last",
        lambda a: F.pad(a.to(memory_format=torch.channels_last), (1, 2, 2, 1), mode="reflect"),
        inputs(randn(2, 3, 4, 4)),
    ),
    GradSample(
        "pad_replicate_3d",
        lambda a: F.pad(a, (1, 0, 2, 1, 0, 1), mode="replicate"),
        inputs(randn(1, 2, 2, 3, 2)),
    ),
    GradSample(
        "conv_reflect_padding",
        lambda a: torch.nn.functional.conv2d(
            F.pad(a, (1, 1, 1, 1), mode="replicate"), torch.ones(2, 3, 3, 3, device=a.device)
        ),
        inputs(randn(1, 3, 4, 4)),
    ),
    GradSample(
        "cross_entropy_spatial",
        lambda a: F.cross_entropy(
            a, torch.tensor([[[0, 2], [1, -100]], [[2, 2], [0, 1]]], device=a.device)
        ),
        inputs(randn(2, 3, 2, 2)),
    ),
    GradSample(
        "nll_loss_spatial_unreduced_weighted",
        lambda a: F.nll_loss(
            a,
            torch.tensor([[[0, 2, 1]], [[1, 1, 0]]], device=a.device),
            weight=torch.tensor([0.5, 2.0, 1.0], device=a.device),
            reduction="none",
        ),
        inputs(randn(2, 3, 1, 3)),
    ),
    GradSample(
        "interpolate_bilinear",
        lambda a: F.interpolate(a, scale_factor=2, mode="bilinear"),
        inputs(randn(1, 2, 3, 4)),
    ),
    GradSample(
        "interpolate_bicubic_aligned",
        lambda a: F.interpolate(a, size=(5, 7), mode="bicubic", align_corners=True),
        inputs(randn(2, 1, 3, 4)),
    ),
    GradSample(
        "interpolate_nearest_exact_1d",
        lambda a: F.interpolate(a, size=7, mode="nearest-exact"),
        inputs(randn(2, 3, 4)),
    ),
    GradSample(
        "interpolate_antialiased",
        lambda a: torch.cat(
            [
                F.interpolate(a, size=(3, 4), mode="bilinear", antialias=True).flatten(),
                F.interpolate(a, scale_factor=0.4, mode="bicubic", antialias=True).flatten(),
                F.interpolate(
                    a.to(memory_format=torch.channels_last),
                    size=(5, 3),
                    mode="bilinear",
                    antialias=True,
                    align_corners=True,
                ).flatten(),
            ]
        ),
        inputs(randn(2, 3, 9, 10)),
    ),
    GradSample(
        "interpolate_trilinear",
        lambda a: F.interpolate(a, scale_factor=(2, 1.5, 1), mode="trilinear"),
        inputs(randn(1, 1, 2, 2, 3)),
    ),
    GradSample(
        "interpolate_nearest_channels_last",
        lambda a: F.interpolate(a.to(memory_format=torch.channels_last), scale_factor=2),
        inputs(randn(2, 3, 2, 2)),
    ),
    GradSample("unfold_overlapping", lambda a: a.unfold(1, 3, 1), inputs(randn(3, 6))),
    GradSample("unfold_gapped", lambda a: a.unfold(0, 2, 3), inputs(randn(8, 2))),
    GradSample("abs_via_sgn", lambda a: a.abs(), inputs(randn(3, 4))),
    # The gradient of sgn is an `_efficientzerotensor`.
    GradSample("sgn_zero_gradient", lambda a: torch.sgn(a) * a, inputs(randn(3, 4))),
    GradSample("gelu", F.gelu, inputs(randn(3, 4))),
    GradSample("gelu_tanh", lambda a: F.gelu(a, approximate="tanh"), inputs(randn(3, 4))),
    GradSample("silu", F.silu, inputs(randn(3, 4))),
    GradSample("sigmoid", torch.sigmoid, inputs(randn(3, 4))),
    GradSample("tanh", torch.tanh, inputs(randn(3, 4))),
    GradSample("leaky_relu", lambda a: F.leaky_relu(a, 0.2), inputs(randn(3, 4))),
    GradSample(
        "leaky_relu_", lambda a: F.leaky_relu(a * 1, 0.2, inplace=True), inputs(randn(3, 4))
    ),
    GradSample("hardtanh", lambda a: F.hardtanh(a, -0.5, 0.5), inputs(randn(3, 4))),
    GradSample("threshold", lambda a: F.threshold(a, 0.1, -2.0), inputs(randn(3, 4))),
    GradSample(
        "cholesky_solve_inverse",
        lambda a, b: torch.cat(
            [
                torch.cholesky_solve(b, torch.linalg.cholesky(spd(a))).flatten(),
                torch.cholesky_inverse(torch.linalg.cholesky(spd(a))).flatten(),
            ]
        ),
        inputs(randn(2, 3, 3, dtype=torch.float64), randn(2, 3, 2, dtype=torch.float64)),
    ),
    GradSample(
        "max_unpool2d",
        lambda a: F.max_unpool2d(a, torch.tensor([[[[0, 3], [9, 14]]]], device=a.device), 2),
        inputs(randn(1, 1, 2, 2)),
    ),
    GradSample("softplus", lambda a: F.softplus(a, beta=2, threshold=1), inputs(randn(3, 4))),
    GradSample("elu", lambda a: F.elu(a, alpha=0.5), inputs(randn(3, 4))),
    GradSample("elu_", lambda a: F.elu(a * 1, inplace=True), inputs(randn(3, 4))),
    GradSample("selu", F.selu, inputs(randn(3, 4))),
    GradSample("clamp", lambda a: a.clamp(-0.5, 0.5), inputs(randn(3, 4))),
    GradSample("clamp_tensor", lambda a, b: torch.clamp(a, min=b), inputs(randn(3, 4), randn(4))),
    GradSample("clamp_min", lambda a: a.clamp_min(0.1), inputs(randn(3, 4))),
    GradSample("cat", lambda a, b: torch.cat([a, b], 1), inputs(randn(3, 2), randn(3, 4))),
    GradSample(
        "index_select",
        lambda a: torch.index_select(a, 0, torch.tensor([0, 2, 2], device=a.device)),
        inputs(randn(3, 4)),
    ),
    GradSample(
        "gather",
        lambda a: torch.gather(a, 1, torch.tensor([[0, 1], [2, 2], [3, 0]], device=a.device)),
        inputs(randn(3, 4)),
    ),
    GradSample(
        "scatter_add",
        lambda a, s: torch.scatter_add(
            a, 1, torch.tensor([[0, 1], [2, 2], [3, 0]], device=a.device), s
        ),
        inputs(randn(3, 4), randn(3, 2)),
    ),
    GradSample("masked_fill", lambda a: a.masked_fill(a > 0, 0.0), inputs(randn(3, 4))),
    GradSample("flip", lambda a: torch.flip(a, [1]), inputs(randn(3, 4))),
    GradSample("roll", lambda a: torch.roll(a, 1, 1), inputs(randn(3, 4))),
    GradSample("cumsum", lambda a: torch.cumsum(a, 1), inputs(randn(3, 4))),
    GradSample("sort", lambda a: torch.sort(a, 1).values, inputs(randn(3, 4))),
    GradSample("topk", lambda a: torch.topk(a, 2).values, inputs(randn(3, 4))),
    GradSample(
        "embedding",
        lambda w: F.embedding(torch.tensor([[0, 2], [2, 1]], device=w.device), w),
        inputs(randn(4, 3)),
    ),
    GradSample("index", lambda a: a[torch.tensor([0, 2, 0], device=a.device)], inputs(randn(3, 4))),
    GradSample(
        "index_put",
        lambda a, v: torch.index_put(a, (torch.tensor([1, 0], device=a.device),), v),
        inputs(randn(3, 4), randn(4)),
    ),
    GradSample(
        "layer_norm",
        lambda a, w, b: F.layer_norm(a, (5,), w, b),
        inputs(randn(4, 3, 5), randn(5), randn(5)),
    ),
    GradSample(
        "layer_norm_no_affine", lambda a: F.layer_norm(a, (3, 5), eps=1e-2), inputs(randn(4, 3, 5))
    ),
    GradSample(
        "batch_norm_train",
        lambda a, w, b: F.batch_norm(a, None, None, w, b, training=True),
        inputs(randn(4, 3, 5), randn(3), randn(3)),
    ),
    GradSample(
        "batch_norm_with_update",
        lambda a, w, b: torch.ops.aten._batch_norm_with_update(
            a, w, b, torch.zeros(3, device=a.device), torch.ones(3, device=a.device), 0.1, 1e-5
        )[0],
        inputs(randn(4, 3, 5), randn(3), randn(3)),
    ),
    GradSample(
        "batch_norm_eval",
        lambda a, w, b: F.batch_norm(
            a,
            torch.zeros(3, device=a.device),
            torch.ones(3, device=a.device) * 2,
            w,
            b,
            training=False,
        ),
        inputs(randn(4, 3), randn(3), randn(3)),
    ),
    GradSample(
        "group_norm",
        lambda a, w, b: F.group_norm(a, 2, w, b),
        inputs(randn(3, 4, 5), randn(4), randn(4)),
    ),
    GradSample(
        "group_norm_no_affine", lambda a: F.group_norm(a, 3, eps=1e-3), inputs(randn(2, 6, 2, 2))
    ),
    GradSample("var", lambda a: a.var(1), inputs(randn(4, 3))),
    GradSample("std", lambda a: a.std(0), inputs(randn(4, 3))),
    GradSample("vector_norm", lambda a: torch.linalg.vector_norm(a, 2, 1), inputs(randn(4, 3))),
    GradSample("logsumexp", lambda a: torch.logsumexp(a, 1), inputs(randn(4, 3))),
    GradSample("max_pool2d", lambda a: F.max_pool2d(a, 3, 2, 1), inputs(randn(2, 3, 7, 8))),
    GradSample(
        "avg_pool2d",
        lambda a: F.avg_pool2d(a, 3, 2, 1, count_include_pad=False),
        inputs(randn(2, 3, 7, 8)),
    ),
    GradSample(
        "adaptive_avg_pool2d", lambda a: F.adaptive_avg_pool2d(a, (3, 4)), inputs(randn(2, 3, 7, 8))
    ),
    GradSample(
        "conv2d",
        lambda a, w, b: F.conv2d(a, w, b, stride=2, padding=1),
        inputs(randn(2, 3, 8, 8), randn(4, 3, 3, 3), randn(4)),
    ),
    GradSample(
        "conv1d_groups",
        lambda a, w: F.conv1d(a, w, groups=2),
        inputs(randn(2, 4, 9), randn(6, 2, 3)),
    ),
    GradSample(
        "conv_transpose2d",
        lambda a, w: F.conv_transpose2d(a, w, stride=2, padding=1),
        inputs(randn(2, 3, 5, 5), randn(3, 5, 3, 3)),
    ),
    GradSample(
        "lenet_block",
        lambda a, w: F.max_pool2d(
            F.relu(F.batch_norm(F.conv2d(a, w), None, None, training=True)), 2
        ),
        inputs(randn(2, 3, 10, 10), randn(4, 3, 3, 3)),
    ),
    GradSample("log_sigmoid", F.logsigmoid, inputs(randn(3, 4))),
    GradSample("log_sigmoid_t", lambda a: F.logsigmoid(a.t()), inputs(randn(3, 4))),
    GradSample(
        "logit_eps",
        lambda a: torch.logit(torch.sigmoid(a), eps=0.3) + torch.logit(torch.sigmoid(a)),
        inputs(randn(3, 4)),
    ),
    GradSample(
        "unary_float_family",
        lambda a: a.tan() + a.atan() + a.sinh() + a.asinh() + a.erfc() + a.lgamma() + a.sinc(),
        inputs(randn(3, 4)),
    ),
    GradSample("matmul_matrix_vector", torch.matmul, inputs(randn(3, 4), randn(4))),
    GradSample("matmul_vector_vector", torch.matmul, inputs(randn(5), randn(5))),
    GradSample(
        "baddbmm",
        lambda b, x, y: torch.baddbmm(b, x, y, alpha=0.5),
        inputs(randn(2, 3, 5), randn(2, 3, 4), randn(2, 4, 5)),
    ),
    GradSample(
        "activation_family",
        lambda a: (
            F.mish(a)
            + F.hardswish(a)
            + F.hardsigmoid(a)
            + F.hardshrink(a, 0.3)
            + F.softshrink(a, 0.4)
        ),
        inputs(randn(3, 5)),
    ),
    GradSample(
        "binary_float_family",
        lambda a, b: torch.hypot(a, b) + torch.logaddexp(a, b) + torch.xlogy(a.abs(), b.abs()),
        inputs(randn(3, 4), randn(3, 4)),
    ),
    GradSample("pairwise_distance", F.pairwise_distance, inputs(randn(4, 5), randn(4, 5))),
    GradSample("median_dim", lambda a: a.median(1).values, inputs(randn(3, 5))),
    GradSample("kthvalue", lambda a: a.kthvalue(2, 0).values, inputs(randn(4, 3))),
    GradSample("linalg_inv", lambda a: torch.linalg.inv(spd(a)), inputs(randn(2, 3, 3))),
    GradSample(
        "slogdet",
        lambda a: torch.linalg.slogdet(spd(a)).logabsdet + torch.logdet(spd(a)),
        inputs(randn(2, 3, 3)),
    ),
    GradSample("glu", lambda a: F.glu(a, 1), inputs(randn(3, 4))),
    GradSample(
        "unfold_fold", lambda a: F.fold(F.unfold(a, 2), (4, 5), 2), inputs(randn(1, 2, 4, 5))
    ),
    GradSample(
        "take", lambda a: a.take(torch.tensor([0, 5, 5], device=a.device)), inputs(randn(3, 4))
    ),
    GradSample("prelu", F.prelu, inputs(randn(2, 3, 4), randn(3))),
    GradSample(
        "lstm_cell",
        lambda x, h, c, wi, wh, bi, bh: sum(torch.lstm_cell(x, (h, c), wi, wh, bi, bh)),
        inputs(
            randn(3, 5), randn(3, 4), randn(3, 4), randn(16, 5), randn(16, 4), randn(16), randn(16)
        ),
    ),
    GradSample(
        "lstm_cell_hy_only_unbiased",
        lambda x, h, c, wi, wh: torch.lstm_cell(x, (h, c), wi, wh)[0],
        inputs(randn(2, 3), randn(2, 4), randn(2, 4), randn(16, 3), randn(16, 4)),
    ),
    GradSample(
        "lstm_cell_cy_only",
        lambda x, h, c, wi, wh, bi, bh: torch.lstm_cell(x, (h, c), wi, wh, bi, bh)[1],
        inputs(randn(2, 3), randn(2, 2), randn(2, 2), randn(8, 3), randn(8, 2), randn(8), randn(8)),
    ),
    GradSample(
        "lstm_two_layers",
        lambda x, h, c, *w: lstm_summed(x, (h, c), w, True, 2, 0.0, True, False, False),
        LSTM_TWO_LAYERS,
        tolerance=RECURRENT_LAYER_TOLERANCE,
    ),
    GradSample(
        "lstm_bidirectional_batch_first_unbiased",
        lambda x, h, c, *w: lstm_summed(x, (h, c), w, False, 1, 0.0, True, True, True),
        LSTM_BIDIRECTIONAL,
        tolerance=RECURRENT_LAYER_TOLERANCE,
    ),
    GradSample(
        "gru_bidirectional",
        lambda x, h, *w: (lambda o, hy: o + (hy * hy).sum())(
            *torch.gru(x, h, w, True, 1, 0.0, True, True, False)
        ),
        inputs(
            randn(6, 2, 3),
            randn(2, 2, 4),
            *[randn(*s) for s in [(12, 3), (12, 4), (12,), (12,)] * 2],
        ),
        tolerance=RECURRENT_LAYER_TOLERANCE,
    ),
    GradSample(
        "rnn_relu_two_layers_unbiased",
        lambda x, h, *w: torch.rnn_relu(x, h, w, False, 2, 0.0, True, False, True)[0],
        inputs(randn(2, 6, 4), randn(2, 2, 4), *[randn(4, 4) for _ in range(4)]),
        tolerance=RECURRENT_LAYER_TOLERANCE,
    ),
    GradSample(
        "gru_cell",
        lambda x, h, wi, wh, bi, bh: torch.gru_cell(x, h, wi, wh, bi, bh),
        inputs(randn(3, 5), randn(3, 4), randn(12, 5), randn(12, 4), randn(12), randn(12)),
    ),
    GradSample(
        "gru_cell_unbiased",
        lambda x, h, wi, wh: torch.gru_cell(x, h, wi, wh),
        inputs(randn(2, 3), randn(2, 4), randn(12, 3), randn(12, 4)),
    ),
    GradSample("cdist", lambda a, b: torch.cdist(a, b, p=1.5), inputs(randn(2, 4, 3), randn(5, 3))),
    GradSample("linalg_cross", torch.linalg.cross, inputs(randn(4, 3), randn(4, 3))),
    GradSample(
        "grid_sample",
        lambda a, g: F.grid_sample(a, g, align_corners=False, padding_mode="border"),
        inputs(randn(2, 3, 5, 5), lambda: torch.rand(2, 4, 6, 2, generator=GEN) * 2 - 1),
    ),
    GradSample(
        "grid_sample_3d",
        lambda a, g: F.grid_sample(a, g, align_corners=True),
        inputs(randn(1, 2, 3, 4, 5), lambda: torch.rand(1, 2, 3, 4, 3, generator=GEN) * 2 - 1),
    ),
    GradSample(
        "scans",
        lambda a: torch.logcumsumexp(a, 1) + torch.cummax(a, 0).values * torch.cummin(a, 1).values,
        inputs(randn(3, 4)),
    ),
    GradSample("aminmax", lambda a: sum(torch.aminmax(a, dim=1)), inputs(randn(3, 4))),
    GradSample(
        "gather_empty_byte_index",
        lambda a: torch.gather(a, 0, torch.zeros(2, 0, dtype=torch.uint8, device=a.device)),
        inputs(randn(5)),
    ),
    GradSample(
        "special_family",
        lambda a: torch.special.erfcx(a) + torch.special.i1(a) + torch.special.log_ndtr(a),
        inputs(randn(3, 4)),
    ),
    GradSample(
        "scatter_reduce",
        lambda a, s: sum(
            a.scatter_reduce(0, torch.tensor([[0, 2], [2, 2], [1, 0]], device=a.device), s, r)
            for r in ("sum", "mean", "amax")
        ),
        inputs(randn(3, 2), randn(3, 2)),
    ),
    GradSample(
        "index_copy_fill",
        lambda a, s: a.index_copy(0, torch.tensor([2, 0], device=a.device), s).index_fill(
            1, torch.tensor([1], device=a.device), 0.5
        ),
        inputs(randn(3, 4), randn(2, 4)),
    ),
    GradSample(
        "pool3d_family",
        lambda a: (
            F.max_pool3d(a, 2, 1).sum()
            + F.avg_pool3d(a, 3, 2, 1, count_include_pad=False).sum()
            + (F.adaptive_avg_pool3d(a, (2, 3, 1)) * F.adaptive_max_pool3d(a, 2).mean()).sum()
        ),
        inputs(randn(2, 3, 4, 5, 6)),
    ),
    GradSample(
        "adaptive_max_pool2d",
        lambda a: F.adaptive_max_pool2d(a, (3, 2)),
        inputs(randn(2, 3, 7, 8)),
    ),
    GradSample("mse_loss", F.mse_loss, inputs(randn(4, 5), randn(4, 5))),
    GradSample(
        "smooth_l1_loss_sum",
        lambda a, b: F.smooth_l1_loss(a, b, reduction="sum", beta=0.5),
        inputs(randn(6, 3), randn(6, 3)),
    ),
    GradSample(
        "huber_loss_unreduced",
        lambda a, b: F.huber_loss(a, b, reduction="none", delta=0.7),
        inputs(randn(3, 5), randn(3, 5)),
    ),
    GradSample(
        "bce_weighted",
        lambda a: F.binary_cross_entropy(
            torch.sigmoid(a),
            torch.tensor([[0.0, 1.0, 0.3], [1.0, 0.5, 0.0]], device=a.device),
            weight=torch.tensor([1.0, 2.0, 0.5], device=a.device),
        ),
        inputs(randn(2, 3)),
    ),
    GradSample("l1_loss", F.l1_loss, inputs(randn(5, 2), randn(5, 2))),
    GradSample("pdist", lambda a: F.pdist(a, p=3.0), inputs(randn(5, 4))),
    GradSample(
        "weight_norm",
        lambda v, g, x: F.conv1d(x, torch._weight_norm(v, g, 0)),
        inputs(randn(6, 4, 3), lambda: torch.rand(6, 1, 1, generator=GEN) + 0.5, randn(2, 4, 7)),
    ),
    GradSample(
        "matrix_exp",
        torch.linalg.matrix_exp,
        inputs(lambda: torch.randn(2, 3, 3, generator=GEN) / 3),
    ),
    # The input gradient of the half types accumulates in float and rounds once, as the
    # CPU's kernel does (its weight and bias gradients accumulate in bfloat16 across threads).
    GradSample(
        "layer_norm_bfloat16",
        lambda a: F.layer_norm(
            a, (4,), torch.linspace(0.5, 2, 4, device=a.device, dtype=a.dtype), None
        ),
        inputs(randn(3, 5, 4, dtype=torch.bfloat16)),
    ),
    # `sum`'s backward hands batch norm a broadcast gradient, which libtorch's CPU kernel
    # treats apart.
    GradSample(
        "batch_norm_bfloat16_summed",
        lambda a, w, b: F.batch_norm(a, None, None, w, b, training=True).sum(),
        inputs(*(randn(*s, dtype=torch.bfloat16) for s in ((5, 3, 4), (3,), (3,)))),
    ),
    GradSample(
        "bce_with_logits",
        lambda a: F.binary_cross_entropy_with_logits(
            a, torch.tensor([[0.0, 1.0, 0.3], [1.0, 0.5, 0.0]], device=a.device)
        ),
        inputs(randn(2, 3)),
    ),
]


@pytest.mark.parametrize("sample", GRAD_SAMPLES, ids=[s.name for s in GRAD_SAMPLES])
def test_grad_agrees_three_ways(sample):
    args = sample.inputs()
    expected = grads_of(sample, args)
    remote = grads_of(sample, args, "remote")
    with torch_remote.dry_run():
        dry = grads_of(sample, args, "remote")
    assert len(expected) == len(remote) == len(dry)
    for cpu_g, remote_g, dry_g in zip(expected, remote, dry, strict=True):
        assert meta(dry_g) == meta(remote_g), "dry run and host gradient metadata differ"
        assert meta(remote_g) == meta(cpu_g), "remote gradient metadata differs from CPU"
        torch.testing.assert_close(remote_g.cpu(), cpu_g, **sample.tolerance)


@dataclass
class RandomSample:
    """A random op: metadata must agree three ways; `check` holds on the remote values."""

    name: str
    fn: Callable
    inputs: Callable[[], list]
    check: Callable


def _dropout_check(x, out, mask):
    kept = mask.to(torch.float32)
    torch.testing.assert_close(out, x * kept / 0.7)


def _rrelu_check(x, out, noise):
    negative = x <= 0
    slopes = noise[negative]
    assert bool(((slopes >= 0.1) & (slopes <= 0.3)).all()), slopes
    assert bool((noise[~negative] == 1).all())
    torch.testing.assert_close(out, x * noise)


RANDOM_SAMPLES = [
    RandomSample(
        "bernoulli_tensor",
        lambda x, p: (torch.bernoulli(p), x.bernoulli_(p[:1])),
        inputs(
            lambda: torch.zeros(4, 50_000, dtype=torch.int64),
            lambda: torch.rand(4, 50_000, generator=GEN).t().contiguous().t(),
        ),
        lambda x, p, y, z: (
            abs(y.mean().item() - p.mean().item()) < 0.01
            and set(z.unique().tolist()) <= {0, 1}
            and abs(z.double().mean().item() - p[0].mean().item()) < 0.01
        ),
    ),
    RandomSample(
        "poisson_gamma_dirichlet",
        lambda r: (torch.poisson(r), torch._standard_gamma(r.t()), torch._sample_dirichlet(r)),
        inputs(lambda: torch.full((20_000, 3), 3.0)),
        lambda r, p, g, d: (
            abs(p.mean().item() - 3.0) < 0.05
            and abs(g.mean().item() - 3.0) < 0.05
            and bool(((d.sum(1) - 1).abs() < 1e-5).all())
            and abs(d.mean().item() - 1 / 3) < 0.01
        ),
    ),
    RandomSample(
        "binomial_broadcast",
        lambda c, p: torch.binomial(c.expand(4, 20_000), p),
        inputs(
            lambda: torch.tensor([[10.0], [0.0], [3.0], [1e6]]),
            lambda: torch.full((20_000,), 0.25),
        ),
        lambda c, p, y: (
            abs(y[0].mean().item() - 2.5) < 0.05
            and bool((y[0] == y[0].round()).all() and y[0].min() >= 0 and y[0].max() <= 10)
            and bool((y[1] == 0).all())
            and bool((y[2] <= 3).all())
            and abs(y[3].mean().item() - 250_000) < 100
        ),
    ),
    RandomSample(
        "exponential_",
        lambda x: x.exponential_(2.0),
        inputs(lambda: torch.empty(100_000)),
        lambda x, y: bool(y.min() >= 0) and abs(y.mean().item() - 0.5) < 0.01,
    ),
    RandomSample(
        "log_normal_",
        lambda x: x.t().log_normal_(0.5, 0.25),
        inputs(lambda: torch.empty(400, 250, dtype=torch.float64)),
        lambda x, y: (
            abs(y.log().mean().item() - 0.5) < 0.01 and abs(y.log().std().item() - 0.25) < 0.01
        ),
    ),
    RandomSample(
        "cauchy_",
        lambda x: x.cauchy_(1.0, 2.0),
        inputs(lambda: torch.empty(100_000)),
        lambda x, y: (
            abs(y.median().item() - 1.0) < 0.05 and abs((y - 1).abs().median().item() - 2.0) < 0.1
        ),
    ),
    RandomSample(
        "geometric_",
        lambda x: x.geometric_(0.25),
        inputs(lambda: torch.empty(100_000, dtype=torch.int64)),
        lambda x, y: (
            y.dtype == torch.int64
            and bool(y.min() >= 1)
            and abs(y.double().mean().item() - 4.0) < 0.1
        ),
    ),
    RandomSample(
        "normal_tensor_tensor",
        lambda m, s: torch.normal(m, s.abs() * 1e-6),
        inputs(randn(3, 1), randn(4)),
        lambda m, s, y: torch.allclose(y, m.expand(3, 4), atol=1e-4),
    ),
    RandomSample(
        "normal_tensor_float",
        lambda m: torch.normal(m, 1e-6),
        inputs(randn(2, 3)),
        lambda m, y: torch.allclose(y, m, atol=1e-4),
    ),
    RandomSample(
        "normal_float_tensor",
        lambda s: torch.normal(2.0, s.abs() + 1.0),
        inputs(randn(4096)),
        lambda s, y: abs(y.mean().item() - 2.0) < 0.2,
    ),
    RandomSample(
        "bernoulli_",
        lambda a: a.bernoulli_(0.3),
        inputs(randn(64)),
        lambda x, y: set(y.tolist()) <= {0.0, 1.0},
    ),
    RandomSample(
        "random_from_to",
        lambda a: a.random_(2, 5),
        inputs(lambda: torch.zeros(64, dtype=torch.int64)),
        lambda x, y: 2 <= y.min().item() and y.max().item() < 5,
    ),
    RandomSample(
        "random_to",
        lambda a: a.random_(3),
        inputs(lambda: torch.zeros(64)),
        lambda x, y: 0 <= y.min().item() and y.max().item() < 3,
    ),
    RandomSample(
        "random_",
        lambda a: a.random_(),
        inputs(lambda: torch.zeros(64, dtype=torch.uint8)),
        lambda x, y: True,
    ),
    RandomSample(
        "multinomial_one_hot",
        lambda p: torch.multinomial(p, 3, replacement=True),
        inputs(lambda: torch.eye(4)[[2, 0, 3]]),
        lambda p, y: torch.equal(y, p.argmax(1, keepdim=True).expand(3, 3)),
    ),
    RandomSample(
        "multinomial_all_without_replacement",
        lambda p: torch.multinomial(p, 5),
        inputs(lambda: torch.rand(2, 5, generator=GEN) + 0.1),
        lambda p, y: torch.equal(y.sort(1).values, torch.arange(5).expand(2, 5)),
    ),
    RandomSample(
        "randperm",
        lambda a: torch.randperm(7, device=a.device),
        inputs(randn(1)),
        lambda a, y: torch.equal(y.sort().values, torch.arange(7)),
    ),
    RandomSample(
        "native_dropout",
        lambda a: torch.ops.aten.native_dropout(a.t(), 0.3, True),
        inputs(randn(8, 6)),
        lambda x, out, mask: _dropout_check(x.t(), out, mask),
    ),
    RandomSample(
        "rrelu_with_noise_training",
        lambda a: (
            lambda noise: (torch.ops.aten.rrelu_with_noise(a.t(), noise, 0.1, 0.3, True), noise)
        )(torch.empty(6, 8, device=a.device)),
        inputs(randn(8, 6)),
        lambda x, out, noise: _rrelu_check(x.t(), out, noise),
    ),
    RandomSample(
        "rrelu_training_grad",
        lambda a: (lambda x: torch.autograd.grad(F.rrelu(x, 0.2, 0.4, True).sum(), x))(
            a.requires_grad_()
        ),
        inputs(randn(8, 6)),
        lambda x, g: (
            bool((g[x > 0] == 1).all()) and bool(((g[x <= 0] >= 0.2) & (g[x <= 0] <= 0.4)).all())
        ),
    ),
    RandomSample(
        "native_dropout_eval",
        lambda a: torch.ops.aten.native_dropout(a, 0.3, False),
        inputs(randn(8, 6)),
        lambda x, out, mask: (torch.testing.assert_close(out, x), bool(mask.all())),
    ),
    RandomSample(
        "dropout_grad",
        lambda a: (lambda x: (torch.autograd.grad(F.dropout(x, 0.5).sum(), x)[0],))(
            a.requires_grad_()
        ),
        inputs(randn(8, 6)),
        lambda x, g: set(g.unique().tolist()) <= {0.0, 2.0},
    ),
]


@pytest.mark.parametrize("sample", RANDOM_SAMPLES, ids=[s.name for s in RANDOM_SAMPLES])
def test_random_op_metadata_and_values(sample):
    args = sample.inputs()
    expected = outputs(sample.fn(*[a.clone() for a in args]))
    remote = outputs(sample.fn(*to_remote(args)))
    with torch_remote.dry_run():
        dry = outputs(sample.fn(*to_remote(args)))
    assert [meta(t) for t in dry] == [meta(t) for t in remote] == [meta(t) for t in expected]
    result = sample.check(*args, *[t.detach().cpu() for t in remote])
    assert result is None or result is True or (isinstance(result, tuple) and result[-1])


ARANGES = [
    ((10,), {}),
    ((2, 11, 3), {}),
    ((0, 1, 0.1), {}),
    ((5,), {"dtype": torch.float64}),
    ((3, -3, -1), {}),
    ((1.5,), {}),
    ((0, 7), {"dtype": torch.int32}),
    ((0,), {}),
]


@pytest.mark.parametrize(("args", "kwargs"), ARANGES, ids=[str(a) for a, _ in ARANGES])
def test_arange_agrees_with_cpu(args, kwargs):
    cpu = torch.arange(*args, **kwargs)
    remote = torch.arange(*args, device="remote", **kwargs)
    with torch_remote.dry_run():
        dry = torch.arange(*args, device="remote", **kwargs)
    assert meta(remote) == meta(cpu) == meta(dry)
    torch.testing.assert_close(remote.cpu(), cpu)
