//! One client's session: its storages and guest instance, and the handling of its messages.
//!
//! Every failure here is recorded and reported at the client's next wait; none ends the
//! session or touches another one. The storages a failed op should have written hold no
//! values: an op that reads one is not run (as on the CPU, where the failure would have
//! stopped the program first), what it would create holds no values either, and a read of
//! any of them reports the first failure.

use std::collections::HashMap;

use tch::Device;

use crate::guest::{op_name, GuestError, GuestRuntime, OpContext, OpError, SizeQuery, TensorMeta};
use crate::hardware;
use crate::kernels::plan::{Plan, Step};
use crate::kernels::TchKernels;
use crate::memo::op_key;
use crate::memory;
use crate::payload::Payload;
use crate::protocol::{ClientMessage, HostMessage, HostStats, Op};
use crate::storage::Storages;

/// Failures recorded beyond this many are counted, not kept.
const MAX_KEPT_ERRORS: usize = 16;

/// Recorded lowerings kept per session; past this many they are dropped and recorded anew.
const MAX_PLANS: usize = 4096;

pub struct Session {
    runtime: GuestRuntime<TchKernels>,
    device: Device,
    errors: Vec<String>,
    dropped_errors: u64,
    /// Storages that hold no values, with the failure that left them so.
    failed: HashMap<u64, String>,
    /// Ops not run since the last report because they read a storage in `failed`: the first
    /// one's name and failure, and how many.
    skipped: Option<(String, String, u64)>,
    last_seq: u64,
    ops: u64,
    /// Lowerings recorded so far, by op key.
    plans: HashMap<Vec<u8>, Plan>,
}

/// A reply to the client: a message and its payload.
pub type Reply = (HostMessage, Payload);

impl Session {
    pub fn new(device: Device) -> Result<Self, GuestError> {
        let runtime = GuestRuntime::new(TchKernels::new(Storages::new(device)))?;
        Ok(Self {
            runtime,
            device,
            errors: Vec::new(),
            dropped_errors: 0,
            failed: HashMap::new(),
            skipped: None,
            last_seq: 0,
            ops: 0,
            plans: HashMap::new(),
        })
    }

    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Handles one message; requests that wait get a reply.
    pub fn handle(&mut self, message: ClientMessage, payload: Payload) -> Option<Reply> {
        match message {
            ClientMessage::Batch { seq, ops } => {
                // A batch at or below `last_seq` was already run before a reconnect.
                if seq > self.last_seq {
                    self.last_seq = seq;
                    ops.into_iter().for_each(|op| self.run(op));
                }
                None
            }
            ClientMessage::Upload { storage } => {
                let result = self.storages().upload(storage, payload);
                self.record_creation(storage, result.map_err(|e| format!("upload: {e}")));
                None
            }
            ClientMessage::Replace { storage } => {
                let result = self.storages().replace(storage, payload);
                if result.is_ok() {
                    self.failed.remove(&storage);
                }
                self.record(result.map_err(|e| format!("upload into storage {storage}: {e}")));
                None
            }
            ClientMessage::Alloc { storage, nbytes } => {
                let result = self.storages().alloc(storage, nbytes);
                self.record_creation(storage, result);
                None
            }
            ClientMessage::Free { storages } => {
                self.free(&storages);
                None
            }
            ClientMessage::Seed { seed, offset } => {
                self.runtime.kernels().set_rng_state(seed, offset);
                None
            }
            ClientMessage::Generator { id } => {
                self.runtime.kernels().select_generator(id);
                None
            }
            ClientMessage::DropGenerators { ids } => {
                self.runtime.kernels().drop_generators(&ids);
                None
            }
            ClientMessage::ResetPeak => {
                self.storages().reset_peak();
                None
            }
            ClientMessage::EmptyCache => {
                memory::empty_cpu_cache();
                None
            }
            ClientMessage::Download { tensor } => Some(self.download(&tensor)),
            ClientMessage::Query { query, tensor } => Some(self.query(query, &tensor)),
            ClientMessage::Sync => Some((
                HostMessage::Synced {
                    errors: self.take_errors(),
                },
                Payload::default(),
            )),
            ClientMessage::Stats => Some((HostMessage::Stats(self.stats()), Payload::default())),
        }
    }

    fn storages(&mut self) -> &mut Storages {
        &mut self.runtime.kernels().storages
    }

    fn run(&mut self, op: Op) {
        self.ops += 1;
        self.free(&op.released);
        let (key, named) = op_key(&op.name, &op.overload, &op.args, &op.settings);
        if let Some(failure) = self.failure_among(&named) {
            self.skip(&op, failure);
            return;
        }
        crate::kernels::set_determinism(op.settings.determinism);
        let outcome = match self.plans.get(&key) {
            Some(plan) => plan
                .replay(self.runtime.kernels(), &named, &op.storages)
                .map_err(|e| format!("{}.{}: {e}", op.name, op.overload)),
            None => self.lower(&op).map(|steps| {
                // An op whose lowering read values (`data-size`) is lowered afresh each time.
                if let Some(steps) = steps {
                    if self.plans.len() >= MAX_PLANS {
                        self.plans.clear();
                    }
                    self.plans
                        .insert(key, Plan::new(&named, &op.storages, steps));
                }
            }),
        };
        let ended = self.storages().end_op();
        let outcome = outcome.and(ended.map_err(|e| format!("{}.{}: {e}", op.name, op.overload)));
        self.record_for(&op.storages, outcome);
    }

    fn free(&mut self, storages: &[u64]) {
        for id in storages {
            self.failed.remove(id);
            self.storages().free(*id);
        }
    }

    /// The failure that left one of `storages` without values, if any did.
    fn failure_among(&self, storages: &[u64]) -> Option<String> {
        if self.failed.is_empty() {
            return None;
        }
        storages.iter().find_map(|id| self.failed.get(id)).cloned()
    }

    /// Leaves `op` unrun: it reads a storage that `failure` left without values.
    fn skip(&mut self, op: &Op, failure: String) {
        for &id in &op.storages {
            self.failed.insert(id, failure.clone());
        }
        match &mut self.skipped {
            Some((_, _, count)) => *count += 1,
            None => self.skipped = Some((op_name(&op.name, &op.overload), failure, 1)),
        }
    }

    /// Records `result` of creating `storage`, which then holds no values unless it was
    /// there before (a client naming an id twice loses nothing).
    fn record_creation(&mut self, storage: u64, result: Result<(), String>) {
        if result.is_err() && self.storages().nbytes(storage).is_some() {
            self.record(result);
        } else {
            self.record_for(&[storage], result);
        }
    }

    /// Records `result`; on failure, `storages` hold no values.
    fn record_for(&mut self, storages: &[u64], result: Result<(), String>) {
        if let Err(error) = &result {
            for &id in storages {
                self.failed.insert(id, error.clone());
            }
        }
        self.record(result);
    }

    /// Runs `op` through the guest, recording the steps it took unless they depend on values.
    fn lower(&mut self, op: &Op) -> Result<Option<Vec<Step>>, String> {
        let kernels = self.runtime.kernels();
        kernels.begin_op(&op.storages);
        kernels.record();
        let context = OpContext {
            settings: op.settings,
            launch_kernels: true,
        };
        let outcome = match self.runtime.run(&op.name, &op.overload, &op.args, context) {
            Ok(Ok(_)) => self
                .runtime
                .kernels()
                .end_op()
                .map_err(|e| format!("{}.{}: {e}", op.name, op.overload)),
            Ok(Err(OpError { message, .. })) => Err(message),
            Err(trap) => {
                let message = trap.to_string();
                self.reinstantiate();
                Err(message)
            }
        };
        let steps = self.runtime.kernels().take_recording();
        outcome.map(|()| steps)
    }

    /// A trapped instance cannot be entered again; a fresh one takes over the storages.
    fn reinstantiate(&mut self) {
        let kernels = std::mem::replace(
            self.runtime.kernels(),
            TchKernels::new(Storages::new(self.device)),
        );
        match GuestRuntime::new(kernels) {
            Ok(runtime) => self.runtime = runtime,
            Err(e) => self.record(Err(format!("cannot restart the guest: {e}"))),
        }
    }

    fn record(&mut self, result: Result<(), String>) {
        if let Err(error) = result {
            tracing::warn!("{error}");
            if self.errors.len() < MAX_KEPT_ERRORS {
                self.errors.push(error);
            } else {
                self.dropped_errors += 1;
            }
        }
    }

    fn take_errors(&mut self) -> Vec<String> {
        let mut errors = std::mem::take(&mut self.errors);
        if self.dropped_errors > 0 {
            errors.push(format!("... and {} more failures", self.dropped_errors));
            self.dropped_errors = 0;
        }
        if let Some((first, failure, count)) = self.skipped.take() {
            let reported = errors.contains(&failure);
            errors.push(skipped_report(first, &failure, count, reported));
        }
        errors
    }

    /// The failures a read of `meta` must report instead of its values.
    fn read_errors(&mut self, meta: &TensorMeta) -> Vec<String> {
        let mut errors = self.take_errors();
        if let Some(failure) = self.failed.get(&meta.storage) {
            if !errors.iter().any(|e| e.contains(failure.as_str())) {
                errors.push(format!(
                    "this tensor has no values, as an op it depends on failed: {failure}"
                ));
            }
        }
        errors
    }

    fn query(&mut self, query: SizeQuery, meta: &TensorMeta) -> Reply {
        let errors = self.read_errors(meta);
        if !errors.is_empty() {
            return (HostMessage::Failed { errors }, Payload::default());
        }
        match self.runtime.kernels().data_size_of(query, meta) {
            Ok(size) => (HostMessage::Size(size), Payload::default()),
            Err(e) => (HostMessage::Failed { errors: vec![e] }, Payload::default()),
        }
    }

    fn download(&mut self, meta: &TensorMeta) -> Reply {
        let errors = self.read_errors(meta);
        if !errors.is_empty() {
            return (HostMessage::Failed { errors }, Payload::default());
        }
        match self
            .storages()
            .view(meta)
            .and_then(|view| Payload::dense(&view))
        {
            Ok(bytes) => (HostMessage::Data, bytes),
            Err(e) => (
                HostMessage::Failed {
                    errors: vec![format!("download: {e}")],
                },
                Payload::default(),
            ),
        }
    }

    pub fn stats(&mut self) -> HostStats {
        let (storages, bytes) = self.storages().usage();
        let info = hardware::describe(self.device);
        HostStats {
            storages,
            bytes,
            ops: self.ops,
            device: device_label(self.device),
            device_name: info.name.clone(),
            total_memory: info.total_memory,
            free_memory: hardware::free_memory(self.device),
            capability: info.capability,
            peak_bytes: self.storages().peak(),
            rng: self.runtime.kernels().rng_state(),
        }
    }
}

/// Says that `first` and `count - 1` later ops were not run for `failure`, which the same
/// report already gives when `reported`.
fn skipped_report(first: String, failure: &str, count: u64, reported: bool) -> String {
    let (ops, depend, were) = match count {
        1 => (first, "depends", "was"),
        n => (format!("{first} and {} later ops", n - 1), "depend", "were"),
    };
    if reported {
        format!("{ops}, which {depend} on it, {were} not run")
    } else {
        format!("{ops}, which {depend} on an op that failed, {were} not run: {failure}")
    }
}

pub fn device_label(device: Device) -> String {
    match device {
        Device::Cuda(i) => format!("cuda:{i}"),
        _ => "cpu".into(),
    }
}
