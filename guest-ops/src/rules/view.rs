//! View geometry: the sizes, strides and offset of views, which share their input's storage.

use crate::error::{ensure, Error, Result};
use crate::rules::shape::{check_nonnegative, extent, fmt_shape, numel, wrap_dim};
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
                known = known
                    .checked_mul(s)
                    .ok_or_else(|| Error::invalid(format!("shape '{}' overflows", fmt_shape(shape))))?;
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
pub fn as_strided(t: &TensorMeta, sizes: &[i64], strides: &[i64], offset: i64) -> Result<TensorMeta> {
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

/// `expand(size)` (`inferExpandGeometry`); also how operands are broadcast for kernels.
pub fn expand(t: &TensorMeta, target: &[i64]) -> Result<TensorMeta> {
    let ndim = target.len();
    ensure!(
        ndim >= t.dim(),
        "expand({}, size={}): the number of sizes provided ({ndim}) must be greater or equal to \
         the number of dimensions in the tensor ({})",
        t.describe(),
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
            None if i + 1 < ndim => (1, sizes[i + 1].checked_mul(strides[i + 1]).ok_or_else(|| overflow(t))?),
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
        ensure!(wanted >= 0, "Trying to create tensor with negative dimension {wanted}: {}", fmt_shape(target));
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
    ensure!(t.dim() > 0, "select() cannot be applied to a 0-dim tensor.");
    let d = wrap_dim(dim, t.dim())?;
    let size = t.sizes[d];
    ensure!(
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

pub fn slice(t: &TensorMeta, dim: i64, start: Option<i64>, end: Option<i64>, step: i64) -> Result<TensorMeta> {
    ensure!(t.dim() > 0, "slice() cannot be applied to a 0-dim tensor.");
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
        t.sizes[d].checked_mul(t.strides[d]).ok_or_else(|| overflow(t))?
    };
    let mut out = t.clone();
    out.sizes.insert(d, 1);
    out.strides.insert(d, stride);
    Ok(out)
}

/// `view(dtype)`: reinterprets the elements, scaling the last dim when item sizes differ.
pub fn view_dtype(t: &TensorMeta, dtype: ScalarType) -> Result<TensorMeta> {
    let (old, new) = (t.dtype.itemsize(), dtype.itemsize());
    let mut out = t.clone();
    out.dtype = dtype;
    if old == new {
        return Ok(out);
    }
    let what = format!("to view {} as {} (different element sizes)", t.dtype.name(), dtype.name());
    ensure!(t.dim() > 0, "self.dim() cannot be 0 {what}");
    let last = t.dim() - 1;
    ensure!(t.strides[last] == 1, "self.stride(-1) must be 1 {what}, but got {}", t.strides[last]);
    if old > new {
        let ratio = old / new;
        for s in out.strides.iter_mut() {
            *s = s.checked_mul(ratio).ok_or_else(|| overflow(t))?;
        }
        out.strides[last] = 1;
        out.sizes[last] = t.sizes[last].checked_mul(ratio).ok_or_else(|| overflow(t))?;
        out.storage_offset = t.storage_offset.checked_mul(ratio).ok_or_else(|| overflow(t))?;
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
