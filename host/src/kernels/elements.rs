//! Tensors as vectors of their elements and back, for the kernels the host computes in Rust
//! loops (torchvision's box ops, torchaudio's filter recursion): read in row-major order,
//! allocated fallibly.

use tch::{Device, TchError, Tensor};

/// The values of `t` in row-major order, as `T`.
pub fn values<T: tch::kind::Element + Copy + Default>(t: &Tensor) -> Result<Vec<T>, TchError> {
    let dense = t
        .f_to_device(Device::Cpu)?
        .f_to_kind(T::KIND)?
        .f_contiguous()?;
    let len = dense.numel();
    let mut values = zeros::<T>(&[len as i64])?;
    dense.f_copy_data(&mut values, len)?;
    Ok(values)
}

/// Zeros for a tensor of `sizes`, or an error where the memory is not there (a `Vec` that
/// cannot allocate aborts the process).
pub fn zeros<T: Clone + Default>(sizes: &[i64]) -> Result<Vec<T>, TchError> {
    let len = sizes
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(usize::try_from(d).ok()?));
    let mut v = Vec::new();
    match len {
        Some(len) if v.try_reserve_exact(len).is_ok() => {
            v.resize(len, T::default());
            Ok(v)
        }
        _ => Err(TchError::Kind(format!(
            "out of memory for a result of {sizes:?}"
        ))),
    }
}

/// `values` of `sizes` as a tensor of `like`'s dtype and device.
pub fn tensor_of<T: tch::kind::Element>(
    values: &[T],
    sizes: &[i64],
    like: &Tensor,
) -> Result<Tensor, TchError> {
    Tensor::f_from_slice(values)?
        .f_view(sizes)?
        .f_to_kind(like.kind())?
        .f_to_device(like.device())
}
