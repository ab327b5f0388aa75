//! Memory-overlap checks for written tensors (`assert_no_internal_overlap`,
//! `assert_no_partial_overlap`, `assert_no_overlap`), which keep PyTorch's in-place results
//! well defined.

use crate::error::{Error, Result};
use crate::rules::layout::is_non_overlapping_and_dense;
use crate::rules::shape::numel;
use crate::types::TensorMeta;

/// Rejects an output in which several elements share one memory location.
pub fn check_internal(out: &TensorMeta) -> Result<()> {
    if is_non_overlapping_and_dense(&out.sizes, &out.strides) {
        return Ok(());
    }
    let expanded = out
        .sizes
        .iter()
        .zip(&out.strides)
        .any(|(size, stride)| *size > 1 && *stride == 0);
    if expanded {
        return Err(Error::invalid(
            "unsupported operation: more than one element of the written-to tensor refers to a \
             single memory location. Please clone() the tensor before performing the operation.",
        ));
    }
    Ok(())
}

/// How much memory two tensors share (`MemOverlapStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Overlap {
    No,
    /// The same elements in the same layout.
    Full,
    Partial,
}

/// Like PyTorch, it only decides for dense tensors and takes the rest as not overlapping.
fn overlap(out: &TensorMeta, input: &TensorMeta) -> Overlap {
    if out.storage != input.storage || empty(out) || empty(input) {
        return Overlap::No;
    }
    let dense = |t: &TensorMeta| is_non_overlapping_and_dense(&t.sizes, &t.strides);
    if !dense(out) || !dense(input) {
        return Overlap::No;
    }
    let (a0, a1) = span(out);
    let (b0, b1) = span(input);
    if a0 == b0 && a1 == b1 {
        if out.strides == input.strides {
            Overlap::Full
        } else {
            Overlap::Partial
        }
    } else if a0 < b1 && b0 < a1 {
        Overlap::Partial
    } else {
        Overlap::No
    }
}

fn shared() -> Error {
    Error::invalid(
        "unsupported operation: some elements of the input tensor and the written-to tensor \
         refer to a single memory location. Please clone() the tensor before performing the \
         operation.",
    )
}

/// Rejects an input that shares some, but not all, of its memory with the output.
pub fn check_partial(out: &TensorMeta, input: &TensorMeta) -> Result<()> {
    match overlap(out, input) {
        Overlap::Partial => Err(shared()),
        _ => Ok(()),
    }
}

/// Rejects an input that shares any memory with the output, as ops that read their input
/// while writing elsewhere do (`gather`, `take`, `cat`, ... with `out=`).
pub fn check_none(out: &TensorMeta, input: &TensorMeta) -> Result<()> {
    match overlap(out, input) {
        Overlap::No => Ok(()),
        _ => Err(shared()),
    }
}

fn empty(t: &TensorMeta) -> bool {
    numel(&t.sizes).map_or(true, |n| n == 0)
}

/// The element range `[begin, end)` of a dense tensor (saturating: sizes were checked).
fn span(t: &TensorMeta) -> (i64, i64) {
    let n = numel(&t.sizes).unwrap_or(0);
    (t.storage_offset, t.storage_offset.saturating_add(n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::ScalarType;

    fn t(sizes: &[i64], strides: &[i64], offset: i64) -> TensorMeta {
        TensorMeta {
            sizes: sizes.to_vec(),
            strides: strides.to_vec(),
            storage_offset: offset,
            dtype: ScalarType::Float32,
            storage: 7,
        }
    }

    #[test]
    fn expanded_output_is_rejected() {
        assert!(check_internal(&t(&[3], &[0], 0)).is_err());
        assert!(check_internal(&t(&[4, 3], &[6, 2], 0)).is_ok());
    }

    #[test]
    fn partial_overlap_like_torch() {
        // torch.add(x[:3], 1, out=x[1:4]) fails; x.add_(x) and disjoint halves do not
        assert!(check_partial(&t(&[3], &[1], 1), &t(&[3], &[1], 0)).is_err());
        assert!(check_partial(&t(&[3], &[1], 0), &t(&[3], &[1], 0)).is_ok());
        assert!(check_partial(&t(&[3], &[1], 0), &t(&[3], &[1], 3)).is_ok());
        // same span, other order: x.t() written from x
        assert!(check_partial(&t(&[2, 2], &[1, 2], 0), &t(&[2, 2], &[2, 1], 0)).is_err());
    }

    #[test]
    fn any_overlap_is_rejected_where_asked() {
        // torch.gather(x, 0, i, out=x) fails where x.add_(x) does not
        assert!(check_none(&t(&[3], &[1], 0), &t(&[3], &[1], 0)).is_err());
        assert!(check_none(&t(&[3], &[1], 1), &t(&[3], &[1], 0)).is_err());
        assert!(check_none(&t(&[3], &[1], 0), &t(&[3], &[1], 3)).is_ok());
    }
}
