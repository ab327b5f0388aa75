"""bfloat16 and float16 results equal the CPU's bit for bit.

PyTorch's CPU kernels compute half-precision ops in float with each Python number (and each
0-dim tensor beside a higher-dimensional one) taken whole, and round once; the host must call
them the same way, not with the number first rounded to the tensors' dtype nor through a
formula that rounds between steps. Each case differs from the CPU in hundreds of elements of
4096 when that goes wrong.
"""

import pytest
import torch
import torch.nn.functional as F
import torch_remote  # noqa: F401

HALF = [torch.bfloat16, torch.float16]


def _scalar_tensor(x):
    return torch.tensor(0.9, device=x.device)


FORWARD = {
    "mul": lambda x, y: x * 0.9,
    "rmul": lambda x, y: 0.9 * x,
    "div": lambda x, y: x / 0.9,
    "rdiv": lambda x, y: 0.9 / x,
    "floor_divide": lambda x, y: torch.div(x, 0.3, rounding_mode="floor"),
    "add_alpha": lambda x, y: x.add(y, alpha=0.9),
    "sub_alpha": lambda x, y: x.sub(y, alpha=0.9),
    "add_number_alpha": lambda x, y: torch.add(x, 0.7, alpha=0.9),
    "mul_cpu_0dim": lambda x, y: x * torch.tensor(0.9),
    "mul_remote_0dim": lambda x, y: x * _scalar_tensor(x),
    "div_int_0dim": lambda x, y: x / torch.tensor(1_000_001, device=x.device),
    "mul_": lambda x, y: x.clone().mul_(0.9),
    "add_alpha_": lambda x, y: x.clone().add_(y, alpha=0.9),
    "foreach_mul": lambda x, y: torch._foreach_mul([x], 0.9)[0],
    "foreach_add_alpha": lambda x, y: torch._foreach_add([x], [y], alpha=0.9)[0],
    "foreach_mul_0dim": lambda x, y: torch._foreach_mul([x], _scalar_tensor(x))[0],
    "pow": lambda x, y: x.abs() ** 0.3,
    "pow_3": lambda x, y: x**3,
    "rpow": lambda x, y: 0.3**x,
    "addcmul": lambda x, y: torch.addcmul(x, y, y, value=0.9),
    "addcdiv": lambda x, y: torch.addcdiv(x, y, y.abs() + 1, value=0.9),
    "addmm": lambda x, y: torch.addmm(x[:64], x.view(64, 64), y.view(64, 64), beta=0.5, alpha=0.7),
    "baddbmm": lambda x, y: torch.baddbmm(
        x.view(4, 32, 32), x.view(4, 32, 32), y.view(4, 32, 32), beta=0.5, alpha=0.7
    ),
    "lerp": lambda x, y: torch.lerp(x, y, 0.3),
    "elu": lambda x, y: F.elu(x, 0.9),
    "selu": lambda x, y: F.selu(x),
    "celu": lambda x, y: F.celu(x, 0.7),
    "softplus": lambda x, y: F.softplus(x, beta=0.9, threshold=5.0),
    "softshrink": lambda x, y: F.softshrink(x, 0.3),
    "prod_of_all": lambda x, y: (x.view(64, 64) * 0.01 + 1).prod(),
    "prod_of_a_vector_keepdim": lambda x, y: (x[:512] * 0.01 + 1).prod(0, keepdim=True),
    "prod_along_a_dim": lambda x, y: (x.view(64, 64) * 0.01 + 1).prod(1),
    "index_add_alpha": lambda x, y: x.view(64, 64).index_add(
        0, torch.arange(64, device=x.device).flip(0), y.view(64, 64), alpha=0.7
    ),
    "logit_eps": lambda x, y: torch.logit(x.sigmoid(), eps=1 / 3),
}


def _both(f, dtype):
    torch.manual_seed(0)
    x, y = torch.randn(4096).to(dtype), torch.randn(4096).to(dtype)
    return f(x, y), f(x.to("remote"), y.to("remote")).cpu()


@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("name", FORWARD)
def test_forward_equals_the_cpu(name, dtype):
    cpu, remote = _both(FORWARD[name], dtype)
    assert remote.dtype == cpu.dtype
    assert torch.equal(remote, cpu), f"{(remote != cpu).sum()} of {cpu.numel()} differ"


@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("activation", [F.silu, F.mish, F.elu, F.softplus])
def test_activation_gradients_equal_the_cpu(activation, dtype):
    """`silu_backward` and `mish_backward` run as one kernel, as on the CPU and CUDA, not
    as PyTorch's decomposition into half-precision steps."""
    torch.manual_seed(0)
    x, grad = torch.randn(4096).to(dtype), torch.randn(4096).to(dtype)
    grads = []
    for device in ["cpu", "remote"]:
        leaf = x.detach().to(device).requires_grad_()
        activation(leaf).backward(grad.to(device))
        grads.append(leaf.grad.cpu())
    assert torch.equal(grads[1], grads[0])


def test_silu_double_backward_still_works():
    """Run as one op, `silu_backward` keeps its own derivative (a gradient penalty)."""
    x = torch.randn(64, dtype=torch.float64)
    results = []
    for device in ["cpu", "remote"]:
        leaf = x.detach().to(device).requires_grad_()
        (g,) = torch.autograd.grad(F.silu(leaf).sum(), leaf, create_graph=True)
        g.square().sum().backward()
        results.append(leaf.grad.cpu())
    torch.testing.assert_close(results[1], results[0])


@pytest.mark.parametrize(
    "name", ["add_alpha", "prod_of_all", "index_add_alpha", "logit_eps", "baddbmm"]
)
def test_float32_equals_the_cpu(name):
    """The CPU's add computes `a + alpha * b` in one step, and `prod()` multiplies every
    element in one pass: a separate multiply, or a product dim by dim, rounds once more."""
    cpu, remote = _both(FORWARD[name], torch.float32)
    assert torch.equal(remote, cpu), f"{(remote != cpu).sum()} of {cpu.numel()} differ"


def test_numbers_keep_integer_wrapping_and_promotion():
    """Wrapped numbers promote as Python numbers do: below every tensor, by category."""
    cases = [
        lambda d: torch.arange(6, dtype=torch.uint8, device=d) * 300,
        lambda d: torch.arange(6, device=d) / 4,
        lambda d: torch.arange(6, dtype=torch.int32, device=d) + 2.5,
        lambda d: torch.ones(3, dtype=torch.bool, device=d) + True,
        lambda d: torch.arange(3.0, device=d) * (1 + 2j),
        lambda d: torch.arange(6, dtype=torch.int16, device=d) % 4,
        lambda d: torch.arange(6, dtype=torch.float16, device=d) ** 2,
    ]
    for case in cases:
        cpu, remote = case("cpu"), case("remote").cpu()
        assert remote.dtype == cpu.dtype
        assert torch.equal(remote, cpu)
