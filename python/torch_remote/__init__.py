"""torch-remote: a PyTorch device, ``remote``, whose tensors live on a GPU host elsewhere.

``import torch_remote`` registers the device. Ops go to the host named by
``TORCH_REMOTE_URL``/``TORCH_REMOTE_TOKEN``, or, when those are unset, to a local host process
started on first use. ``TORCH_REMOTE_PROVIDER=modal`` (with ``TORCH_REMOTE_GPU=H100``) starts or
reuses a host on Modal instead, as ``connect(provider="modal", gpu="H100")`` does.
``TORCH_REMOTE_DRY_RUN=1`` or ``with torch_remote.dry_run():`` needs no host at all: shapes,
strides and dtypes are exact, values cannot be read.
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

from . import _native, compiling, device, gpus, providers, sharing, transformer
from .gpus import device_for
from .providers import Endpoint, Provider

__all__ = [
    "Endpoint",
    "Provider",
    "connect",
    "device",
    "device_for",
    "dry_run",
    "gpus",
    "host_program",
    "providers",
    "requested_gpus",
]

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


#: The providers of ``remote:0``, ``remote:1``, ... after ``connect(provider=...)``.
_active: list[Provider] = []


def connect(
    url: str | None = None,
    token: str | None = None,
    *,
    dry_run: bool = False,
    provider: str | Provider | None = None,
    gpu: str | None = None,
    memory_gb: float | None = None,
    min_compute: float | None = None,
    devices: int | list | None = None,
    **options,
) -> Endpoint | list[Endpoint] | None:
    """Sends ops to the host at ``url`` (``tcp://host:port`` or ``tls://host:port``)
    presenting ``token``; without a url, to a local host started on first use; with
    ``dry_run``, nowhere.

    With ``provider`` (``"local"``, ``"host"``, ``"modal"`` or a :class:`Provider`), the
    provider gives the host: ``connect(provider="modal", gpu="H100")`` starts or reuses one on
    Modal, ``gpu="auto"`` with ``memory_gb``/``min_compute`` picks the smallest GPU type that
    fits (:func:`device_for`), and further keywords (``idle_timeout``, ``app_file``, ...) go
    to the provider. ``remote:0`` is then bound to that host, connected at once; the endpoint
    is returned.

    ``devices`` gives several remote devices, one host each: GPU types for Modal
    (``devices=["T4", "H100"]`` makes ``remote:0`` a T4 and ``remote:1`` an H100), URLs for
    ``provider="host"``, or a count (``provider="local", devices=2``); the endpoints are
    returned in device order."""
    if provider is None:
        if gpu is not None or memory_gb is not None or min_compute is not None or devices:
            provider = os.environ.get("TORCH_REMOTE_PROVIDER") or "modal"
        else:
            _release_active([])
            endpoints = [(url, token)] if url is not None else []
            _native.configure(endpoints=endpoints, dry_run=dry_run, host_program=host_program())
            return None
    if dry_run:
        raise ValueError("dry_run=True needs no provider: call connect(dry_run=True) alone")
    gpu, devices = requested_gpus(gpu, devices)
    chosen = providers.make_devices(
        provider,
        devices=devices,
        url=url,
        token=token,
        gpu=gpu,
        memory_gb=memory_gb,
        min_compute=min_compute,
        **options,
    )
    kept = _reuse(chosen)
    _release_active(kept)
    _active[:] = kept
    endpoints = providers.start_all(kept)
    _native.configure(
        endpoints=[(e.url, e.token) for e in endpoints],
        dry_run=False,
        host_program=host_program(),
    )
    for index, (endpoint, source) in enumerate(zip(endpoints, kept, strict=True)):
        _attach(index, endpoint, source)
    return endpoints if devices is not None else endpoints[0]


def requested_gpus(gpu: str | None, devices: int | list | None) -> tuple:
    """``gpu`` and ``devices`` as given, else from TORCH_REMOTE_GPU: one type (``H100``) is
    ``gpu``, a comma-separated list (``T4,H100``) is ``devices``."""
    from_env = os.environ.get("TORCH_REMOTE_GPU", "").strip()
    if gpu is not None or devices is not None or not from_env:
        return gpu, devices
    if "," in from_env:
        return None, [g.strip() for g in from_env.split(",") if g.strip()]
    return from_env, None


def _reuse(chosen: list[Provider]) -> list[Provider]:
    """``chosen``, with each provider that asks for a host an active one already gives
    replaced by that one (and so its host, if it still runs)."""
    kept: list[Provider] = []
    for new in chosen:
        old = next((p for p in _active if p.same_as(new) and p not in kept), None)
        kept.append(old or new)
    return kept


def _attach(index: int, endpoint: Endpoint, source: Provider) -> None:
    """Attaches ``remote:{index}`` now, so a wrong token or a lost tunnel shows here rather
    than at the first op."""
    if endpoint.url is None:
        return
    try:
        _native.synchronize(index)
    except RuntimeError as e:
        raise providers.ProviderError(
            f"cannot attach remote:{index} to the host from {source.describe()}: {e}"
        ) from e
    providers.say(
        f"connected: remote:{index} is {device.get_device_name(index)} via {source.describe()}",
        verbose=getattr(source, "verbose", False),
    )


def _release_active(keep: list[Provider]) -> None:
    """Stops the active providers not in ``keep``."""
    previous = [p for p in _active if p not in keep]
    _active.clear()
    for p in previous:
        p.stop()


def _at_exit() -> None:
    # A forked child's providers are its parent's to stop.
    if _native.is_forked():
        return
    for p in _active:
        p.at_exit()


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
    """Printing reads values: one download, then PyTorch's CPU formatting. A tensor PyTorch
    summarises downloads only the elements the summary shows."""

    def tensor_str(self: torch.Tensor, indent: int) -> str:
        if self.device.type != _BACKEND:
            return original(self, indent)
        if self.numel() <= torch._tensor_str.PRINT_OPTS.threshold:
            return original(self.to("cpu"), indent)
        return _summarised_str(_edges_on_cpu(self), indent)

    return tensor_str


def _edges_on_cpu(self: torch.Tensor) -> torch.Tensor:
    """The elements a summary of `self` shows, with one more in the middle of each dim it
    elides (which the summary skips but needs to print its "..."), on the CPU."""
    edge = torch._tensor_str.PRINT_OPTS.edgeitems
    with torch.no_grad():
        for dim, size in enumerate(self.shape):
            if size > 2 * edge:
                kept = [*range(edge + 1), *range(size - edge, size)]
                self = self.index_select(dim, torch.tensor(kept, device=self.device))
        return self.to("cpu")


def _summarised_str(edges: torch.Tensor, indent: int) -> str:
    """PyTorch's summarised `_tensor_str` of a tensor whose edges are `edges`' own."""
    ts = torch._tensor_str
    if edges.dtype.is_complex:
        edges = edges.resolve_conj()
        real = ts._Formatter(ts.get_summarized_data(edges.real))
        imag = ts._Formatter(ts.get_summarized_data(edges.imag))
        return ts._tensor_str_with_formatter(edges, indent, True, real, imag)
    formatter = ts._Formatter(ts.get_summarized_data(edges))
    return ts._tensor_str_with_formatter(edges, indent, True, formatter)


def _dlpack_device_named(original):
    """PyTorch gives PrivateUse1 tensors DLPack's extension device only while the backend is
    called `privateuse1`; once renamed, `from_dlpack(t)` refused them, though `__dlpack__`
    makes a capsule of that device."""

    def dlpack_device(self: torch.Tensor) -> tuple:
        if self.device.type != _BACKEND:
            return original(self)
        return (torch.utils.dlpack.DLDeviceType.kDLExtDev, self.device.index or 0)

    return dlpack_device


def _register() -> None:
    torch.utils.rename_privateuse1_backend(_BACKEND)
    _native.register()
    torch._register_device_module(_BACKEND, device)
    torch.utils.generate_methods_for_privateuse1_backend(
        for_tensor=True, for_module=True, for_storage=True
    )
    torch._tensor_str._tensor_str = _format_on_cpu(torch._tensor_str._tensor_str)
    torch.Tensor.__dlpack_device__ = _dlpack_device_named(torch.Tensor.__dlpack_device__)
    encoder = torch.nn.TransformerEncoder
    encoder.__call__ = transformer.padded_not_nested(torch.nn.Module.__call__)
    inductor = torch._TorchCompileInductorWrapper
    inductor.__call__ = compiling.inductor_or_aot_eager(inductor.__call__)
    compiling.lay_out_fake_convolutions()
    sharing.register()
    # A remote graph's backward runs on the thread that asks for it, as a CPU graph's does,
    # not on the engine's thread for the device: handing every node over to that thread and
    # waiting for it costs each MLP training step about 0.1 ms on the client (issue #4).
    # The setting is this thread's own; backward from other threads uses the device thread.
    torch.autograd.set_multithreading_enabled(False)
    os.register_at_fork(after_in_child=_native.after_fork_in_child)
    atexit.register(_at_exit)
    url = os.environ.get("TORCH_REMOTE_URL") or None
    token = os.environ.get("TORCH_REMOTE_TOKEN") or None
    dry = os.environ.get("TORCH_REMOTE_DRY_RUN", "") not in ("", "0")
    provider = os.environ.get("TORCH_REMOTE_PROVIDER", "").strip().lower()
    if provider and provider != "local" and not dry:
        # TORCH_REMOTE_PROVIDER=modal TORCH_REMOTE_GPU=H100: the host is started (or reused)
        # now, as connect(provider="modal", gpu="H100") would.
        connect(url, token, provider=provider)
    else:
        connect(url, token, dry_run=dry)


_register()
