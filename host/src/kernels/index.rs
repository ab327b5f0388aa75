//! Indexing and rearranging kernels: cat, gather/index_select, scatter, masked_fill, flip,
//! roll, cumulative ops, sort, topk and the embedding backward.

use tch::{TchError, Tensor};

use super::scalar;
use crate::guest::{GatherOp, Scalar, ScanOp, ScatterOp};

pub fn gather(op: GatherOp, x: &Tensor, dim: i64, index: &Tensor) -> Result<Tensor, TchError> {
    match op {
        GatherOp::IndexSelect => x.f_index_select(dim, index),
        GatherOp::Gather => x.f_gather(dim, index, false),
    }
}

/// `src` is a tensor, or `None` with `value` for `scatter.value`.
pub fn scatter(
    op: ScatterOp,
    x: &Tensor,
    dim: i64,
    index: &Tensor,
    src: Result<Tensor, Scalar>,
    alpha: &Scalar,
) -> Result<Tensor, TchError> {
    // A value goes as a tensor: tch's Scalar would panic when a bad index fails the call.
    let value_src =
        |value: Scalar| super::number(&value, (x.kind(), x.device()))?.f_expand_as(index);
    match (op, src) {
        (ScatterOp::Assign, Ok(src)) => x.f_scatter(dim, index, &src),
        (ScatterOp::Assign, Err(value)) => x.f_scatter(dim, index, &value_src(value)?),
        (ScatterOp::Add, Ok(src)) => x.f_scatter_add(dim, index, &src),
        (ScatterOp::Add, Err(value)) => x.f_scatter_add(dim, index, &value_src(value)?),
        (ScatterOp::Multiply, Ok(src)) => x.f_scatter_reduce(dim, index, &src, "multiply"),
        (ScatterOp::Multiply, Err(value)) => {
            x.f_internal_scatter_reduce(dim, index, &value_src(value)?, "prod", true)
        }
        (ScatterOp::IndexAdd, Ok(src)) => super::numbers::index_add(x, dim, index, &src, alpha),
        (_, Err(_)) => Err(TchError::Kind("this scatter needs a source tensor".into())),
    }
}

pub fn masked_fill(
    x: &Tensor,
    mask: &Tensor,
    value: Result<Tensor, Scalar>,
) -> Result<Tensor, TchError> {
    match value {
        Ok(v) => x.f_masked_fill_tensor(mask, &v),
        // libtorch's C API has no complex Scalar: a complex value goes as a tensor.
        Err(v @ Scalar::Complex(_)) => {
            x.f_masked_fill_tensor(mask, &super::number(&v, (x.kind(), x.device()))?)
        }
        Err(v) => x.f_masked_fill(mask, scalar(&v)),
    }
}

/// `x.masked_fill_(mask, value)`.
pub fn masked_fill_(
    x: &mut Tensor,
    mask: &Tensor,
    value: Result<Tensor, Scalar>,
) -> Result<(), TchError> {
    match value {
        Ok(v) => x.f_masked_fill_tensor_(mask, &v),
        Err(v @ Scalar::Complex(_)) => {
            let v = super::number(&v, (x.kind(), x.device()))?;
            x.f_masked_fill_tensor_(mask, &v)
        }
        Err(v) => x.f_masked_fill_(mask, scalar(&v)),
    }
    .map(drop)
}

pub fn scan(op: ScanOp, x: &Tensor, dim: i64, kind: tch::Kind) -> Result<Tensor, TchError> {
    match op {
        ScanOp::Cumsum => x.f_cumsum(dim, kind),
        ScanOp::Cumprod => x.f_cumprod(dim, kind),
        ScanOp::Logcumsumexp => x.f_internal_logcumsumexp(dim),
    }
}
