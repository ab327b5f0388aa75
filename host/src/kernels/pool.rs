//! Max, average and adaptive pooling in 2 or 3 spatial dims (as many as `params.kernel`
//! has), and their backwards.

use tch::{TchError, Tensor};

use super::in_float;
use crate::guest::{PoolOp, PoolParams};

type Window<'a> = (&'a [i64], &'a [i64], &'a [i64], &'a [i64]);

/// The kernel, stride, padding and dilation of `p`, and whether it pools over 3 dims.
fn window(p: &PoolParams) -> Result<(Window<'_>, bool), TchError> {
    let three = match p.kernel.len() {
        2 => false,
        3 => true,
        n => return Err(TchError::Kind(format!("pooling over {n} dims"))),
    };
    let lists = (
        p.kernel.as_slice(),
        p.stride.as_slice(),
        p.padding.as_slice(),
        p.dilation.as_slice(),
    );
    Ok((lists, three))
}

/// The pooled `x`, and for max pooling the indices of the maxima.
pub fn forward(
    op: PoolOp,
    x: &Tensor,
    p: &PoolParams,
) -> Result<(Tensor, Option<Tensor>), TchError> {
    let ((k, s, pad, d), three) = window(p)?;
    let (ceil, include, divisor) = (p.ceil_mode, p.count_include_pad, p.divisor_override);
    let with_indices = |(v, i)| (v, Some(i));
    Ok(match (op, three) {
        (PoolOp::Max, false) => with_indices(x.f_max_pool2d_with_indices(k, s, pad, d, ceil)?),
        (PoolOp::Max, true) => with_indices(x.f_max_pool3d_with_indices(k, s, pad, d, ceil)?),
        (PoolOp::Avg, false) => (x.f_avg_pool2d(k, s, pad, ceil, include, divisor)?, None),
        (PoolOp::Avg, true) => {
            let pooled = in_float([x], |[x]| x.f_avg_pool3d(k, s, pad, ceil, include, divisor))?;
            (pooled, None)
        }
        (PoolOp::AdaptiveAvg, false) => (x.f_internal_adaptive_avg_pool2d(k)?, None),
        (PoolOp::AdaptiveAvg, true) => (x.f_internal_adaptive_avg_pool3d(k)?, None),
        (PoolOp::AdaptiveMax, false) => with_indices(x.f_adaptive_max_pool2d(k)?),
        (PoolOp::AdaptiveMax, true) => with_indices(x.f_adaptive_max_pool3d(k)?),
    })
}

/// The gradient with respect to `x` of the pooling's `grad`; max pooling reads `indices`.
pub fn backward(
    op: PoolOp,
    grad: &Tensor,
    x: &Tensor,
    p: &PoolParams,
    indices: Option<&Tensor>,
) -> Result<Tensor, TchError> {
    let ((k, s, pad, d), three) = window(p)?;
    let indices = || indices.ok_or_else(|| TchError::Kind("max pooling needs its indices".into()));
    let (ceil, include, divisor) = (p.ceil_mode, p.count_include_pad, p.divisor_override);
    match (op, three) {
        (PoolOp::Max, false) => {
            x.f_max_pool2d_with_indices_backward(grad, k, s, pad, d, ceil, indices()?)
        }
        (PoolOp::Max, true) => {
            x.f_max_pool3d_with_indices_backward(grad, k, s, pad, d, ceil, indices()?)
        }
        (PoolOp::Avg, false) => x.f_avg_pool2d_backward(grad, k, s, pad, ceil, include, divisor),
        (PoolOp::Avg, true) => in_float([grad, x], |[grad, x]| {
            x.f_avg_pool3d_backward(grad, k, s, pad, ceil, include, divisor)
        }),
        (PoolOp::AdaptiveAvg, false) => x.f_internal_adaptive_avg_pool2d_backward(grad),
        (PoolOp::AdaptiveAvg, true) => x.f_internal_adaptive_avg_pool3d_backward(grad),
        (PoolOp::AdaptiveMax, false) => x.f_adaptive_max_pool2d_backward(grad, indices()?),
        (PoolOp::AdaptiveMax, true) => x.f_adaptive_max_pool3d_backward(grad, indices()?),
    }
}
