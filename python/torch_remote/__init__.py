"""torch-remote: a PyTorch device, ``remote``, whose tensors live on a GPU host elsewhere.

``import torch_remote`` registers the device. Ops go to the host named by
``TORCH_REMOTE_URL``/``TORCH_REMOTE_TOKEN``, or, when those are unset, to a local host process
started on first use. ``TORCH_REMOTE_DRY_RUN=1`` or ``with torch_remote.dry_run():`` needs no
host at all: shapes, strides and dtypes are exact, values cannot be read.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import torch

from . import _native, device

__all__ = ["connect", "device", "dry_run", "host_program"]

_BACKEND = "remote"


def host_program() -> str | None:
    """The ``torch-remote-host`` program for the embedded local host, if one is installed."""
    explicit = os.environ.get("TORCH_REMOTE_HOST_PROGRAM")
    if explicit:
        return explicit
    beside_python = Path(sys.executable).with_name("torch-remote-host")
    if beside_python.exists():
        return str(beside_python)
    return shutil.which("torch-remote-host")


def connect(url: str | None = None, token: str | None = None, *, dry_run: bool = False) -> None:
    """Sends ops to the host at ``url`` (``tcp://host:port``) presenting ``token``; without a
    url, to a local host started on first use; with ``dry_run``, nowhere."""
    _native.configure(url=url, token=token, dry_run=dry_run, host_program=host_program())


@contextlib.contextmanager
def dry_run() -> Iterator[None]:
    """Runs the block without a host: every op is checked and shaped by the guest, and
    reading a value raises a RuntimeError."""
    was = _native.is_dry_run()
    _native.set_dry_run(True)
    try:
        yield
    finally:
        _native.set_dry_run(was)


def _format_on_cpu(original):
    """Printing reads values: one download, then PyTorch's CPU formatting."""

    def tensor_str(self: torch.Tensor, indent: int) -> str:
        if self.device.type == _BACKEND:
            self = self.to("cpu")
        return original(self, indent)

    return tensor_str


def _register() -> None:
    torch.utils.rename_privateuse1_backend(_BACKEND)
    _native.register()
    torch._register_device_module(_BACKEND, device)
    torch.utils.generate_methods_for_privateuse1_backend(
        for_tensor=True, for_module=True, for_storage=True
    )
    torch._tensor_str._tensor_str = _format_on_cpu(torch._tensor_str._tensor_str)
    connect(
        os.environ.get("TORCH_REMOTE_URL") or None,
        os.environ.get("TORCH_REMOTE_TOKEN") or None,
        dry_run=os.environ.get("TORCH_REMOTE_DRY_RUN", "") not in ("", "0"),
    )
    atexit.register(_native.shutdown)


_register()
