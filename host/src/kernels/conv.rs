//! Convolution kernels: libtorch's `convolution` and `convolution_backward`, the kernels
//! PyTorch's autograd runs.

use tch::{TchError, Tensor};

use super::aten;
use crate::guest::ConvParams;

pub fn forward(
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    p: &ConvParams,
) -> Result<Tensor, TchError> {
    x.f_convolution(
        weight,
        bias,
        p.stride.as_slice(),
        p.padding.as_slice(),
        p.dilation.as_slice(),
        p.transposed,
        p.output_padding.as_slice(),
        p.groups,
    )
}

/// The input, weight and bias gradients of a convolution with `bias_len` output channels,
/// those `mask` asks for.
pub fn backward(
    grad: &Tensor,
    x: &Tensor,
    weight: &Tensor,
    bias_len: Option<i64>,
    p: &ConvParams,
    mask: [bool; 3],
) -> Result<Vec<Option<Tensor>>, TchError> {
    aten::convolution_backward(grad, x, weight, bias_len, p, mask)
}
