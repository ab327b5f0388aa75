//! Convolution kernels. tch binds `convolution` but not its backward (whose `bool[3]` mask
//! it skips), so the backward recomputes the forward under autograd: a convolution keeps no
//! state, and libtorch's own backward produces the gradients.

use tch::{TchError, Tensor};

use super::vjp::gradients;
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

/// The input, weight and bias gradients of a convolution with `bias_len` output channels.
pub fn backward(
    grad: &Tensor,
    x: &Tensor,
    weight: &Tensor,
    bias_len: Option<i64>,
    p: &ConvParams,
) -> Result<Vec<Option<Tensor>>, TchError> {
    let bias = bias_len
        .map(|n| Tensor::f_zeros([n], (x.kind(), x.device())))
        .transpose()?;
    gradients(grad, &[Some(x), Some(weight), bias.as_ref()], |l| {
        let (x, w) = (
            l[0].as_ref().expect("input"),
            l[1].as_ref().expect("weight"),
        );
        forward(x, w, l[2].as_ref(), p)
    })
}
