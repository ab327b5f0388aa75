"""The seed snippets run unchanged and give CPU's values."""

import torch
import torch_remote  # noqa: F401


def test_seed_snippets_run_and_match_cpu():
    x = torch.randn(3, 3, device="remote")
    y = torch.randn(3, 3, device="remote")
    result = x + y
    text = str(result)
    assert text.startswith("tensor(") and "device='remote:0'" in text
    torch.testing.assert_close(result.cpu(), x.cpu() + y.cpu())
    assert torch.remote.is_available()
    assert torch.remote.device_count() == 1
    x = torch.randn(3, 3, dtype=torch.float32)
    y = x.to("remote", dtype=torch.float64, copy=True)
    assert y.device.type == "remote" and y.dtype == torch.float64
    torch.testing.assert_close(y.cpu(), x.double())


def test_random_fills_are_seeded_and_distributed():
    torch.remote.manual_seed(7)
    a = torch.randn(1000, device="remote").cpu()
    torch.remote.manual_seed(7)
    b = torch.randn(1000, device="remote").cpu()
    torch.testing.assert_close(a, b)
    assert abs(a.mean().item()) < 0.15 and 0.85 < a.std().item() < 1.15
    u = torch.rand(1000, device="remote").cpu()
    assert 0.0 <= u.min().item() and u.max().item() < 1.0


def test_model_to_remote_and_back():
    model = torch.nn.Linear(4, 2)
    reference = model(torch.ones(3, 4))
    model.to("remote")
    assert model.weight.device.type == "remote"
    out = model(torch.ones(3, 4, device="remote"))
    torch.testing.assert_close(out.cpu(), reference)


def test_default_dtype_is_followed():
    torch.set_default_dtype(torch.float64)
    try:
        assert torch.randn(3, device="remote").dtype == torch.float64
        assert torch.empty(2, device="remote").dtype == torch.float64
        halves = torch.arange(4).to("remote") / 2
        assert halves.dtype == torch.float64
        torch.testing.assert_close(halves.cpu(), torch.arange(4) / 2)
        assert (torch.arange(3).to("remote") * 1.5).dtype == torch.float64
    finally:
        torch.set_default_dtype(torch.float32)
    assert torch.randn(3, device="remote").dtype == torch.float32
