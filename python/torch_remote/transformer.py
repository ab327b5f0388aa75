"""``nn.TransformerEncoder`` in inference with a padding mask, on ``remote``.

There PyTorch packs the batch into a nested tensor (each sequence without its padding), runs
the layers on it, and pads the result back with zeros before the final norm. Nested tensors
have no PrivateUse1 kernels, so on ``remote`` the layers run on the padded batch with the
padding mask instead (the same attention, as the padded keys are masked out), and the
padded positions are zeroed where the nested path would have padded them: the result is the
one CPU and CUDA give. The path is taken under exactly the conditions of torch 2.13's
``TransformerEncoder.forward``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

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


def padded_not_nested(forward: Callable) -> Callable:
    """Wraps ``TransformerEncoder.forward``: on ``remote``, the nested path is emulated."""

    def wrapped(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        if not (isinstance(src, torch.Tensor) and src.device.type == _BACKEND):
            return forward(self, src, mask, src_key_padding_mask, is_causal)
        padding = F._canonical_mask(
            mask=src_key_padding_mask,
            mask_name="src_key_padding_mask",
            other_type=F._none_or_dtype(mask),
            other_name="mask",
            target_type=src.dtype,
        )
        canonical = F._canonical_mask(
            mask=mask,
            mask_name="mask",
            other_type=None,
            other_name="",
            target_type=src.dtype,
            check_other=False,
        )
        if not hasattr(self, "use_nested_tensor"):
            return forward(self, src, mask, src_key_padding_mask, is_causal)
        packs = _packs(self, src, canonical, padding)
        # With use_nested_tensor off, PyTorch's forward checks nothing about nesting (the
        # checks would run nested ops) and takes the padded path it takes when not packing.
        norm, nested = self.norm, self.use_nested_tensor
        self.use_nested_tensor = False
        if packs:
            self.norm = None
        try:
            out = forward(self, src, mask, src_key_padding_mask, is_causal)
        finally:
            self.norm, self.use_nested_tensor = norm, nested
        if not packs:
            return out
        out = out.masked_fill((padding != 0)[..., None], 0.0)
        return out if norm is None else norm(out)

    return wrapped
