//! `segment_reduce` with its backward and the conversions between sorted sparse indices,
//! run with libtorch's kernels once the lengths, offsets or indices they read are known to
//! stay inside the tensors they index: the CPU kernels read and write wherever those say.

use tch::{Device, Kind, TchError, Tensor};

use super::numbers;
use crate::guest::SegmentReduceParams;

/// The integers of `t` in row-major order.
fn integers(t: &Tensor) -> Result<Vec<i64>, TchError> {
    let dense = t
        .f_to_device(Device::Cpu)?
        .f_to_kind(Kind::Int64)?
        .f_contiguous()?;
    Vec::<i64>::try_from(&dense.f_flatten(0, -1)?)
}

/// The segments' bounds stay inside `data` along the axis: offsets within it, lengths not
/// negative and, row by row, not past it (and, unless `unsafe=True`, covering it).
fn check_bounds(data: &Tensor, bounds: &Tensor, p: &SegmentReduceParams) -> Result<(), TchError> {
    let size = data.size()[p.axis as usize];
    let values = integers(bounds)?;
    let per_row = bounds.size().last().copied().unwrap_or(1).max(1) as usize;
    let refuse = |message: String| Err(TchError::Kind(format!("segment_reduce(): {message}")));
    if p.offsets {
        return match values.iter().find(|&&v| !(0..=size).contains(&v)) {
            Some(v) => refuse(format!("offset {v} is outside the axis of {size} elements")),
            None => Ok(()),
        };
    }
    if values.iter().any(|&v| v < 0) {
        return Err(TchError::Kind("lengths contains negative value!".into()));
    }
    for row in values.chunks(per_row) {
        let total = row.iter().try_fold(0i64, |sum, &v| sum.checked_add(v));
        match total {
            Some(total) if total == size || (p.unchecked && total < size) => {}
            Some(_) if !p.unchecked => {
                return refuse(
                    "Expected all rows of lengths along axis to sum to data.size(lengths.dim()-1) \
                     when !unsafe."
                        .into(),
                )
            }
            _ => {
                return refuse(format!(
                    "lengths {row:?} run past the axis of {size} elements"
                ))
            }
        }
    }
    Ok(())
}

/// `segment_reduce(data, bounds)`.
pub fn segment_reduce(inputs: &[Tensor], p: &SegmentReduceParams) -> Result<Tensor, TchError> {
    let [data, bounds] = inputs else {
        return Err(TchError::Kind(
            "segment_reduce: data and bounds expected".into(),
        ));
    };
    check_bounds(data, bounds, p)?;
    numbers::segment_reduce(data, bounds, p)
}

/// `_segment_reduce_backward(grad, output, data, bounds)`.
pub fn segment_reduce_backward(
    inputs: &[Tensor],
    p: &SegmentReduceParams,
) -> Result<Tensor, TchError> {
    let [grad, output, data, bounds] = inputs else {
        return Err(TchError::Kind(
            "_segment_reduce_backward: grad, output, data and bounds expected".into(),
        ));
    };
    // The backward takes no `unsafe`: its lengths need only stay inside the axis.
    let inside = SegmentReduceParams {
        unchecked: true,
        ..*p
    };
    check_bounds(data, bounds, &inside)?;
    numbers::segment_reduce_backward([grad, output, data, bounds], p)
}

/// `_convert_indices_from_coo_to_csr(indices, size, out_int32)`: every index in `[0, size]`
/// (the kernel writes at each).
pub fn coo_to_csr(indices: &Tensor, size: i64, out_int32: bool) -> Result<Tensor, TchError> {
    if let Some(v) = integers(indices)?
        .into_iter()
        .find(|v| !(0..=size).contains(v))
    {
        return Err(TchError::Kind(format!(
            "_convert_indices_from_coo_to_csr: index {v} is outside [0, {size}]"
        )));
    }
    indices.f_internal_convert_indices_from_coo_to_csr(size, out_int32)
}

/// `_convert_indices_from_csr_to_coo(crow_indices, col_indices, out_int32, transpose)`:
/// every row pointer in `[0, nnz]` and none below the one before (the kernel writes the rows
/// between them).
pub fn csr_to_coo(inputs: &[Tensor], out_int32: bool, transpose: bool) -> Result<Tensor, TchError> {
    let [crow, col] = inputs else {
        return Err(TchError::Kind(
            "_convert_indices_from_csr_to_coo: crow and col indices expected".into(),
        ));
    };
    let nnz = col.numel() as i64;
    let pointers = integers(crow)?;
    if let Some(v) = pointers.iter().find(|v| !(0..=nnz).contains(*v)) {
        return Err(TchError::Kind(format!(
            "_convert_indices_from_csr_to_coo: row pointer {v} is outside [0, {nnz}]"
        )));
    }
    // The kernel fills each row's range up to its end pointer: one below its start runs on.
    if let Some(pair) = pointers.windows(2).find(|pair| pair[1] < pair[0]) {
        return Err(TchError::Kind(format!(
            "_convert_indices_from_csr_to_coo: row pointers {} then {} go down",
            pair[0], pair[1]
        )));
    }
    Tensor::f_internal_convert_indices_from_csr_to_coo(crow, col, out_int32, transpose)
}
