//! Shape rules: checked sizes, dim wrapping, broadcasting and reduction shapes.

use crate::error::{ensure, ensure_index, Error, Result};
use crate::types::TensorMeta;

/// `[2, 3]`, as PyTorch prints sizes.
pub fn fmt_shape(sizes: &[i64]) -> String {
    let parts: Vec<String> = sizes.iter().map(i64::to_string).collect();
    format!("[{}]", parts.join(", "))
}

/// `a * b`, or `None` on overflow. wasm32 has no widening multiply, so `i64::checked_mul`
/// calls a 128-bit helper; sizes and strides are almost always small enough to skip it.
#[inline]
pub fn mul(a: i64, b: i64) -> Option<i64> {
    if (a | b) as u64 >> 31 == 0 {
        Some(a * b)
    } else {
        a.checked_mul(b)
    }
}

pub fn check_nonnegative(sizes: &[i64]) -> Result<()> {
    if let Some(bad) = sizes.iter().find(|s| **s < 0) {
        return Err(Error::invalid(format!(
            "Trying to create tensor with negative dimension {bad}: {}",
            fmt_shape(sizes)
        )));
    }
    Ok(())
}

/// The number of elements, rejecting negative sizes and overflow.
pub fn numel(sizes: &[i64]) -> Result<i64> {
    check_nonnegative(sizes)?;
    sizes.iter().try_fold(1i64, |acc, s| {
        mul(acc, *s)
            .ok_or_else(|| Error::invalid(format!("size {} overflows int64", fmt_shape(sizes))))
    })
}

/// The number of elements a strided tensor spans from its first element: 1 + the largest
/// offset (0 when empty). Negative strides and overflow are errors.
pub fn extent(sizes: &[i64], strides: &[i64]) -> Result<i64> {
    let overflow = || {
        Error::invalid(format!(
            "Storage size calculation overflowed with sizes={} and strides={}",
            fmt_shape(sizes),
            fmt_shape(strides)
        ))
    };
    ensure!(
        sizes.len() == strides.len(),
        "mismatch in length of strides and shape ({} and {})",
        fmt_shape(sizes),
        fmt_shape(strides)
    );
    if sizes.iter().any(|s| *s < 0) || strides.iter().any(|s| *s < 0) {
        return Err(overflow());
    }
    if sizes.contains(&0) {
        return Ok(0);
    }
    sizes
        .iter()
        .zip(strides)
        .try_fold(1i64, |acc, (size, stride)| {
            mul(size - 1, *stride).and_then(|o| acc.checked_add(o))
        })
        .ok_or_else(overflow)
}

/// Bytes of a storage holding `elements` elements of `itemsize` bytes.
pub fn nbytes(elements: i64, itemsize: i64) -> Result<u64> {
    mul(elements, itemsize)
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| Error::invalid(format!("storage of {elements} elements overflows")))
}

/// Rejects metadata no PyTorch tensor can have: ranks that differ between sizes and strides,
/// negative sizes, strides or offset, and extents that overflow.
pub fn check_meta(t: &TensorMeta) -> Result<()> {
    ensure!(
        t.sizes.len() == t.strides.len(),
        "tensor metadata has sizes {} but strides {}",
        fmt_shape(&t.sizes),
        fmt_shape(&t.strides)
    );
    numel(&t.sizes)?;
    ensure!(
        t.strides.iter().all(|s| *s >= 0) && t.storage_offset >= 0,
        "tensor metadata has negative strides {} or offset {}",
        fmt_shape(&t.strides),
        t.storage_offset
    );
    let end = extent(&t.sizes, &t.strides)?
        .checked_add(t.storage_offset)
        .ok_or_else(|| Error::invalid(format!("tensor {} overflows its storage", t.describe())))?;
    nbytes(end, t.dtype.itemsize())?;
    Ok(())
}

/// `maybe_wrap_dim`: a 0-dim tensor accepts dims -1 and 0.
pub fn wrap_dim(dim: i64, ndim: usize) -> Result<usize> {
    let n = i64::try_from(ndim.max(1)).map_err(|_| Error::invalid("too many dimensions"))?;
    ensure_index!(
        (-n..n).contains(&dim),
        "Dimension out of range (expected to be in range of [{}, {}], but got {dim})",
        -n,
        n - 1
    );
    let wrapped = if dim < 0 { dim + n } else { dim };
    Ok(wrapped as usize)
}

/// `maybe_wrap_dim` with `wrap_scalar=false`: as [`wrap_dim`], but a 0-dim tensor has no
/// dim to name.
pub fn wrap_dim_of_dims(dim: i64, ndim: usize) -> Result<usize> {
    ensure_index!(
        ndim > 0,
        "Dimension specified as {dim} but tensor has no dimensions"
    );
    wrap_dim(dim, ndim)
}

/// `infer_size`: the broadcast of two shapes.
pub fn broadcast(a: &[i64], b: &[i64]) -> Result<Vec<i64>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    // From the last dim, as `infer_size` goes: with several mismatches it names the last.
    for (i, slot) in out.iter_mut().enumerate().rev() {
        let offset = n - 1 - i;
        let size_a = pick(a, offset);
        let size_b = pick(b, offset);
        ensure!(
            size_a == size_b || size_a == 1 || size_b == 1,
            "The size of tensor a ({size_a}) must match the size of tensor b ({size_b}) at \
             non-singleton dimension {i} (shapes {} and {})",
            fmt_shape(a),
            fmt_shape(b)
        );
        *slot = if size_a == 1 { size_b } else { size_a };
    }
    Ok(out)
}

fn pick(sizes: &[i64], from_end: usize) -> i64 {
    sizes
        .len()
        .checked_sub(1 + from_end)
        .map_or(1, |i| sizes[i])
}

pub fn broadcast_all<'a>(shapes: impl IntoIterator<Item = &'a [i64]>) -> Result<Vec<i64>> {
    shapes
        .into_iter()
        .try_fold(Vec::new(), |acc, s| broadcast(&acc, s))
}

/// Which dims a reduction over `dims` touches; an empty list means all of them.
pub fn reduction_mask(dims: &[i64], ndim: usize) -> Result<Vec<bool>> {
    if dims.is_empty() {
        return Ok(vec![true; ndim]);
    }
    dim_mask(dims, ndim)
}

/// `dim_list_to_bitset`: the dims named in `dims`, each at most once.
pub fn dim_mask(dims: &[i64], ndim: usize) -> Result<Vec<bool>> {
    let mut mask = vec![false; ndim.max(1)];
    for d in dims {
        let w = wrap_dim(*d, ndim)?;
        ensure!(
            !mask[w],
            "dim {w} appears multiple times in the list of dims"
        );
        mask[w] = true;
    }
    mask.truncate(ndim);
    Ok(mask)
}

/// The shape of a reduction: reduced dims removed, or kept as 1 with `keepdim`.
pub fn reduced_shape(sizes: &[i64], mask: &[bool], keepdim: bool) -> Vec<i64> {
    sizes
        .iter()
        .zip(mask)
        .filter_map(|(s, m)| match (*m, keepdim) {
            (false, _) => Some(*s),
            (true, true) => Some(1),
            (true, false) => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mul_agrees_with_checked_mul() {
        let values = [
            0,
            1,
            7,
            (1 << 31) - 1,
            1 << 31,
            1 << 32,
            i64::MAX,
            -1,
            -(1 << 31),
            i64::MIN,
        ];
        for a in values {
            for b in values {
                assert_eq!(mul(a, b), a.checked_mul(b), "{a} * {b}");
            }
        }
    }

    #[test]
    fn broadcast_like_torch() {
        assert_eq!(broadcast(&[3, 1], &[1, 4]).unwrap(), vec![3, 4]);
        assert_eq!(broadcast(&[2, 1, 4], &[3, 1]).unwrap(), vec![2, 3, 4]);
        assert_eq!(broadcast(&[], &[5]).unwrap(), vec![5]);
        assert_eq!(broadcast(&[0, 1], &[1, 3]).unwrap(), vec![0, 3]);
        let err = broadcast(&[2, 3], &[4]).unwrap_err();
        assert_eq!(
            err.message,
            "The size of tensor a (3) must match the size of tensor b (4) at non-singleton \
             dimension 1 (shapes [2, 3] and [4])"
        );
    }

    #[test]
    fn wrap_dims() {
        assert_eq!(wrap_dim(-1, 3).unwrap(), 2);
        assert_eq!(wrap_dim(0, 0).unwrap(), 0);
        assert_eq!(wrap_dim(-1, 0).unwrap(), 0);
        assert_eq!(
            wrap_dim(2, 2).unwrap_err().message,
            "Dimension out of range (expected to be in range of [-2, 1], but got 2)"
        );
        assert!(wrap_dim(i64::MIN, 2).is_err());
    }

    #[test]
    fn reduction_shapes() {
        let mask = reduction_mask(&[1, -1], 3).unwrap();
        assert_eq!(mask, vec![false, true, true]);
        assert_eq!(reduced_shape(&[2, 3, 4], &mask, false), vec![2]);
        assert_eq!(reduced_shape(&[2, 3, 4], &mask, true), vec![2, 1, 1]);
        assert_eq!(reduction_mask(&[], 2).unwrap(), vec![true, true]);
        // a 0-dim tensor reduced over dim 0 keeps no dims
        assert_eq!(reduction_mask(&[0], 0).unwrap(), Vec::<bool>::new());
        assert_eq!(
            reduction_mask(&[0, 0], 2).unwrap_err().message,
            "dim 0 appears multiple times in the list of dims"
        );
    }

    #[test]
    fn checked_sizes() {
        assert_eq!(numel(&[2, 3, 4]).unwrap(), 24);
        assert!(numel(&[i64::MAX, 2]).is_err());
        assert_eq!(
            numel(&[-1, 2]).unwrap_err().message,
            "Trying to create tensor with negative dimension -1: [-1, 2]"
        );
        assert_eq!(extent(&[2, 3], &[3, 1]).unwrap(), 6);
        assert_eq!(extent(&[2, 0], &[3, 1]).unwrap(), 0);
        assert_eq!(extent(&[4, 3], &[1, 4]).unwrap(), 12);
        assert!(extent(&[2], &[-1]).is_err());
        assert!(extent(&[i64::MAX, 3], &[2, 1]).is_err());
        assert_eq!(nbytes(6, 4).unwrap(), 24);
    }
}
