"""``torch.compile`` of code on ``remote``.

Inductor, torch.compile's default backend, generates Triton or C++ kernels for the devices it
knows and stops with a LoweringException on any other. The host runs aten ops, not generated
kernels, so a graph on ``remote`` goes through AOTAutograd without code generation (the
``aot_eager`` backend): Dynamo still captures it and AOTAutograd still traces its backward,
and each op streams to the host as in eager mode. Graphs on other devices compile as before.

Tracing runs ops on fake tensors, whose layouts must be the ones the ops will have: PyTorch's
fake convolution lays a PrivateUse1 output out contiguously, so a channels-last convolution
traced on ``remote`` takes the guest's layout instead (else a ``view`` traced after it fails
on the real, channels-last output).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch._subclasses import fake_impls
from torch.fx.operator_schemas import normalize_function
from torch.utils._pytree import tree_leaves

from . import _native

_BACKEND = "remote"
_warned = False


def _touches_remote(graph: torch.fx.GraphModule, inputs: Iterable[Any]) -> bool:
    """Whether any input or any value the graph computes is a tensor on ``remote``.

    Dynamo's graphs keep each node's fake value as ``example_value``; traced ones as ``val``.
    """
    nodes = graph.graph.nodes
    values = list(inputs) + [node.meta.get("val", node.meta.get("example_value")) for node in nodes]
    return any(
        isinstance(v, torch.Tensor) and v.device.type == _BACKEND for v in tree_leaves(values)
    )


def _say_once() -> None:
    global _warned
    if not _warned:
        _warned = True
        warnings.warn(
            "torch.compile: inductor generates no kernels for the remote device; its graphs "
            "run through AOTAutograd (backend='aot_eager'), op by op on the host",
            UserWarning,
            stacklevel=3,
        )


def inductor_or_aot_eager(compile_graph: Callable) -> Callable:
    """Wraps the inductor backend's ``__call__``: graphs on ``remote`` go to ``aot_eager``."""

    def __call__(self, graph, inputs, **kwargs):  # noqa: N807 (it replaces a method)
        if not _touches_remote(graph, inputs):
            return compile_graph(self, graph, inputs, **kwargs)
        from torch._dynamo.backends.registry import lookup_backend

        _say_once()
        return lookup_backend("aot_eager")(graph, inputs)

    return __call__


_CONVOLUTIONS = (
    torch.ops.aten.convolution.default,
    torch.ops.aten._convolution.default,
    torch.ops.aten.convolution_backward.default,
)


def _described(value: Any) -> Any:
    """An argument as ``_native.infer_layouts`` takes it: a tensor as (sizes, strides, dtype)."""
    if isinstance(value, torch.Tensor):
        return (list(value.shape), list(value.stride()), str(value.dtype).removeprefix("torch."))
    if isinstance(value, (list, tuple)):
        return [int(v) if isinstance(v, bool) else v for v in value]
    return value


def _concrete(value: Any) -> bool:
    """Whether an argument holds no symbolic size (dynamic shapes keep PyTorch's layout)."""
    leaves = tree_leaves(value)
    return all(not isinstance(v, (torch.SymInt, torch.SymFloat, torch.SymBool)) for v in leaves)


def _guest_layouts(func: torch._ops.OpOverload, args: tuple, kwargs: dict) -> list | None:
    """The layouts the guest gives `func`'s outputs, if it takes these arguments."""
    _, named = normalize_function(func, args, kwargs, normalize_to_only_use_kwargs=True)
    values = [_described(named.get(a.name, a.default_value)) for a in func._schema.arguments]
    if not _concrete(values):
        return None
    name = func._schema.name.split("::")[1]
    overload = "" if func._overloadname == "default" else func._overloadname
    if func is torch.ops.aten.convolution.default:
        # Which `_convolution` it calls, with cuDNN's choices left to the host.
        name, values = "_convolution", [*values, False, False, True, True]
    try:
        return _native.infer_layouts(name, overload, values)
    except (RuntimeError, NotImplementedError, ValueError, TypeError, IndexError):
        # The real op raises its own error when it runs; tracing keeps PyTorch's layout.
        return None


def _restrided(fake_mode, t: torch.Tensor | None, layout) -> torch.Tensor | None:
    if t is None or layout is None or tuple(t.stride()) == tuple(layout[1]):
        return t
    sizes, strides = layout
    with fake_mode:
        return torch.empty_strided(sizes, strides, dtype=t.dtype, device=t.device)


def guest_laid_out(impl: Callable) -> Callable:
    """Wraps a fake convolution: outputs on ``remote`` take the guest's layout."""

    def convolution(fake_mode, func, *args, **kwargs):
        out = impl(fake_mode, func, *args, **kwargs)
        outputs = out if isinstance(out, tuple) else (out,)
        if not any(t is not None and t.device.type == _BACKEND for t in outputs):
            return out
        layouts = _guest_layouts(func, args, kwargs)
        if layouts is None:
            return out
        if len(layouts) != len(outputs):
            return out
        pairs = zip(outputs, layouts, strict=True)
        laid_out = tuple(_restrided(fake_mode, t, lay) for t, lay in pairs)
        return laid_out if isinstance(out, tuple) else laid_out[0]

    return convolution


def lay_out_fake_convolutions() -> None:
    """Has torch.compile's fake convolutions on ``remote`` take the guest's layouts."""
    for op in _CONVOLUTIONS:
        fake_impls.op_implementations_dict[op] = guest_laid_out(
            fake_impls.op_implementations_dict[op]
        )
