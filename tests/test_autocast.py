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


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("layer", ["attention", "encoder layer"])
def test_fused_inference_paths_run_in_the_lower_precision(layer, dtype):
    # Under remote's autocast, as under the CPU's, PyTorch takes these modules' fused path
    # in inference (`torch.is_autocast_enabled()` asks about CUDA only).
    torch.manual_seed(0)
    if layer == "attention":
        module = torch.nn.MultiheadAttention(8, 2, batch_first=True)
    else:
        module = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    module.eval()
    x = torch.randn(2, 5, 8)

    def run(device):
        on_device = module.to(device)
        with torch.no_grad(), torch.autocast(device, dtype=dtype):
            xs = x.to(device)
            out = (
                on_device(xs, xs, xs, need_weights=False)[0]
                if layer == "attention"
                else on_device(xs)
            )
        return out.cpu()

    cpu, remote = run("cpu"), run("remote")
    assert remote.dtype == cpu.dtype == dtype
    torch.testing.assert_close(remote.float(), cpu.float(), atol=3e-2, rtol=3e-2)


def test_binary_cross_entropy_is_refused_as_cuda_refuses_it():
    probs = torch.rand(3, generator=GEN).to("remote")
    with torch.autocast(device_type="remote", dtype=torch.float16):
        with pytest.raises(RuntimeError, match="unsafe to autocast"):
            F.binary_cross_entropy(probs.half(), probs.half())
        with pytest.raises(RuntimeError, match="BCEWithLogitsLoss"):
            torch.nn.BCELoss()(torch.sigmoid(probs @ torch.ones(3, 3, device="remote")), probs)
        logits = F.binary_cross_entropy_with_logits(probs, probs)
    assert logits.dtype == torch.float32
    torch.testing.assert_close(
        logits.cpu(), F.binary_cross_entropy_with_logits(probs.cpu(), probs.cpu())
    )


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


def test_unscale_kernel_flags_non_finite_gradients_as_cpu():
    grads = [torch.tensor([1.0, 2.0, float("inf")]), torch.tensor([[4.0, float("nan")]])]
    for bad in (False, True):
        cpu = [g.clone() if bad else g.nan_to_num(0.0, 0.0, 0.0) for g in grads]
        remote = [g.to("remote") for g in cpu]
        found, inv = torch.zeros(1), torch.full((), 0.25)
        found_r = found.to("remote")
        torch._amp_foreach_non_finite_check_and_unscale_(cpu, found, inv)
        torch._amp_foreach_non_finite_check_and_unscale_(remote, found_r, inv.to("remote"))
        assert found_r.item() == found.item() == float(bad)
        for r, c in zip(remote, cpu, strict=True):
            torch.testing.assert_close(r.cpu(), c, equal_nan=True)


def test_unscale_kernel_refuses_a_double_inv_scale():
    grads = [torch.ones(2, device="remote")]
    found = torch.zeros(1, device="remote")
    with pytest.raises(RuntimeError, match="inv_scale must be a float tensor"):
        torch._amp_foreach_non_finite_check_and_unscale_(
            grads, found, torch.ones((), dtype=torch.float64, device="remote")
        )
    assert grads[0].cpu().tolist() == [1.0, 1.0]


OPTIMIZERS = {
    "sgd": lambda p: torch.optim.SGD(p, lr=0.1),
    # A fused optimizer takes the scale and the inf flag itself (`_fused_adamw_`).
    "fused-adamw": lambda p: torch.optim.AdamW(p, lr=0.01, fused=True),
}


def scaled_training(device, init_scale, data_scale, optimizer="sgd", steps=6):
    """Losses and scales of a training loop under `torch.amp.GradScaler`, and the weights."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
    model.to(device)
    optimizer = OPTIMIZERS[optimizer](model.parameters())
    scaler = torch.amp.GradScaler(device, init_scale=init_scale, growth_interval=2)
    x = torch.randn(32, 8, generator=torch.Generator().manual_seed(1)).mul(data_scale).to(device)
    y = torch.arange(32).remainder(4).to(device)
    history = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        history.append((loss.item(), scaler.get_scale()))
    return history, [p.detach().cpu() for p in model.parameters()]


@pytest.mark.parametrize(
    ("init_scale", "data_scale"),
    [(2.0**16, 1.0), (1e38, 1.0), (1e38, 100.0)],
    ids=["grows", "stops-short-of-inf", "gradients-overflow"],
)
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_grad_scaler_trains_as_on_cpu(init_scale, data_scale, optimizer):
    cpu_history, cpu_weights = scaled_training("cpu", init_scale, data_scale, optimizer)
    remote_history, remote_weights = scaled_training("remote", init_scale, data_scale, optimizer)
    assert [s for _, s in remote_history] == [s for _, s in cpu_history]
    torch.testing.assert_close(
        [loss for loss, _ in remote_history], [loss for loss, _ in cpu_history]
    )
    for r, c in zip(remote_weights, cpu_weights, strict=True):
        torch.testing.assert_close(r, c)
