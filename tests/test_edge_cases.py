"""Edge cases found by the OpInfo run, kept as plain regressions."""

import torch
import torch.nn.functional as F
import torch_remote  # noqa: F401


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
