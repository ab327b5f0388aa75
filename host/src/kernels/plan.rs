//! Recorded lowerings: the imports the guest called for one op, replayed for later ops with
//! the same [`op_key`](crate::memo::op_key), so the host runs the guest once per distinct op.

use super::{guarded, KernelResult, TchKernels};
use crate::memo::StorageMap;

/// One import the guest called, as a replay performs it.
pub enum Step {
    NewStorage { id: u64, nbytes: u64 },
    FreeStorage(u64),
    Kernel(Box<dyn Fn(&mut TchKernels) -> KernelResult + Send>),
}

/// The steps of one recorded op and the storages they refer to.
pub struct Plan {
    /// The storages the recorded op named, then those it created, in order.
    storages: Vec<u64>,
    steps: Vec<Step>,
}

impl Plan {
    pub fn new(named: &[u64], created: &[u64], steps: Vec<Step>) -> Self {
        Self {
            storages: named.iter().chain(created).copied().collect(),
            steps,
        }
    }

    /// Runs the steps for an op with the same key that names `named` and creates `created`.
    pub fn replay(&self, kernels: &mut TchKernels, named: &[u64], created: &[u64]) -> KernelResult {
        let now: Vec<u64> = named.iter().chain(created).copied().collect();
        if now.len() != self.storages.len() {
            return Err(format!(
                "the client named {} new storages where the op creates {}",
                created.len(),
                self.storages.len() - named.len()
            ));
        }
        kernels
            .storages
            .set_map(StorageMap::new(&self.storages, &now));
        kernels.storages.begin_op();
        let result = self.steps.iter().try_for_each(|step| match step {
            Step::NewStorage { id, nbytes } => kernels.storages.alloc(*id, *nbytes),
            Step::FreeStorage(id) => {
                kernels.storages.free(*id);
                Ok(())
            }
            Step::Kernel(kernel) => guarded(|| kernel(kernels)),
        });
        kernels.storages.set_map(StorageMap::default());
        result
    }
}
