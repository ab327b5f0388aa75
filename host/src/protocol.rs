//! The wire protocol between the client and the host: messages and their framing.
//!
//! A frame is `[u32 header length][u64 payload length][header][payload]`, little endian.
//! The header is a bincode-encoded message; the payload carries tensor bytes untouched so
//! uploads and downloads never encode element by element. The first frame on a connection
//! is a [`Hello`] with the token; nothing else is decoded before it checks out.

use std::io::{self, Read, Write};

use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::guest::{Arg, OpSettings, SizeQuery, TensorMeta};

/// Bumped on any incompatible change of the messages below.
pub const PROTOCOL_VERSION: u32 = 8;

/// Largest header accepted: op batches are bounded by the client's flush size.
pub const MAX_HEADER_BYTES: u32 = 64 << 20;

/// Largest payload accepted in one frame (one tensor upload).
pub const MAX_PAYLOAD_BYTES: u64 = 64 << 30;

/// The first frame of every connection.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Hello {
    /// The client's [`PROTOCOL_VERSION`].
    pub version: u32,
    /// The shared secret; compared in constant time.
    pub token: String,
    /// The client's session: a reconnect with the same id resumes it.
    pub session: u64,
}

/// One aten op as the client ran it through its own copy of the guest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Op {
    /// The aten op name, without namespace.
    pub name: String,
    /// The overload name, empty for the default one.
    pub overload: String,
    /// The arguments in schema order.
    pub args: Vec<Arg>,
    /// The storage ids the client's guest received from `new-storage`, in call order.
    pub storages: Vec<u64>,
    /// The client's settings (`torch.get_default_dtype()`, deterministic algorithms) when it
    /// ran the op.
    pub settings: OpSettings,
    /// Storages the client released before it issued this op. No op from here on names
    /// them, so the host frees them first: memory comes back in program order, as CUDA's
    /// allocator has it back, not at the end of a batch.
    pub released: Vec<u64>,
}

/// Messages from the client.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum ClientMessage {
    /// Ops to run in order. `seq` counts batches from 1 within a session, so a resumed
    /// link can skip batches the host already ran.
    Batch { seq: u64, ops: Vec<Op> },
    /// A new storage holding the frame's payload.
    Upload { storage: u64 },
    /// The whole of an existing storage, replaced by the frame's payload of the same size.
    Replace { storage: u64 },
    /// A new uninitialised storage (PyTorch's allocator asked for it).
    Alloc { storage: u64, nbytes: u64 },
    /// Storages the client no longer references.
    Free { storages: Vec<u64> },
    /// Sets the random state of the session's ops: a seed, and how many random ops ran since
    /// it was set (0 for a fresh seed; a saved state's count to go back to it).
    Seed { seed: u64, offset: u64 },
    /// The random state that later ops, `Seed` and `Stats` use: 0 for the device's default
    /// generator, another id for one of the client's `torch.Generator`s.
    Generator { id: u64 },
    /// Generators the client freed: the host forgets their random states.
    DropGenerators { ids: Vec<u64> },
    /// Starts the peak of live bytes again from the bytes live now.
    ResetPeak,
    /// Frees the memory the host process keeps for reuse (`torch.remote.empty_cache`).
    EmptyCache,
    /// Asks for the bytes of a tensor, densely packed in its dtype; answered by `Data`.
    Download { tensor: TensorMeta },
    /// Asks for a size that depends on a tensor's values (a data-dependent op's output);
    /// answered by `Size`.
    Query {
        query: SizeQuery,
        tensor: TensorMeta,
    },
    /// Waits for everything sent before; answered by `Synced`.
    Sync,
    /// Asks for the session's figures; answered by `Stats`.
    Stats,
}

/// Figures of one session on the host.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct HostStats {
    /// Live storages.
    pub storages: u64,
    /// Bytes held by live storages.
    pub bytes: u64,
    /// Ops run since the session began.
    pub ops: u64,
    /// What the host computes on, e.g. `cpu` or `cuda:0`.
    pub device: String,
    /// A readable name of that device, as its driver reports it.
    pub device_name: String,
    /// Bytes of memory that device has (RAM for the CPU).
    pub total_memory: u64,
    /// Bytes of it free now, as `cudaMemGetInfo` counts them (available RAM for the CPU).
    pub free_memory: u64,
    /// CUDA compute capability (major, minor); (0, 0) for the CPU.
    pub capability: (u32, u32),
    /// The most bytes live at once since the session began or the last `ResetPeak`.
    pub peak_bytes: u64,
    /// The random state: the seed and the random ops run since it was set.
    pub rng: (u64, u64),
}

/// Messages from the host.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum HostMessage {
    /// Answer to `Hello`: the last batch the session has run (0 for a new session).
    Welcome {
        session: u64,
        last_seq: u64,
    },
    /// The requested bytes are the frame's payload.
    Data,
    /// Everything before the `Sync` ran; `errors` lists failures since the last wait.
    Synced {
        errors: Vec<String>,
    },
    Stats(HostStats),
    /// The answer to a `Query`.
    Size(i64),
    /// A request could not be answered (a failed download, a bad message); the link stays.
    Failed {
        errors: Vec<String>,
    },
}

/// Errors of reading or writing frames.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("connection: {0}")]
    Io(#[from] io::Error),
    #[error("malformed message: {0}")]
    Decode(String),
    #[error("frame too large: header {header} bytes, payload {payload} bytes")]
    TooLarge { header: u32, payload: u64 },
}

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<{ MAX_HEADER_BYTES as usize }>()
}

/// Encodes a message header.
pub fn encode<M: Serialize>(message: &M) -> Vec<u8> {
    bincode::serde::encode_to_vec(message, config()).expect("protocol messages always encode")
}

/// Decodes a message header, rejecting trailing bytes.
pub fn decode<M: DeserializeOwned>(bytes: &[u8]) -> Result<M, FrameError> {
    let (message, used) = bincode::serde::decode_from_slice(bytes, config())
        .map_err(|e| FrameError::Decode(e.to_string()))?;
    if used != bytes.len() {
        return Err(FrameError::Decode(format!(
            "{} trailing bytes",
            bytes.len() - used
        )));
    }
    Ok(message)
}

/// The fixed-size prefix of a frame.
#[derive(Debug, Clone, Copy)]
pub struct FrameHead {
    pub header_len: u32,
    pub payload_len: u64,
}

impl FrameHead {
    pub const BYTES: usize = 12;

    pub fn parse(raw: [u8; Self::BYTES]) -> Result<Self, FrameError> {
        let header_len = u32::from_le_bytes(raw[..4].try_into().unwrap());
        let payload_len = u64::from_le_bytes(raw[4..].try_into().unwrap());
        if header_len > MAX_HEADER_BYTES || payload_len > MAX_PAYLOAD_BYTES {
            return Err(FrameError::TooLarge {
                header: header_len,
                payload: payload_len,
            });
        }
        Ok(Self {
            header_len,
            payload_len,
        })
    }

    pub fn to_bytes(self) -> [u8; Self::BYTES] {
        let mut raw = [0; Self::BYTES];
        raw[..4].copy_from_slice(&self.header_len.to_le_bytes());
        raw[4..].copy_from_slice(&self.payload_len.to_le_bytes());
        raw
    }
}

/// Writes one frame (blocking I/O; the client's side).
pub fn write_frame<W: Write, M: Serialize>(
    w: &mut W,
    message: &M,
    payload: &[u8],
) -> Result<(), FrameError> {
    let header = encode(message);
    let head = FrameHead {
        header_len: header.len() as u32,
        payload_len: payload.len() as u64,
    };
    w.write_all(&head.to_bytes())?;
    w.write_all(&header)?;
    w.write_all(payload)?;
    Ok(())
}

/// Reads one frame's header and hands the payload length back; the caller reads the payload.
pub fn read_header<R: Read, M: DeserializeOwned>(r: &mut R) -> Result<(M, u64), FrameError> {
    let mut raw = [0; FrameHead::BYTES];
    r.read_exact(&mut raw)?;
    let head = FrameHead::parse(raw)?;
    let mut header = vec![0; head.header_len as usize];
    r.read_exact(&mut header)?;
    Ok((decode(&header)?, head.payload_len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guest::{CpuConvolutions, Determinism, ScalarType};

    fn meta() -> TensorMeta {
        TensorMeta {
            sizes: vec![2, 3],
            strides: vec![3, 1],
            storage_offset: 0,
            dtype: ScalarType::Float32,
            storage: 7,
        }
    }

    #[test]
    fn frames_round_trip_with_payload() {
        let message = ClientMessage::Batch {
            seq: 3,
            ops: vec![Op {
                name: "add".into(),
                overload: "out".into(),
                args: vec![Arg::Tensor(meta()), Arg::Float(2.5), Arg::None],
                storages: vec![9],
                settings: OpSettings {
                    default_float: ScalarType::Float64,
                    determinism: Determinism::WarnOnly,
                    fill_uninitialized_memory: true,
                    convolutions: CpuConvolutions {
                        mkldnn: true,
                        mkldnn_bfloat16: true,
                        mkldnn_float16: false,
                        single_threaded: true,
                    },
                },
                released: vec![4, 5],
            }],
        };
        let mut wire = Vec::new();
        write_frame(&mut wire, &message, b"tensor bytes").unwrap();
        let mut reader = wire.as_slice();
        let (back, payload_len): (ClientMessage, u64) = read_header(&mut reader).unwrap();
        assert_eq!(back, message);
        assert_eq!(payload_len, 12);
        assert_eq!(reader, b"tensor bytes");
    }

    #[test]
    fn oversized_and_garbage_frames_are_rejected() {
        let mut raw = [0u8; FrameHead::BYTES];
        raw[..4].copy_from_slice(&(MAX_HEADER_BYTES + 1).to_le_bytes());
        assert!(matches!(
            FrameHead::parse(raw),
            Err(FrameError::TooLarge { .. })
        ));
        assert!(decode::<ClientMessage>(&[0xff, 0xff, 0xff, 0x13]).is_err());
        let mut bytes = encode(&ClientMessage::Sync);
        bytes.push(0);
        assert!(decode::<ClientMessage>(&bytes).is_err());
    }
}
