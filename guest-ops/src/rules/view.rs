//! Views that reshape or reinterpret their input's storage: `view`, `as_strided`,
//! `view(dtype)`.

use crate::error::{ensure, Error, Result};
use crate::rules::shape::{check_nonnegative, extent, fmt_shape, numel};
use crate::types::{ScalarType, TensorMeta};

fn overflow(t: &TensorMeta) -> Error {
    Error::invalid(format!("view of {} overflows int64", t.describe()))
}

/// `infer_size`: resolves one `-1` in a `view`/`reshape` shape.
pub fn infer_size(shape: &[i64], numel: i64) -> Result<Vec<i64>> {
    let mut known = 1i64;
    let mut infer = None;
    for (i, s) in shape.iter().enumerate() {
        match *s {
            -1 => {
                ensure!(infer.is_none(), "only one dimension can be inferred");
                infer = Some(i);
            }
            s if s >= 0 => {
                known = known.checked_mul(s).ok_or_else(|| {
                    Error::invalid(format!("shape '{}' overflows", fmt_shape(shape)))
                })?;
            }
            s => return Err(Error::invalid(format!("invalid shape dimension {s}"))),
        }
    }
    let mut out = shape.to_vec();
    match infer {
        None if known == numel => Ok(out),
        Some(i) if known > 0 && numel % known == 0 => {
            out[i] = numel / known;
            Ok(out)
        }
        Some(_) if known == 0 && numel == 0 => Err(Error::invalid(format!(
            "cannot reshape tensor of 0 elements into shape {} because the unspecified \
             dimension size -1 can be any value and is ambiguous",
            fmt_shape(shape)
        ))),
        _ => Err(Error::invalid(format!(
            "shape '{}' is invalid for input of size {numel}",
            fmt_shape(shape)
        ))),
    }
}

/// `computeStride`: strides that let `new_sizes` view the same elements, if any exist.
pub fn view_strides(sizes: &[i64], strides: &[i64], new_sizes: &[i64]) -> Option<Vec<i64>> {
    if sizes.is_empty() {
        return Some(vec![1; new_sizes.len()]);
    }
    if sizes.contains(&0) {
        if sizes == new_sizes {
            return Some(strides.to_vec());
        }
        let mut out = vec![1i64; new_sizes.len()];
        for d in (0..new_sizes.len().saturating_sub(1)).rev() {
            out[d] = out[d + 1].checked_mul(new_sizes[d + 1].max(1))?;
        }
        return Some(out);
    }
    let mut out = vec![0i64; new_sizes.len()];
    let mut view_d = new_sizes.len() as i64 - 1;
    let mut chunk_base = *strides.last()?;
    let mut tensor_numel = 1i64;
    let mut view_numel = 1i64;
    for d in (0..sizes.len()).rev() {
        tensor_numel = tensor_numel.checked_mul(sizes[d])?;
        // A chunk ends where the next dim out is not laid out right after this one.
        let chunk_ends = d == 0
            || (sizes[d - 1] != 1 && Some(strides[d - 1]) != tensor_numel.checked_mul(chunk_base));
        if !chunk_ends {
            continue;
        }
        while view_d >= 0 && (view_numel < tensor_numel || new_sizes[view_d as usize] == 1) {
            out[view_d as usize] = view_numel.checked_mul(chunk_base)?;
            view_numel = view_numel.checked_mul(new_sizes[view_d as usize])?;
            view_d -= 1;
        }
        if view_numel != tensor_numel {
            return None;
        }
        if d > 0 {
            chunk_base = strides[d - 1];
            tensor_numel = 1;
            view_numel = 1;
        }
    }
    (view_d == -1).then_some(out)
}

/// `view(size)`.
pub fn view(t: &TensorMeta, shape: &[i64]) -> Result<TensorMeta> {
    let sizes = infer_size(shape, numel(&t.sizes)?)?;
    let strides = view_strides(&t.sizes, &t.strides, &sizes).ok_or_else(|| {
        Error::invalid(format!(
            "view size is not compatible with input tensor's size and stride (at least one \
             dimension spans across two contiguous subspaces). Use .reshape(...) instead. \
             (view {} as {})",
            t.describe(),
            fmt_shape(shape)
        ))
    })?;
    Ok(t.view(sizes, strides, t.storage_offset))
}

/// `as_strided`. The storage's size is the client's to know, so it is not bounds-checked.
pub fn as_strided(
    t: &TensorMeta,
    sizes: &[i64],
    strides: &[i64],
    offset: i64,
) -> Result<TensorMeta> {
    ensure!(
        sizes.len() == strides.len(),
        "mismatch in length of strides and shape ({} and {})",
        fmt_shape(sizes),
        fmt_shape(strides)
    );
    check_nonnegative(sizes)?;
    ensure!(
        strides.iter().all(|s| *s >= 0),
        "as_strided: Negative strides are not supported at the moment, got strides: {}",
        fmt_shape(strides)
    );
    ensure!(offset >= 0, "Tensor: invalid storage offset {offset}");
    extent(sizes, strides)?
        .checked_add(offset)
        .ok_or_else(|| overflow(t))?;
    Ok(t.view(sizes.to_vec(), strides.to_vec(), offset))
}

/// `view(dtype)`: reinterprets the elements, scaling the last dim when item sizes differ.
pub fn view_dtype(t: &TensorMeta, dtype: ScalarType) -> Result<TensorMeta> {
    let (old, new) = (t.dtype.itemsize(), dtype.itemsize());
    let mut out = t.clone();
    out.dtype = dtype;
    if old == new {
        return Ok(out);
    }
    let what = format!(
        "to view {} as {} (different element sizes)",
        t.dtype.name(),
        dtype.name()
    );
    ensure!(t.dim() > 0, "self.dim() cannot be 0 {what}");
    let last = t.dim() - 1;
    ensure!(
        t.strides[last] == 1,
        "self.stride(-1) must be 1 {what}, but got {}",
        t.strides[last]
    );
    if old > new {
        let ratio = old / new;
        for s in out.strides.iter_mut() {
            *s = s.checked_mul(ratio).ok_or_else(|| overflow(t))?;
        }
        out.strides[last] = 1;
        out.sizes[last] = t.sizes[last]
            .checked_mul(ratio)
            .ok_or_else(|| overflow(t))?;
        out.storage_offset = t
            .storage_offset
            .checked_mul(ratio)
            .ok_or_else(|| overflow(t))?;
        return Ok(out);
    }
    let ratio = new / old;
    ensure!(
        t.sizes[last] % ratio == 0,
        "self.size(-1) must be divisible by {ratio} {what}, but got {}",
        t.sizes[last]
    );
    ensure!(
        t.storage_offset % ratio == 0,
        "self.storage_offset() must be divisible by {ratio} {what}, but got {}",
        t.storage_offset
    );
    for d in 0..last {
        ensure!(
            t.strides[d] % ratio == 0,
            "self.stride({d}) must be divisible by {ratio} {what}, but got {}",
            t.strides[d]
        );
        out.strides[d] = t.strides[d] / ratio;
    }
    out.sizes[last] = t.sizes[last] / ratio;
    out.storage_offset = t.storage_offset / ratio;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::dims::permute;
    use crate::rules::fixtures::{geometry, t};

    /// Expected values below were printed by torch 2.13 for the expression in each comment.
    #[test]
    fn views_like_torch() {
        let x = t(&[2, 3, 4], &[12, 4, 1], 0);
        assert_eq!(view(&x, &[6, 4]).unwrap().strides, vec![4, 1]);
        assert_eq!(view(&x, &[-1]).unwrap().sizes, vec![24]);
        // x.permute(1, 0, 2).view(3, 2, 2, 2)
        let p = permute(&x, &[1, 0, 2]).unwrap();
        assert_eq!(view(&p, &[3, 2, 2, 2]).unwrap().strides, vec![4, 12, 2, 1]);
        assert!(view(&p, &[6, 4])
            .unwrap_err()
            .message
            .starts_with("view size is not compatible"));
        // empty(4, 6)[:, :3].view(...)
        let y = t(&[4, 3], &[6, 1], 0);
        assert_eq!(view(&y, &[2, 2, 3]).unwrap().strides, vec![12, 6, 1]);
        assert_eq!(view(&y, &[4, 3, 1]).unwrap().strides, vec![6, 1, 1]);
        assert_eq!(view(&y, &[4, 1, 3]).unwrap().strides, vec![6, 3, 1]);
        assert!(view(&y, &[12]).is_err());
        // empty(0, 3).view(3, 0), .view(-1, 0)
        let z = t(&[0, 3], &[3, 1], 0);
        assert_eq!(view(&z, &[3, 0]).unwrap().strides, vec![1, 1]);
        assert!(view(&z, &[-1, 0])
            .unwrap_err()
            .message
            .starts_with("cannot reshape tensor of 0"));
        assert_eq!(view(&t(&[], &[], 0), &[1, 1]).unwrap().strides, vec![1, 1]);
        assert_eq!(
            view(&x, &[5, 5]).unwrap_err().message,
            "shape '[5, 5]' is invalid for input of size 24"
        );
        assert_eq!(
            view(&x, &[-1, -1]).unwrap_err().message,
            "only one dimension can be inferred"
        );
    }

    #[test]
    fn dtype_views_like_torch() {
        let x = t(&[2, 4], &[4, 1], 0);
        assert_eq!(
            geometry(&view_dtype(&x, ScalarType::Int16).unwrap()),
            (vec![2, 8], vec![8, 1], 0)
        );
        assert_eq!(
            geometry(&view_dtype(&x, ScalarType::Float64).unwrap()),
            (vec![2, 2], vec![2, 1], 0)
        );
        // empty(8)[2:].view(float64) and empty(8)[1:].view(float64)
        assert_eq!(
            view_dtype(&t(&[6], &[1], 2), ScalarType::Float64)
                .unwrap()
                .storage_offset,
            1
        );
        assert_eq!(
            view_dtype(&t(&[7], &[1], 1), ScalarType::Float64)
                .unwrap_err()
                .message,
            "self.size(-1) must be divisible by 2 to view Float as Double (different element \
             sizes), but got 7"
        );
        assert_eq!(
            view_dtype(&t(&[2, 4], &[1, 2], 0), ScalarType::Int16)
                .unwrap_err()
                .message,
            "self.stride(-1) must be 1 to view Float as Short (different element sizes), but got 2"
        );
    }

    #[test]
    fn as_strided_checks() {
        let x = t(&[12], &[1], 0);
        assert_eq!(
            geometry(&as_strided(&x, &[2, 2], &[1, 2], 3).unwrap()),
            (vec![2, 2], vec![1, 2], 3)
        );
        assert!(as_strided(&x, &[2], &[-1], 0)
            .unwrap_err()
            .message
            .contains("Negative strides"));
        assert!(as_strided(&x, &[2], &[1, 2], 0).is_err());
        assert!(as_strided(&x, &[i64::MAX, 2], &[2, 1], 0).is_err());
        assert!(as_strided(&x, &[2], &[1], i64::MAX).is_err());
    }
}
