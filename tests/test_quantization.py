"""Quantization-aware training's fake quantization on `remote`: the CPU's values, masks,
layouts and refusals, and a QAT loop with `FakeQuantize` modules."""

import copy

import pytest
import torch
import torch.ao.quantization as Q
import torch_remote  # noqa: F401
from conftest import assert_refused_like_the_cpu

aten = torch.ops.aten


def inputs():
    torch.manual_seed(0)
    x = torch.randn(2, 4, 3).permute(0, 2, 1)
    scale = torch.rand(3) + 0.05
    zero_point = torch.randint(0, 5, (3,), dtype=torch.int32)
    return x, scale, zero_point


CALLS = {
    "per tensor": lambda x, s, z: aten.fake_quantize_per_tensor_affine_cachemask(x, 0.1, 3, 0, 255),
    "per tensor half": lambda x, s, z: aten.fake_quantize_per_tensor_affine_cachemask(
        x.half(), 0.1, 3, 0, 15
    ),
    "tensor qparams": lambda x, s, z: (
        aten._fake_quantize_per_tensor_affine_cachemask_tensor_qparams(
            x, s[:1], z[:1], torch.ones(1, dtype=torch.long, device=x.device), -8, 7
        )
    ),
    "tensor qparams disabled": lambda x, s, z: (
        aten._fake_quantize_per_tensor_affine_cachemask_tensor_qparams(
            x, s[:1], z[:1], torch.zeros(1, dtype=torch.long, device=x.device), 0, 255
        )
    ),
    "per channel": lambda x, s, z: aten.fake_quantize_per_channel_affine_cachemask(
        x, s, z, 1, 0, 7
    ),
    "per channel float zero point": lambda x, s, z: aten.fake_quantize_per_channel_affine_cachemask(
        x, s, z.float(), 1, 0, 7
    ),
}


@pytest.mark.parametrize("call", CALLS)
def test_fake_quantization_is_the_cpus(call):
    expected = CALLS[call](*inputs())
    remote = CALLS[call](*(t.to("remote") for t in inputs()))
    for r, e in zip(remote, expected, strict=True):
        assert (r.dtype, r.stride()) == (e.dtype, e.stride())
        assert torch.equal(r.cpu(), e)


REFUSALS = [
    lambda x, s, z: aten.fake_quantize_per_tensor_affine_cachemask(x, 0.1, 3, 10, 5),
    lambda x, s, z: aten.fake_quantize_per_tensor_affine_cachemask(x, 0.1, 300, 0, 255),
    lambda x, s, z: aten.fake_quantize_per_tensor_affine_cachemask(x.long(), 0.1, 3, 0, 255),
    lambda x, s, z: aten._fake_quantize_per_tensor_affine_cachemask_tensor_qparams(
        x, s[:2], z[:1], z[:1], 0, 9
    ),
    lambda x, s, z: aten.fake_quantize_per_channel_affine_cachemask(x, s, z, 5, 0, 255),
    lambda x, s, z: aten.fake_quantize_per_channel_affine_cachemask(x, s, z.long(), 1, 0, 255),
    lambda x, s, z: aten.fake_quantize_per_channel_affine_cachemask(x, s.double(), z, 1, 0, 255),
    lambda x, s, z: aten.fake_quantize_per_channel_affine_cachemask(x, s[None], z, 1, 0, 255),
    lambda x, s, z: aten.fake_quantize_per_channel_affine_cachemask(x, s, z[:2], 1, 0, 255),
    lambda x, s, z: aten.fake_quantize_per_channel_affine_cachemask(x, s, z, 1, 5, 1),
    lambda x, s, z: aten.fake_quantize_per_channel_affine_cachemask(x.long(), s, z, 1, 0, 255),
]


@pytest.mark.parametrize("call", REFUSALS)
def test_fake_quantization_refuses_what_the_cpu_refuses(call):
    assert_refused_like_the_cpu(lambda d: call(*(t.to(d) for t in inputs())))


def learnable_inputs():
    """An input with a channels-last layout, its incoming gradient, and one scale and zero
    point in all and per channel (a zero point past the range, one halfway)."""
    torch.manual_seed(0)
    x = (torch.randn(2, 3, 4, 5) * 3).to(memory_format=torch.channels_last)
    grad = torch.randn(2, 3, 4, 5)
    qparams = torch.tensor([0.1]), torch.tensor([3.5])
    channel_qparams = torch.tensor([0.1, 0.2, 0.3]), torch.tensor([1.0, 2.5, 300.0])
    return x, grad, qparams, channel_qparams


LEARNABLE = {
    "per tensor": lambda x, g, q, c: aten._fake_quantize_learnable_per_tensor_affine(x, *q, 0, 255),
    "per tensor half": lambda x, g, q, c: aten._fake_quantize_learnable_per_tensor_affine(
        x.half(), *q, 0, 15
    ),
    "per tensor backward": lambda x, g, q, c: (
        aten._fake_quantize_learnable_per_tensor_affine_backward(g, x, *q, 0, 255, 0.5)
    ),
    "per tensor backward of an empty input": lambda x, g, q, c: (
        aten._fake_quantize_learnable_per_tensor_affine_backward(g[:0], x[:0], *q, 0, 255)
    ),
    "per channel": lambda x, g, q, c: aten._fake_quantize_learnable_per_channel_affine(
        x, *c, 1, 0, 255
    ),
    "per channel int zero points": lambda x, g, q, c: (
        aten._fake_quantize_learnable_per_channel_affine(x, c[0], c[1].int(), 1, 0, 255)
    ),
    "per channel backward": lambda x, g, q, c: (
        aten._fake_quantize_learnable_per_channel_affine_backward(g, x, *c, 1, 0, 255, 2.0)
    ),
    "per channel backward of a 1-d input": lambda x, g, q, c: (
        aten._fake_quantize_learnable_per_channel_affine_backward(
            g[0, 0, 0, :3], x[0, 0, 0, :3], *c, 0, 0, 255
        )
    ),
    "per tensor backward of bfloat16": lambda x, g, q, c: (
        aten._fake_quantize_learnable_per_tensor_affine_backward(
            g.double(), x.bfloat16(), *(t.bfloat16() for t in q), 0, 255
        )
    ),
    "per channel backward of bfloat16": lambda x, g, q, c: (
        aten._fake_quantize_learnable_per_channel_affine_backward(
            g.bfloat16(), x.bfloat16(), c[0], c[1].bfloat16(), 1, 0, 255
        )
    ),
}


@pytest.mark.parametrize("call", LEARNABLE)
def test_learnable_fake_quantization_is_the_cpus(call):
    x, grad, qparams, channel_qparams = learnable_inputs()
    expected = _outputs(LEARNABLE[call](x, grad, qparams, channel_qparams))
    on = lambda ts: tuple(t.to("remote") for t in ts)  # noqa: E731
    remote = _outputs(
        LEARNABLE[call](x.to("remote"), grad.to("remote"), on(qparams), on(channel_qparams))
    )
    for r, e in zip(remote, expected, strict=True):
        assert (r.shape, r.stride(), r.dtype) == (e.shape, e.stride(), e.dtype)
        torch.testing.assert_close(r.cpu(), e)


def _outputs(result):
    return list(result) if isinstance(result, (tuple, list)) else [result]


LEARNABLE_REFUSALS = [
    lambda x, s, z: aten._fake_quantize_learnable_per_tensor_affine(x, s[0], z[:1], 0, 255),
    lambda x, s, z: aten._fake_quantize_learnable_per_tensor_affine(x, s[:0], z[:1], 0, 255),
    lambda x, s, z: aten._fake_quantize_learnable_per_tensor_affine(x, s[:1], z[:1], 9, 2),
    lambda x, s, z: aten._fake_quantize_learnable_per_tensor_affine(x.long(), s, z, 0, 255),
    lambda x, s, z: aten._fake_quantize_learnable_per_tensor_affine_backward(
        x.double(), x, s[:1], z[:1].float(), 0, 255
    ),
    lambda x, s, z: aten._fake_quantize_learnable_per_tensor_affine_backward(
        x, x, s[:1], z[:1], 0, 255
    ),
    lambda x, s, z: aten._fake_quantize_learnable_per_tensor_affine_backward(
        x[0], x, s[:1], z[:1].float(), 0, 255
    ),
    lambda x, s, z: aten._fake_quantize_learnable_per_tensor_affine_backward(
        x, x, s[:1], z[:1].float(), 2, 255
    ),
    lambda x, s, z: aten._fake_quantize_learnable_per_channel_affine(x, s, z, 3, 0, 255),
    lambda x, s, z: aten._fake_quantize_learnable_per_channel_affine(x[0, 0, 0], s, z, 0, 0, 9),
    lambda x, s, z: aten._fake_quantize_learnable_per_channel_affine(x, s, z.bool(), 1, 0, 9),
    lambda x, s, z: aten._fake_quantize_learnable_per_channel_affine(x, s.double(), z, 1, 0, 9),
    lambda x, s, z: aten._fake_quantize_learnable_per_channel_affine_backward(
        x, x, s, z.float(), 1, 1, 255
    ),
    lambda x, s, z: aten._fake_quantize_learnable_per_channel_affine_backward(
        x, x, s[:2], z.float(), 1, 0, 255
    ),
    lambda x, s, z: aten._fake_quantize_learnable_per_channel_affine_backward(
        x, x, s, z.float(), -2, 0, 255
    ),
    lambda x, s, z: aten._fake_quantize_learnable_per_channel_affine_backward(
        x.double(), x, s, z.bool(), 1, 0, 255
    ),
    lambda x, s, z: aten._fake_quantize_learnable_per_channel_affine_backward(
        x[:0], x[:0], s[:0], z[:0].float(), 0, 0, 255
    ),
]


def test_learnable_backward_of_an_empty_input_gives_back_its_arguments():
    x = torch.empty(0, 3, device="remote")
    scale, zero_point = torch.ones(1, device="remote"), torch.zeros(1, device="remote")
    results = aten._fake_quantize_learnable_per_tensor_affine_backward(
        x, x, scale, zero_point, 0, 255
    )
    assert [r is a for r, a in zip(results, (x, scale, zero_point), strict=True)] == [True] * 3


@pytest.mark.parametrize("call", LEARNABLE_REFUSALS)
def test_learnable_fake_quantization_refuses_what_the_cpu_refuses(call):
    assert_refused_like_the_cpu(lambda d: call(*(t.to(d) for t in inputs())))


@pytest.mark.parametrize("per_channel", [False, True])
def test_learnable_fake_quantize_modules_train_as_on_the_cpu(per_channel):
    """`_LearnableFakeQuantize` (LSQ): the scale and zero point learn with the weights."""
    from torch.ao.quantization._learnable_fake_quantize import _LearnableFakeQuantize

    def train(device):
        torch.manual_seed(1)
        observer = (
            Q.MovingAveragePerChannelMinMaxObserver
            if per_channel
            else Q.MovingAverageMinMaxObserver
        )
        channels = {"ch_axis": 1, "channel_len": 4} if per_channel else {}
        quantize = _LearnableFakeQuantize(
            observer, quant_min=0, quant_max=255, use_grad_scaling=True, **channels
        ).to(device)
        linear = torch.nn.Linear(3, 4).to(device)
        params = [*quantize.parameters(), *linear.parameters()]
        optimizer = torch.optim.SGD(params, lr=0.1)
        x = torch.randn(8, 3).to(device)
        for _ in range(3):
            optimizer.zero_grad()
            y = quantize(linear(x))
            y.pow(2).sum().backward()
            optimizer.step()
        return [y, quantize.scale, quantize.zero_point, linear.weight]

    for r, e in zip(train("remote"), train("cpu"), strict=True):
        torch.testing.assert_close(r.detach().cpu(), e.detach())


def test_dequantize_of_a_tensor_that_is_not_quantized_is_its_float_value():
    x = torch.randn(2, 3, 4, 5).to(memory_format=torch.channels_last)
    remote = x.to("remote")
    assert remote.dequantize() is remote
    for t in (x.double(), x.half(), (x * 10).long()):
        r, e = t.to("remote").dequantize(), t.dequantize()
        assert (r.dtype, r.stride()) == (e.dtype, e.stride())
        torch.testing.assert_close(r.cpu(), e)


FAKE_QUANTIZE = Q.QConfig(
    activation=Q.FakeQuantize.with_args(
        observer=Q.MovingAverageMinMaxObserver, quant_min=0, quant_max=127
    ),
    weight=Q.FakeQuantize.with_args(
        observer=Q.MovingAveragePerChannelMinMaxObserver,
        quant_min=-128,
        quant_max=127,
        dtype=torch.qint8,
        qscheme=torch.per_channel_symmetric,
    ),
)


@pytest.mark.filterwarnings("ignore:torch.ao.quantization is deprecated")
@pytest.mark.filterwarnings("ignore:Please use quant_min and quant_max")
@pytest.mark.parametrize("qconfig", ["fake quantize modules", "x86", "fbgemm"])
def test_qat_trains_as_on_the_cpu(qconfig):
    """`FakeQuantize` modules, and the fused observer of the default QAT qconfigs."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(144, 5)
    )
    model.qconfig = (
        FAKE_QUANTIZE if qconfig == "fake quantize modules" else Q.get_default_qat_qconfig(qconfig)
    )
    prepared = Q.prepare_qat(model.train())
    x, y = torch.randn(4, 3, 8, 8), torch.randint(0, 5, (4,))

    def train(device):
        qat = copy.deepcopy(prepared).to(device)
        optimizer = torch.optim.SGD(qat.parameters(), lr=0.1)
        losses = []
        for _ in range(3):
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(qat(x.to(device)), y.to(device))
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        return losses, {k: v.cpu() for k, v in qat.state_dict().items()}

    (remote_losses, remote_state), (losses, state) = train("remote"), train("cpu")
    assert remote_losses == pytest.approx(losses, rel=1e-5)
    for name, value in state.items():
        torch.testing.assert_close(remote_state[name], value, msg=name)


def fused_observer(device, per_row, symmetric, observe=1, fake_quantize=1):
    """One step of the fused observer from a fresh state, and the state after it."""
    torch.manual_seed(0)
    x = torch.randn(4, 3, 2, 2).permute(0, 2, 3, 1)
    empty = torch.tensor([]) if per_row else None
    state = [
        torch.tensor(float("inf")) if empty is None else empty,
        torch.tensor(float("-inf")) if empty is None else empty.clone(),
        torch.tensor([1.0]),
        torch.tensor([0], dtype=torch.int32),
    ]
    state = [t.to(device) for t in state]
    flags = [torch.tensor([observe], device=device), torch.tensor([fake_quantize], device=device)]
    qmin, qmax = (-128, 127) if symmetric else (0, 255)
    out, mask = aten._fused_moving_avg_obs_fq_helper(
        x.to(device), *flags, *state, 0.01, qmin, qmax, 0, per_row, symmetric
    )
    kept = state if fake_quantize else state[:2]
    return [out, mask, *kept]


@pytest.mark.parametrize(
    "case", [(True, True), (False, False), (True, False), (False, True), (True, True, 1, 0)]
)
def test_the_fused_observer_updates_its_state_as_on_the_cpu(case):
    for r, e in zip(fused_observer("remote", *case), fused_observer("cpu", *case), strict=True):
        assert (r.shape, r.stride(), r.dtype) == (e.shape, e.stride(), e.dtype)
        torch.testing.assert_close(r.cpu(), e)


def test_the_fused_observer_refuses_a_state_its_kernel_would_misread():
    """The CPU reads an empty per-tensor range out of bounds (and dies); remote refuses it,
    and a negative per-row axis, before the host sees them."""
    x = torch.randn(4, 3, device="remote")
    flag = torch.ones(1, dtype=torch.long, device="remote")
    scale, zero_point = (
        torch.ones(1, device="remote"),
        torch.zeros(1, dtype=torch.int32, device="remote"),
    )
    empty = torch.tensor([], device="remote")
    with pytest.raises(RuntimeError, match="expected running_min of 1 elements"):
        aten._fused_moving_avg_obs_fq_helper(
            x, flag, flag, empty, empty.clone(), scale, zero_point, 0.01, 0, 255, 0, False, False
        )
    with pytest.raises(RuntimeError, match="ch_axis must not be negative"):
        aten._fused_moving_avg_obs_fq_helper(
            x, flag, flag, empty, empty.clone(), scale, zero_point, 0.01, 0, 255, -1, True, False
        )
    assert x.sum().isfinite().item()
