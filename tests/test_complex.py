"""Complex tensors on remote: the ops that take them agree three ways with the CPU (the
cross-check harness), conjugate and negative views read back right, gradients flow through
the complex views, and the ops that do not take them say so (or run on the CPU fallback)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
import torch_remote
from conftest import assert_refused_like_the_cpu, run_python
from test_crosscheck import Sample, assert_three_ways_agree, inputs, randn, run_three_ways

C64, C128 = torch.complex64, torch.complex128


def cplx(*shape, dtype=C64):
    return randn(*shape, dtype=dtype)


def rope(x, freqs):
    """Rotary embeddings as LLaMA applies them."""
    pairs = torch.view_as_complex(x.float().reshape(*x.shape[:-1], -1, 2))
    rotation = torch.polar(torch.ones_like(freqs), freqs)
    return torch.view_as_real(pairs * rotation).flatten(-2)


SAMPLES = [
    Sample(
        "factories",
        lambda x: (torch.zeros_like(x), torch.ones_like(x), x.new_empty(2).zero_()),
        inputs(cplx(3)),
    ),
    Sample("to_complex", lambda x: (x.to(C64), x.to(C128).t()), inputs(randn(2, 3))),
    Sample("to_real_drops_imag", lambda x: x.real.to(torch.float64), inputs(cplx(2, 3))),
    Sample("arith", lambda a, b: (a + b, a - 2 * b, a * b, a / b, -a), inputs(cplx(3, 4), cplx(4))),
    Sample(
        "promote_real", lambda a, r: (a * r, r + a, a * 2.5, a / 3), inputs(cplx(3, 4), randn(3, 1))
    ),
    Sample(
        "promote_double",
        lambda a, r: (a + r, a.to(C128) * a),
        inputs(cplx(2, 2), randn(2, 2, dtype=torch.float64)),
    ),
    Sample(
        "in_place",
        lambda a, b: (a.clone().mul_(b), a.clone().add_(b, alpha=2), a.clone().div_(b)),
        inputs(cplx(2, 3), cplx(2, 3)),
    ),
    Sample(
        "unary",
        lambda a: (a.exp(), a.log(), a.sqrt(), a.sin(), a.cos(), a.tanh(), a.reciprocal(), a.sgn()),
        inputs(cplx(5)),
    ),
    Sample(
        "non_finite",
        lambda a: (torch.isinf(a), torch.isfinite(a), torch.isnan(a)),
        inputs(
            lambda: torch.tensor(
                [1 + 1j, complex("inf"), complex(0, float("-inf")), complex("nan")]
            )
        ),
    ),
    Sample("abs_angle", lambda a: (a.abs(), a.angle(), torch.abs(a.t())), inputs(cplx(3, 2))),
    Sample(
        "real_imag",
        lambda a: (a.real, a.imag, a.real.clone(), a.imag.t().clone()),
        inputs(cplx(3, 2)),
    ),
    Sample(
        "conj",
        lambda a: (a.conj().clone(), a.conj() * a, a.conj().imag.clone(), torch.conj_physical(a)),
        inputs(cplx(4)),
    ),
    Sample(
        "conj_physical_ in place",
        lambda a: (a.clone().conj_physical_(), a.real.clone().conj_physical_(), a[::2].clone()),
        inputs(cplx(4)),
    ),
    Sample(
        "views",
        lambda a: (
            a.t(),
            a[1:, ::2],
            a.unsqueeze(0).expand(2, 3, 4),
            a.reshape(12),
            a.transpose(0, 1).contiguous(),
        ),
        inputs(cplx(3, 4)),
    ),
    Sample(
        "cat_sum_mean",
        lambda a, b: (torch.cat([a, b]), a.sum(), a.sum(1), b.mean(0, keepdim=True)),
        inputs(cplx(2, 3), cplx(1, 3)),
    ),
    Sample(
        "view_as_real",
        lambda a: (torch.view_as_real(a), torch.view_as_real(a.t()), torch.view_as_real(a[1])),
        inputs(cplx(3, 4)),
    ),
    Sample(
        "view_as_complex",
        lambda r: (torch.view_as_complex(r), torch.view_as_complex(r[:, 1:3])),
        inputs(randn(3, 4, 2)),
    ),
    Sample(
        "polar_complex",
        lambda m, a: (
            torch.polar(m.abs(), a),
            torch.complex(m, a),
            torch.polar(m.abs().double(), a.double()),
        ),
        inputs(randn(3, 4), randn(4)),
    ),
    Sample("rope", rope, inputs(randn(2, 5, 8), randn(5, 4))),
    Sample(
        "rfft",
        lambda x: (torch.fft.rfft(x), torch.fft.rfft(x, dim=0), torch.fft.rfft2(x, norm="ortho")),
        inputs(randn(4, 6, 8)),
    ),
    Sample(
        "rfft_strided",
        lambda x: (torch.fft.rfft(x.transpose(0, 2)), torch.fft.fft(x.transpose(0, 1), dim=0)),
        inputs(randn(4, 6, 8)),
    ),
    Sample(
        "irfft",
        lambda x: (torch.fft.irfft(x), torch.fft.irfft(x, n=7, dim=0), torch.fft.irfftn(x)),
        inputs(cplx(4, 5)),
    ),
    Sample(
        "fft_c2c",
        lambda x: (
            torch.fft.fft(x),
            torch.fft.ifft(x, dim=0, norm="forward"),
            torch.fft.fftn(x),
            torch.fft.fft2(x.t()),
        ),
        inputs(cplx(4, 6)),
    ),
    Sample(
        "fft_round_trip",
        lambda x: torch.fft.irfft(torch.fft.rfft(x), n=x.shape[-1]),
        inputs(randn(3, 10, dtype=torch.float64)),
    ),
    Sample(
        "complex_numbers",
        lambda a, r: (
            a * 1j,
            a + (2 - 1j),
            (2 - 1j) - a,
            1j * r,
            torch.exp(1j * r),
            r.double() * 1j,
            r.long() * 1j,
            a.clone().fill_(1 + 2j),
            a.clone().mul_(2j),
            torch.add(a, a, alpha=0.5j),
            torch.zeros_like(r).fill_(3 + 0j),
        ),
        inputs(cplx(2, 3), randn(3)),
    ),
    Sample(
        "more_ops",
        lambda a, b, v: (
            a @ b,
            torch.bmm(a.unsqueeze(0), b.unsqueeze(0)),
            a @ v,
            torch.dot(v, v),
            torch.vdot(v, v.flip(0)),
            torch.vdot(v.real, v.imag),
            a.conj() @ b,
            a.pow(2),
            a ** (0.5 + 1j),
            a.prod(1),
            a.cumsum(0),
            torch.where(a.real > 0, a, 0),
            a == a.conj(),
            a != 1j,
            torch.isnan(a),
            a.index_select(0, torch.tensor([2, 0], device=a.device)),
            a.roll(1, 0),
            a.flip(1),
            torch.fft.fftshift(a),
        ),
        inputs(cplx(3, 3), cplx(3, 4), cplx(3)),
    ),
    Sample("pad", lambda x: F.pad(torch.fft.rfft(x), (1, 2)), inputs(randn(2, 8))),
    # Hermitian eigenvectors and singular vectors are unique only up to a phase: compare
    # what does not depend on it.
    Sample(
        "linalg",
        lambda a, b: (
            torch.linalg.solve(a, b),
            torch.linalg.inv(a),
            torch.linalg.det(a),
            torch.linalg.slogdet(a),
            torch.linalg.svdvals(a),
            torch.linalg.eigvalsh(a @ a.mH),
            torch.linalg.qr(a).R.abs(),
            torch.linalg.lstsq(a, b).solution,
            torch.linalg.cholesky(a @ a.mH + torch.eye(3, device=a.device)),
        ),
        inputs(cplx(2, 3, 3), cplx(2, 3, 2)),
    ),
    # Complex numbers reach the host's kernels as tensors.
    Sample(
        "complex_scales_and_fill_values",
        lambda a, b: (
            torch.addmm(a, a, b, alpha=1j, beta=2 - 1j),
            torch.addmm(a, a, b, alpha=0.5j, beta=0),
            torch.baddbmm(a[None], a[None], b[None], alpha=0.5 + 1j, beta=1j),
            torch.addmv(a[0], a, b[0], alpha=2 + 1j, beta=-1j),
            a.masked_fill(a.real > 0, 1 + 2j),
            torch.lerp(a, b, 0.5 + 0.5j),
            a.index_fill(0, torch.tensor([0, 2], device=a.device), 1j),
        ),
        inputs(cplx(3, 3), cplx(3, 3)),
    ),
    # Solving from the right goes through conjugate-transposed views on the host. The CPU's
    # result is a lazily conjugated view; remote results come resolved.
    Sample(
        "lu_solve_right",
        lambda a, b: torch.linalg.lu_solve(
            *torch.linalg.lu_factor(a), b, left=False
        ).resolve_conj(),
        inputs(cplx(3, 3), cplx(4, 3)),
    ),
    Sample(
        "stft",
        lambda x: torch.stft(
            x, 16, hop_length=4, window=torch.hann_window(16, device=x.device), return_complex=True
        ),
        inputs(randn(2, 64)),
    ),
]


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.name for s in SAMPLES])
def test_complex_op_agrees_three_ways(sample):
    expected, remote, dry = run_three_ways(sample)
    assert_three_ways_agree(expected, remote, dry)
    bits = [[(t.is_conj(), t.is_neg()) for t in ts] for ts in (expected, remote)]
    assert bits[0] == bits[1], "conjugate or negative bits differ from the CPU's"


def test_randn_draws_complex_normals():
    torch.manual_seed(0)
    z = torch.randn(200_000, dtype=C64, device="remote")
    assert z.dtype == C64 and z.device.type == "remote"
    parts = torch.view_as_real(z).cpu()
    torch.testing.assert_close(parts.mean(0), torch.zeros(2), atol=0.01, rtol=0)
    torch.testing.assert_close(parts.var(0), torch.full((2,), 0.5), atol=0.01, rtol=0)


def test_rand_draws_both_parts_uniformly():
    x = torch.empty(40_000, dtype=C64, device="remote").uniform_(2, 3).cpu()
    for part in (x.real, x.imag):
        assert 2 <= part.min().item() and part.max().item() < 3
        assert abs(part.mean().item() - 2.5) < 0.01
    assert abs(torch.corrcoef(torch.stack([x.real, x.imag]))[0, 1].item()) < 0.02


def test_istft_inverts_stft_like_the_cpu():
    # istft checks its window's envelope with a read, so it has no dry run.
    x = torch.randn(2, 64)
    results = []
    for device in ("cpu", "remote"):
        window = torch.hann_window(16, device=device)
        spec = torch.stft(x.to(device), 16, hop_length=4, window=window, return_complex=True)
        results.append(torch.istft(spec, 16, hop_length=4, window=window, length=64).cpu())
    torch.testing.assert_close(results[1], results[0])
    torch.testing.assert_close(results[1], x, atol=1e-5, rtol=0)


def test_rope_gradients_match_the_cpu():
    x, freqs = torch.randn(2, 5, 8), torch.randn(5, 4)
    grads = []
    for device in ("cpu", "remote"):
        leaf = x.to(device).detach().requires_grad_(True)
        out = rope(leaf, freqs.to(device))
        (out * out.detach().cos()).sum().backward()
        grads.append(leaf.grad.cpu())
    torch.testing.assert_close(grads[1], grads[0])


def test_spectral_loss_gradients_match_the_cpu():
    x = torch.randn(3, 16)
    grads = []
    for device in ("cpu", "remote"):
        leaf = x.to(device).detach().requires_grad_(True)
        torch.fft.rfft(leaf).abs().pow(2).sum().backward()
        grads.append(leaf.grad.cpu())
    torch.testing.assert_close(grads[1], grads[0])


def test_conjugate_and_negative_views_read_and_write_back():
    a = torch.randn(3, dtype=C64)
    r = a.to("remote")
    assert r.conj().is_conj()
    torch.testing.assert_close(r.conj().cpu(), a.conj())
    torch.testing.assert_close(r.conj().imag.cpu(), a.conj().imag)
    torch.testing.assert_close(torch.tensor(r[0].conj().item()), a[0].conj().resolve_conj())
    dst = torch.zeros(3, dtype=C64, device="remote")
    dst.conj().copy_(r)
    torch.testing.assert_close(dst.cpu(), a.conj())
    dst.conj().imag.copy_(torch.ones(3))
    torch.testing.assert_close(dst.cpu().imag, -torch.ones(3))


def test_complex_tensors_print_like_the_cpu():
    a = torch.tensor([1 + 2j, -0.5j, 3.0], dtype=C64)
    assert repr(a)[: -len(")")] + ", device='remote:0')" == repr(a.to("remote"))
    assert str(a.conj())[:-1] in str(a.to("remote").conj())


def test_ops_without_complex_support_say_so():
    x = torch.ones(3, dtype=C64, device="remote")
    index = torch.zeros(3, dtype=torch.long, device="remote")
    with pytest.raises(
        NotImplementedError, match=r"aten::scatter_reduce.*ComplexFloat.*TORCH_REMOTE_CPU_FALLBACK"
    ):
        x.scatter_reduce(0, index, x, "sum")
    with pytest.raises(NotImplementedError, match=r"aten::clamp.*complex numbers"):
        torch.clamp(torch.ones(2, device="remote"), max=1j)
    with pytest.raises(RuntimeError, match="value cannot be converted to type float"):
        torch.zeros(2, device="remote").fill_(1j)
    with pytest.raises(RuntimeError, match="value cannot be converted to type double"):
        torch.addmm(*[torch.ones(2, 2, dtype=torch.float64, device="remote")] * 3, alpha=1j)
    with pytest.raises(RuntimeError, match="alpha must not be a complex number"):
        torch.add(torch.ones(2, device="remote"), 1, alpha=1j)
    with torch_remote.dry_run():
        with pytest.raises(NotImplementedError, match="aten::scatter_reduce"):
            x.scatter_reduce(0, index, x, "sum")
    with pytest.raises(RuntimeError, match="last dimension of size 2"):
        torch.view_as_complex(torch.ones(3, 3, device="remote"))
    with pytest.raises(RuntimeError, match="In-place abs is not supported for complex tensors"):
        x.abs_()
    torch.testing.assert_close(x.cpu(), torch.ones(3, dtype=C64))


@pytest.mark.parametrize(
    "call",
    [
        lambda z: torch.maximum(z, z),
        lambda z: torch.fmin(z, z),
        lambda z: torch.sort(z),
        lambda z: torch.argsort(z),
        lambda z: torch.topk(z, 1),
        lambda z: torch.nanmean(z),
        lambda z: torch.isin(z, z),
        lambda z: torch.argmax(z),
        lambda z: torch.max(z, 0),
        lambda z: torch.amax(z),
        lambda z: torch.clamp(z, 0),
        lambda z: torch.relu(z),
        lambda z: torch.floor(z),
        lambda z: torch.sign(z),
        lambda z: z < z,
        lambda z: z % z,
        lambda z: torch.cummax(z, 0),
        lambda z: torch.unique(z),
        lambda z: torch.isposinf(z),
        lambda z: F.gelu(z),
    ],
)
def test_ops_the_cpu_refuses_complex_tensors_for_are_refused_like_the_cpu(call):
    # The fallback's hint would not help: the CPU refuses them too, with its own error.
    assert_refused_like_the_cpu(lambda d: call(torch.tensor([1 + 2j, 3 - 1j], device=d)))


@pytest.mark.parametrize(
    "call",
    [
        lambda z: z.softmax(-1),
        lambda z: z.softmax(0),
        lambda z: F.log_softmax(z, 1),
        lambda z: F.cross_entropy(z[:, :, 0], torch.zeros(2, dtype=torch.long, device=z.device)),
        lambda z: F.layer_norm(z, (4,)),
        lambda z: F.group_norm(z, 1),
        lambda z: F.batch_norm(z, None, None, training=True),
        lambda z: F.hardswish(z),
        lambda z: F.logsigmoid(z),
        lambda z: F.glu(z),
        lambda z: F.avg_pool1d(z, 2),
        lambda z: F.adaptive_max_pool1d(z, 2),
        lambda z: F.interpolate(z, scale_factor=2),
        lambda z: F.interpolate(z, scale_factor=2, mode="linear"),
        lambda z: F.mse_loss(z, z),
        lambda z: F.smooth_l1_loss(z, z),
        lambda z: F.kl_div(z, z),
        lambda z: torch.erfinv(z),
        lambda z: F.threshold(z, 0.5, 0.0),
    ],
)
def test_nn_functions_the_cpu_refuses_complex_tensors_for_are_refused_like_the_cpu(call):
    z = torch.randn(2, 3, 4, dtype=C64)
    assert_refused_like_the_cpu(lambda d: call(z.to(d)))


def test_nan_to_num_replaces_both_parts_of_complex_numbers():
    inf, nan = float("inf"), float("nan")
    z = torch.complex(torch.tensor([nan, inf, 1.0, -inf]), torch.tensor([1.0, nan, -inf, inf]))
    for kwargs in ({}, {"nan": 2.0, "posinf": 3.0, "neginf": -4.0}):
        expected = torch.nan_to_num(z, **kwargs)
        torch.testing.assert_close(torch.nan_to_num(z.to("remote"), **kwargs).cpu(), expected)
        in_place = z.to(C128).to("remote")
        in_place.nan_to_num_(**kwargs)
        torch.testing.assert_close(in_place.cpu(), torch.nan_to_num(z.to(C128), **kwargs))


def test_cpu_fallback_takes_complex_ops():
    done = run_python(
        """
        import torch, torch_remote
        a = torch.randn(4, dtype=torch.complex64)
        r = a.to("remote")
        got = torch.nn.functional.silu(r) * (1 + 2j)
        assert got.device.type == "remote"
        torch.testing.assert_close(got.cpu(), torch.nn.functional.silu(a) * (1 + 2j))
        print("fallback-ok")
        """,
        env={"TORCH_REMOTE_CPU_FALLBACK": "1"},
    )
    assert "fallback-ok" in done.stdout, done.stderr


def test_two_sided_istft_and_unfold_backward_take_complex_tensors():
    signal = torch.randn(64, generator=torch.Generator().manual_seed(1))

    def round_trip(d):
        window = torch.hann_window(16, device=d)
        spectrum = torch.stft(signal.to(d), 16, window=window, onesided=False, return_complex=True)
        return torch.istft(spectrum, 16, window=window, onesided=False, return_complex=True)

    torch.testing.assert_close(round_trip("remote").cpu(), round_trip("cpu"))
    z = torch.randn(10, dtype=torch.complex64, generator=torch.Generator().manual_seed(2))

    def grad(d):
        zz = z.to(d).requires_grad_()
        windows = zz.unfold(0, 3, 2)
        (g,) = torch.autograd.grad(torch.view_as_real(windows).pow(2).sum(), [zz])
        return g

    torch.testing.assert_close(grad("remote").cpu(), grad("cpu"))


@pytest.mark.parametrize(
    "op",
    [
        lambda s: s[[0, 2]],
        lambda s: s[s.real > 0],
        lambda s: s[[0, 2], [1, 3]],
        torch.tanh,
        torch.sigmoid,
        lambda s: F.pad(s.unsqueeze(0), (2, 1), mode="reflect"),
        lambda s: F.pad(s[None, None], (1, 1, 1, 1), mode="replicate"),
        lambda s: F.pad(s[None, None], (1, 1, 1, 1), mode="reflect"),
        lambda s: F.pad(s.reshape(1, 1, 1, 3, 4), (1, 1, 1, 1, 0, 0), mode="replicate"),
    ],
)
def test_complex_gradients_through_indexing_padding_and_activations(op):
    z = torch.randn(3, 4, dtype=C64, generator=torch.Generator().manual_seed(3))

    def grad(d):
        x = z.to(d).requires_grad_()
        op(x).abs().sum().backward()
        return x.grad

    torch.testing.assert_close(grad("remote").cpu(), grad("cpu"))


def test_angle_of_a_transposed_complex_tensor_is_contiguous_like_the_cpus():
    z = torch.randn(3, 4, dtype=C64).t()
    for op in (torch.angle, torch.abs):
        got, want = op(z.to("remote")), op(z)
        assert got.stride() == want.stride()
        torch.testing.assert_close(got.cpu(), want)
    torch.angle(z.to("remote")).view(-1)


def _products_through_conjugate_views(d) -> list:
    g = torch.Generator().manual_seed(0)
    a, b = (torch.randn(3, 3, dtype=torch.complex64, generator=g).to(d) for _ in range(2))
    o = torch.zeros(3, 3, dtype=torch.complex64, device=d)
    returned = torch.mm(a, b, out=o.conj())
    m = torch.ones(3, 3, dtype=torch.complex64, device=d)
    m.conj().addmm_(a, b)
    n = torch.zeros(2, 3, 3, dtype=torch.complex64, device=d)
    torch.bmm(a.expand(2, 3, 3), b.expand(2, 3, 3), out=n.conj())
    k = torch.zeros(9, 9, dtype=torch.complex64, device=d)
    torch.kron(a, b, out=k.conj())
    resized = torch.mm(a, b, out=torch.zeros(0, dtype=torch.complex64, device=d).conj())
    values = [t.resolve_conj().cpu() for t in (o, returned, m, n, k, resized)]
    return [*values, returned.is_conj(), returned.data_ptr() == o.data_ptr()]


def test_products_written_through_a_conjugate_view_give_the_cpus_values():
    # PyTorch hands these ops' conjugate outputs to the backend (the CPU folds the
    # conjugation into BLAS); remote writes the values through the view.
    remote, cpu = (
        _products_through_conjugate_views("remote"),
        _products_through_conjugate_views("cpu"),
    )
    assert remote[-2:] == cpu[-2:]
    for got, want in zip(remote[:-2], cpu[:-2], strict=True):
        torch.testing.assert_close(got, want)


def test_a_masked_write_takes_a_complex_cpu_value():
    def write(d):
        z = torch.zeros(3, dtype=torch.complex64, device=d)
        z[torch.tensor([True, False, True], device=d)] = torch.tensor(1 + 2j, dtype=torch.complex64)
        return z.cpu()

    torch.testing.assert_close(write("remote"), write("cpu"))


def test_a_complex_number_written_into_bools_is_whether_it_is_nonzero():
    def write(d):
        b = torch.zeros(3, dtype=torch.bool, device=d)
        b[torch.tensor([True, False, True], device=d)] = torch.tensor(1j)
        c = torch.ones(2, dtype=torch.bool, device=d).fill_(0j)
        return b.cpu().tolist(), c.cpu().tolist()

    assert write("remote") == write("cpu")


@pytest.mark.parametrize("exponent", [2, 3, -2, 0.5, 2 + 0j, 2.5 + 0j])
def test_a_real_exponent_given_as_a_complex_number_takes_the_cpus_exact_paths(exponent):
    """`float_power` hands `pow` its exponent as a complex number; the CPU's kernel squares
    (or roots) for one without an imaginary part, bit for bit."""
    z = torch.tensor([3 + 1j, 2 + 0j, -1.5 - 2j], dtype=torch.complex128)
    assert torch.equal(
        torch.float_power(z.to("remote"), exponent).cpu(), torch.float_power(z, exponent)
    )
    z64 = z.to(torch.complex64)
    assert torch.equal(torch.pow(z64.to("remote"), exponent).cpu(), torch.pow(z64, exponent))


@pytest.mark.parametrize(
    "op", ["maximum", "fmin", "atan2", "remainder", "hypot", "xlogy", "lt", "logaddexp"]
)
def test_a_complex_out_takes_the_real_result_of_a_binary_op_as_on_the_cpu(op):
    a, b = torch.tensor([3.0, -2.0, 0.5]), torch.tensor([1.0, 4.0, -0.5])
    out = torch.full((3,), 7 + 7j)
    remote_out = out.to("remote")
    getattr(torch, op)(a.to("remote"), b.to("remote"), out=remote_out)
    getattr(torch, op)(a, b, out=out)
    torch.testing.assert_close(remote_out.cpu(), out, equal_nan=True)


@pytest.mark.parametrize(
    "call",
    [
        lambda x: x.atan2_(x.to(torch.complex64)),
        lambda x: x.remainder_(x[0].to(torch.complex64)),
        lambda x: x.remainder_(1j),
        lambda x: x.long().bitwise_and_(x.to(torch.complex64)),
        lambda x: x.clamp_min_(x.to(torch.complex64)),
        lambda x: x.double().fmod_(x.to(torch.complex64)),
        lambda x: x.lt_(x.to(torch.complex64)),
    ],
)
def test_an_in_place_op_on_real_self_with_a_complex_operand_is_refused_like_the_cpu(call):
    assert_refused_like_the_cpu(lambda d: call(torch.tensor([1.0, 2.0], device=d)))
