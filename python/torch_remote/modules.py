"""``nn.Module.to("remote")`` (and back) keeps shared parameters and buffers shared.

PyTorch moves a module between the CPU and CUDA by replacing each parameter's data in place
(``param.data = moved``), so modules that share one ``Parameter`` (a language model's tied
embedding and output weights) still share it afterwards. For a PrivateUse1 device it cannot:
``_has_compatible_shallow_copy_type`` lists CUDA but not PrivateUse1 in torch 2.13, so each
module gets a new ``Parameter`` of its own, and the tie breaks silently (the optimizer then
updates two copies and each gets half the gradient). ``keep_ties`` restores the sharing
after every move that involves ``remote``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import torch

_BACKEND = "remote"
_moving = threading.local()

#: Where a module tree holds one tensor: (owning module, "_parameters" or "_buffers", name).
Place = tuple[torch.nn.Module, str, str]


def _shared(module: torch.nn.Module) -> list[list[Place]]:
    """The tensors held in more than one place in `module`'s tree, each with its places."""
    places: dict[int, list[Place]] = {}
    for owner in module.modules():
        for kind in ("_parameters", "_buffers"):
            for name, t in getattr(owner, kind).items():
                if t is not None:
                    places.setdefault(id(t), []).append((owner, kind, name))
    return [p for p in places.values() if len(p) > 1]


def _on_remote(t: torch.Tensor | None) -> bool:
    return t is not None and t.device.type == _BACKEND


def _held(place: Place) -> torch.Tensor | None:
    owner, kind, name = place
    return getattr(owner, kind).get(name)


def _retie(places: list[Place], was_remote: bool) -> None:
    """Points every place at the tensor the first holds, if a move onto or off `remote`
    split them."""
    tensors = [_held(p) for p in places]
    first = tensors[0]
    if first is None or all(t is first for t in tensors):
        return
    if not (was_remote or any(_on_remote(t) for t in tensors)):
        return
    for owner, kind, name in places[1:]:
        getattr(owner, kind)[name] = first


def keep_ties(apply: Callable) -> Callable:
    """`nn.Module._apply` that ties shared tensors again once the outermost call is done."""

    def _apply(self: torch.nn.Module, fn: Callable, recurse: bool = True):
        if getattr(_moving, "active", False) or not recurse:
            return apply(self, fn, recurse)
        shared = [(places, _on_remote(_held(places[0]))) for places in _shared(self)]
        _moving.active = True
        try:
            result = apply(self, fn, recurse)
        finally:
            _moving.active = False
        for places, was_remote in shared:
            _retie(places, was_remote)
        return result

    return _apply
