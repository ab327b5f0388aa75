"""``nn.TransformerEncoder`` in inference with a padding mask, on ``remote``.

There PyTorch packs the batch into a nested tensor (each sequence without its padding), runs
the layers on it, and pads the result back with zeros before the final norm. Nested tensors
have no PrivateUse1 kernels, so on ``remote`` the layers run on the padded batch with the
padding mask instead (the same attention, as the padded keys are masked out), and the
padded positions are zeroed where the nested path would have padded them: the result is the
one CPU and CUDA give. The path is taken under exactly the conditions of torch 2.13's
``TransformerEncoder.forward``. The wrapper sits on ``__call__`` so that ``forward`` stays
PyTorch's own, which ``torch.jit.script`` compiles.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

_BACKEND = "remote"


def _left_aligned(padding: torch.Tensor) -> bool:
    """Whether each row of `padding` (true or nonzero where padded) pads only at its end."""
    valid = padding.logical_not()
    return bool((valid[:, 1:] <= valid[:, :-1]).all())


def _packs(encoder, src, mask, padding) -> bool:
    """Whether `encoder.forward` would pack `src` into a nested tensor."""
    first = encoder.layers[0]
    attention = first.self_attn
    eligible = (
        torch.backends.mha.get_fastpath_enabled()
        and getattr(encoder, "use_nested_tensor", False)
        and not first.training
        and src.dim() == 3
        and padding is not None
        and not src.is_nested
        and mask is None
        and not torch.is_autocast_enabled()
    )
    if not eligible or torch.compiler.is_compiling():
        return False
    if getattr(encoder, "mask_check", True) and not _left_aligned(padding):
        return False
    weights = (
        attention.in_proj_weight,
        attention.in_proj_bias,
        attention.out_proj.weight,
        attention.out_proj.bias,
        first.norm1.weight,
        first.norm1.bias,
        first.norm2.weight,
        first.norm2.bias,
        first.linear1.weight,
        first.linear1.bias,
        first.linear2.weight,
        first.linear2.bias,
    )
    if torch.overrides.has_torch_function((src, *weights)):
        return False
    return not (torch.is_grad_enabled() and any(w.requires_grad for w in (src, *weights)))


_PARAMETERS = ("src", "mask", "src_key_padding_mask", "is_causal")

_NESTED_PROTOTYPE = (
    "The PyTorch API of nested tensors is in prototype stage and will change in the near "
    "future. We recommend specifying layout=torch.jagged when constructing a nested tensor, as "
    "this layout receives active development, has better operator coverage, and works with "
    "torch.compile."
)
_warned_nested = False


class _PaddingZeroed(nn.Module):
    """Stands in for the encoder's final norm while the padded batch runs: zeroes the padded
    positions, as padding the nested result does, then applies the norm, if any."""

    def __init__(self, padded: torch.Tensor, norm: nn.Module | None) -> None:
        super().__init__()
        self.padded = padded
        self.norm = norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.masked_fill(self.padded[..., None], 0.0)
        return x if self.norm is None else self.norm(x)


def _masks(src, mask, padding) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """The padding and attention masks as ``forward`` makes them, without its warnings
    (``forward`` gives them)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        padding = F._canonical_mask(
            mask=padding,
            mask_name="src_key_padding_mask",
            other_type=F._none_or_dtype(mask),
            other_name="mask",
            target_type=src.dtype,
        )
        mask = F._canonical_mask(
            mask=mask,
            mask_name="mask",
            other_type=None,
            other_name="",
            target_type=src.dtype,
            check_other=False,
        )
    return padding, mask


def _warn_nested_once() -> None:
    """The warning CPU and CUDA give, once per process, when the first nested tensor is made."""
    global _warned_nested
    if not _warned_nested:
        _warned_nested = True
        warnings.warn(_NESTED_PROTOTYPE, UserWarning, stacklevel=3)


def padded_not_nested(call: Callable) -> Callable:
    """Wraps ``TransformerEncoder.__call__`` (``forward`` stays PyTorch's, which
    ``torch.jit.script`` compiles): on ``remote``, the nested path is emulated."""

    def __call__(self, *args, **kwargs):
        values = dict(zip(_PARAMETERS, args, strict=False))
        values.update(kwargs)
        src = values.get("src")
        plain = (
            not (isinstance(src, torch.Tensor) and src.device.type == _BACKEND)
            or not hasattr(self, "use_nested_tensor")
            or not set(values) <= set(_PARAMETERS)
        )
        if plain:
            return call(self, *args, **kwargs)
        padding, mask = _masks(src, values.get("mask"), values.get("src_key_padding_mask"))
        packs = _packs(self, src, mask, padding)
        norm, nested = self.norm, self.use_nested_tensor
        # With use_nested_tensor off, PyTorch's forward checks nothing about nesting (the
        # checks would run nested ops) and takes the padded path it takes when not packing.
        self.use_nested_tensor = False
        if packs:
            _warn_nested_once()
            padded = padding != 0
            self.norm = _PaddingZeroed(padded, norm)
            # Packing drops the padded tokens: zeroed, they add nothing (not even a NaN) to
            # the attention over the others.
            src = src.masked_fill(padded[..., None], 0.0)
            if args:
                args = (src, *args[1:])
            else:
                kwargs = {**kwargs, "src": src}
        try:
            return call(self, *args, **kwargs)
        finally:
            self.norm, self.use_nested_tensor = norm, nested

    return __call__
