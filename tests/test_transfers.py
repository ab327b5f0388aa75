"""Copies between the CPU and remote: a whole storage is replaced by the bytes, anything
else goes through a copy kernel; downloads land in the destination directly when they can."""

import re

import pytest
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


def _tokens(text: str) -> list[str]:
    """`text` without the device suffix, split at whitespace (the suffix moves line breaks)."""
    return re.sub(r",\s*device='remote:0'", "", text).split()


@pytest.mark.parametrize(
    "make",
    [
        lambda: torch.randn(300, 400),
        lambda: torch.randn(40, 30, 20).transpose(0, 2),
        lambda: torch.arange(5000).reshape(2, 2500),
        lambda: torch.randn(7, 300, dtype=torch.complex64).conj(),
        lambda: torch.randn(2000).mul(1e6).neg(),
        lambda: torch.randn(2000) > 0,
    ],
    ids=["matrix", "transposed", "int64", "complex_conj", "sci", "bool"],
)
@pytest.mark.parametrize("edgeitems", [3, 0, 1])
def test_printing_a_summarised_tensor_downloads_only_what_it_shows(make, edgeitems):
    torch.manual_seed(0)
    cpu = make()
    remote = cpu.to("remote")
    torch.remote.synchronize()
    torch.set_printoptions(edgeitems=edgeitems)
    try:
        before = torch.remote.stats()["bytes_down"]
        printed = repr(remote)
        downloaded = torch.remote.stats()["bytes_down"] - before
        assert _tokens(printed) == _tokens(repr(cpu))
    finally:
        torch.set_printoptions(profile="default")
    shown = (2 * edgeitems + 1) ** cpu.dim()
    assert downloaded <= shown * cpu.element_size(), (downloaded, shown)


def test_printing_a_small_tensor_matches_the_cpu():
    cpu = torch.tensor([[1.5, -2.0, float("nan")], [float("inf"), 0.0, 1e-8]])
    assert _tokens(repr(cpu.to("remote"))) == _tokens(repr(cpu))


@pytest.mark.parametrize("dtype", [torch.uint16, torch.uint32, torch.uint64])
def test_a_cpu_dtype_remote_lacks_uploads_into_one_it_holds(dtype):
    # numpy's uint16 images, say: the copy converts them on the CPU on the way.
    values = torch.tensor([0, 1, 65535, 7], dtype=dtype)
    for target in (torch.float32, torch.int64):
        torch.testing.assert_close(values.to("remote", target).cpu(), values.to(target))
        into = torch.zeros(4, dtype=target, device="remote")
        into.copy_(values)
        torch.testing.assert_close(into.cpu(), values.to(target))
