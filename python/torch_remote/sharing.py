"""Remote tensors sent to another process: a `multiprocessing` queue, a `DataLoader` worker's
batches, a dataset pickled for a `spawn` worker.

A CUDA tensor crosses by IPC and the receiver maps the same memory. A remote tensor's memory
is on a host the receiver may not even be connected to (each process has its own session), so
it crosses by value: the sender downloads it and the receiver uploads it to its own device of
the same index, as a tensor of its own (a view arrives laid out as `clone()` lays it out).
The bytes cross in `torch.save`'s format rather than in shared memory: the CPU copy is gone
once the message is written, before a spawned process maps it. PyTorch's reducer
failed on remote storages inside the queue's feeder thread, which only prints the error, so a
`DataLoader` whose workers returned remote tensors waited for ever.
"""

from __future__ import annotations

import io
from multiprocessing.reduction import ForkingPickler

import torch
import torch.multiprocessing.reductions as reductions
from torch.nn.parameter import Parameter


def _rebuild(saved: bytes, device: str, parameter: bool, requires_grad: bool):
    tensor = torch.load(io.BytesIO(saved), weights_only=True).to(device)
    if parameter:
        return Parameter(tensor, requires_grad=requires_grad)
    return tensor.requires_grad_(requires_grad)


def _reduce(tensor: torch.Tensor):
    if tensor.device.type != "remote":
        return reductions.reduce_tensor(tensor)
    if tensor.requires_grad and not tensor.is_leaf:
        # PyTorch's own refusal, in its words.
        return reductions.reduce_tensor(tensor)
    torch.utils.hooks.warn_if_has_hooks(tensor)
    saved = io.BytesIO()
    torch.save(tensor.detach().to("cpu"), saved)
    parameter = isinstance(tensor, Parameter)
    return _rebuild, (saved.getvalue(), str(tensor.device), parameter, tensor.requires_grad)


def _rebuild_storage(saved: bytes, device: str) -> torch.UntypedStorage:
    values = torch.load(io.BytesIO(saved), weights_only=True).untyped_storage()
    return torch.UntypedStorage(values.nbytes(), device=device).copy_(values)


def _reduce_storage(storage: torch.UntypedStorage):
    """A storage, as a tensor subclass or a `TypedStorage` sends its own: by value too."""
    if storage.device.type != "remote":
        return reductions.reduce_storage(storage)
    saved = io.BytesIO()
    torch.save(torch.empty(0, dtype=torch.uint8).set_(storage.cpu()), saved)
    return _rebuild_storage, (saved.getvalue(), str(storage.device))


def register() -> None:
    """Puts the reducers where PyTorch's `init_reductions` put its own."""
    ForkingPickler.register(torch.Tensor, _reduce)
    ForkingPickler.register(Parameter, _reduce)
    ForkingPickler.register(torch.UntypedStorage, _reduce_storage)
