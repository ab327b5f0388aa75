"""`torch.autocast(device_type="remote")` applies CUDA's autocast policy: matrix products in the
lower precision, reductions and softmax in float32, with the CPU's values for the same casts."""

import pytest
import torch
import torch.nn.functional as F
import torch_remote  # noqa: F401

GEN = torch.Generator().manual_seed(0)
A, B = torch.randn(3, 4, generator=GEN), torch.randn(4, 2, generator=GEN)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_matmul_runs_in_the_lower_precision(dtype):
    with torch.autocast(device_type="remote", dtype=dtype):
        product = A.to("remote") @ B.to("remote")
        probs = torch.softmax(product, -1)
    assert product.dtype == dtype
    assert probs.dtype == torch.float32
    expected = A.to(dtype) @ B.to(dtype)
    torch.testing.assert_close(product.cpu(), expected)
    torch.testing.assert_close(probs.cpu(), torch.softmax(expected.float(), -1))


def test_default_dtype_is_float16_and_autocast_can_be_disabled():
    with torch.autocast(device_type="remote"):
        assert (A.to("remote") @ B.to("remote")).dtype == torch.float16
        with torch.autocast(device_type="remote", enabled=False):
            assert (A.to("remote") @ B.to("remote")).dtype == torch.float32


def test_training_step_under_autocast_keeps_float32_gradients():
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 2)
    remote = torch.nn.Linear(4, 2).to("remote")
    remote.load_state_dict({k: v.to("remote") for k, v in model.state_dict().items()})
    target = torch.randn(3, 2, generator=GEN)
    with torch.autocast(device_type="remote", dtype=torch.bfloat16):
        loss = F.mse_loss(remote(A.to("remote")).float(), target.to("remote"))
    loss.backward()
    cpu_loss = F.mse_loss(
        F.linear(A.bfloat16(), model.weight.bfloat16(), model.bias.bfloat16()).float(), target
    )
    cpu_loss.backward()
    assert remote.weight.grad.dtype == torch.float32
    torch.testing.assert_close(loss.cpu(), cpu_loss)
    torch.testing.assert_close(remote.weight.grad.cpu(), model.weight.grad)
