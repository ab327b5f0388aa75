"""The ``torch.remote`` module: device management for ``remote``, like ``torch.cuda``."""

from __future__ import annotations

from typing import Any

import torch

from . import _native

_current = 0


def is_available() -> bool:
    """Whether remote tensors can be made (always, once ``torch_remote`` is imported)."""
    return True


def is_initialized() -> bool:
    return True


def _is_in_bad_fork() -> bool:
    return False


def device_count() -> int:
    return _native.device_count()


def current_device() -> int:
    return _current


def set_device(device: int | str | torch.device) -> None:
    global _current
    index = torch.device(device).index if not isinstance(device, int) else device
    index = 0 if index is None else index
    if not 0 <= index < device_count():
        raise RuntimeError(f"remote:{index} does not exist ({device_count()} remote devices)")
    _current = index


def synchronize(device: Any = None) -> None:
    """Waits for every op sent so far; raises what failed on the host since the last wait."""
    _native.synchronize()


def manual_seed(seed: int) -> None:
    """Seeds the random ops of the remote device."""
    _native.manual_seed(int(seed) & 0xFFFF_FFFF_FFFF_FFFF)


def manual_seed_all(seed: int) -> None:
    manual_seed(seed)


def get_device_name(device: Any = None) -> str:
    """The name of what the host computes on, as the host reports it."""
    return _native.host_stats()["device_name"]


def memory_allocated(device: Any = None) -> int:
    """Bytes held by this process's remote storages, as the host counts them."""
    return _native.host_stats()["bytes"]


def stats() -> dict[str, int]:
    """Client-side counters: ops, batches, round_trips, bytes_up, bytes_down."""
    return dict(_native.client_stats())
