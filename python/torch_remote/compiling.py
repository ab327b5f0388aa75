"""``torch.compile`` of code on ``remote``.

Inductor, torch.compile's default backend, generates Triton or C++ kernels for the devices it
knows and stops with a LoweringException on any other. The host runs aten ops, not generated
kernels, so a graph on ``remote`` goes through AOTAutograd without code generation (the
``aot_eager`` backend): Dynamo still captures it and AOTAutograd still traces its backward,
and each op streams to the host as in eager mode. Graphs on other devices compile as before.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch.utils._pytree import tree_leaves

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
