"""Copies between the CPU and remote: a whole storage is replaced by the bytes, anything
else goes through a copy kernel; downloads land in the destination directly when they can."""

import torch
import torch_remote  # noqa: F401

GEN = torch.Generator().manual_seed(0)
CPU = torch.randn(4, 6, generator=GEN)


def test_whole_uploads_replace_the_storage_and_views_follow():
    remote = torch.zeros(4, 6, device="remote")
    row = remote[1]
    remote.copy_(CPU)
    assert torch.equal(remote.cpu(), CPU)
    assert torch.equal(row.cpu(), CPU[1])
    assert torch.equal(CPU.to("remote").cpu(), CPU)


def test_partial_and_converting_uploads_copy_into_place():
    remote = torch.zeros(4, 6, device="remote")
    remote[1:3].copy_(CPU[:2])
    expected = torch.zeros(4, 6)
    expected[1:3] = CPU[:2]
    assert torch.equal(remote.cpu(), expected)
    remote.t().copy_(CPU.t())
    assert torch.equal(remote.cpu(), CPU)
    ints = torch.arange(24).reshape(4, 6)
    remote.copy_(ints)
    assert torch.equal(remote.cpu(), ints.float())
    wide = torch.zeros(8, device="remote")
    wide[:4].copy_(torch.ones(4))
    assert wide.cpu().tolist() == [1.0] * 4 + [0.0] * 4


def test_downloads_into_any_destination():
    remote = CPU.to("remote")
    ready = torch.empty(4, 6)
    ready.copy_(remote)
    assert torch.equal(ready, CPU)
    transposed = torch.empty(6, 4).t()
    transposed.copy_(remote)
    assert torch.equal(transposed, CPU)
    doubles = torch.empty(4, 6, dtype=torch.float64)
    doubles.copy_(remote)
    assert torch.equal(doubles, CPU.double())
    assert torch.equal(remote[:, 1:3].cpu(), CPU[:, 1:3])
    assert remote[:0].cpu().shape == (0, 6)


def test_non_blocking_copies_and_pinned_memory():
    remote = CPU.to("remote")
    down = remote.to("cpu", non_blocking=True)
    torch.remote.synchronize()
    assert down.is_pinned() and torch.equal(down, CPU)
    assert torch.equal(remote.to("cpu", torch.float64, non_blocking=True), CPU.double())
    assert not remote.cpu().is_pinned()
    pinned = CPU.pin_memory()
    assert pinned.is_pinned() and not CPU.is_pinned()
    assert torch.equal(pinned.to("remote", non_blocking=True).cpu(), CPU)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(CPU), batch_size=2, pin_memory=True
    )
    (batch,) = next(iter(loader))
    assert batch.is_pinned() and torch.equal(batch.to("remote").cpu(), CPU[:2])
