"""The ``torch.remote`` module: device management for ``remote``, like ``torch.cuda``.

Each remote device (``remote:0``, ``remote:1``, ...) is one host; what a function reports
about a device comes from that host."""

from __future__ import annotations

import contextlib
import random
import struct
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch

from . import _native

#: A random state's bytes: the seed and the count of random ops since, little-endian.
_RNG_STATE = struct.Struct("<QQ")


def is_available() -> bool:
    """Whether remote tensors can be made (always, once ``torch_remote`` is imported)."""
    return True


def is_initialized() -> bool:
    return True


def _is_in_bad_fork() -> bool:
    """Whether this is a forked child of a process that used remote (which it cannot use)."""
    return _native.is_forked()


def device_count() -> int:
    return _native.device_count()


def current_device() -> int:
    return _native.current_device()


def _index(device: Any = None) -> int:
    """The index ``device`` (None, an int, ``"remote:1"`` or a ``torch.device``) names,
    checked against the devices there are."""
    if device is None:
        return current_device()
    if isinstance(device, int):
        index = device
    else:
        device = torch.device(device)
        if device.type != "remote":
            raise ValueError(f"{device} is not a remote device")
        index = current_device() if device.index is None else device.index
    if not 0 <= index < device_count():
        raise RuntimeError(f"remote:{index} does not exist ({device_count()} remote devices)")
    return index


def set_device(device: int | str | torch.device) -> None:
    """Makes ``device`` the one that ``device="remote"`` (without an index) means in this
    thread, as ``torch.cuda.set_device`` does in CUDA's."""
    _native.set_device(_index(device))


class device:  # noqa: N801 (the name torch.cuda.device has)
    """``with torch.remote.device(1):`` makes ``remote:1`` current inside the block."""

    def __init__(self, device: Any) -> None:
        self.index = _index(device)
        self.previous = -1

    def __enter__(self) -> None:
        self.previous = current_device()
        set_device(self.index)

    def __exit__(self, *exc: object) -> None:
        set_device(self.previous)


class device_of(device):  # noqa: N801 (the name torch.cuda.device_of has)
    """``with torch.remote.device_of(t):`` makes ``t``'s remote device current inside the
    block; for a tensor on another device it does nothing."""

    def __init__(self, obj: torch.Tensor) -> None:
        self.index = obj.get_device() if obj.device.type == "remote" else -1
        self.previous = -1

    def __enter__(self) -> None:
        if self.index >= 0:
            super().__enter__()

    def __exit__(self, *exc: object) -> None:
        if self.index >= 0:
            super().__exit__(*exc)


def synchronize(device: Any = None) -> None:
    """Waits for every op sent so far to ``device`` (the current one by default); raises
    what failed on its host since the last wait."""
    _native.synchronize(_index(device))


#: Read by ``torch.utils.checkpoint``: it saves and restores the random state only of device
#: modules that say they are initialised.
_initialized = True


def manual_seed(seed: int) -> None:
    """Seeds the random ops of the current remote device. In a forked child, which cannot
    use the device, nothing: CUDA's seeding queues the call there, and a DataLoader's
    ``worker_init_fn`` may seed every device."""
    if not _native.is_forked():
        _native.set_rng_state(current_device(), int(seed) & 0xFFFF_FFFF_FFFF_FFFF)


def manual_seed_all(seed: int) -> None:
    """Seeds the random ops of every remote device (in a forked child, nothing)."""
    if _native.is_forked():
        return
    for index in range(device_count()):
        _native.set_rng_state(index, int(seed) & 0xFFFF_FFFF_FFFF_FFFF)


def seed() -> None:
    """Seeds the current remote device with a random number."""
    manual_seed(random.getrandbits(64))


def seed_all() -> None:
    """Seeds every remote device with one random number, as ``torch.cuda.seed_all``."""
    manual_seed_all(random.getrandbits(64))


def initial_seed() -> int:
    """The seed the current remote device's random ops were last seeded with."""
    return _native.host_stats(current_device())["rng"][0]


def get_rng_state(device: Any = "remote") -> torch.Tensor:
    """The random state of ``device``'s host as a CPU ``uint8`` tensor, as
    ``torch.cuda.get_rng_state`` gives it: its seed and how many random ops ran since it was
    set. Waits for the ops sent before it."""
    seed, offset = _native.host_stats(_index(device))["rng"]
    return torch.frombuffer(bytearray(_RNG_STATE.pack(seed, offset)), dtype=torch.uint8)


def set_rng_state(new_state: torch.Tensor, device: Any = "remote") -> None:
    """Puts ``device``'s random state back to one ``get_rng_state`` (or a remote
    ``Generator.get_state``) gave: the random ops after it draw what they drew then."""
    is_bytes = isinstance(new_state, torch.Tensor) and new_state.dtype == torch.uint8
    if not is_bytes or new_state.device.type != "cpu":
        raise TypeError("RNG state must be a torch.ByteTensor")
    if new_state.numel() != _RNG_STATE.size:
        raise RuntimeError(
            f"RNG state is wrong size: a remote random state is {_RNG_STATE.size} bytes, "
            f"got {new_state.numel()}"
        )
    seed, offset = _RNG_STATE.unpack(bytes(new_state.reshape(-1).tolist()))
    _native.set_rng_state(_index(device), seed, offset)


def get_rng_state_all() -> list[torch.Tensor]:
    return [get_rng_state(index) for index in range(device_count())]


def set_rng_state_all(new_states: list[torch.Tensor]) -> None:
    for index, state in enumerate(new_states):
        set_rng_state(state, index)


@dataclass(frozen=True)
class DeviceProperties:
    """What a remote device's host computes on, as that host reports it."""

    name: str
    #: Bytes of memory (the machine's RAM when the host computes on its CPU).
    total_memory: int
    #: CUDA compute capability; (0, 0) on a CPU host.
    major: int
    minor: int
    #: The host's own name for it: ``cuda:0`` or ``cpu``.
    host_device: str


def get_device_properties(device: Any = None) -> DeviceProperties:
    stats = _native.hardware(_index(device))
    major, minor = stats["capability"]
    return DeviceProperties(
        name=stats["device_name"],
        total_memory=stats["total_memory"],
        major=major,
        minor=minor,
        host_device=stats["device"],
    )


def mem_get_info(device: Any = None) -> tuple[int, int]:
    """(free, total) bytes of the host's device, as ``torch.cuda.mem_get_info`` gives them
    (available and total RAM when the host computes on its CPU)."""
    stats = _native.host_stats(_index(device))
    return stats["free_memory"], stats["total_memory"]


def get_device_name(device: Any = None) -> str:
    """The name of what the host computes on, as the host reports it."""
    return _native.hardware(_index(device))["device_name"]


def get_device_capability(device: Any = None) -> tuple[int, int]:
    return tuple(_native.hardware(_index(device))["capability"])


def memory_allocated(device: Any = None) -> int:
    """Bytes held by this process's storages on ``device``, as its host counts them once it
    has run the ops sent: known on the client, so reading it waits for nothing."""
    return _native.memory_allocated(_index(device))


def max_memory_allocated(device: Any = None) -> int:
    """The most bytes this process's storages on ``device`` held at once, since the session
    began or the last ``reset_peak_memory_stats``, as the host counts them: with the
    temporaries inside ops, as CUDA's allocator counts them. Waits for the ops before it."""
    return _native.host_stats(_index(device))["peak_bytes"]


def memory_reserved(device: Any = None) -> int:
    """The same as ``memory_allocated``: what the host process keeps for reuse (see
    ``empty_cache``) is shared by all its clients, so no one client's."""
    return memory_allocated(device)


def max_memory_reserved(device: Any = None) -> int:
    return max_memory_allocated(device)


def reset_peak_memory_stats(device: Any = None) -> None:
    _native.reset_peak_memory(_index(device))


def empty_cache() -> None:
    """Has the current device's host free the memory of released storages that it keeps for
    reuse (a CPU host keeps large blocks, up to ``--cpu-cache-bytes``)."""
    _native.empty_cache(_index(None))


def memory_stats(device: Any = None) -> dict[str, Any]:
    """The host's figures for this client's storages on ``device`` (current and peak bytes),
    under ``torch.cuda.memory_stats``' keys (``allocated_bytes.all.current``, ...). Waits for
    the ops before it."""
    return torch.accelerator.memory_stats(torch.device("remote", _index(device)))


def reset_accumulated_memory_stats(device: Any = None) -> None:
    torch.accelerator.reset_accumulated_memory_stats(torch.device("remote", _index(device)))


def reset_max_memory_allocated(device: Any = None) -> None:
    """Deprecated, as ``torch.cuda``'s: resets every peak."""
    warnings.warn(
        "torch.remote.reset_max_memory_allocated now calls "
        "torch.remote.reset_peak_memory_stats, which resets /all/ peak memory stats.",
        FutureWarning,
        stacklevel=2,
    )
    reset_peak_memory_stats(device)


def is_bf16_supported() -> bool:
    return True


class _OnRemote(type):
    """``isinstance(x, torch.remote.Stream)``: ``x`` is a ``torch.Stream`` (or ``torch.Event``)
    on a remote device. The objects themselves are PyTorch's own, whose methods take no
    subclass of them."""

    def __instancecheck__(cls, obj: object) -> bool:
        return isinstance(obj, cls.base) and obj.device.type == "remote"


class Stream(metaclass=_OnRemote):
    """A new stream on ``device`` (None: the current remote device), as ``torch.cuda.Stream``
    is on CUDA. Its ops still run in order with all others: a remote device runs every op in
    the order it was sent, and streams only name them."""

    base = torch.Stream

    def __new__(cls, device: Any = None, priority: int = 0) -> torch.Stream:
        return torch.Stream(torch.device("remote", _index(device)), priority=priority)


def current_stream(device: Any = None) -> torch.Stream:
    """This thread's current stream on ``device``."""
    return torch.accelerator.current_stream(torch.device("remote", _index(device)))


def default_stream(device: Any = None) -> torch.Stream:
    index = _index(device)
    return torch.Stream(
        stream_id=0, device_index=index, device_type=current_stream(index).device_type
    )


@contextlib.contextmanager
def stream(s: torch.Stream | None) -> Iterator[None]:
    """Makes ``s`` this thread's current stream for the block."""
    if s is None:
        yield
        return
    previous = torch.accelerator.current_stream(s.device)
    torch.accelerator.set_stream(s)
    try:
        yield
    finally:
        torch.accelerator.set_stream(previous)


def set_stream(s: torch.Stream) -> None:
    """Makes ``s`` this thread's current stream on its device."""
    torch.accelerator.set_stream(s)


class Event(metaclass=_OnRemote):
    """A ``torch.Event`` on the current remote device, as ``torch.cuda.Event`` is on CUDA.
    With ``enable_timing=True``, ``record()`` waits for the ops sent before it, so
    ``elapsed_time`` is the host's time for the ops between two events plus a round trip;
    other events wait only in ``synchronize()`` or ``query()``."""

    base = torch.Event

    def __new__(
        cls, enable_timing: bool = False, blocking: bool = False, interprocess: bool = False
    ) -> torch.Event:
        return torch.Event(
            torch.device("remote", current_device()),
            enable_timing=enable_timing,
            blocking=blocking,
            interprocess=interprocess,
        )


def stats() -> dict[str, int]:
    """Client-side counters over all remote devices: ops, batches, round_trips, bytes_up,
    bytes_down."""
    return dict(_native.client_stats())


def get_amp_supported_dtype() -> list[torch.dtype]:
    """The dtypes ``torch.autocast(device_type="remote")`` may compute in, as on CUDA."""
    return [torch.float16, torch.bfloat16]
