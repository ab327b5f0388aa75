"""Storages freed on the client are freed on the host."""

import gc

import torch
import torch_remote  # noqa: F401


def test_deleting_tensors_frees_host_memory():
    gc.collect()
    torch.remote.synchronize()
    before = torch.remote.memory_allocated()
    tensors = [torch.empty(1 << 20, device="remote") for _ in range(100)]
    during = torch.remote.memory_allocated()
    assert during - before >= 100 * 4 * (1 << 20)
    del tensors
    gc.collect()
    torch.remote.synchronize()
    assert torch.remote.memory_allocated() == before
