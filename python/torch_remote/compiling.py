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
from torch.fx.experimental.symbolic_shapes import has_guarding_hint, optimization_hint
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


class _NoHint(Exception):
    """A symbolic size without an example value (data-dependent): PyTorch's layout stays."""


def _hinted(value: Any) -> Any:
    """A size as the trace's example has it (a symbolic one's hint, without a guard)."""
    if not isinstance(value, torch.SymInt):
        return value
    if not has_guarding_hint(value):
        raise _NoHint
    return optimization_hint(value)


def _described(value: Any) -> Any:
    """An argument as ``_native.infer_layouts`` takes it: a tensor as (sizes, strides, dtype),
    symbolic sizes by their hints."""
    if isinstance(value, torch.Tensor):
        sizes = [_hinted(s) for s in value.shape]
        strides = [_hinted(s) for s in value.stride()]
        return (sizes, strides, str(value.dtype).removeprefix("torch."))
    if isinstance(value, (list, tuple)):
        return [int(v) if isinstance(v, bool) else _hinted(v) for v in value]
    return _hinted(value)


def _guest_layouts(func: torch._ops.OpOverload, args: tuple, kwargs: dict) -> list | None:
    """The layouts the guest gives `func`'s outputs on the example's sizes, if it takes them."""
    _, named = normalize_function(func, args, kwargs, normalize_to_only_use_kwargs=True)
    try:
        values = [_described(named.get(a.name, a.default_value)) for a in func._schema.arguments]
    except _NoHint:
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


#: The channels-last format of each rank that has one.
_CHANNELS_LAST = {4: torch.channels_last, 5: torch.channels_last_3d}


def _memory_format(sizes: list[int], strides: list[int]) -> torch.memory_format | None:
    """The memory format whose strides for `sizes` are `strides`, if one is."""
    formats = [torch.contiguous_format]
    if len(sizes) in _CHANNELS_LAST:
        formats.append(_CHANNELS_LAST[len(sizes)])
    for fmt in formats:
        if torch.empty(sizes, device="meta", memory_format=fmt).stride() == tuple(strides):
            return fmt
    return None


def _restrided(fake_mode, t: torch.Tensor | None, layout) -> torch.Tensor | None:
    """`t` in the memory format of the guest's `layout`, on `t`'s own (maybe symbolic) sizes."""
    if t is None or layout is None:
        return t
    fmt = _memory_format(*layout)
    if fmt is None:
        return t
    with fake_mode:
        return torch.empty_like(t, memory_format=fmt)


def guest_laid_out(impl: Callable) -> Callable:
    """Wraps a fake convolution: outputs on ``remote`` take the guest's layout."""

    def convolution(fake_mode, func, *args, **kwargs):
        out = impl(fake_mode, func, *args, **kwargs)
        outputs = out if isinstance(out, tuple) else (out,)
        if not any(t is not None and t.device.type == _BACKEND for t in outputs):
            return out
        layouts = _guest_layouts(func, args, kwargs)
        if layouts is None or len(layouts) != len(outputs):
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
