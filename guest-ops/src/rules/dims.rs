//! Views that move, drop, add or broadcast dims: `transpose`, `permute`, `select`, `slice`,
//! `squeeze`, `unsqueeze`, `unfold` and `expand`.

use crate::error::{ensure, ensure_index, Error, Result};
use crate::rules::shape::{fmt_shape, wrap_dim};
use crate::types::TensorMeta;

fn overflow(t: &TensorMeta) -> Error {
    Error::invalid(format!("view of {} overflows int64", t.describe()))
}

/// `expand(size)` (`inferExpandGeometry`); also how operands are broadcast for kernels.
pub fn expand(t: &TensorMeta, target: &[i64]) -> Result<TensorMeta> {
    let ndim = target.len();
    ensure!(
        ndim >= t.dim(),
        "expand({}{{{}}}, size={}): the number of sizes provided ({ndim}) must be greater or \
         equal to the number of dimensions in the tensor ({})",
        t.dtype.legacy_type(),
        fmt_shape(&t.sizes),
        fmt_shape(target),
        t.dim()
    );
    let mut sizes = vec![0i64; ndim];
    let mut strides = vec![0i64; ndim];
    for i in (0..ndim).rev() {
        let existing = (i + t.dim()).checked_sub(ndim);
        let (mut size, mut stride) = match existing {
            Some(d) => (t.sizes[d], t.strides[d]),
            // A new leading dim is laid out around the dims after it, or 0 at the end.
            None if i + 1 < ndim => (
                1,
                sizes[i + 1]
                    .checked_mul(strides[i + 1])
                    .ok_or_else(|| overflow(t))?,
            ),
            None => (1, 0),
        };
        let mut wanted = target[i];
        if wanted == -1 {
            ensure!(
                existing.is_some(),
                "The expanded size of the tensor (-1) isn't allowed in a leading, non-existing \
                 dimension {i}"
            );
            wanted = size;
        }
        ensure!(
            wanted >= 0,
            "Trying to create tensor with negative dimension {wanted}: {}",
            fmt_shape(target)
        );
        if size != wanted {
            ensure!(
                size == 1,
                "The expanded size of the tensor ({wanted}) must match the existing size ({size}) \
                 at non-singleton dimension {i}.  Target sizes: {}.  Tensor sizes: {}",
                fmt_shape(target),
                fmt_shape(&t.sizes)
            );
            size = wanted;
            stride = 0;
        }
        sizes[i] = size;
        strides[i] = stride;
    }
    Ok(t.view(sizes, strides, t.storage_offset))
}

pub fn transpose(t: &TensorMeta, dim0: i64, dim1: i64) -> Result<TensorMeta> {
    let (a, b) = (wrap_dim(dim0, t.dim())?, wrap_dim(dim1, t.dim())?);
    let mut out = t.clone();
    if t.dim() > 0 {
        out.sizes.swap(a, b);
        out.strides.swap(a, b);
    }
    Ok(out)
}

pub fn permute(t: &TensorMeta, dims: &[i64]) -> Result<TensorMeta> {
    ensure!(
        dims.len() == t.dim(),
        "permute(sparse_coo): number of dimensions in the tensor input does not match the length \
         of the desired ordering of dimensions i.e. input.dim() = {} is not equal to len(dims) = {}",
        t.dim(),
        dims.len()
    );
    let mut seen = vec![false; t.dim()];
    let mut out = t.view(Vec::new(), Vec::new(), t.storage_offset);
    for d in dims {
        let w = wrap_dim(*d, t.dim())?;
        ensure!(!seen[w], "permute(): duplicate dims are not allowed.");
        seen[w] = true;
        out.sizes.push(t.sizes[w]);
        out.strides.push(t.strides[w]);
    }
    Ok(out)
}

pub fn select(t: &TensorMeta, dim: i64, index: i64) -> Result<TensorMeta> {
    ensure_index!(t.dim() > 0, "select() cannot be applied to a 0-dim tensor.");
    let d = wrap_dim(dim, t.dim())?;
    let size = t.sizes[d];
    ensure_index!(
        index >= -size && index < size,
        "select(): index {index} out of range for tensor of size {} at dimension {d}",
        fmt_shape(&t.sizes)
    );
    let index = if index < 0 { index + size } else { index };
    let offset = index
        .checked_mul(t.strides[d])
        .and_then(|o| o.checked_add(t.storage_offset))
        .ok_or_else(|| overflow(t))?;
    let mut out = t.view(t.sizes.clone(), t.strides.clone(), offset);
    out.sizes.remove(d);
    out.strides.remove(d);
    Ok(out)
}

pub fn slice(
    t: &TensorMeta,
    dim: i64,
    start: Option<i64>,
    end: Option<i64>,
    step: i64,
) -> Result<TensorMeta> {
    ensure_index!(t.dim() > 0, "slice() cannot be applied to a 0-dim tensor.");
    let d = wrap_dim(dim, t.dim())?;
    ensure!(step > 0, "slice step must be positive");
    let size = t.sizes[d];
    let clamp = |v: i64| {
        let v = if v < 0 { v.saturating_add(size) } else { v };
        v.clamp(0, size)
    };
    let start = clamp(start.unwrap_or(0));
    let end = clamp(end.unwrap_or(i64::MAX)).max(start);
    let len = end - start;
    let offset = start
        .checked_mul(t.strides[d])
        .and_then(|o| o.checked_add(t.storage_offset))
        .ok_or_else(|| overflow(t))?;
    let mut out = t.view(t.sizes.clone(), t.strides.clone(), offset);
    out.sizes[d] = if len == 0 { 0 } else { (len - 1) / step + 1 };
    out.strides[d] = t.strides[d].checked_mul(step).ok_or_else(|| overflow(t))?;
    Ok(out)
}

/// `unfold(dimension, size, step)`: the windows of `size` elements every `step` along `dim`,
/// as a new last dim; a 0-dim tensor counts as one element.
pub fn unfold(t: &TensorMeta, dim: i64, size: i64, step: i64) -> Result<TensorMeta> {
    let d = wrap_dim(dim, t.dim().max(1))?;
    let scalar = t.dim() == 0;
    let max = if scalar { 1 } else { t.sizes[d] };
    ensure!(
        size <= max,
        "maximum size for tensor at dimension {d} is {max} but size is {size}"
    );
    ensure!(size >= 0, "size is {size} but must be >= 0");
    ensure!(step > 0, "step is {step} but must be > 0");
    let mut out = t.clone();
    out.sizes.push(size);
    out.strides.push(if scalar { 1 } else { t.strides[d] });
    if !scalar {
        out.sizes[d] = (t.sizes[d] - size) / step + 1;
        out.strides[d] = t.strides[d].checked_mul(step).ok_or_else(|| overflow(t))?;
    }
    Ok(out)
}

/// Drops the dims in `mask` that have size 1.
pub fn squeeze(t: &TensorMeta, mask: &[bool]) -> TensorMeta {
    let mut out = t.view(Vec::new(), Vec::new(), t.storage_offset);
    for (d, (size, stride)) in t.sizes.iter().zip(&t.strides).enumerate() {
        if !(mask[d] && *size == 1) {
            out.sizes.push(*size);
            out.strides.push(*stride);
        }
    }
    out
}

pub fn unsqueeze(t: &TensorMeta, dim: i64) -> Result<TensorMeta> {
    let d = wrap_dim(dim, t.dim() + 1)?;
    let stride = if d >= t.dim() {
        1
    } else {
        t.sizes[d]
            .checked_mul(t.strides[d])
            .ok_or_else(|| overflow(t))?
    };
    let mut out = t.clone();
    out.sizes.insert(d, 1);
    out.strides.insert(d, stride);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::fixtures::{geometry, t};

    /// Expected values below were printed by torch 2.13 for the expression in each comment.
    #[test]
    fn expand_like_torch() {
        let scalar = t(&[], &[], 0);
        assert_eq!(expand(&scalar, &[1]).unwrap().strides, vec![0]);
        assert_eq!(expand(&scalar, &[3, 1]).unwrap().strides, vec![0, 0]);
        assert_eq!(
            expand(&t(&[3], &[1], 0), &[1, 1, 3]).unwrap().strides,
            vec![3, 3, 1]
        );
        assert_eq!(
            expand(&t(&[3, 1], &[1, 1], 0), &[2, 3, 1]).unwrap().strides,
            vec![0, 1, 1]
        );
        assert_eq!(
            expand(&t(&[3, 1], &[1, 1], 0), &[-1, 4]).unwrap().sizes,
            vec![3, 4]
        );
        assert_eq!(
            expand(&t(&[3], &[1], 0), &[2, 4]).unwrap_err().message,
            "The expanded size of the tensor (4) must match the existing size (3) at \
             non-singleton dimension 1.  Target sizes: [2, 4].  Tensor sizes: [3]"
        );
        assert!(expand(&t(&[3], &[1], 0), &[-1, 3])
            .unwrap_err()
            .message
            .contains("leading, non-existing dimension 0"));
        assert!(expand(&t(&[3, 4], &[4, 1], 0), &[4]).is_err());
    }

    #[test]
    fn index_views_like_torch() {
        let w = t(&[3, 4, 5], &[20, 5, 1], 0);
        assert_eq!(
            geometry(&select(&w, 1, -1).unwrap()),
            (vec![3, 5], vec![20, 1], 15)
        );
        assert_eq!(
            select(&t(&[3, 4], &[4, 1], 0), 0, 5).unwrap_err().message,
            "select(): index 5 out of range for tensor of size [3, 4] at dimension 0"
        );
        assert!(select(&t(&[], &[], 0), 0, 0).is_err());
        // w[:, 1:4:2], w[:, -10:100], w[:, 3:1], slice(w, 2, 1, None, 3), slice(w, -1, -2)
        assert_eq!(
            geometry(&slice(&w, 1, Some(1), Some(4), 2).unwrap()),
            (vec![3, 2, 5], vec![20, 10, 1], 5)
        );
        assert_eq!(
            slice(&w, 1, Some(-10), Some(100), 1).unwrap().sizes,
            vec![3, 4, 5]
        );
        assert_eq!(
            geometry(&slice(&w, 1, Some(3), Some(1), 1).unwrap()),
            (vec![3, 0, 5], vec![20, 5, 1], 15)
        );
        assert_eq!(slice(&w, 2, Some(1), None, 3).unwrap().sizes, vec![3, 4, 2]);
        assert_eq!(slice(&w, -1, Some(-2), None, 1).unwrap().storage_offset, 3);
        assert_eq!(
            slice(&w, 0, None, None, 0).unwrap_err().message,
            "slice step must be positive"
        );
        assert_eq!(
            slice(&w, 2, Some(i64::MIN), Some(i64::MAX), i64::MAX)
                .unwrap()
                .sizes,
            vec![3, 4, 1]
        );
        assert!(slice(&w, 0, None, None, i64::MAX).is_err());
        assert_eq!(transpose(&w, 0, 2).unwrap().strides, vec![1, 5, 20]);
        assert_eq!(permute(&w, &[-1, 0, 1]).unwrap().strides, vec![1, 20, 5]);
        assert_eq!(
            permute(&w, &[0, 0, 1]).unwrap_err().message,
            "permute(): duplicate dims are not allowed."
        );
        assert!(transpose(&t(&[], &[], 0), 0, -1).unwrap().sizes.is_empty());
    }

    #[test]
    fn unsqueeze_and_squeeze_like_torch() {
        let x = t(&[2, 3], &[3, 1], 0);
        assert_eq!(unsqueeze(&x, 2).unwrap().strides, vec![3, 1, 1]);
        assert_eq!(unsqueeze(&x, 0).unwrap().strides, vec![6, 3, 1]);
        assert_eq!(
            unsqueeze(&transpose(&x, 0, 1).unwrap(), 1).unwrap().strides,
            vec![1, 6, 3]
        );
        assert_eq!(
            unsqueeze(&t(&[2, 0], &[1, 1], 0), 1).unwrap().strides,
            vec![1, 0, 1]
        );
        let s = squeeze(&t(&[1, 3, 1], &[3, 1, 1], 0), &[false, false, true]);
        assert_eq!((s.sizes, s.strides), (vec![1, 3], vec![3, 1]));
    }
}
