"""``nn.Module.to("remote")`` (and back) keeps shared parameters shared, as CUDA's moves do.

PyTorch moves a module between the CPU and CUDA by replacing each parameter's data in place
(``param.data = moved``), so modules that share one ``Parameter`` (a language model's tied
embedding and output weights) still share it afterwards. For a PrivateUse1 device it cannot:
``_has_compatible_shallow_copy_type`` lists CUDA but not PrivateUse1 in torch 2.13, so each
module gets a new ``Parameter`` of its own, and the tie breaks silently (the optimizer then
updates two copies and each gets half the gradient). ``keep_ties`` restores the sharing after
every move involving ``remote`` that PyTorch makes in place between the CPU and CUDA: not one
from or to ``meta`` (``to_empty``), nor one under
``torch.__future__.set_overwrite_module_params_on_conversion(True)``, which split ties there
too. Buffers are left as ``_apply`` makes them: it converts a buffer once per module that
holds it, so a shared buffer ends up as separate copies on every device.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import torch

_BACKEND = "remote"
_moving = threading.local()

#: Devices whose tensors swap data in place with one another: PyTorch's dense backends
#: (`TensorImpl::has_compatible_shallow_copy_type`), with `remote` standing in for CUDA.
_IN_PLACE_DEVICES = frozenset({"cpu", "cuda", "hip", "xpu", "mps", "hpu", "mtia", _BACKEND})

#: Where a module tree holds one parameter: (owning module, name).
Place = tuple[torch.nn.Module, str]


def _shared(module: torch.nn.Module) -> list[list[Place]]:
    """The parameters held in more than one place in `module`'s tree, each with its places."""
    places: dict[int, list[Place]] = {}
    for owner in module.modules():
        for name, p in owner._parameters.items():
            if p is not None:
                places.setdefault(id(p), []).append((owner, name))
    return [p for p in places.values() if len(p) > 1]


def _held(place: Place) -> torch.Tensor | None:
    owner, name = place
    return owner._parameters.get(name)


def _moves_in_place(before: torch.Tensor, after: list[torch.Tensor | None]) -> bool:
    """Whether PyTorch would have kept `before` (with its ties) had `remote` been CUDA."""
    devices = {before.device.type} | {t.device.type for t in after if t is not None}
    return _BACKEND in devices and devices <= _IN_PLACE_DEVICES


def _retie(places: list[Place], before: torch.Tensor) -> None:
    """Points every place at the parameter the first holds, if a move onto or off `remote`
    split them where CUDA's would not have."""
    tensors = [_held(p) for p in places]
    first = tensors[0]
    if first is None or all(t is first for t in tensors):
        return
    if not _moves_in_place(before, tensors):
        return
    for owner, name in places[1:]:
        owner._parameters[name] = first


def keep_ties(apply: Callable) -> Callable:
    """`nn.Module._apply` that ties shared parameters again once the outermost call is done."""

    def _apply(self: torch.nn.Module, fn: Callable, recurse: bool = True):
        if getattr(_moving, "active", False) or not recurse:
            return apply(self, fn, recurse)
        overwrite = torch.__future__.get_overwrite_module_params_on_conversion()
        shared = [] if overwrite else [(places, _held(places[0])) for places in _shared(self)]
        _moving.active = True
        try:
            result = apply(self, fn, recurse)
        finally:
            _moving.active = False
        for places, before in shared:
            _retie(places, before)
        return result

    return _apply
