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


@pytest.mark.filterwarnings("ignore:torch.ao.quantization is deprecated")
def test_qat_with_fake_quantize_modules_trains_as_on_the_cpu():
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(144, 5)
    )
    model.qconfig = Q.QConfig(
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
