"""A small MLP trains on `remote` exactly as on the CPU."""

import concurrent.futures
import copy
import threading

import pytest
import torch
import torch.nn.functional as F
import torch_remote  # noqa: F401


def make_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(20, 32), torch.nn.ReLU(), torch.nn.Linear(32, 5))


def train(model, data, target, optimizer_factory, steps=10):
    optimizer = optimizer_factory(model.parameters())
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(data), target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize(
    "optimizer_factory",
    [
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
        lambda p: torch.optim.Adam(p, lr=0.01),
    ],
    ids=["sgd-momentum", "adam"],
)
def test_mlp_losses_equal_cpu(optimizer_factory):
    generator = torch.Generator().manual_seed(1)
    data = torch.randn(64, 20, generator=generator)
    target = torch.randint(0, 5, (64,), generator=generator)
    cpu_model = make_model()
    remote_model = copy.deepcopy(cpu_model).to("remote")

    cpu_losses = train(cpu_model, data, target, optimizer_factory)
    remote_losses = train(remote_model, data.to("remote"), target.to("remote"), optimizer_factory)

    torch.testing.assert_close(remote_losses, cpu_losses, rtol=1e-5, atol=0)
    assert cpu_losses[-1] < cpu_losses[0]
    for cpu_p, remote_p in zip(cpu_model.parameters(), remote_model.parameters(), strict=True):
        torch.testing.assert_close(remote_p.cpu(), cpu_p, rtol=1e-5, atol=1e-6)


def fused_setup(dtype):
    """Data, targets, and the model before training, to train on the CPU, and on remote."""
    generator = torch.Generator().manual_seed(1)
    data = torch.randn(64, 20, generator=generator).to(dtype)
    target = torch.randint(0, 5, (64,), generator=generator)
    cpu_model = make_model().to(dtype)
    return (
        data,
        target,
        (copy.deepcopy(cpu_model), cpu_model, copy.deepcopy(cpu_model).to("remote")),
    )


FUSED = {
    "adam": lambda p: torch.optim.Adam(p, lr=0.01, fused=True),
    "adamw": lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1, fused=True),
    "adam-decay-amsgrad-maximize": lambda p: torch.optim.Adam(
        p, lr=0.01, weight_decay=0.1, amsgrad=True, maximize=True, fused=True
    ),
    "adamw-tensor-lr": lambda p: torch.optim.AdamW(p, lr=torch.tensor(0.01), fused=True),
}


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("optimizer_factory", list(FUSED.values()), ids=list(FUSED))
def test_fused_adam_steps_as_cpu_fused_to_the_bit(optimizer_factory, dtype):
    data, target, (initial, cpu_model, remote_model) = fused_setup(dtype)

    train(cpu_model, data, target, optimizer_factory, steps=5)
    train(remote_model, data.to("remote"), target.to("remote"), optimizer_factory, steps=5)

    models = (initial, cpu_model, remote_model)
    for before, cpu_p, remote_p in zip(*(m.parameters() for m in models), strict=True):
        assert not torch.equal(before, cpu_p)
        torch.testing.assert_close(remote_p.cpu(), cpu_p, rtol=0, atol=0)


FUSED_OTHERS = {
    "sgd": lambda p: torch.optim.SGD(p, lr=0.1, fused=True),
    "sgd-momentum-dampening-decay": lambda p: torch.optim.SGD(
        p, lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01, fused=True
    ),
    "sgd-nesterov-maximize-tensor-lr": lambda p: torch.optim.SGD(
        p, lr=torch.tensor(0.05), momentum=0.9, nesterov=True, maximize=True, fused=True
    ),
    "adagrad-decays": lambda p: torch.optim.Adagrad(
        p, lr=0.1, lr_decay=0.01, weight_decay=0.01, fused=True
    ),
    "adagrad-maximize-initial": lambda p: torch.optim.Adagrad(
        p, lr=0.1, maximize=True, initial_accumulator_value=0.1, fused=True
    ),
}


@pytest.mark.parametrize("scaled", [False, True], ids=["plain", "grad-scaler"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("optimizer_factory", list(FUSED_OTHERS.values()), ids=list(FUSED_OTHERS))
def test_fused_sgd_and_adagrad_step_as_cpu_fused_to_the_bit(optimizer_factory, dtype, scaled):
    """With a GradScaler the fused step unscales the gradients itself and skips the step
    whose loss overflowed (the third)."""
    data, target, (initial, cpu_model, remote_model) = fused_setup(dtype)

    def steps(model, data, target):
        optimizer = optimizer_factory(model.parameters())
        scaler = torch.amp.GradScaler(data.device.type, init_scale=256.0, enabled=scaled)
        for step in range(4):
            optimizer.zero_grad()
            loss = F.cross_entropy(model(data), target)
            if scaled and step == 2:
                loss = loss * float("inf")
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        return optimizer

    cpu_optimizer = steps(cpu_model, data, target)
    remote_optimizer = steps(remote_model, data.to("remote"), target.to("remote"))

    models = (initial, cpu_model, remote_model)
    for before, cpu_p, remote_p in zip(*(m.parameters() for m in models), strict=True):
        assert not torch.equal(before, cpu_p)
        torch.testing.assert_close(remote_p.cpu(), cpu_p, rtol=0, atol=0)
        cpu_state = cpu_optimizer.state[cpu_p]
        for name, remote_value in remote_optimizer.state[remote_p].items():
            torch.testing.assert_close(
                remote_value.cpu(), cpu_state[name], rtol=0, atol=0, msg=name
            )


@pytest.mark.parametrize("lengths_on", ["remote", "cpu"])
def test_ctc_loss_with_length_tensors_differentiates_under_torch_func(lengths_on):
    # With a wrapped argument, `ctc_loss` passes its lengths as tensors (the `.Tensor`
    # overloads of `_ctc_loss` and its backward), read on the CPU as CUDA reads them.
    torch.manual_seed(0)
    log_probs = torch.randn(10, 2, 5).log_softmax(-1)
    targets = torch.randint(1, 5, (2, 4))
    lengths = (torch.tensor([10, 8]), torch.tensor([4, 3]))

    def gradient(device, lengths_device):
        def loss(x):
            moved = [t.to(lengths_device) for t in lengths]
            # The mean divides by the target lengths, which must then be on the device.
            return F.ctc_loss(x, targets.to(device), *moved, reduction="sum")

        return torch.func.grad(loss)(log_probs.to(device))

    want = gradient("cpu", "cpu")
    torch.testing.assert_close(gradient("remote", lengths_on).cpu(), want)


def _grad_and_hook_thread() -> tuple[torch.Tensor, int]:
    x = torch.ones(3, device="remote", requires_grad=True)
    seen = []
    x.register_hook(lambda grad: seen.append(threading.get_ident()))
    (x * torch.arange(3.0, device="remote")).sum().backward()
    return x.grad.cpu(), seen[0]


def test_backward_runs_on_the_thread_that_asks_as_on_the_cpu():
    grad, hook_thread = _grad_and_hook_thread()
    torch.testing.assert_close(grad, torch.arange(3.0))
    assert hook_thread == threading.get_ident()


def test_backward_from_another_thread_gives_the_same_gradient():
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        grad, _ = pool.submit(_grad_and_hook_thread).result(timeout=60)
    torch.testing.assert_close(grad, torch.arange(3.0))
