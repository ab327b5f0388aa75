//! Frame payloads: plain bytes, or the memory of a dense CPU tensor, so that tensor bytes
//! go between the socket and libtorch without an intermediate buffer.

use tch::{Device, Kind, Tensor};

use crate::kernels::err;

/// The payload of one frame.
pub enum Payload {
    Bytes(Vec<u8>),
    /// A contiguous CPU tensor whose memory is the payload.
    Tensor(Tensor),
}

impl Default for Payload {
    fn default() -> Self {
        Payload::Bytes(Vec::new())
    }
}

impl Payload {
    /// `len` uninitialised bytes in a CPU tensor, for a payload to be read into.
    pub fn with_len(len: u64) -> Result<Self, String> {
        let len = i64::try_from(len).map_err(|_| format!("a payload of {len} bytes"))?;
        Tensor::f_empty([len], (Kind::Uint8, Device::Cpu))
            .map(Payload::Tensor)
            .map_err(err)
    }

    /// The values of `t` in element order: `t` itself when it is a contiguous CPU tensor
    /// (no copy), else a dense CPU copy.
    pub fn dense(t: &Tensor) -> Result<Self, String> {
        let dense = t
            .f_contiguous()
            .and_then(|c| c.f_to_device(Device::Cpu))
            .map_err(err)?;
        Ok(Payload::Tensor(dense))
    }

    fn tensor_len(t: &Tensor) -> usize {
        t.numel() * t.kind().elt_size_in_bytes()
    }

    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Payload::Bytes(bytes) => bytes,
            Payload::Tensor(t) if Self::tensor_len(t) == 0 => &[],
            // SAFETY: the constructors only make contiguous CPU tensors, whose memory is
            // `tensor_len` bytes at `data_ptr`, alive while `self` is.
            Payload::Tensor(t) => unsafe {
                std::slice::from_raw_parts(t.data_ptr() as *const u8, Self::tensor_len(t))
            },
        }
    }

    pub fn as_bytes_mut(&mut self) -> &mut [u8] {
        match self {
            Payload::Bytes(bytes) => bytes,
            Payload::Tensor(t) if Self::tensor_len(t) == 0 => &mut [],
            // SAFETY: as in `as_bytes`, and `&mut self` makes the borrow unique.
            Payload::Tensor(t) => unsafe {
                std::slice::from_raw_parts_mut(t.data_ptr() as *mut u8, Self::tensor_len(t))
            },
        }
    }

    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The payload as a flat uint8 CPU tensor, without a copy when it is one already.
    pub fn into_tensor(self) -> Result<Tensor, String> {
        match self {
            Payload::Tensor(t) if t.kind() == Kind::Uint8 && t.dim() == 1 => Ok(t),
            Payload::Tensor(t) => t.f_flatten(0, -1).and_then(|t| t.f_view_dtype(Kind::Uint8)),
            Payload::Bytes(bytes) => {
                Tensor::f_from_data_size(&bytes, &[bytes.len() as i64], Kind::Uint8)
            }
        }
        .map_err(err)
    }
}
