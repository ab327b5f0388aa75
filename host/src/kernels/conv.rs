//! The convolution kernel: libtorch's `convolution` (its backward is
//! [`aten::convolution_backward`](super::aten::convolution_backward)).

use tch::{TchError, Tensor};

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
