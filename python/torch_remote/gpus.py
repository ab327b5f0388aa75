"""The GPU types torch-remote can ask a provider for, and picking the smallest that fits.

The one table of GPU figures in the project. Memory is per GPU; ``bf16_tflops`` is the
vendor's dense (no sparsity) BF16 tensor-core figure from its datasheet: NVIDIA prints the
sparse figure with an asterisk, and the dense one is half of it. The T4 (Turing) has no BF16
tensor cores: it is listed with 0 (its FP16 tensor figure is 65 TFLOP/s). The A10G is AWS's
variant of the A10; NVIDIA publishes only the A10's figures, which are used for both.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["GPUS", "GpuSpec", "GpuType", "device_for", "parse_gpu", "valid_names"]


@dataclass(frozen=True)
class GpuType:
    """One kind of GPU: its canonical name (as Modal spells it), memory and compute."""

    name: str
    memory_gb: float
    bf16_tflops: float
    source: str


#: Ordered smallest first: by memory, then by compute (the cheaper of two with equal memory).
GPUS: tuple[GpuType, ...] = (
    GpuType("T4", 16, 0.0, "NVIDIA T4 datasheet (no BF16; FP16 tensor 65)"),
    GpuType("L4", 24, 121.0, "NVIDIA L4 datasheet: BF16 242 sparse"),
    GpuType("A10G", 24, 125.0, "NVIDIA A10 datasheet: BF16 125 dense / 250 sparse"),
    GpuType("A100-40GB", 40, 312.0, "NVIDIA A100 datasheet: BF16 312 dense"),
    GpuType("L40S", 48, 362.0, "NVIDIA L40S datasheet: BF16 362.05 dense / 733 sparse"),
    GpuType("A100-80GB", 80, 312.0, "NVIDIA A100 datasheet: BF16 312 dense"),
    GpuType("H100", 80, 989.0, "NVIDIA H100 SXM datasheet: BF16 1979 sparse"),
    GpuType("H200", 141, 989.0, "NVIDIA H200 SXM datasheet: BF16 1979 sparse"),
    GpuType("B200", 180, 2250.0, "NVIDIA HGX B200 datasheet: BF16 36 PFLOPS sparse / 8 GPUs"),
)
GPUS = tuple(sorted(GPUS, key=lambda g: (g.memory_gb, g.bf16_tflops)))

_BY_NAME = {g.name.upper(): g for g in GPUS}
#: Other spellings accepted for a type.
ALIASES = {"A10": "A10G", "A100": "A100-40GB"}


def valid_names() -> list[str]:
    return [g.name for g in GPUS]


def _valid() -> str:
    aliases = ", ".join(f"{a} (= {n})" for a, n in ALIASES.items())
    return f"{', '.join(valid_names())}; also {aliases}; any of them with :N for N GPUs"


@dataclass(frozen=True)
class GpuSpec:
    """A GPU request: a type and how many of it (``H100:2``)."""

    type: GpuType
    count: int = 1

    @property
    def modal(self) -> str:
        """The string Modal's ``gpu=`` takes."""
        return self.type.name if self.count == 1 else f"{self.type.name}:{self.count}"

    def __str__(self) -> str:
        return self.modal


def parse_gpu(spec: str) -> GpuSpec:
    """``h100``, ``H100:2``, ``a10``: case-insensitive, with an optional count. Raises
    ValueError naming the valid types for anything else."""
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"no GPU type given ({spec!r}); valid types: {_valid()}")
    name, _, count_text = spec.strip().partition(":")
    key = name.strip().upper()
    key = ALIASES.get(key, key)
    gpu = _BY_NAME.get(key)
    if gpu is None:
        raise ValueError(f"unknown GPU type {name.strip()!r}; valid types: {_valid()}")
    count = 1
    if count_text:
        try:
            count = int(count_text)
        except ValueError:
            count = 0
        if not 1 <= count <= 8:
            raise ValueError(f"bad GPU count in {spec!r}: use {gpu.name}:N with N from 1 to 8")
    return GpuSpec(gpu, count)


def _configured() -> list[GpuType]:
    """The types routing may pick: ``TORCH_REMOTE_GPUS`` (comma-separated) or all."""
    text = os.environ.get("TORCH_REMOTE_GPUS", "").strip()
    if not text:
        return list(GPUS)
    return [parse_gpu(name).type for name in text.split(",") if name.strip()]


def device_for(
    memory_gb: float = 0.0,
    min_compute: float | None = None,
    *,
    choices: list[str] | None = None,
) -> str:
    """The smallest GPU type with at least ``memory_gb`` GB of memory and, if given,
    ``min_compute`` dense BF16 TFLOP/s. ``choices`` (names), else ``TORCH_REMOTE_GPUS``,
    else every type in :data:`GPUS`, is what may be picked. Raises ValueError when none fits,
    naming what each could offer."""
    if memory_gb is None or memory_gb < 0 or (min_compute is not None and min_compute < 0):
        raise ValueError(
            f"memory_gb and min_compute must be non-negative (got {memory_gb}, {min_compute})"
        )
    pool = [parse_gpu(name).type for name in choices] if choices is not None else _configured()
    if not pool:
        raise ValueError(f"no GPU types to choose from; valid types: {_valid()}")
    pool = sorted(set(pool), key=lambda g: (g.memory_gb, g.bf16_tflops))
    for gpu in pool:
        if gpu.memory_gb >= memory_gb and (min_compute is None or gpu.bf16_tflops >= min_compute):
            return gpu.name
    offered = ", ".join(f"{g.name} ({g.memory_gb:g} GB, {g.bf16_tflops:g} TFLOP/s)" for g in pool)
    want = f"{memory_gb:g} GB" + (f" and {min_compute:g} BF16 TFLOP/s" if min_compute else "")
    raise ValueError(f"no GPU type has {want}; the largest on offer: {offered}")
