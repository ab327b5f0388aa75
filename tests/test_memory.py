"""Storages freed on the client are freed on the host."""

import gc

import pytest
import torch
import torch_remote
from conftest import with_round_trips


def host_bytes() -> int:
    """The bytes the host holds for this client, asked of it (after the ops sent)."""
    return torch.remote.memory_stats()["allocated_bytes.all.current"]


def test_deleting_tensors_frees_host_memory():
    gc.collect()
    torch.remote.synchronize()
    before = host_bytes()
    tensors = [torch.empty(1 << 20, device="remote") for _ in range(100)]
    during = host_bytes()
    assert during - before >= 100 * 4 * (1 << 20)
    del tensors
    gc.collect()
    torch.remote.synchronize()
    assert host_bytes() == before


def test_memory_allocated_is_the_hosts_count_without_a_round_trip():
    x = torch.randn(300, 300).to("remote")
    steps = [
        lambda: None,
        lambda: x.__setitem__(x > 0, 0.0),
        lambda: x.resize_(400, 400),
        lambda: torch.unique(x.round()),
        lambda: x.t().contiguous().sum(),
        lambda: x[10:20].clone(),
    ]
    for step in steps:
        kept = step()
        counted, trips = with_round_trips(torch.remote.memory_allocated)
        assert trips == 0
        assert counted == host_bytes()
        del kept
    assert with_round_trips(torch.remote.memory_reserved) == (host_bytes(), 0)
    # A dry run's storages count while it lasts, never on the host.
    before = torch.remote.memory_allocated()
    with torch_remote.dry_run():
        dry = torch.ones(1000, device="remote")
        assert torch.remote.memory_allocated() == before + 4000
        assert torch.remote.get_device_name() == "dry run (no host)"
    assert torch.remote.memory_allocated() == before == host_bytes()
    del dry
    torch.remote.get_device_name()
    names, trips = with_round_trips(
        lambda: (torch.remote.get_device_name(), torch.remote.get_device_properties())
    )
    assert trips == 0
    assert names[1].name == names[0] == torch.remote._native.host_stats(0)["device_name"]


def test_memory_freed_within_a_batch_comes_back_in_program_order():
    # CUDA's allocator has each intermediate back as soon as Python drops it; the host must
    # too, not at the end of the batch the ops travel in.
    n = 1 << 20
    y = torch.ones(n, device="remote")
    torch.remote.synchronize()
    torch.remote.reset_peak_memory_stats()
    before = torch.remote.memory_allocated()
    for _ in range(40):
        y = y * 1.0001
    torch.remote.synchronize()
    assert torch.remote.max_memory_allocated() - before <= 4 * n
    want = torch.ones(n)
    for _ in range(40):
        want = want * 1.0001
    torch.testing.assert_close(y.cpu(), want, rtol=0, atol=0)


def test_memory_the_host_keeps_for_reuse_holds_each_new_tensors_values():
    # A CPU host keeps freed blocks of 1 MiB or more and hands them to the next storage of
    # that size: uploads and results written there must read back as themselves.
    n = 1 << 20
    for i in range(6):
        cpu = torch.randn(n)
        uploaded = cpu.to("remote")
        doubled = uploaded * 2
        torch.testing.assert_close(uploaded.cpu(), cpu, rtol=0, atol=0)
        torch.testing.assert_close(doubled.cpu(), cpu * 2, rtol=0, atol=0)
        if i == 3:
            del uploaded, doubled
            torch.remote.empty_cache()
    assert torch.empty(n, device="remote").fill_(i).cpu().eq(i).all()


def test_host_memory_running_out_is_an_out_of_memory_error_as_on_cuda():
    kept = torch.ones(10, device="remote")
    torch.remote.synchronize()
    peak = torch.remote.max_memory_allocated()
    with pytest.raises(torch.OutOfMemoryError, match="cannot allocate 17592186044416 bytes"):
        torch.empty(2**42, device="remote")  # 16 TiB: more than any host has
        torch.remote.synchronize()
    assert torch.remote.max_memory_allocated() == peak  # as CUDA, a failed one never counts
    torch.testing.assert_close(kept.cpu(), torch.ones(10))


def test_freed_generators_leave_the_others_states_alone():
    # The host forgets each freed generator's state, so a live one outlasts any number of
    # short-lived ones.
    kept = torch.Generator(device="remote").manual_seed(5)
    first = torch.rand(3, device="remote", generator=kept).cpu()
    for _ in range(4200):
        torch.rand(1, device="remote", generator=torch.Generator(device="remote"))
    again = torch.Generator(device="remote").manual_seed(5)
    torch.rand(3, device="remote", generator=again)
    expected = torch.rand(3, device="remote", generator=again).cpu()
    assert kept.initial_seed() == 5
    torch.testing.assert_close(torch.rand(3, device="remote", generator=kept).cpu(), expected)
    assert not torch.equal(expected, first)
