//! The guest's answers for ops already seen. An op whose [`op_key`] was lowered before gets
//! the same outputs with its own storages and fresh ids for those it creates, without
//! entering the guest again.

use std::collections::HashMap;

use torch_remote_host::guest::{OpOutcome, Output, TensorMeta, Warning};
use torch_remote_host::memo::StorageMap;

use crate::kernels::{new_storage_id, Recorder};

/// Lowerings kept; past this many they are dropped and learnt anew.
const MAX_KEPT: usize = 4096;

/// What running one op through the guest gave.
#[derive(Clone)]
pub struct Lowering {
    pub outputs: Vec<Output>,
    /// Storages the op creates, with their sizes.
    pub created: Vec<(u64, u64)>,
    /// Temporaries it created and gave back.
    pub freed: Vec<u64>,
    /// Whether the host must run it (it launches a kernel or creates a storage).
    pub needs_host: bool,
    /// Whether it holds for this op only: its output sizes came from the op's values.
    pub reads_values: bool,
    /// What PyTorch warns of for the op, each time it runs.
    pub warnings: Vec<Warning>,
}

impl Lowering {
    /// The lowering `recorder` saw, which it hands over.
    pub fn new(outcome: OpOutcome, recorder: &mut Recorder) -> Self {
        let created = std::mem::take(&mut recorder.created);
        Self {
            outputs: outcome.outputs,
            // An op that only makes a view has nothing for the host.
            needs_host: outcome.launches || !created.is_empty(),
            created,
            freed: std::mem::take(&mut recorder.freed),
            reads_values: recorder.reads_values,
            warnings: outcome.warnings,
        }
    }

    /// The same lowering for an op on `device` naming `named` where this one named
    /// `recorded`.
    fn renamed(&self, recorded: &[u64], named: &[u64], device: usize) -> Self {
        let created: Vec<(u64, u64)> = self
            .created
            .iter()
            .map(|&(_, nbytes)| (new_storage_id(device), nbytes))
            .collect();
        let before: Vec<u64> = recorded
            .iter()
            .copied()
            .chain(self.created.iter().map(|&(id, _)| id))
            .collect();
        let now: Vec<u64> = named
            .iter()
            .copied()
            .chain(created.iter().map(|&(id, _)| id))
            .collect();
        let map = StorageMap::new(&before, &now);
        let meta = |m: &TensorMeta| TensorMeta {
            storage: map.get(m.storage),
            ..m.clone()
        };
        let outputs = self
            .outputs
            .iter()
            .map(|output| match output {
                Output::Tensor(m) => Output::Tensor(meta(m)),
                Output::TensorList(ms) => Output::TensorList(ms.iter().map(meta).collect()),
                Output::Updated((n, m)) => Output::Updated((*n, meta(m))),
                other => other.clone(),
            })
            .collect();
        Self {
            outputs,
            created,
            freed: self.freed.iter().map(|&id| map.get(id)).collect(),
            needs_host: self.needs_host,
            reads_values: self.reads_values,
            warnings: self.warnings.clone(),
        }
    }
}

/// Lowerings by op key, each with the storages its op named.
#[derive(Default)]
pub struct Lowerings {
    seen: HashMap<Vec<u8>, (Vec<u64>, Lowering)>,
}

impl Lowerings {
    /// The lowering of an op on `device` with `key` that names `named`, if one with that
    /// key was seen (on any device).
    pub fn get(&self, key: &[u8], named: &[u64], device: usize) -> Option<Lowering> {
        self.seen
            .get(key)
            .map(|(recorded, lowering)| lowering.renamed(recorded, named, device))
    }

    pub fn insert(&mut self, key: Vec<u8>, named: Vec<u64>, lowering: Lowering) {
        if self.seen.len() >= MAX_KEPT {
            self.seen.clear();
        }
        self.seen.insert(key, (named, lowering));
    }
}
