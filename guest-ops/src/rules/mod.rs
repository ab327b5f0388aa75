//! PyTorch's metadata rules as pure functions: no kernel calls, no allocation of storages.

pub mod dims;
pub mod dtype;
pub mod layout;
pub mod overlap;
pub mod propagate;
pub mod shape;
pub mod view;

/// Tensors for the rules' tests.
#[cfg(test)]
pub(crate) mod fixtures {
    use crate::types::{ScalarType, TensorMeta};

    /// A float32 view of storage 3.
    pub fn t(sizes: &[i64], strides: &[i64], offset: i64) -> TensorMeta {
        TensorMeta {
            sizes: sizes.to_vec(),
            strides: strides.to_vec(),
            storage_offset: offset,
            dtype: ScalarType::Float32,
            storage: 3,
        }
    }

    /// Sizes, strides and storage offset.
    pub fn geometry(m: &TensorMeta) -> (Vec<i64>, Vec<i64>, i64) {
        (m.sizes.clone(), m.strides.clone(), m.storage_offset)
    }
}
