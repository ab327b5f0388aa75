//! Resampling and border kernels: each `upsample-mode` (`pad-mode`) and dim count is one
//! libtorch `upsample_*` (`*_pad*d`).

use tch::{TchError, Tensor};

use super::in_float;
use crate::guest::{PadMode, UpsampleMode};

fn unsupported(mode: UpsampleMode, dims: usize) -> TchError {
    TchError::Shape(format!("no {mode:?} upsampling over {dims} dims"))
}

/// `x` resampled to `size`.
pub fn forward(
    mode: UpsampleMode,
    x: &Tensor,
    size: &[i64],
    align: bool,
    s: &[Option<f64>],
) -> Result<Tensor, TchError> {
    use UpsampleMode::*;
    match (mode, s) {
        (Nearest, [w]) => x.f_upsample_nearest1d(size, *w),
        (Nearest, [h, w]) => x.f_upsample_nearest2d(size, *h, *w),
        (Nearest, [d, h, w]) => x.f_upsample_nearest3d(size, *d, *h, *w),
        (NearestExact, [w]) => x.f_internal_upsample_nearest_exact1d(size, *w),
        (NearestExact, [h, w]) => x.f_internal_upsample_nearest_exact2d(size, *h, *w),
        (NearestExact, [d, h, w]) => x.f_internal_upsample_nearest_exact3d(size, *d, *h, *w),
        (Linear, [w]) => x.f_upsample_linear1d(size, align, *w),
        (Linear, [h, w]) => x.f_upsample_bilinear2d(size, align, *h, *w),
        (Linear, [d, h, w]) => x.f_upsample_trilinear3d(size, align, *d, *h, *w),
        (Cubic, [h, w]) => x.f_upsample_bicubic2d(size, align, *h, *w),
        (LinearAntialias, [h, w]) => in_float([x], |[x]| {
            x.f_internal_upsample_bilinear2d_aa(size, align, *h, *w)
        }),
        (CubicAntialias, [h, w]) => in_float([x], |[x]| {
            x.f_internal_upsample_bicubic2d_aa(size, align, *h, *w)
        }),
        _ => Err(unsupported(mode, s.len())),
    }
}

/// The gradient of [`forward`] with respect to an input of `input`'s sizes.
pub fn backward(
    mode: UpsampleMode,
    g: &Tensor,
    size: &[i64],
    input: &[i64],
    align: bool,
    s: &[Option<f64>],
) -> Result<Tensor, TchError> {
    use UpsampleMode::*;
    match (mode, s) {
        (Nearest, [w]) => Tensor::f_upsample_nearest1d_backward(g, size, input, *w),
        (Nearest, [h, w]) => Tensor::f_upsample_nearest2d_backward(g, size, input, *h, *w),
        (Nearest, [d, h, w]) => Tensor::f_upsample_nearest3d_backward(g, size, input, *d, *h, *w),
        (NearestExact, [w]) => {
            Tensor::f_internal_upsample_nearest_exact1d_backward(g, size, input, *w)
        }
        (NearestExact, [h, w]) => {
            Tensor::f_internal_upsample_nearest_exact2d_backward(g, size, input, *h, *w)
        }
        (NearestExact, [d, h, w]) => {
            Tensor::f_internal_upsample_nearest_exact3d_backward(g, size, input, *d, *h, *w)
        }
        (Linear, [w]) => Tensor::f_upsample_linear1d_backward(g, size, input, align, *w),
        (Linear, [h, w]) => Tensor::f_upsample_bilinear2d_backward(g, size, input, align, *h, *w),
        (Linear, [d, h, w]) => {
            Tensor::f_upsample_trilinear3d_backward(g, size, input, align, *d, *h, *w)
        }
        (Cubic, [h, w]) => Tensor::f_upsample_bicubic2d_backward(g, size, input, align, *h, *w),
        (LinearAntialias, [h, w]) => in_float([g], |[g]| {
            Tensor::f_internal_upsample_bilinear2d_aa_backward(g, size, input, align, *h, *w)
        }),
        (CubicAntialias, [h, w]) => in_float([g], |[g]| {
            Tensor::f_internal_upsample_bicubic2d_aa_backward(g, size, input, align, *h, *w)
        }),
        _ => Err(unsupported(mode, s.len())),
    }
}

fn no_padding(mode: PadMode, padding: &[i64]) -> TchError {
    TchError::Shape(format!("no {mode:?} padding of {} numbers", padding.len()))
}

/// `x` padded by `padding`.
pub fn pad(mode: PadMode, x: &Tensor, padding: &[i64]) -> Result<Tensor, TchError> {
    match (mode, padding.len()) {
        (PadMode::Reflect, 2) => x.f_reflection_pad1d(padding),
        (PadMode::Reflect, 4) => x.f_reflection_pad2d(padding),
        (PadMode::Reflect, 6) => x.f_reflection_pad3d(padding),
        (PadMode::Replicate, 2) => x.f_replication_pad1d(padding),
        (PadMode::Replicate, 4) => x.f_replication_pad2d(padding),
        (PadMode::Replicate, 6) => x.f_replication_pad3d(padding),
        _ => Err(no_padding(mode, padding)),
    }
}

/// The gradient of [`pad`] with respect to `x`.
pub fn pad_backward(
    mode: PadMode,
    grad: &Tensor,
    x: &Tensor,
    padding: &[i64],
) -> Result<Tensor, TchError> {
    match (mode, padding.len()) {
        (PadMode::Reflect, 2) => x.f_reflection_pad1d_backward(grad, padding),
        (PadMode::Reflect, 4) => x.f_reflection_pad2d_backward(grad, padding),
        (PadMode::Reflect, 6) => x.f_reflection_pad3d_backward(grad, padding),
        (PadMode::Replicate, 2) => x.f_replication_pad1d_backward(grad, padding),
        (PadMode::Replicate, 4) => x.f_replication_pad2d_backward(grad, padding),
        (PadMode::Replicate, 6) => x.f_replication_pad3d_backward(grad, padding),
        _ => Err(no_padding(mode, padding)),
    }
}
