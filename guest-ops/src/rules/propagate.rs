//! Stride propagation: the layouts PyTorch gives new outputs so they follow their inputs'
//! memory order (`TensorIterator` outputs, `empty_like(preserve)`, `infer_dense_strides`).

use crate::error::{Error, Result};
use crate::rules::layout::{
    contiguous_strides, is_contiguous, is_contiguous_in, is_non_overlapping_and_dense, strides_for,
    MemoryFormat,
};
use crate::rules::shape::fmt_shape;
use crate::types::TensorMeta;

/// Strides of the output `TensorIterator` allocates (or restrides a resized `out=` to) for
/// inputs `inputs` broadcast to `shape`; `numbers` says whether wrapped numbers (0-dim
/// operands) took part.
pub fn iterator_strides(shape: &[i64], inputs: &[&TensorMeta], numbers: bool) -> Result<Vec<i64>> {
    if let Some(strides) = fast_setup(inputs, numbers)? {
        return Ok(strides);
    }
    let operands: Vec<Vec<i64>> = inputs.iter().map(|t| broadcast_strides(t, shape)).collect();
    let perm = sort_dims(shape, &operands);
    let ndim = shape.len();
    if perm.iter().enumerate().all(|(i, d)| *d == ndim - 1 - i) {
        return contiguous_strides(shape);
    }
    let mut strides = vec![0i64; ndim];
    let mut next = 1i64;
    for d in perm {
        strides[d] = next;
        // Sizes multiply as they are, zeros included (TensorIterator's `compatible_stride`).
        next = next.checked_mul(shape[d]).ok_or_else(|| overflow(shape))?;
    }
    Ok(strides)
}

/// `compute_fast_setup_type`: same-shape operands that agree on a dense layout hand it on.
fn fast_setup(inputs: &[&TensorMeta], numbers: bool) -> Result<Option<Vec<i64>>> {
    let Some(last) = inputs.last() else {
        return Ok(None);
    };
    let has_scalars = numbers || inputs.iter().any(|t| t.dim() == 0);
    let has_tensors = inputs.iter().any(|t| t.dim() > 0);
    let same_shape = inputs.iter().all(|t| t.sizes == last.sizes);
    if (has_scalars && has_tensors) || !same_shape {
        return Ok(None);
    }
    let all = |f: fn(&[i64], &[i64]) -> bool| inputs.iter().all(|t| f(&t.sizes, &t.strides));
    if all(is_contiguous) {
        return contiguous_strides(&last.sizes).map(Some);
    }
    let channels_last = MemoryFormat::ChannelsLast;
    if inputs
        .iter()
        .all(|t| is_contiguous_in(&t.sizes, &t.strides, channels_last))
    {
        return strides_for(&last.sizes, channels_last).map(Some);
    }
    if all(is_non_overlapping_and_dense) && inputs.iter().all(|t| t.strides == last.strides) {
        return Ok(Some(last.strides.clone()));
    }
    Ok(None)
}

/// An input's strides over the broadcast shape: 0 where it is broadcast.
fn broadcast_strides(t: &TensorMeta, shape: &[i64]) -> Vec<i64> {
    let offset = shape.len().saturating_sub(t.dim());
    let mut strides = vec![0i64; shape.len()];
    for (i, (size, stride)) in t.sizes.iter().zip(&t.strides).enumerate() {
        let broadcast = *size == 1 && shape[offset + i] != 1;
        strides[offset + i] = if broadcast { 0 } else { *stride };
    }
    strides
}

/// `empty_like(preserve)` / `clone` / `_to_copy` strides: the input's own when it is dense,
/// else dense strides in the input's memory order.
pub fn preserve_strides(t: &TensorMeta) -> Result<Vec<i64>> {
    if is_non_overlapping_and_dense(&t.sizes, &t.strides) {
        Ok(t.strides.clone())
    } else {
        infer_dense_strides(&t.sizes, &t.strides)
    }
}

/// `infer_dense_strides`: dense strides that keep the dims' order by stride.
pub fn infer_dense_strides(sizes: &[i64], strides: &[i64]) -> Result<Vec<i64>> {
    let perm = sort_dims(sizes, &[strides.to_vec()]);
    let mut out = vec![0i64; sizes.len()];
    let mut next = 1i64;
    for d in perm {
        out[d] = next;
        if sizes[d] > 1 {
            next = next.checked_mul(sizes[d]).ok_or_else(|| overflow(sizes))?;
        }
    }
    Ok(out)
}

/// `reorder_dimensions`: dims from fastest to slowest by the operands' strides, by insertion
/// sort from the reversed order, skipping comparisons where a stride is 0 (broadcast).
fn sort_dims(shape: &[i64], operands: &[Vec<i64>]) -> Vec<usize> {
    let ndim = shape.len();
    let mut perm: Vec<usize> = (0..ndim).rev().collect();
    let should_swap = |d0: usize, d1: usize| -> i32 {
        for strides in operands {
            let (s0, s1) = (strides[d0], strides[d1]);
            if s0 == 0 || s1 == 0 {
                continue;
            }
            if s0 != s1 {
                return if s0 < s1 { -1 } else { 1 };
            }
            if shape[d0] > shape[d1] {
                return 1;
            }
        }
        0
    };
    for i in 1..ndim {
        let mut d1 = i;
        for d0 in (0..i).rev() {
            match should_swap(perm[d0], perm[d1]) {
                c if c > 0 => {
                    perm.swap(d0, d1);
                    d1 = d0;
                }
                c if c < 0 => break,
                _ => {}
            }
        }
    }
    perm
}

fn overflow(sizes: &[i64]) -> Error {
    Error::invalid(format!(
        "strides of sizes {} overflow int64",
        fmt_shape(sizes)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::ScalarType;

    fn t(sizes: &[i64], strides: &[i64]) -> TensorMeta {
        TensorMeta {
            sizes: sizes.to_vec(),
            strides: strides.to_vec(),
            storage_offset: 0,
            dtype: ScalarType::Float32,
            storage: 1,
        }
    }

    /// Expected strides printed by torch 2.13 on CPU (see each comment).
    #[test]
    fn iterator_follows_inputs() {
        let at = t(&[4, 3], &[1, 4]); // empty(3, 4).t()
                                      // a.t() + a.t(); a.t() + 1; a.t() + empty(4, 1); a.t() + empty(3)
        assert_eq!(
            iterator_strides(&[4, 3], &[&at, &at], false).unwrap(),
            vec![1, 4]
        );
        assert_eq!(iterator_strides(&[4, 3], &[&at], true).unwrap(), vec![1, 4]);
        let col = t(&[4, 1], &[1, 1]);
        assert_eq!(
            iterator_strides(&[4, 3], &[&at, &col], false).unwrap(),
            vec![1, 4]
        );
        let row = t(&[3], &[1]);
        assert_eq!(
            iterator_strides(&[4, 3], &[&at, &row], false).unwrap(),
            vec![1, 4]
        );
        // empty(4, 6)[:, ::2] + 1 -> contiguous
        let sliced = t(&[4, 3], &[6, 2]);
        assert_eq!(
            iterator_strides(&[4, 3], &[&sliced], true).unwrap(),
            vec![3, 1]
        );
        // empty(2, 3, 4).permute(2, 0, 1)[:, :, ::2].exp()
        let p = t(&[4, 2, 2], &[1, 12, 8]);
        assert_eq!(
            iterator_strides(&[4, 2, 2], &[&p], false).unwrap(),
            vec![1, 8, 4]
        );
        // channels-last + contiguous: first operand decides; cl + 1-d bias stays cl
        let cl = t(&[2, 3, 4, 5], &[60, 1, 15, 3]);
        let c = t(&[2, 3, 4, 5], &[60, 20, 5, 1]);
        assert_eq!(
            iterator_strides(&[2, 3, 4, 5], &[&cl, &c], false).unwrap(),
            vec![60, 1, 15, 3]
        );
        assert_eq!(
            iterator_strides(&[2, 3, 4, 5], &[&c, &cl], false).unwrap(),
            vec![60, 20, 5, 1]
        );
        let bias = t(&[5], &[1]);
        assert_eq!(
            iterator_strides(&[2, 3, 4, 5], &[&cl, &bias], false).unwrap(),
            vec![60, 1, 15, 3]
        );
        // empty(3, 1) + empty(1, 4)
        let (a, b) = (t(&[3, 1], &[1, 1]), t(&[1, 4], &[4, 1]));
        assert_eq!(
            iterator_strides(&[3, 4], &[&a, &b], false).unwrap(),
            vec![4, 1]
        );
        // empty sizes multiply as they are: empty(3, 0).t() + empty(1) and
        // empty(2, 3, 4).permute(2, 0, 1)[:0] + empty(1)
        let e = t(&[0, 3], &[1, 1]);
        assert_eq!(iterator_strides(&[0, 3], &[&e], true).unwrap(), vec![1, 0]);
        let e = t(&[0, 2, 3], &[1, 12, 4]);
        let one = t(&[1], &[1]);
        assert_eq!(
            iterator_strides(&[0, 2, 3], &[&e, &one], false).unwrap(),
            vec![1, 0, 0]
        );
    }

    #[test]
    fn preserve_layouts() {
        // empty(4, 6)[:, ::2].clone() and empty(2, 3, 4).permute(2, 0, 1)[:, :, ::2].clone()
        assert_eq!(preserve_strides(&t(&[4, 3], &[6, 2])).unwrap(), vec![3, 1]);
        assert_eq!(
            preserve_strides(&t(&[4, 2, 2], &[1, 12, 8])).unwrap(),
            vec![1, 8, 4]
        );
        assert_eq!(
            preserve_strides(&t(&[4, 2, 3], &[1, 12, 4])).unwrap(),
            vec![1, 12, 4]
        );
        // expanded tensors: stride-0 dims stay where they are
        assert_eq!(
            infer_dense_strides(&[6, 5, 4, 3, 2], &[6, 0, 120, 0, 1]).unwrap(),
            vec![6, 36, 180, 2, 1]
        );
    }
}
