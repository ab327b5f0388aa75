//! Op keys for memoised lowerings: an op's name, overload, arguments and the client's settings
//! with every storage id replaced by its order of first appearance. Two ops with one key
//! differ only in which storages they name, so the guest lowers them the same way up to
//! those names; the client and the host each run the guest once per key, not once per op.

use serde::{Serialize, Serializer};

use crate::guest::{Arg, OpSettings, TensorMeta};

/// The key of one op, and the storages its arguments name in order of first appearance.
pub fn op_key(
    name: &str,
    overload: &str,
    args: &[Arg],
    settings: &OpSettings,
) -> (Vec<u8>, Vec<u64>) {
    let mut named = Vec::new();
    let mut ordinal = |meta| MetaKey::new(meta, &mut named);
    let keyed: Vec<ArgKey> = args
        .iter()
        .map(|arg| match arg {
            Arg::Tensor(m) => ArgKey::Tensor(ordinal(m)),
            Arg::OptionalTensor(m) => ArgKey::OptionalTensor(m.as_ref().map(&mut ordinal)),
            Arg::TensorList(ms) => ArgKey::TensorList(ms.iter().map(&mut ordinal).collect()),
            Arg::OptionalTensorList(ms) => ArgKey::OptionalTensorList(
                ms.iter().map(|m| m.as_ref().map(&mut ordinal)).collect(),
            ),
            other => ArgKey::Other(other),
        })
        .collect();
    let key = crate::protocol::encode(&(name, overload, keyed, settings));
    (key, named)
}

/// A tensor argument as its key holds it: everything but the storage, which is its slot.
/// Borrowed, so that keying an op copies none of its sizes and strides.
struct MetaKey<'a> {
    meta: &'a TensorMeta,
    slot: usize,
}

impl<'a> MetaKey<'a> {
    /// `meta`'s key, its storage numbered by first appearance in `named`.
    fn new(meta: &'a TensorMeta, named: &mut Vec<u64>) -> Self {
        let slot = named
            .iter()
            .position(|&id| id == meta.storage)
            .unwrap_or_else(|| {
                named.push(meta.storage);
                named.len() - 1
            });
        Self { meta, slot }
    }
}

impl Serialize for MetaKey<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let m = self.meta;
        (&m.sizes, &m.strides, m.storage_offset, m.dtype, self.slot).serialize(s)
    }
}

#[derive(Serialize)]
enum ArgKey<'a> {
    Tensor(MetaKey<'a>),
    OptionalTensor(Option<MetaKey<'a>>),
    TensorList(Vec<MetaKey<'a>>),
    OptionalTensorList(Vec<Option<MetaKey<'a>>>),
    Other(&'a Arg),
}

/// Maps the storage ids of a recorded op to those of an op with the same key.
#[derive(Debug, Default, Clone)]
pub struct StorageMap {
    pairs: Vec<(u64, u64)>,
}

impl StorageMap {
    /// Pairs each recorded id with the id in the same place now.
    pub fn new(recorded: &[u64], now: &[u64]) -> Self {
        Self {
            pairs: recorded.iter().copied().zip(now.iter().copied()).collect(),
        }
    }

    /// The id now of recorded id `id`; ids the map does not hold stay as they are.
    pub fn get(&self, id: u64) -> u64 {
        self.pairs
            .iter()
            .find(|&&(from, _)| from == id)
            .map_or(id, |&(_, to)| to)
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guest::{CpuConvolutions, Determinism, ScalarType, DEFAULT_SETTINGS};

    fn meta(storage: u64, offset: i64) -> TensorMeta {
        TensorMeta {
            sizes: vec![2],
            strides: vec![1],
            storage_offset: offset,
            dtype: ScalarType::Float32,
            storage,
        }
    }

    #[test]
    fn keys_ignore_storage_names_but_not_their_sharing() {
        let key = |a, b, offset| {
            op_key(
                "add",
                "Tensor",
                &[Arg::Tensor(meta(a, 0)), Arg::Tensor(meta(b, offset))],
                &DEFAULT_SETTINGS,
            )
        };
        let (k1, named) = key(7, 9, 0);
        assert_eq!(named, vec![7, 9]);
        assert_eq!(key(3, 4, 0).0, k1);
        assert_ne!(key(3, 3, 0).0, k1, "aliasing arguments change the lowering");
        assert_eq!(key(3, 3, 0).1, vec![3]);
        assert_ne!(key(3, 4, 1).0, k1);
    }

    #[test]
    fn keys_hold_each_setting() {
        let key = |settings| op_key("empty", "memory_format", &[], &settings).0;
        let changed = [
            OpSettings {
                default_float: ScalarType::Float64,
                ..DEFAULT_SETTINGS
            },
            OpSettings {
                determinism: Determinism::WarnOnly,
                ..DEFAULT_SETTINGS
            },
            OpSettings {
                fill_uninitialized_memory: true,
                ..DEFAULT_SETTINGS
            },
            OpSettings {
                convolutions: CpuConvolutions {
                    single_threaded: true,
                    ..DEFAULT_SETTINGS.convolutions
                },
                ..DEFAULT_SETTINGS
            },
        ];
        for settings in changed {
            assert_ne!(key(settings), key(DEFAULT_SETTINGS), "{settings:?}");
        }
    }

    #[test]
    fn maps_recorded_ids() {
        let map = StorageMap::new(&[1, 2], &[10, 20]);
        assert_eq!((map.get(1), map.get(2), map.get(3)), (10, 20, 3));
    }
}
