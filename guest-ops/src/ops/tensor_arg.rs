//! PyTorch's `TensorArg` checks (`checkScalarTypes`, `checkDim`, `checkSameType`) with the
//! messages they give: each names the argument by position and name, the legacy tensor type
//! it has, and the op whose arguments were being checked. Also `check_dim_size`, their
//! unnamed cousin from the same file.

use crate::error::{ensure, Result};
use crate::types::{ScalarType, TensorMeta};

/// The dtypes an index takes (`kLong, kInt`).
pub const INDEX_TYPES: [ScalarType; 2] = [ScalarType::Int64, ScalarType::Int32];

/// A tensor argument as a check names it: `argument #1 'indices'`.
#[derive(Clone, Copy)]
pub struct TensorArg<'a> {
    pub tensor: &'a TensorMeta,
    pub name: &'static str,
    pub pos: u32,
}

impl<'a> TensorArg<'a> {
    pub fn new(tensor: &'a TensorMeta, name: &'static str, pos: u32) -> Self {
        TensorArg { tensor, name, pos }
    }

    /// An output (position 0) is named without a position.
    fn label(&self) -> String {
        match self.pos {
            0 => format!("'{}'", self.name),
            pos => format!("argument #{pos} '{}'", self.name),
        }
    }
}

/// `checkScalarTypes` (`checkScalarType` for one dtype): `arg` has one of `allowed`.
pub fn check_scalar_types(op: &str, arg: TensorArg, allowed: &[ScalarType]) -> Result<()> {
    let names: Vec<&str> = allowed.iter().map(|t| t.name()).collect();
    let expected = match names.as_slice() {
        [one] => format!("scalar type {one}"),
        all => format!("one of the following scalar types: {}", all.join(", ")),
    };
    ensure!(
        allowed.contains(&arg.tensor.dtype),
        "Expected tensor for {} to have {expected}; but got {} instead (while checking \
         arguments for {op})",
        arg.label(),
        arg.tensor.dtype.legacy_type()
    );
    Ok(())
}

/// `checkDim`: `arg` has `dim` dims.
pub fn check_dim(op: &str, arg: TensorArg, dim: usize) -> Result<()> {
    ensure!(
        arg.tensor.dim() == dim,
        "Expected {dim}-dimensional tensor, but got {}-dimensional tensor for {} (while \
         checking arguments for {op})",
        arg.tensor.dim(),
        arg.label()
    );
    Ok(())
}

/// `checkSameType`: `a` and `b` have one dtype.
pub fn check_same_type(op: &str, a: TensorArg, b: TensorArg) -> Result<()> {
    ensure!(
        a.tensor.dtype == b.tensor.dtype,
        "Expected tensor for {} to have the same type as tensor for {}; but type {} does not \
         equal {} (while checking arguments for {op})",
        a.label(),
        b.label(),
        a.tensor.dtype.legacy_type(),
        b.tensor.dtype.legacy_type()
    );
    Ok(())
}

/// `check_dim_size`: `t` has `dim` dims and `size` elements along `index`.
pub fn check_dim_size(t: &TensorMeta, dim: usize, index: usize, size: i64) -> Result<()> {
    ensure!(
        t.dim() == dim && t.sizes.get(index) == Some(&size),
        "Expected a tensor of dimension {dim} and tensor.size[{index}] == {size} but got: \
         dimension {} and tensor.size[{index}] = {}",
        t.dim(),
        t.sizes
            .get(index)
            .map_or("none".to_string(), i64::to_string)
    );
    Ok(())
}
