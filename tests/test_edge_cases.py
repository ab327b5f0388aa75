"""Edge cases found by the OpInfo run, kept as plain regressions."""

import pytest
import torch
import torch.nn.functional as F
import torch_remote  # noqa: F401
from conftest import assert_refused_like_the_cpu


def test_group_norm_backward_on_an_empty_batch():
    weight = torch.randn(4)
    grads = []
    for device in ["cpu", "remote"]:
        x = torch.randn(0, 4, 3).to(device).requires_grad_()
        w = weight.detach().to(device).requires_grad_()
        F.group_norm(x, 2, w).sum().backward()
        grads.append((x.grad.cpu(), w.grad.cpu()))
    (cpu_x, cpu_w), (remote_x, remote_w) = grads
    assert remote_x.shape == cpu_x.shape == (0, 4, 3)
    torch.testing.assert_close(remote_w, cpu_w)


def test_group_norm_takes_a_contiguous_tensor_whatever_its_size_one_strides():
    # MobileViTv2 unfolds one patch into this: contiguous, the last dim's stride 2.
    x = torch.randn(2, 128, 4, 2)
    on_cpu = F.group_norm(x.as_strided((2, 128, 4, 1), (512, 4, 1, 2)), 1)
    on_remote = F.group_norm(x.to("remote").as_strided((2, 128, 4, 1), (512, 4, 1, 2)), 1)
    assert on_remote.stride() == on_cpu.stride()
    assert torch.equal(on_remote.cpu(), on_cpu)


def test_group_norm_reads_expanded_weights_and_gradients_whole():
    # The CPU kernel reads them as dense (past their storage); remote computes their values.
    x, weight = torch.randn(2, 4, 3), torch.tensor([1.5])
    mean, rstd = torch.randn(2, 2), torch.rand(2, 2) + 0.5
    expected = F.group_norm(x, 2, weight.expand(4).contiguous())
    assert torch.equal(
        F.group_norm(x.to("remote"), 2, weight.to("remote").expand(4)).cpu(), expected
    )
    backward = torch.ops.aten.native_group_norm_backward
    grad = torch.tensor([0.5])
    args = (weight.expand(4).contiguous(), 2, 4, 3, 2, [True, True, True])
    expected = backward(grad.expand(2, 4, 3).contiguous(), x, mean, rstd, *args)
    found = backward(
        grad.to("remote").expand(2, 4, 3),
        *[t.to("remote") for t in (x, mean, rstd, args[0])],
        *args[1:],
    )
    for f, e in zip(found, expected, strict=True):
        assert torch.equal(f.cpu(), e)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_norm_backwards_are_the_cpus_to_the_bit(dtype):
    """The host runs libtorch's own backward kernels from the forward's saved statistics:
    even where those round away from the exact gradient (one element per row), remote
    agrees with the CPU bit for bit."""
    torch.manual_seed(0)
    x = torch.randn(3, 1, dtype=dtype)
    image = torch.randn(2, 4, 3, 3, dtype=dtype)
    results = []
    for device in ["cpu", "remote"]:
        leaves = [t.detach().to(device).requires_grad_() for t in (x, image)]
        params = [torch.ones(n, dtype=dtype, device=device, requires_grad=True) for n in (1, 4, 4)]
        weights = torch.arange(3.0, dtype=dtype, device=device)[:, None]
        layer = F.layer_norm(leaves[0], (1,), params[0])
        group = F.group_norm(leaves[1], 2, params[1])
        batch = F.batch_norm(leaves[1], None, None, params[2], training=True)
        ((layer * weights).sum() + group.square().sum() + (batch * group).sum()).backward()
        results.append([t.grad.cpu() for t in leaves + params])
    for cpu, remote in zip(*results, strict=True):
        assert torch.equal(remote, cpu)


def test_binomial_of_a_nan_count_is_nan_and_the_host_goes_on():
    """libtorch's CPU sampler never returns for a NaN count; the host must not hang on one."""
    count = torch.tensor([4.0, float("nan"), 0.0]).to("remote")
    drawn = torch.binomial(count, torch.full((3,), 0.5, device="remote")).cpu()
    assert drawn[1].isnan() and 0 <= drawn[0] <= 4 and drawn[2] == 0
    torch.testing.assert_close((count[::2] + 1).cpu(), torch.tensor([5.0, 1.0]))


def test_binomial_refuses_what_the_cpu_refuses_with_its_exception():
    for count, prob in [
        (torch.tensor([3]), torch.tensor([0.5])),
        (torch.tensor([3.0]), torch.tensor([0.5], dtype=torch.float64)),
        (torch.tensor([3.0], dtype=torch.float16), torch.tensor([0.5], dtype=torch.float16)),
    ]:
        assert_refused_like_the_cpu(
            lambda d, count=count, prob=prob: torch.binomial(count.to(d), prob.to(d))
        )


def test_ops_larger_than_the_guests_arena_agree_with_the_cpu():
    """The guest lowers an op in a 256 KiB arena; a cat of 6000 tensors and a split into 12000
    views need more, which the system allocator serves, and later ops reuse the arena."""
    xs = [torch.randn(2, 3) for _ in range(6000)]
    remote = [x.to("remote") for x in xs]
    for _ in range(2):
        assert torch.equal(torch.cat(remote, 1).cpu(), torch.cat(xs, 1))
        parts = torch.cat(remote).split(1)
        assert len(parts) == 12000
        assert torch.equal(parts[-1].cpu(), xs[-1][1:])
        torch.testing.assert_close((remote[7] * 2).cpu(), xs[7] * 2)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize(
    "op",
    [
        lambda x: F.avg_pool3d(x, 2, stride=1, padding=1),
        lambda x: F.interpolate(x[0], size=(3, 5), mode="bilinear", antialias=True),
        lambda x: F.interpolate(x[0], size=(7, 2), mode="bicubic", antialias=True),
    ],
    ids=["avg_pool3d", "bilinear_aa", "bicubic_aa"],
)
def test_half_kernels_cuda_has_and_the_cpu_lacks(op, dtype):
    """CUDA pools and resamples half types (accumulating in float); libtorch's CPU refuses
    them. Remote computes them as CUDA does: float32 math, rounded once to `dtype`."""
    x = torch.randn(2, 3, 4, 6, 5).to(dtype)
    wide = x.float().requires_grad_()
    expected = op(wide)
    grad = torch.randn_like(expected).to(dtype)
    expected.backward(grad.float())
    remote_x = x.to("remote").requires_grad_()
    got = op(remote_x)
    got.backward(grad.to("remote"))
    assert got.dtype == dtype and remote_x.grad.dtype == dtype
    torch.testing.assert_close(got.cpu(), expected.detach().to(dtype))
    torch.testing.assert_close(remote_x.grad.cpu(), wide.grad.to(dtype))


@pytest.mark.parametrize(
    "reduce",
    [
        lambda x: x.sum(dtype=torch.bool),
        lambda x: x.sum(0, dtype=torch.bool),
        lambda x: x.int().sum(1, keepdim=True, dtype=torch.bool),
        lambda x: x.prod(0, dtype=torch.bool),
        lambda x: x.sum(),
        lambda x: x.int().prod(),
    ],
    ids=["sum", "sum_dim", "int_sum_into_bool", "prod_dim", "promoted_sum", "int_prod"],
)
def test_reductions_keep_the_dtype_asked_for(reduce):
    """`sum(dtype=torch.bool)` is an any(); libtorch would sum the bools into int64."""
    x = torch.tensor([[True, False, False], [True, True, False]])
    got = reduce(x.to("remote")).cpu()
    expected = reduce(x)
    assert got.dtype == expected.dtype
    assert torch.equal(got, expected)


@pytest.mark.parametrize(
    "call",
    [
        lambda d: torch.searchsorted(torch.tensor([1, 2, 3], device=d), 2.5),
        lambda d: torch.searchsorted(torch.tensor([1.0, 2.0, 3.0], device=d), 2, right=True),
        lambda d: torch.searchsorted(torch.tensor([1.0, 2.0], device=d), 2, out_int32=True),
        lambda d: torch.searchsorted(
            torch.tensor([3.0, 1.0, 2.0], device=d), 2.5, sorter=torch.tensor([1, 2, 0], device=d)
        ),
    ],
)
def test_searchsorted_of_a_number(call):
    expected, result = call("cpu"), call("remote")
    assert result.dtype == expected.dtype and result.shape == expected.shape == ()
    assert torch.equal(result.cpu(), expected)


@pytest.mark.parametrize(
    "call",
    [
        lambda d: torch.searchsorted(torch.ones(2, 3, device=d), 2.5),
        lambda d: torch.ones(2, device=d) & torch.ones(2, device=d),
        lambda d: torch.ones(2, device=d) ^ torch.ones(2, device=d),
        lambda d: torch.ones(2, dtype=torch.long, device=d).__iand__(2.5),
        lambda d: torch.ones(2, dtype=torch.long, device=d).__ilshift__(2.5),
        lambda d: torch.ones(2, dtype=torch.long, device=d).lerp_(
            torch.ones(2, dtype=torch.long, device=d), torch.tensor(0.5, device=d)
        ),
        lambda d: torch.lerp(
            torch.ones(2, dtype=torch.long, device=d),
            torch.ones(2, dtype=torch.long, device=d),
            torch.tensor(1, device=d),
        ),
        lambda d: torch.lerp(
            torch.ones(2, dtype=torch.long, device=d),
            torch.ones(2, dtype=torch.long, device=d),
            0.5,
        ),
        lambda d: torch.ones(2, dtype=torch.long, device=d).lerp_(
            torch.ones(2, dtype=torch.long, device=d), 0.5
        ),
        lambda d: torch.ones(2, dtype=torch.long, device=d).lerp(
            torch.ones(2, dtype=torch.long, device=d), 1e30
        ),
        lambda d: torch.ones(1, dtype=torch.long, device=d).expand(3).add_(1.5),
        lambda d: torch.linalg.det(torch.ones(3, dtype=torch.half, device=d)),
        lambda d: torch.linalg.eigh(torch.ones(2, 3, dtype=torch.long, device=d)),
        lambda d: torch.bitwise_or(
            torch.ones(2, dtype=torch.long, device=d), 2.5, out=torch.empty(2, device=d).long()
        ),
        lambda d: torch.ones(2, 2, device=d).mm(torch.ones(2, 2, dtype=torch.double, device=d)),
    ],
)
def test_refusals_carry_the_cpus_message(call):
    with pytest.raises(Exception) as on_cpu:
        call("cpu")
    with pytest.raises(type(on_cpu.value)) as on_remote:
        call("remote")
    assert str(on_cpu.value).splitlines()[0] in str(on_remote.value)


@pytest.mark.parametrize("method", ["scatter_", "scatter_add_"])
def test_scatter_of_a_0dim_source_along_a_1d_index(method):
    """A 0-dim `src` counts as one element per dim (`ensure_nonempty_size`); the guest once
    indexed its missing dim and trapped, leaving the device unusable."""
    results = []
    for device in ["cpu", "remote"]:
        x = torch.arange(5.0, device=device)
        index, src = torch.tensor([1], device=device), torch.tensor(5.0, device=device)
        getattr(x, method)(0, index, src)
        y = torch.tensor(2.0, device=device).scatter_(0, torch.tensor([0], device=device), x[:1])
        results.append((x.cpu(), y.cpu()))
    torch.testing.assert_close(results[1], results[0])
    torch.testing.assert_close((torch.ones(2, device="remote") + 1).cpu(), torch.full((2,), 2.0))


@pytest.mark.parametrize("op", [torch.unique, torch.unique_consecutive])
def test_unique_along_a_dim_of_a_0dim_tensor_is_refused(op):
    with pytest.raises(IndexError) as cpu:
        op(torch.tensor(5.0), dim=0)
    with pytest.raises(IndexError) as remote:
        op(torch.tensor(5.0, device="remote"), dim=0)
    assert str(cpu.value) in str(remote.value)
    assert op(torch.tensor([3.0, 3.0], device="remote"), dim=0).cpu().tolist() == [3.0]


DIRECT_0DIM = {
    "_fft_c2c": lambda d: torch.ops.aten._fft_c2c(
        torch.tensor(1j, device=d, dtype=torch.complex64), [0], 0, True
    ),
    "_fft_r2c": lambda d: torch.ops.aten._fft_r2c(torch.tensor(1.0, device=d), [-1], 0, True),
    "_fft_c2r": lambda d: torch.ops.aten._fft_c2r(
        torch.tensor(1j, device=d, dtype=torch.complex64), [0], 0, 2
    ),
    "glu_backward": lambda d: torch.ops.aten.glu_backward(
        torch.tensor(1.0, device=d), torch.tensor(1.0, device=d), 0
    ),
}


@pytest.mark.parametrize("op", DIRECT_0DIM)
def test_direct_aten_calls_on_0dim_tensors_are_refused(op):
    """aten ops called directly with a 0-dim tensor and dim 0: the CPU refuses them; the
    guest once indexed the missing dim and trapped."""
    with pytest.raises(RuntimeError):
        DIRECT_0DIM[op]("cpu")
    with pytest.raises((RuntimeError, IndexError)) as remote:
        DIRECT_0DIM[op]("remote")
    assert "trapped" not in str(remote.value)
    torch.testing.assert_close((torch.ones(2, device="remote") + 1).cpu(), torch.full((2,), 2.0))


def test_huge_tril_indices_are_refused_at_once():
    """The guest counted the triangle row by row: 2**63 rows never finished."""
    with pytest.raises(RuntimeError):
        torch.tril_indices(2**63 - 1, 2**31, -2, device="remote")
    assert torch.equal(
        torch.triu_indices(4, 3, 1, device="remote").cpu(), torch.triu_indices(4, 3, 1)
    )


def test_dirichlet_grad_is_the_cpus():
    """`Beta`/`Dirichlet` `rsample`'s backward (`_dirichlet_grad`) was not on remote."""
    torch.manual_seed(0)
    x, alpha, total = torch.rand(5, 3), torch.rand(5, 3) + 0.5, torch.rand(3) + 2
    for dtype in [torch.float32, torch.float64]:
        args = [t.to(dtype) for t in (x, alpha, total)]
        cpu = torch._dirichlet_grad(*args)
        remote = torch._dirichlet_grad(*[t.to("remote") for t in args])
        assert torch.equal(remote.cpu(), cpu)
    with pytest.raises(NotImplementedError, match="_dirichlet_grad_cpu"):
        torch._dirichlet_grad(*[t.half().to("remote") for t in (x, alpha, total)])
    concentration = (torch.rand(4) + 0.5).to("remote").requires_grad_()
    torch.distributions.Beta(concentration, concentration.detach()).rsample((8,)).sum().backward()
    assert concentration.grad.shape == (4,) and concentration.grad.isfinite().all()


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("dim", [1, -2])
def test_glu_forward_mode_derivative_is_the_cpus(dim):
    """`glu_jvp` (forward-mode AD through GLU: `jvp`, `jacfwd`, `hessian`) was not on remote."""
    x, tangent = torch.randn(6, 6), torch.randn(6, 6)
    results = []
    for device in ["cpu", "remote"]:
        primal, tangent_d = x.to(device), tangent.to(device)
        _, out = torch.func.jvp(lambda v: F.glu(v, dim), (primal,), (tangent_d,))
        results.append(out.cpu())
    assert torch.equal(results[1], results[0])


def test_bucketize_of_a_number():
    boundaries = torch.tensor([1.0, 3.0, 5.0, 7.0])
    for value, kwargs in [(4.0, {}), (5, {"right": True, "out_int32": True}), (9.5, {})]:
        cpu = torch.bucketize(value, boundaries, **kwargs)
        remote = torch.bucketize(value, boundaries.to("remote"), **kwargs)
        assert remote.shape == () and remote.dtype == cpu.dtype
        assert remote.item() == cpu.item()


LAYOUT_OPS = {
    "max_pool2d": lambda x: F.max_pool2d(x, 2),
    "avg_pool2d": lambda x: F.avg_pool2d(x, 2),
    "adaptive_avg_pool2d": lambda x: F.adaptive_avg_pool2d(x, 3),
    "conv2d": lambda x: F.conv2d(x, torch.ones(4, 3, 1, 1, device=x.device)),
    "interpolate nearest": lambda x: F.interpolate(x, scale_factor=2),
    "interpolate bilinear antialias": lambda x: F.interpolate(
        x, size=(5, 5), mode="bilinear", antialias=True
    ),
    "reflect pad": lambda x: F.pad(x, (1, 1, 1, 1), mode="reflect"),
}


@pytest.mark.parametrize("op", LAYOUT_OPS)
def test_an_hwc_image_made_nchw_keeps_the_cpus_layout(op):
    """`img.permute(2, 0, 1).unsqueeze(0)` has strides (3, 1, 24, 3): channel stride 1 but a
    batch stride that PyTorch's `suggest_memory_format` does not read as channels-last."""
    image = torch.rand(8, 8, 3)
    cpu = LAYOUT_OPS[op](image.permute(2, 0, 1).unsqueeze(0))
    remote = LAYOUT_OPS[op](image.to("remote").permute(2, 0, 1).unsqueeze(0))
    assert remote.stride() == cpu.stride()
    torch.testing.assert_close(remote.cpu(), cpu)


@pytest.mark.parametrize("dtype", [torch.int32, torch.int64])
def test_trunc_division_of_the_least_integer_by_minus_one_keeps_the_host(dtype):
    """The CPU's kernel divides `INT_MIN / -1` as the machine does: SIGFPE, which ended the
    host and every tensor on it (the CPU itself dies the same way). It wraps to INT_MIN."""
    least = torch.iinfo(dtype).min
    a = torch.tensor([least, 7, -7], dtype=dtype, device="remote")
    b = torch.tensor([-1, -1, 2], dtype=dtype, device="remote")
    assert torch.div(a, b, rounding_mode="trunc").tolist() == [least, -7, -3]
    assert torch.div(a, -1, rounding_mode="trunc").tolist() == [least, -7, 7]
    assert (a[1:] // b[1:]).tolist() == [-7, -4]


REFUSED_LIKE_THE_CPU = {
    "argmax of nothing": lambda d: torch.empty(0, device=d).argmax(),
    "median along an empty dim": lambda d: torch.empty(3, 0, device=d).median(1),
    "nanmedian along an empty dim": lambda d: torch.empty(0, device=d).nanmedian(0),
    "mode along an empty dim": lambda d: torch.empty(3, 0, device=d).mode(-1),
    "kthvalue along an empty dim": lambda d: torch.empty(0, device=d).kthvalue(1, 0),
    "kthvalue past the dim": lambda d: torch.empty(3, 2, device=d).kthvalue(3, 1),
    "float indices": lambda d: torch.zeros(3, 4, device=d)[torch.tensor([0.0], device=d)],
    "nll_loss of a 1-d input and a long target": lambda d: F.nll_loss(
        torch.zeros(4, device=d), torch.tensor([0, 1], device=d)
    ),
    "nll_loss of an empty 1-d input": lambda d: F.nll_loss(
        torch.zeros(0, device=d), torch.tensor([], dtype=torch.long, device=d)
    ),
}


@pytest.mark.parametrize("case", REFUSED_LIKE_THE_CPU)
def test_refused_with_the_cpus_exception(case):
    assert_refused_like_the_cpu(REFUSED_LIKE_THE_CPU[case])


LOWEST_FLOAT = torch.finfo(torch.float32).min
HALF_NUMBERS = {
    "where with float32's lowest beside bfloat16": lambda d: torch.where(
        torch.tensor([True, False], device=d),
        torch.ones(2, dtype=torch.bfloat16, device=d),
        LOWEST_FLOAT,
    ),
    "where with a number past float16": lambda d: torch.where(
        torch.tensor([True, False], device=d), 1e5, torch.ones(2, dtype=torch.float16, device=d)
    ),
    "fill of one bfloat16 element": lambda d: torch.ones(1, dtype=torch.bfloat16, device=d).fill_(
        1e39
    ),
    "full of one float16 just past the largest": lambda d: torch.full(
        (1,), 65510.0, dtype=torch.float16, device=d
    ),
    "scalar_tensor at float16's rounding tie": lambda d: torch.scalar_tensor(
        -65520.0, dtype=torch.float16, device=d
    ),
    "lerp of float16 by a weight past float16": lambda d: torch.ones(
        2, dtype=torch.float16, device=d
    ).lerp(torch.zeros(2, dtype=torch.float16, device=d), 1e5),
}


@pytest.mark.parametrize("case", HALF_NUMBERS)
def test_a_number_past_a_half_precision_range_is_stored_as_the_cpu_stores_it(case):
    expected = HALF_NUMBERS[case]("cpu")
    remote = HALF_NUMBERS[case]("remote")
    assert remote.dtype == expected.dtype
    torch.testing.assert_close(remote.cpu(), expected)


@pytest.mark.parametrize(
    "call",
    [
        lambda d: torch.ones(2, dtype=torch.bfloat16, device=d).fill_(LOWEST_FLOAT),
        lambda d: torch.ones(1, device=d).fill_(1e39),
        lambda d: torch.ones(2, dtype=torch.bfloat16, device=d).lerp(
            torch.zeros(2, dtype=torch.bfloat16, device=d), 1e39
        ),
        lambda d: torch.ones(2, device=d).lerp(torch.zeros(2, device=d), 1e39),
        lambda d: torch.where(torch.tensor([True], device=d), torch.ones(1, device=d), -1e300),
        lambda d: torch.where(
            torch.tensor([True], device=d), torch.ones(1, dtype=torch.int8, device=d), 300
        ),
    ],
)
def test_a_number_the_cpu_cannot_convert_is_refused_at_the_call(call):
    assert_refused_like_the_cpu(call)


@pytest.mark.parametrize("exponent", [True, False, 0, 1, 0.0, 1.0, -0.0, 1 + 0j])
@pytest.mark.parametrize("dtype", [torch.bool, torch.int8, torch.float32, torch.complex64])
def test_powers_zero_and_one_fill_or_copy_before_any_kernel(dtype, exponent):
    """`x ** 0` is ones and `x ** 1` a copy for every dtype, bool included, as PyTorch
    decides before it looks for a kernel."""
    base = torch.tensor([0, 1, 3], dtype=dtype)
    if dtype.is_floating_point:
        base = torch.tensor([float("nan"), -2.5, 0.0])
    expected = base**exponent
    remote = base.to("remote") ** exponent
    assert remote.dtype == expected.dtype
    torch.testing.assert_close(remote.cpu(), expected, equal_nan=True)


@pytest.mark.parametrize("number", [2, 7.5, True])
@pytest.mark.parametrize("dtype", [torch.int64, torch.float32, torch.float16])
def test_a_number_modulo_a_tensor(number, dtype):
    other = torch.tensor([1, 2, -3, 4], dtype=dtype)
    expected = number % other
    remote = number % other.to("remote")
    assert remote.dtype == expected.dtype
    torch.testing.assert_close(remote.cpu(), expected)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("dim", [0, 1])
def test_fused_weight_norm_keeps_half_precision_norms_in_float(dtype, dim):
    torch.manual_seed(0)
    v = torch.randn(4, 5, dtype=dtype)
    g = torch.rand(4, 1, dtype=dtype) if dim == 0 else torch.rand(1, 5, dtype=dtype)
    expected = torch._weight_norm_interface(v, g, dim)
    remote = torch._weight_norm_interface(v.to("remote"), g.to("remote"), dim)
    for r, e in zip(remote, expected, strict=True):
        assert r.dtype == e.dtype
        torch.testing.assert_close(r.cpu(), e)


@pytest.mark.parametrize("mode", [0, 1, 2])
def test_embedding_bag_bookkeeping_outputs_are_the_cpus(mode):
    """`bag_size` and `max_indices`: zeros for a sum, the counts (twice) for a mean."""
    weight = torch.randn(5, 3)
    indices, offsets = torch.tensor([1, 2, 3, 4]), torch.tensor([0, 1, 1])
    call = lambda d: torch._embedding_bag(  # noqa: E731
        weight.to(d), indices.to(d), offsets.to(d), False, mode, False, None, False, -1
    )
    for r, e in zip(call("remote")[2:], call("cpu")[2:], strict=True):
        assert torch.equal(r.cpu(), e)


def encoder_layer_call(mask_shape, mask_type):
    """`_transformer_encoder_layer_fwd` of a [3, 5, 16] batch with a mask of `mask_shape`."""
    torch.manual_seed(0)
    layer = torch.nn.TransformerEncoderLayer(16, 4, 32, batch_first=True).eval()
    attention, src = layer.self_attn, torch.randn(3, 5, 16)
    mask = torch.zeros(mask_shape, dtype=torch.bool)

    def call(device):
        tensors = [
            src,
            attention.in_proj_weight,
            attention.in_proj_bias,
            attention.out_proj.weight,
            attention.out_proj.bias,
        ]
        norms = [layer.norm1.weight, layer.norm1.bias, layer.norm2.weight, layer.norm2.bias]
        ffn = [layer.linear1.weight, layer.linear1.bias, layer.linear2.weight, layer.linear2.bias]
        src_, qkv_w, qkv_b, proj_w, proj_b = (t.to(device) for t in tensors)
        with torch.no_grad():
            return torch._transformer_encoder_layer_fwd(
                src_, 16, 4, qkv_w, qkv_b, proj_w, proj_b, False, False, 1e-5,
                *(t.to(device) for t in norms + ffn), mask.to(device), mask_type,
            )  # fmt: skip

    return call


@pytest.mark.parametrize(
    "mask_shape, mask_type",
    [((3, 4), 1), ((3, 5), 0), ((5, 5), 1), ((3, 5), None), ((3, 5), 3), ((3, 1, 5, 5), 1)],
)
def test_fused_encoder_layer_checks_its_mask_at_the_call(mask_shape, mask_type):
    assert_refused_like_the_cpu(encoder_layer_call(mask_shape, mask_type))


@pytest.mark.parametrize("mask_shape, mask_type", [((3, 5), 1), ((5, 5), 0), ((3, 4, 5, 5), 2)])
def test_fused_encoder_layer_takes_each_mask_kind(mask_shape, mask_type):
    call = encoder_layer_call(mask_shape, mask_type)
    torch.testing.assert_close(call("remote").cpu(), call("cpu"))


@pytest.mark.parametrize(
    "mean, std",
    [
        (torch.float64, torch.float32),
        (torch.float16, torch.float32),
        (torch.float32, torch.int64),
        (0.5, torch.float16),
        (torch.float32, 2.0),
    ],
)
def test_normal_takes_the_means_dtype_and_an_out_form(mean, std):
    """The result has the mean's dtype (the std's for a number mean); `out=` is resized."""

    def draw(device, out=None):
        def make(d):
            return torch.ones(2, 3, dtype=d, device=device) if isinstance(d, torch.dtype) else d

        return torch.normal(make(mean), make(std), out=out)

    expected = draw("cpu")
    remote = draw("remote")
    assert (remote.dtype, remote.shape) == (expected.dtype, expected.shape)
    out = torch.empty(0, dtype=torch.float64, device="remote")
    assert draw("remote", out=out) is out and out.shape == expected.shape


def test_normal_refuses_a_negative_or_nan_std_tensor_and_the_host_goes_on():
    for bad in (-1.0, float("nan")):
        std = torch.tensor([1.0, bad, 1.0], device="remote")
        with pytest.raises(RuntimeError, match=r"normal expects all elements of std >= 0.0"):
            torch.normal(torch.zeros(3, device="remote"), std).sum().item()
    assert torch.ones(2, device="remote").sum().item() == 2.0


@pytest.mark.parametrize("out_dtype", [torch.float32, torch.int64])
def test_bernoulli_into_an_out_tensor(out_dtype):
    p = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    out = torch.empty(0, dtype=out_dtype, device="remote")
    assert torch.bernoulli(p.to("remote"), out=out) is out
    assert torch.equal(out.cpu(), torch.bernoulli(p, out=torch.empty(0, dtype=out_dtype)))


@pytest.mark.parametrize(
    "call",
    [
        lambda d: torch.normal(torch.zeros(3, dtype=torch.long, device=d), 1.0),
        lambda d: torch.bernoulli(torch.ones(3, dtype=torch.long, device=d)),
        lambda d: torch.zeros(3, device=d).index_select(0, torch.tensor([[0], [1]], device=d)),
        lambda d: torch.zeros(3, device=d).index_fill_(
            0, torch.tensor([0], dtype=torch.int32, device=d), 1.0
        ),
        lambda d: torch.cat(
            [torch.ones(2, device=d)], out=torch.empty(2, dtype=torch.int32, device=d)
        ),
        lambda d: torch.signbit(torch.ones(3, device=d), out=torch.empty(3, device=d)),
        lambda d: torch.isneginf(torch.ones(3, device=d), out=torch.empty(3, device=d)),
        lambda d: torch.std(
            torch.arange(3.0, device=d), 0, out=torch.empty((), dtype=torch.long, device=d)
        ),
        lambda d: torch.abs(torch.tensor([True], device=d), out=torch.empty(1, device=d)),
        lambda d: torch.abs(
            torch.tensor([3 + 4j], device=d), out=torch.empty(1, dtype=torch.long, device=d)
        ),
        lambda d: torch.frac(torch.tensor([3], device=d), out=torch.empty(1, device=d)),
        lambda d: torch.tensor([True], device=d).clamp(
            torch.tensor([False], device=d), torch.tensor([True], device=d)
        ),
        lambda d: torch.clamp(torch.tensor([1, 5], device=d), 0, out=torch.empty(2, device=d)),
    ],
)
def test_refused_with_the_cpus_exception_and_check_order(call):
    assert_refused_like_the_cpu(call)


@pytest.mark.parametrize(
    "call",
    [
        lambda d: torch.abs(
            torch.tensor([3 + 4j, -1j], device=d), out=torch.empty(2, dtype=torch.float64, device=d)
        ),
        lambda d: torch.tensor([True, False], device=d).clamp(
            min=torch.tensor([False, True], device=d)
        ),
        lambda d: torch.tensor([True, False], device=d).clamp(
            max=torch.tensor([False, True], device=d)
        ),
        lambda d: torch.clamp(
            torch.tensor([1, 5, -2], device=d),
            min=torch.zeros(3, dtype=torch.long, device=d),
            out=torch.empty(3, device=d),
        ),
        lambda d: torch.div(
            torch.tensor([10, 255], dtype=torch.uint8, device=d),
            torch.tensor([255, 7], dtype=torch.uint8, device=d),
            rounding_mode="trunc",
        ),
        lambda d: torch.div(
            torch.tensor(2, dtype=torch.uint8, device=d),
            torch.tensor([-1.0], dtype=torch.float16, device=d),
            rounding_mode="trunc",
        ),
        lambda d: torch.div(
            torch.tensor(True, device=d),
            torch.tensor([-1.0], dtype=torch.bfloat16, device=d),
            rounding_mode="trunc",
        ),
        lambda d: torch.div(
            torch.tensor([7, 200], dtype=torch.uint8, device=d),
            torch.tensor(-1, dtype=torch.int8, device=d),
            rounding_mode="trunc",
        ),
    ],
)
def test_mixed_dtype_results_are_the_cpus(call):
    expected = call("cpu")
    remote = call("remote")
    assert remote.dtype == expected.dtype
    torch.testing.assert_close(remote.cpu(), expected)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("ignore_index", [255, 3, -100])
def test_weighted_nll_loss_ignores_targets_past_the_classes(reduction, ignore_index):
    """Segmentation labels mark ignored pixels 255, past the classes the weight covers."""
    torch.manual_seed(0)
    x = torch.randn(2, 3, 4, 4).log_softmax(1)
    target = torch.randint(0, 3, (2, 4, 4))
    target[0, 0] = ignore_index
    weight = torch.rand(3) + 0.5

    def loss(device):
        leaf = x.clone().to(device).requires_grad_()
        value = F.nll_loss(
            leaf,
            target.to(device),
            weight=weight.to(device),
            ignore_index=ignore_index,
            reduction=reduction,
        )
        value.sum().backward()
        return value.detach().cpu(), leaf.grad.cpu()

    for r, e in zip(loss("remote"), loss("cpu"), strict=True):
        torch.testing.assert_close(r, e)


@pytest.mark.parametrize("op", [F.mse_loss, F.smooth_l1_loss, F.l1_loss, F.huber_loss])
@pytest.mark.parametrize(
    "dtypes",
    [
        (torch.float32, torch.float64),
        (torch.float16, torch.float32),
        (torch.float64, torch.float32),
    ],
)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_reduced_losses_of_mixed_dtypes_are_the_cpus(op, dtypes, reduction):
    torch.manual_seed(0)
    x, y = torch.rand(2, 3).to(dtypes[0]), torch.rand(2, 3).to(dtypes[1])
    expected = op(x, y, reduction=reduction)
    remote = op(x.to("remote"), y.to("remote"), reduction=reduction)
    assert remote.dtype == expected.dtype
    torch.testing.assert_close(remote.cpu(), expected)


def test_a_sparse_gradient_embedding_bag_runs_forward_and_refuses_its_backward():
    """`sparse=True` asks only for a sparse gradient: the bags are the CPU's; the gradient,
    a sparse tensor, is refused with a message saying so."""
    weight, indices, offsets = torch.randn(5, 4), torch.tensor([0, 2, 1, 4]), torch.tensor([0, 2])
    bag = torch.nn.EmbeddingBag.from_pretrained(weight, freeze=False, sparse=True)
    expected = bag(indices, offsets)
    remote = bag.to("remote")
    got = remote(indices.to("remote"), offsets.to("remote"))
    torch.testing.assert_close(got.cpu(), expected.detach())
    with pytest.raises(NotImplementedError, match="sparse=True gradients"):
        got.sum().backward()


@pytest.mark.parametrize(
    "call",
    [
        lambda x: x.roll(1, 0),
        lambda x: x.roll((1, 2), (0, 3)),
        lambda x: x.roll(3),
        lambda x: x.roll(5, 2),
        lambda x: x[:, :, :0].roll(2, 1),
        lambda x: x.permute(0, 2, 3, 1).roll(-7, 1),
    ],
)
def test_roll_lays_out_its_result_as_the_cpu(call):
    """A roll along dims keeps channels-last (the CPU cats two slices), unless a slice is
    empty; the flattened roll is contiguous; an empty input is cloned as laid out."""
    x = torch.rand(4, 3, 5, 6).contiguous(memory_format=torch.channels_last)
    expected = call(x)
    remote = call(x.to("remote"))
    assert remote.stride() == expected.stride()
    assert torch.equal(remote.cpu(), expected)


@pytest.mark.parametrize("value", [7.0, torch.tensor(5.0)])
def test_masked_fill_of_an_expanded_tensor_warns_and_writes_as_the_cpu(value):
    def fill(device):
        base = torch.zeros(1, 3, device=device)
        mask = torch.tensor([[True, False, False], [False, False, True]], device=device)
        with pytest.warns(UserWarning, match="Use of masked_fill_ on expanded tensors"):
            base.expand(2, 3).masked_fill_(
                mask, value.to(device) if torch.is_tensor(value) else value
            )
        return base.cpu()

    assert torch.equal(fill("remote"), fill("cpu"))


@pytest.mark.parametrize(
    "call",
    [torch.dot, torch.vdot, torch.inner, torch.matmul],
    ids=["dot", "vdot", "inner", "matmul_1d"],
)
@pytest.mark.parametrize("dtype", [torch.float32, torch.complex64])
def test_vector_products_are_the_cpus_dot_to_the_bit(call, dtype):
    # The CPU's dot kernel sums in another order than a 1xn by nx1 product (LBFGS's
    # directions drift apart within a few steps when it is one).
    torch.manual_seed(0)
    x, y = torch.randn(4096, dtype=dtype), torch.randn(4096, dtype=dtype)
    got = call(x.to("remote"), y.to("remote"))
    torch.testing.assert_close(got.cpu(), call(x, y), rtol=0, atol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.complex64, torch.int32])
def test_trace_is_the_cpus_kernel_to_the_bit(dtype):
    # The CPU adds the diagonal up in order in a wider type; a sum reduction rounds otherwise.
    torch.manual_seed(0)
    x = (torch.randn(64, 64) * 100).to(dtype)
    torch.testing.assert_close(torch.trace(x.to("remote")).cpu(), torch.trace(x), rtol=0, atol=0)


def test_trace_of_bools_is_refused_like_the_cpu():
    assert_refused_like_the_cpu(lambda d: torch.trace(torch.ones(2, 2, dtype=torch.bool, device=d)))


def test_window_and_log_sigmoid_gradients_are_the_cpus_to_the_bit():
    torch.manual_seed(0)
    x, g = torch.randn(46), torch.randn(10, 10)
    y, gy = torch.randn(1000), torch.randn(1000)

    def grads(device):
        a = x.to(device).requires_grad_()
        a.unfold(0, 10, 4).backward(g.to(device))
        b = y.to(device).requires_grad_()
        torch.nn.functional.logsigmoid(b).backward(gy.to(device))
        return a.grad.cpu(), b.grad.cpu()

    for got, want in zip(grads("remote"), grads("cpu"), strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.complex64, torch.bfloat16])
@pytest.mark.parametrize("scales", [{}, {"beta": 0.6, "alpha": 0.2}], ids=["plain", "scaled"])
def test_matrix_vector_products_are_the_cpus_gemv_to_the_bit(dtype, scales):
    torch.manual_seed(0)
    a, v, b = torch.randn(16, 32, dtype=dtype), torch.randn(32, dtype=dtype), torch.randn(16)
    b = b.to(dtype)

    def run(device):
        a_, v_, b_ = a.to(device), v.to(device), b.to(device)
        return [torch.mv(a_, v_), a_ @ v_, torch.addmv(b_, a_, v_, **scales)]

    for got, want in zip(run("remote"), run("cpu"), strict=True):
        torch.testing.assert_close(got.cpu(), want, rtol=0, atol=0)


def test_relu_backward_of_pooled_channels_last_features_keeps_the_cpus_layout_and_bits():
    # Global pooling's backward hands the ReLU's backward a contiguous gradient; PyTorch's
    # iterator for threshold_backward (and leaky_relu_backward) puts `self` first, so the
    # gradient stays channels-last and batch norm's backward takes the same kernel.
    torch.manual_seed(0)
    x0 = torch.randn(2, 8, 6, 6).contiguous(memory_format=torch.channels_last)

    def grads(device):
        x = x0.to(device).requires_grad_()
        y = F.batch_norm(x, None, None, training=True)
        (F.relu(y).mean((2, 3)).sum() + F.leaky_relu(y, 0.1).mean((2, 3)).sum()).backward()
        return x.grad

    got, want = grads("remote"), grads("cpu")
    assert got.stride() == want.stride()
    torch.testing.assert_close(got.cpu(), want, rtol=0, atol=0)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("spatial", [False, True])
def test_weighted_nll_loss_total_weight_and_gradient_are_the_cpus_to_the_bit(reduction, spatial):
    # The backward divides by the forward's total weight, which libtorch sums in blocks.
    torch.manual_seed(0)
    shape, target_shape = ((4, 5, 3, 3), (4, 3, 3)) if spatial else ((100, 5), (100,))
    x, t, w = torch.randn(shape), torch.randint(0, 5, target_shape), torch.rand(5) + 0.1
    r = 1 if reduction == "mean" else 2
    forward = torch.ops.aten.nll_loss2d_forward if spatial else torch.ops.aten.nll_loss_forward

    def run(device):
        a = x.to(device).requires_grad_()
        total = forward(a, t.to(device), w.to(device), r, -100)[1]
        F.nll_loss(a, t.to(device), w.to(device), reduction=reduction).backward()
        return total, a.grad

    for got, want in zip(run("remote"), run("cpu"), strict=True):
        torch.testing.assert_close(got.cpu(), want.detach(), rtol=0, atol=0)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("dtypes", [(torch.int32, torch.int64), (torch.int64, torch.int32)])
def test_embedding_bag_gradient_with_indices_and_offsets_of_two_dtypes(mode, dtypes):
    torch.manual_seed(0)
    weight = torch.randn(10, 3)
    indices, offsets = (
        torch.tensor([1, 2, 3, 7], dtype=dtypes[0]),
        torch.tensor([0, 1], dtype=dtypes[1]),
    )
    per_sample = torch.rand(4) if mode == "sum" else None

    def grads(device):
        w = weight.to(device).requires_grad_()
        p = per_sample.to(device).requires_grad_() if per_sample is not None else None
        F.embedding_bag(
            indices.to(device), w, offsets.to(device), mode=mode, per_sample_weights=p
        ).pow(2).sum().backward()
        return [w.grad] + ([p.grad] if p is not None else [])

    for got, want in zip(grads("remote"), grads("cpu"), strict=True):
        torch.testing.assert_close(got.cpu(), want)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize(
    "dtypes",
    [(torch.float32, torch.float64), (torch.float16, torch.float32), (torch.float32, torch.int64)],
)
def test_mse_loss_gradient_against_a_target_of_another_dtype(reduction, dtypes):
    torch.manual_seed(0)
    x, target = torch.randn(4, 3).to(dtypes[0]), (torch.randn(4, 3) * 3).to(dtypes[1])

    def grad(device):
        a = x.to(device).requires_grad_()
        F.mse_loss(a, target.to(device), reduction=reduction).sum().backward()
        return a.grad

    got, want = grad("remote"), grad("cpu")
    assert got.dtype == want.dtype
    torch.testing.assert_close(got.cpu(), want)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("channels_last", ["input", "weight", "neither"])
@pytest.mark.parametrize("transposed", [False, True])
def test_3d_convolutions_keep_the_cpus_layout(dtype, channels_last, transposed):
    # Only the CPU's float32 (mkldnn) kernels write channels_last_3d results and gradients.
    torch.manual_seed(0)
    cl3 = torch.channels_last_3d
    x = torch.randn(2, 4, 5, 5, 5, dtype=dtype)
    w = (
        torch.randn(4, 3, 2, 2, 2, dtype=dtype)
        if transposed
        else torch.randn(6, 4, 3, 3, 3, dtype=dtype)
    )
    x = x.to(memory_format=cl3) if channels_last == "input" else x
    w = w.to(memory_format=cl3) if channels_last == "weight" else w

    def run(d):
        a, b = x.to(d).requires_grad_(), w.to(d).requires_grad_()
        out = F.conv_transpose3d(a, b, stride=2) if transposed else F.conv3d(a, b, padding=1)
        # `autograd.grad`, not `.grad`: accumulation would give the leaves' own strides.
        return (out, *torch.autograd.grad(out.square().sum(), (a, b)))

    for got, want in zip(run("remote"), run("cpu"), strict=True):
        assert got.stride() == want.stride()
        torch.testing.assert_close(got.cpu(), want.detach(), rtol=1e-4, atol=1e-4)


@pytest.fixture(params=[2, 1], ids=["threads", "one thread"])
def intra_op_threads(request):
    before = torch.get_num_threads()
    torch.set_num_threads(request.param)
    yield request.param
    torch.set_num_threads(before)


@pytest.mark.parametrize("dims", [2, 3])
@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("kernel", [1, 3])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_convolutions_lay_out_results_as_the_cpu_kernel_it_would_choose(
    dims, batch, kernel, dtype, intra_op_threads
):
    """mkldnn (reduced precision where the CPU has the instructions; float32 but for 1x1 filters
    on one thread and small unbatched inputs) allocates channels-last results; the native
    kernels give contiguous 3-d ones and keep a 1x1 filter's own strides."""
    conv = torch.ops.aten.convolution
    fmt = torch.channels_last if dims == 2 else torch.channels_last_3d
    x = torch.randn(batch, 4, *[5] * dims).to(dtype).contiguous(memory_format=fmt)
    w = torch.randn(6, 4, *[kernel] * dims).to(dtype)
    args = ([1] * dims, [0] * dims, [1] * dims, False, [0] * dims, 1)
    for xd, wd in [(x, w), (x.contiguous(), w.contiguous(memory_format=fmt))]:
        results = {}
        for device in ["cpu", "remote"]:
            a, b = xd.to(device), wd.to(device)
            out = conv(a, b, None, *args)
            grads = torch.ops.aten.convolution_backward(
                torch.ones_like(out), a, b, [6], *args, [True, True, True]
            )
            results[device] = [t.stride() for t in (out, *grads)]
        assert results["remote"] == results["cpu"]


def test_multi_margin_loss_skips_nan_terms_like_the_cpu():
    nan = float("nan")
    x = torch.tensor([[nan, 1.0, 2.0], [0.0, 1.0, 2.0], [0.0, nan, 2.0]])
    t = torch.tensor([1, 0, 1])
    for p in (1, 2):
        for reduction in ("none", "mean", "sum"):
            want = F.multi_margin_loss(x, t, p=p, reduction=reduction)
            got = F.multi_margin_loss(x.to("remote"), t.to("remote"), p=p, reduction=reduction)
            torch.testing.assert_close(got.cpu(), want, equal_nan=True)


def test_multi_margin_loss_refuses_a_weight_of_another_dtype_like_the_cpu():
    x, t = torch.randn(3, 4), torch.tensor([0, 1, 2])
    assert_refused_like_the_cpu(
        lambda d: F.multi_margin_loss(
            x.to(d), t.to(d), weight=torch.rand(4, dtype=torch.float64, device=d)
        )
    )


def test_nan_to_num_in_place_reads_every_mask_before_replacing():
    inf, nan = float("inf"), float("nan")
    real = torch.tensor([nan, inf, -inf, 1.0])
    for x in (real, torch.complex(torch.tensor([nan]), torch.tensor([-inf]))):
        want = x.clone().nan_to_num_(nan=inf, posinf=5.0, neginf=-inf)
        got = x.to("remote").nan_to_num_(nan=inf, posinf=5.0, neginf=-inf)
        torch.testing.assert_close(got.cpu(), want)


@pytest.mark.parametrize(
    "op",
    [
        lambda a: a.clamp(1, 3),
        lambda a: a.clamp(min=1),
        lambda a: torch.lerp(a, a, 0.3),
        lambda a: a.pow(2),
        lambda a: torch.float_power(a, 2),
        lambda a: a * 2.0,
        lambda a: 2.0**a,
        lambda a: torch.nan_to_num(a),
        lambda a: F.hardtanh(a),
        lambda a: a.exp(),
    ],
    ids=[
        "clamp",
        "clamp_min",
        "lerp",
        "pow",
        "float_power",
        "mul",
        "rpow",
        "nan_to_num",
        "hardtanh",
        "exp",
    ],
)
def test_strides_of_size_one_dims_follow_the_cpus_iterator(op):
    # A Scalar parameter takes no part in TensorIterator's layout, where a wrapped Python
    # number does; nan_to_num and hardtanh write into an `empty_like` of the input.
    def run(device):
        return op(torch.arange(6.0, device=device).view(3, 1, 2).permute(0, 2, 1))

    got, want = run("remote"), run("cpu")
    assert got.stride() == want.stride()
    torch.testing.assert_close(got.cpu(), want)


@pytest.mark.filterwarnings("ignore:Casting complex values to real")
@pytest.mark.parametrize("b_dtype", [torch.float64, torch.int64, torch.complex64])
def test_solve_triangular_solves_in_the_dtype_of_a(b_dtype):
    a = torch.randn(3, 3).triu() + 3 * torch.eye(3)
    b = (torch.randn(3, 2) * 4).to(b_dtype)
    want = torch.linalg.solve_triangular(a, b, upper=True)
    got = torch.linalg.solve_triangular(a.to("remote"), b.to("remote"), upper=True)
    assert (got.dtype, got.stride()) == (want.dtype, want.stride())
    torch.testing.assert_close(got.cpu(), want)


def test_a_power_of_a_number_is_contiguous_as_on_the_cpu():
    def run(device):
        return torch.pow(2, torch.arange(6.0, device=device).view(2, 3).t())

    got, want = run("remote"), run("cpu")
    assert got.stride() == want.stride()
    torch.testing.assert_close(got.cpu(), want)


def test_cat_with_a_legacy_empty_tensor_is_contiguous_as_on_the_cpu():
    """A 1-d empty tensor is skipped for the shape, but its layout (contiguous) still counts."""
    x = torch.rand(2, 3, 4, 5).contiguous(memory_format=torch.channels_last)
    for tensors in ([torch.empty(0), x], [x, torch.empty(0)], [x, x]):
        cpu = torch.cat(tensors)
        remote = torch.cat([t.to("remote") for t in tensors])
        assert remote.stride() == cpu.stride()
        torch.testing.assert_close(remote.cpu(), cpu)


@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
def test_scatter_reduce_takes_an_int32_index_as_the_cpu_does(reduce):
    index = torch.tensor([[0, 0, 1], [2, 1, 1]], dtype=torch.int32)
    src = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])

    def run(device):
        x = torch.ones(2, 3, device=device)
        s = src.to(device).requires_grad_()
        y = x.scatter_reduce(1, index.to(device), s, reduce)
        y.sum().backward()
        x.scatter_reduce_(1, index.to(device), src.to(device), reduce, include_self=False)
        return y, s.grad, x

    for remote, cpu in zip(run("remote"), run("cpu"), strict=True):
        torch.testing.assert_close(remote.cpu(), cpu)


def test_scatter_reduce_of_an_empty_index_of_any_dtype_is_the_input():
    x = torch.rand(2, 3)
    remote = x.to("remote").scatter_reduce(
        0, torch.empty(0, 3, device="remote"), x.to("remote"), "sum"
    )
    torch.testing.assert_close(remote.cpu(), x.scatter_reduce(0, torch.empty(0, 3), x, "sum"))


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("include_last_offset", [False, True])
def test_embedding_bag_with_no_bags_is_empty_and_gives_no_gradient(mode, include_last_offset):
    # The CPU's own kernels crash here (max forward, mean and max backward) or read past the
    # empty gradient (sum), so the expected result is the definition: no bags, no rows, and a
    # loss that does not depend on the weight.
    weight = torch.randn(10, 3)
    offsets = [0] if include_last_offset else []
    w = weight.to("remote").requires_grad_()
    per_sample = torch.rand(2, device="remote", requires_grad=True) if mode == "sum" else None
    bags = F.embedding_bag(
        torch.tensor([1, 2], device="remote"),
        w,
        torch.tensor(offsets, dtype=torch.long, device="remote"),
        mode=mode,
        per_sample_weights=per_sample,
        include_last_offset=include_last_offset,
    )
    assert bags.shape == (0, 3)
    bags.sum().backward()
    torch.testing.assert_close(w.grad.cpu(), torch.zeros(10, 3))
    if per_sample is not None:
        torch.testing.assert_close(per_sample.grad.cpu(), torch.zeros(2))
    torch.testing.assert_close(w.detach().cpu(), weight)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16, torch.complex64])
@pytest.mark.parametrize(
    "replacements",
    [
        {"posinf": 1e300},
        {"nan": 1e6},
        {"neginf": -65510.0},
        {"posinf": 65519.0},
        {"posinf": 65520.0},
        {"nan": 3.3961e38, "posinf": 3.3962e38},
        {"nan": -1e39},
    ],
)
def test_nan_to_num_with_replacements_past_the_dtype_casts_them_as_the_cpu(dtype, replacements):
    x = torch.tensor([float("nan"), float("inf"), -float("inf"), 1.5]).to(dtype)
    got = torch.nan_to_num(x.to("remote"), **replacements)
    torch.testing.assert_close(got.cpu(), torch.nan_to_num(x, **replacements), equal_nan=True)


EMPTY_SHAPES = [((0, 3), (3, 2)), ((2, 0), (0, 3)), ((2, 3), (3, 0))]


@pytest.mark.parametrize(
    ("product", "shapes"),
    [(lambda a, b: torch.mm(a, b), shapes) for shapes in EMPTY_SHAPES]
    + [(lambda a, b: torch.matmul(a[None], b[None]), shapes) for shapes in EMPTY_SHAPES]
    + [(lambda a, b: torch.einsum("ij,jk->ik", a, b), shapes) for shapes in EMPTY_SHAPES]
    + [(lambda a, b: torch.tensordot(a, b, dims=1), shapes) for shapes in EMPTY_SHAPES]
    + [(lambda a, b: torch.mv(a, b[:, 0]), shapes) for shapes in EMPTY_SHAPES[:2]],
)
def test_an_empty_product_of_bools_is_all_false_as_on_the_cpu(product, shapes):
    a, b = (torch.zeros(*s, dtype=torch.bool) for s in shapes)
    want = product(a, b)
    got = product(a.to("remote"), b.to("remote"))
    assert got.dtype == torch.bool
    torch.testing.assert_close(got.cpu(), want)


def test_flip_lays_out_its_result_as_empty_like_on_the_cpu():
    for make in (
        lambda d: torch.arange(4.0, device=d).reshape(2, 1, 1, 2).permute(2, 3, 1, 0),
        lambda d: torch.arange(3.0, device=d).reshape(1, 3).t(),
        lambda d: torch.arange(12.0, device=d).reshape(3, 4)[:, ::2],
    ):
        want, got = make("cpu"), make("remote")
        assert got.flip(0).stride() == want.flip(0).stride()
        assert torch.rot90(got).stride() == torch.rot90(want).stride()
        torch.testing.assert_close(got.flip(0).cpu(), want.flip(0))


@pytest.mark.parametrize(
    "conv",
    [
        lambda x, w: F.conv2d(x, w),
        lambda x, w: F.conv2d(x, w, torch.ones(w.shape[0], device=x.device)),
        lambda x, w: F.conv2d(x, w, stride=2, padding=1),
        lambda x, w: F.conv2d(x, w.repeat(2, 1, 1, 1), groups=2),
        lambda x, w: F.conv1d(x[..., 0], w[..., 0]),
    ],
)
def test_a_convolution_of_no_input_channels_has_no_output_channels_as_on_the_cpu(conv):
    x, w = torch.ones(2, 0, 5, 5), torch.ones(3, 0, 3, 3)
    want = conv(x, w)
    got = conv(x.to("remote"), w.to("remote"))
    assert got.shape == want.shape and got.stride() == want.stride()
    torch.testing.assert_close(got.cpu(), want)
    # The host agreed on the shape: nothing failed behind the call.
    torch.remote.synchronize()


def test_logsumexp_over_no_dims_keeping_them_reduces_every_dim_as_on_the_cpu():
    x = torch.randn(2, 3)
    got = torch.logsumexp(x.to("remote"), (), keepdim=True)
    assert got.shape == (1, 1)
    torch.testing.assert_close(got.cpu(), torch.logsumexp(x, (), keepdim=True))


def test_an_embedding_bag_of_no_bags_still_checks_its_offsets_values():
    weight, indices = torch.randn(5, 3), torch.tensor([1, 2])
    offsets = torch.tensor([7])
    with pytest.raises(RuntimeError, match=r"offsets\[0\] has to be 0.*However, got 7"):
        torch.ops.aten._embedding_bag(weight, indices, offsets, False, 0, False, None, True)
    bags = torch.ops.aten._embedding_bag(
        weight.to("remote"), indices.to("remote"), offsets.to("remote"), False, 0, False, None, True
    )[0]
    with pytest.raises(RuntimeError, match=r"offsets\[0\] has to be 0.*However, got 7"):
        bags.cpu()


def test_embedding_bag_promotes_indices_and_offsets_before_checking_them_as_the_cpu():
    weight, indices, offsets = torch.randn(5, 3), torch.tensor([1, 2, 4]), torch.tensor([0, 2])
    for dtype in (torch.int8, torch.uint8, torch.int16):
        want = F.embedding_bag(indices.to(dtype), weight, offsets)
        got = F.embedding_bag(
            indices.to(dtype).to("remote"), weight.to("remote"), offsets.to("remote")
        )
        torch.testing.assert_close(got.cpu(), want)


def test_a_transposed_convolution_of_no_batch_takes_any_output_padding_as_on_the_cpu():
    x, w = torch.randn(0, 6, 2), torch.randn(6, 4, 3)
    call = lambda x, w: torch.convolution(x, w, None, [1], [0], [1], True, [2], 1)  # noqa: E731
    want = call(x, w)
    got = call(x.to("remote"), w.to("remote"))
    assert got.shape == want.shape == (0, 4, 6)
    torch.remote.synchronize()


def test_logsumexp_of_an_empty_tensor_over_no_dims_is_minus_infinity_as_on_the_cpu():
    x = torch.randn(0, 3)
    got = torch.logsumexp(x.to("remote"), ())
    torch.testing.assert_close(got.cpu(), torch.logsumexp(x, ()))


@pytest.mark.parametrize("shape", [(2, 1, 4, 5), (2, 3, 1, 1), (2, 3, 4, 5)])
def test_batch_norm_of_a_channels_last_input_is_laid_out_as_on_the_cpu(shape):
    """A channels-last tensor with size-1 dims may also be contiguous; the CPU's batch norm then
    gives a contiguous result (`suggest_memory_format_contig`)."""
    x = torch.randn(shape).to(memory_format=torch.channels_last)
    grad = torch.randn(shape)
    channels = shape[1]

    def run(d):
        xr = x.clone().to(d).requires_grad_()
        y = F.batch_norm(xr, None, None, torch.ones(channels, device=d), training=True)
        y.backward(grad.to(d))
        z = F.batch_norm(x.to(d), torch.zeros(channels, device=d), torch.ones(channels, device=d))
        return y, xr.grad, z

    for want, got in zip(run("cpu"), run("remote"), strict=True):
        assert got.stride() == want.stride()
        torch.testing.assert_close(got.cpu(), want)


@pytest.mark.parametrize(
    "reduce",
    [
        lambda x, out: torch.var(x, 1, out=out),
        lambda x, out: torch.std(x, 1, out=out),
        lambda x, out: torch.mean(x, 1, out=out),
    ],
)
@pytest.mark.parametrize(
    "dtypes",
    [
        (torch.bfloat16, torch.float32),
        (torch.float32, torch.float64),
        (torch.float64, torch.float32),
        (torch.float32, torch.float16),
        (torch.float16, torch.bfloat16),
    ],
)
def test_a_reduction_into_an_out_of_another_dtype_computes_as_the_cpu(reduce, dtypes):
    """var and std compute in the out tensor's dtype; mean into half types sums in float."""
    source, target = dtypes
    x = (torch.randn(3, 8, generator=torch.Generator().manual_seed(0)) * 3).to(source)
    want = reduce(x, torch.empty(0, dtype=target))
    got = reduce(x.to("remote"), torch.empty(0, dtype=target, device="remote"))
    torch.testing.assert_close(got.cpu(), want, rtol=0, atol=0)


def test_mean_with_a_half_dtype_sums_in_float_as_on_the_cpu():
    x = torch.randn(3, 8, generator=torch.Generator().manual_seed(1)) * 3
    for dtype in (torch.float16, torch.bfloat16):
        want = torch.mean(x, 1, dtype=dtype, keepdim=True)
        got = torch.mean(x.to("remote"), 1, dtype=dtype, keepdim=True)
        torch.testing.assert_close(got.cpu(), want, rtol=0, atol=0)


@pytest.mark.parametrize(
    "call",
    [
        lambda o: torch.cdist(o(0, 3), o(4, 3)),
        lambda o: torch.ops.aten._cdist_forward(o(2, 0), o(4, 0), 1.0, None),
        lambda o: torch.ops.aten._cdist_forward(o(0, 2, 3), o(4, 3), 1.0, None),
        lambda o: torch.ops.aten._cdist_backward(o(0, 4), o(0, 3), o(4, 3), 2.0, o(0, 4)),
        lambda o: torch.ops.aten._cdist_backward(o(5, 4), o(1, 0, 3), o(2, 4, 3), 2.0, o(5, 4)),
        lambda o: torch.pdist(o(1, 3)),
        lambda o: torch.ops.aten._pdist_forward(o(3, 0), 2.0),
    ],
)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
def test_distances_without_rows_or_columns_skip_the_kernels_as_on_the_cpu(call, dtype):
    """The CPU returns empty or zero distances (and zero gradients of `x1`'s shape) before its
    dtype dispatch, which has no half kernels."""
    want = call(lambda *s: torch.ones(*s, dtype=dtype))
    got = call(lambda *s: torch.ones(*s, dtype=dtype, device="remote"))
    assert got.dtype == want.dtype and got.shape == want.shape
    torch.testing.assert_close(got.cpu(), want)
    torch.remote.synchronize()


def test_complex_silu_and_complex_values_of_addcmul_index_add_scatter_run_as_on_the_cpu():
    c = torch.tensor([[1 + 2j, 3 - 1j], [0.5j, -2 + 0j]])
    for call in (
        lambda c: F.silu(c),
        lambda c: F.silu(c.to(torch.complex128).conj()),
        lambda c: torch.addcmul(c, c, c + 1, value=1j),
        lambda c: torch.addcdiv(c, c, c + 1, value=2 - 1j),
        lambda c: c.clone().addcmul_(c, c, value=0.5j),
        lambda c: torch.zeros_like(c).index_add(
            0, torch.tensor([1, 1], device=c.device), c, alpha=1j
        ),
        lambda c: torch.zeros_like(c).scatter(1, torch.tensor([[1], [0]], device=c.device), 2j),
        lambda c: c.scatter(1, torch.tensor([[1, 1], [0, 0]], device=c.device), 2j, reduce="add"),
    ):
        torch.testing.assert_close(call(c.to("remote")).cpu(), call(c))
    with pytest.raises(RuntimeError, match="silu does not support automatic differentiation"):
        F.silu(c.to("remote").requires_grad_())


@pytest.mark.parametrize(
    "call",
    [
        lambda d: torch.ones(2, 2, device=d).index_add(
            0, torch.tensor([], dtype=torch.long, device=d), torch.ones(0, 2, device=d), alpha=1e39
        ),
        lambda d: torch.ones(2, 0, device=d).index_add(
            0, torch.tensor([1], device=d), torch.ones(1, 0, device=d), alpha=1j
        ),
        lambda d: torch.cdist(
            torch.ones(0, 3, device=d), torch.ones(4, 3, dtype=torch.float64, device=d)
        ),
        lambda d: torch._softmax(torch.ones(0, 3, dtype=torch.long, device=d), 0, False),
        lambda d: torch.linalg.lu_solve(
            torch.ones(0, 0, dtype=torch.half, device=d),
            torch.ones(0, dtype=torch.int32, device=d),
            torch.ones(0, 2, dtype=torch.half, device=d),
        ),
        lambda d: torch.var(
            torch.ones(1, 4, device=d), 1, out=torch.empty(0, dtype=torch.complex64, device=d)
        ),
    ],
)
def test_calls_the_cpu_returns_from_before_its_checks_run_on_remote_too(call):
    """Empty inputs and single outputs take the CPU's early paths, which skip the dtype and
    value checks a full computation makes."""
    want = call("cpu")
    got = call("remote")
    assert got.dtype == want.dtype and got.shape == want.shape
    torch.testing.assert_close(got.cpu(), want)
    torch.remote.synchronize()


@pytest.mark.parametrize(
    "pool",
    [
        lambda x: F.avg_pool3d(x, 2),
        lambda x: F.max_pool3d(x, 2),
        lambda x: F.adaptive_avg_pool3d(x, 2),
        lambda x: F.adaptive_max_pool3d(x, 2),
    ],
)
@pytest.mark.parametrize(
    "layout",
    [
        lambda t: t.contiguous(memory_format=torch.channels_last_3d),
        lambda t: t.mT.contiguous().mT,
        lambda t: t.transpose(1, 2).contiguous().transpose(1, 2),
    ],
)
def test_3d_pooling_gradients_are_laid_out_as_on_the_cpu(pool, layout):
    """The CPU lays a 3-d pooling's gradient out as its output: channels-last-3d for max
    pooling of such an input, contiguous otherwise."""
    base = torch.randn(2, 3, 4, 4, 4)

    def run(d):
        x = layout(base.to(d)).requires_grad_()
        (grad,) = torch.autograd.grad(pool(x).sum(), x)
        return grad

    want, got = run("cpu"), run("remote")
    assert got.stride() == want.stride()
    torch.testing.assert_close(got.cpu(), want)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_loss_of_one_unbatched_input_with_a_one_element_target(reduction, weighted):
    """The forward takes a `[1]` target for a 1-d input (its backward does not)."""
    torch.manual_seed(0)
    x, target, weight = torch.randn(5).log_softmax(0), torch.tensor([2]), torch.rand(5)
    results = []
    for device in ["cpu", "remote"]:
        w = weight.to(device) if weighted else None
        results.append(F.nll_loss(x.to(device), target.to(device), w, reduction=reduction))
    assert results[1].shape == results[0].shape == ()
    torch.testing.assert_close(results[1].cpu(), results[0])


@pytest.mark.parametrize(
    "call",
    [
        lambda d: torch.ops.aten.nll_loss_backward(
            torch.tensor(1.0, device=d),
            torch.zeros(5, device=d),
            torch.tensor([1, 2], device=d),
            None,
            1,
            -100,
            torch.tensor(1.0, device=d),
        ),
        lambda d: torch.ops.aten.nll_loss_forward(
            torch.zeros(3, 5, device=d), torch.tensor(1, device=d), None, 1, -100
        ),
        lambda d: F.cross_entropy(
            torch.zeros(5, device=d), torch.tensor([2], device=d), label_smoothing=0.1
        ),
    ],
    ids=["backward_of_two_targets", "batched_input_with_a_0dim_target", "label_smoothing"],
)
def test_nll_loss_target_shapes_refused_like_the_cpu(call):
    assert_refused_like_the_cpu(call)


def _volume(grad: torch.Tensor) -> torch.Tensor:
    """A channels-last-3d gradient made from a channels-last 2-d one."""
    return grad.unsqueeze(-1).expand(1, 3, 8, 8, 8).contiguous(memory_format=torch.channels_last_3d)


RESAMPLING_BACKWARDS = {
    "bicubic2d": lambda g: torch.ops.aten.upsample_bicubic2d_backward(
        g, [8, 8], [1, 3, 4, 4], False, None, None
    ),
    "bicubic2d_antialiased": lambda g: torch.ops.aten._upsample_bicubic2d_aa_backward(
        g, [8, 8], [1, 3, 4, 4], False, None, None
    ),
    "bilinear2d": lambda g: torch.ops.aten.upsample_bilinear2d_backward(
        g, [8, 8], [1, 3, 4, 4], False, None, None
    ),
    "nearest3d": lambda g: torch.ops.aten.upsample_nearest3d_backward(
        _volume(g), [8, 8, 8], [1, 3, 4, 4, 4], None, None, None
    ),
    "nearest_exact3d": lambda g: torch.ops.aten._upsample_nearest_exact3d_backward(
        _volume(g), [8, 8, 8], [1, 3, 4, 4, 4], None, None, None
    ),
    "trilinear": lambda g: torch.ops.aten.upsample_trilinear3d_backward(
        _volume(g), [8, 8, 8], [1, 3, 4, 4, 4], False, None, None, None
    ),
}


@pytest.mark.parametrize("op", RESAMPLING_BACKWARDS)
def test_resampling_gradients_of_channels_last_grads_keep_the_cpus_layout(op):
    """Cubic and 3-d nearest backwards give a contiguous gradient; the others keep the
    incoming gradient's layout."""
    torch.manual_seed(0)
    grad = torch.randn(1, 3, 8, 8).contiguous(memory_format=torch.channels_last)
    expected = RESAMPLING_BACKWARDS[op](grad)
    got = RESAMPLING_BACKWARDS[op](grad.to("remote"))
    assert got.stride() == expected.stride()
    torch.testing.assert_close(got.cpu(), expected)


RESIZED_OUTS = {
    "reflection_pad2d": lambda x, o: torch.ops.aten.reflection_pad2d.out(x, [1, 1, 1, 1], out=o),
    "upsample_nearest2d": lambda x, o: torch.ops.aten.upsample_nearest2d.out(
        x, [8, 8], None, None, out=o
    ),
    "upsample_bicubic2d": lambda x, o: torch.ops.aten.upsample_bicubic2d.out(
        x, [8, 8], False, None, None, out=o
    ),
    "upsample_bilinear2d_backward": lambda x, o: (
        torch.ops.aten.upsample_bilinear2d_backward.grad_input(
            x, [4, 4], [2, 3, 2, 2], False, None, None, grad_input=o
        )
    ),
}


@pytest.mark.parametrize("op", RESIZED_OUTS)
def test_a_resized_out_takes_the_layout_of_the_input(op):
    """Structured kernels resize an empty out= into the layout their meta function gives:
    a channels-last input's here."""
    torch.manual_seed(0)
    x = torch.randn(2, 3, 4, 4).contiguous(memory_format=torch.channels_last)
    outs = []
    for device in ["cpu", "remote"]:
        out = torch.empty(0, device=device)
        RESIZED_OUTS[op](x.to(device), out)
        outs.append(out)
    assert outs[1].stride() == outs[0].stride()
    torch.testing.assert_close(outs[1].cpu(), outs[0])


@pytest.mark.parametrize("mode", ["reflect", "replicate"])
@pytest.mark.parametrize("padding", [(-5, 0, 0, 0), (-3, -2, 1, 1), (0, 0, -2, -3)])
def test_a_2d_padding_may_take_one_dim_down_to_nothing_as_on_the_cpu(mode, padding):
    x = torch.randn(2, 3, 5, 5)
    expected = F.pad(x, padding, mode=mode)
    remote = F.pad(x.to("remote"), padding, mode=mode)
    assert remote.shape == expected.shape
    torch.testing.assert_close(remote.cpu(), expected)
