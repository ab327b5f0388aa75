//! Ops libtorch computes whole (`glu`, `take`, `searchsorted`, `bucketize`): one result each.

use tch::{TchError, Tensor};

use crate::guest::LibraryOp;

fn input(inputs: &[Tensor], i: usize) -> Result<&Tensor, TchError> {
    inputs
        .get(i)
        .ok_or_else(|| TchError::Kind(format!("library op: input {i} is missing")))
}

/// The result of `op` on `inputs`, in the order the WIT variant documents them.
pub fn run(op: LibraryOp, inputs: &[Tensor]) -> Result<Tensor, TchError> {
    let first = input(inputs, 0)?;
    match op {
        LibraryOp::Glu(dim) => first.f_glu(dim),
        LibraryOp::GluBackward(dim) => input(inputs, 1)?.f_glu_backward(first, dim),
        LibraryOp::Take => first.f_take(input(inputs, 1)?),
        LibraryOp::Searchsorted((out_int32, right)) => {
            let side = if right { "right" } else { "left" };
            input(inputs, 1)?.f_searchsorted(first, out_int32, right, side, inputs.get(2))
        }
        LibraryOp::Bucketize((out_int32, right)) => {
            first.f_bucketize(input(inputs, 1)?, out_int32, right)
        }
    }
}
