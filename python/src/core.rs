//! The client core: runs each op through the local guest for its outputs' metadata and
//! streams it to the host in batches; only reads wait for the host.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use torch_remote_host::guest::{
    Arg, GuestRuntime, OpContext, OpError, OpSettings, Output, ScalarType, SizeQuery, TensorMeta,
    Warning, DEFAULT_SETTINGS,
};
use torch_remote_host::memo::op_key;
use torch_remote_host::protocol::{ClientMessage, HostMessage, HostStats, Op};

use crate::kernels::{device_of, made_before, new_storage_id, storage_mark, Recorder, MAX_DEVICES};
use crate::link::{Link, LinkError};
use crate::lowering::{Lowering, Lowerings};

/// Sizes one op may ask the host for before it counts as broken.
const MAX_QUERIES: usize = 16;

/// Ops held back before a batch goes out even if nobody waits: few enough that the host is
/// already running a training step's forward while the client still issues its backward.
const BATCH_OPS: usize = 32;

/// A batch older than this goes out with the next op, however few it holds.
const BATCH_AGE: Duration = Duration::from_micros(200);

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("{0}")]
    Op(String),
    #[error("{0}")]
    NotImplemented(String),
    /// A dim or index out of range (Python's `IndexError`).
    #[error("{0}")]
    Index(String),
    /// An argument value the op does not take (Python's `ValueError`).
    #[error("{0}")]
    Value(String),
    /// A factorization that failed on the matrix's values (`torch.linalg.LinAlgError`).
    #[error("{0}")]
    Linalg(String),
    /// An argument of the wrong type (Python's `TypeError`).
    #[error("{0}")]
    WrongType(String),
    #[error(transparent)]
    Link(#[from] LinkError),
    #[error("the remote host reported: {}", .0.join("; "))]
    Host(Vec<String>),
    #[error("dry run: {0} needs the values of remote tensors, which a dry run does not have")]
    DryRun(String),
    #[error(
        "no remote host is configured; call torch_remote.connect() or unset TORCH_REMOTE_DRY_RUN"
    )]
    NotConnected,
    #[error("the guest failed: {0}")]
    Guest(String),
    #[error(
        "cannot use the remote device in a forked subprocess: its connection to the host \
         belongs to the parent process. To use remote with multiprocessing, use the 'spawn' \
         start method"
    )]
    Forked,
}

pub type Result<T> = std::result::Result<T, CoreError>;

/// Client-side counters, as `torch.remote.stats()` shows them.
#[derive(Debug, Default, Clone)]
pub struct ClientStats {
    pub ops: u64,
    pub batches: u64,
    pub round_trips: u64,
    pub bytes_up: u64,
    pub bytes_down: u64,
}

/// An op's outputs and the storages it created that outlive it.
#[derive(Default)]
pub struct Dispatched {
    pub outputs: Vec<Output>,
    pub storages: HashMap<u64, u64>,
    pub warnings: Vec<Warning>,
}

/// One remote device: the link to its host and what waits to go there.
#[derive(Default)]
struct Remote {
    link: Option<Link>,
    batch: Vec<Op>,
    /// When the first op of `batch` was queued.
    batch_since: Option<Instant>,
    seq: u64,
    /// Storages PyTorch released that this host has not been told of yet.
    released: Vec<u64>,
    /// The host's first figures, whose device, name, memory and capability never change.
    hardware: Option<HostStats>,
}

pub struct Core {
    guest: GuestRuntime<Recorder>,
    /// `remote:0`, `remote:1`, ... in order.
    remotes: Vec<Remote>,
    dry_run: bool,
    /// The first storage id (its [`storage_mark`]) of the dry run under way.
    dry_run_from: u64,
    /// Bytes of live storages, for the dry run's memory figures.
    live: HashMap<u64, u64>,
    pub stats: ClientStats,
    settings: OpSettings,
    lowerings: Lowerings,
}

static CORE: Mutex<Option<Core>> = Mutex::new(None);
/// Storages PyTorch released; kept apart from the core so a deleter never waits on it.
static RELEASED: Mutex<Vec<u64>> = Mutex::new(Vec::new());
/// The remote `torch.Generator`s PyTorch freed, by device, kept apart as `RELEASED` is.
static RELEASED_GENERATORS: Mutex<Vec<(usize, u64)>> = Mutex::new(Vec::new());

/// Generator `id` of `remote:{device}` is gone: its host forgets its state after the ops
/// already queued.
pub fn release_generator(device: usize, id: u64) {
    RELEASED_GENERATORS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push((device, id));
}

/// The generators of `remote:{device}` released since this was last asked.
fn take_released_generators(device: usize) -> Vec<u64> {
    let mut all = RELEASED_GENERATORS
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    let (mine, others): (Vec<_>, Vec<_>) = all.drain(..).partition(|&(d, _)| d == device);
    *all = others;
    mine.into_iter().map(|(_, id)| id).collect()
}

/// Whether this process was forked from one attached to a host: the links and the embedded
/// host are the parent's, and the child must neither use nor close them.
static FORKED: AtomicBool = AtomicBool::new(false);

/// Called in the child after a `fork`: a child of an attached process is cut off.
pub fn after_fork_in_child() {
    if crate::session::was_attached() {
        FORKED.store(true, Ordering::Relaxed);
    }
}

pub fn is_forked() -> bool {
    FORKED.load(Ordering::Relaxed)
}

/// The core, created on first use.
pub fn core() -> Result<MutexGuard<'static, Option<Core>>> {
    if is_forked() {
        return Err(CoreError::Forked);
    }
    let mut guard = CORE.lock().unwrap_or_else(|p| p.into_inner());
    if guard.is_none() {
        let guest =
            GuestRuntime::new(Recorder::new(0)).map_err(|e| CoreError::Guest(e.to_string()))?;
        *guard = Some(Core {
            guest,
            remotes: vec![Remote::default()],
            dry_run: false,
            dry_run_from: 0,
            live: HashMap::new(),
            stats: ClientStats::default(),
            settings: DEFAULT_SETTINGS,
            lowerings: Lowerings::default(),
        });
    }
    Ok(guard)
}

/// Every `name.overload` the guest runs.
pub fn supported_ops() -> Result<Vec<String>> {
    let mut guard = core()?;
    let core = guard.as_mut().expect("core() initialises the core");
    core.guest
        .supported()
        .map_err(|e| CoreError::Guest(e.to_string()))
}

/// Notes a storage PyTorch no longer references.
pub fn release(id: u64) {
    RELEASED.lock().unwrap_or_else(|p| p.into_inner()).push(id);
}

fn op_error(e: OpError) -> CoreError {
    use torch_remote_host::guest::ErrorKind;
    // The guest's message starts with the op already.
    match e.kind {
        ErrorKind::NotImplemented => CoreError::NotImplemented(e.message),
        ErrorKind::IndexOutOfRange => CoreError::Index(e.message),
        ErrorKind::InvalidValue => CoreError::Value(e.message),
        ErrorKind::LinalgFailed => CoreError::Linalg(e.message),
        ErrorKind::WrongType => CoreError::WrongType(e.message),
        _ => CoreError::Op(e.message),
    }
}

/// Contiguous strides of `sizes`.
pub fn contiguous_strides(sizes: &[i64]) -> Vec<i64> {
    let mut strides = vec![1; sizes.len()];
    for i in (0..sizes.len().saturating_sub(1)).rev() {
        strides[i] = strides[i + 1] * sizes[i + 1].max(1);
    }
    strides
}

/// `op`'s complaint about a tensor argument that is not on `remote:{device}`.
fn wrong_device(op: &str, device: usize, args: &[Arg]) -> CoreError {
    let metas = args.iter().flat_map(|arg| match arg {
        Arg::Tensor(m) => vec![m],
        Arg::OptionalTensor(m) => m.iter().collect(),
        Arg::TensorList(ms) => ms.iter().collect(),
        Arg::OptionalTensorList(ms) => ms.iter().flatten().collect(),
        _ => vec![],
    });
    let found = metas
        .into_iter()
        .find(|m| device_of(m.storage) != device)
        .map(|m| {
            let other = device_of(m.storage);
            format!(
                " and remote:{other}! (a tensor of shape {:?} on remote:{other}",
                m.sizes
            )
        })
        .unwrap_or_else(|| "! (a tensor elsewhere".into());
    // CUDA's words first: code may look for them.
    CoreError::Op(format!(
        "{op}: Expected all tensors to be on the same device, but found at least two devices, \
         remote:{device}{found}; move it with .to(\"remote:{device}\") first)"
    ))
}

impl CoreError {
    /// Whether this is memory a host could not have: `torch.OutOfMemoryError`, as on CUDA.
    pub fn is_out_of_memory(&self) -> bool {
        matches!(self, CoreError::Host(errors) if errors.iter().any(|e| out_of_memory(e)))
    }
}

/// Whether a host's failure is running out of memory: a storage it could not allocate, or
/// libtorch's words for CUDA's allocator and the CPU's.
pub fn out_of_memory(message: &str) -> bool {
    ["cannot allocate", "out of memory", "not enough memory"]
        .iter()
        .any(|words| message.contains(words))
}

impl Core {
    /// Forgets every host (and what was queued for them): `devices` remote devices follow,
    /// attached at the next op.
    pub fn detach(&mut self, devices: usize) {
        self.remotes = (0..devices.clamp(1, MAX_DEVICES))
            .map(|_| Remote::default())
            .collect();
        // The storages of the hosts left behind hold nothing on the ones to come.
        self.live.clear();
    }

    /// Whether every remote device has its link.
    pub fn is_attached(&self) -> bool {
        self.remotes.iter().all(|r| r.link.is_some())
    }

    /// Gives the remote devices their links, in order.
    pub fn attach(&mut self, links: Vec<Link>) {
        for (remote, link) in self.remotes.iter_mut().zip(links) {
            remote.link = Some(link);
        }
    }

    fn check_device(&self, op: &str, device: usize) -> Result<()> {
        if device < self.remotes.len() {
            return Ok(());
        }
        Err(CoreError::Op(format!(
            "{op}: remote:{device} does not exist ({} remote devices)",
            self.remotes.len()
        )))
    }

    /// In a dry run nothing goes to the host; the link, if any, stays for afterwards.
    pub fn set_dry_run(&mut self, on: bool) {
        if on && !self.dry_run {
            self.dry_run_from = storage_mark();
        }
        if !on && self.dry_run {
            // The run's own storages never reached a host: they hold no memory there.
            let from = self.dry_run_from;
            self.live.retain(|&id, _| made_before(id, from));
        }
        self.dry_run = on;
    }

    /// Follows `torch.set_default_dtype` and `torch.use_deterministic_algorithms` (the shim
    /// passes them with every op).
    pub fn set_settings(&mut self, settings: OpSettings) {
        self.settings = settings;
    }

    /// Lowers one op on `remote:{device}` (through the local guest, unless an op with its
    /// key was lowered before) and queues it for that device's host. Every tensor it names
    /// must live there.
    pub fn dispatch(
        &mut self,
        device: usize,
        name: &str,
        overload: &str,
        args: Vec<Arg>,
    ) -> Result<Dispatched> {
        let (key, named) = op_key(name, overload, &args, &self.settings);
        if named.iter().any(|&id| device_of(id) != device) || device >= self.remotes.len() {
            let op = format!(
                "{name}{}{overload}",
                if overload.is_empty() { "" } else { "." }
            );
            self.check_device(&op, device)?;
            return Err(wrong_device(&op, device, &args));
        }
        let lowering = match self.lowerings.get(&key, &named, device) {
            Some(lowering) => lowering,
            None => {
                let lowering = self.lower(device, name, overload, &args)?;
                if !lowering.reads_values {
                    self.lowerings.insert(key, named, lowering.clone());
                }
                lowering
            }
        };
        let mut storages: HashMap<u64, u64> = lowering.created.iter().copied().collect();
        for id in &lowering.freed {
            storages.remove(id);
        }
        self.live.extend(storages.iter().map(|(&id, &n)| (id, n)));
        if lowering.needs_host {
            self.stats.ops += 1;
            let ids = lowering.created.iter().map(|&(id, _)| id).collect();
            let op = Op {
                name: name.into(),
                overload: overload.into(),
                args,
                storages: ids,
                settings: self.settings,
                released: if self.dry_run {
                    Vec::new()
                } else {
                    self.take_released(device)
                },
            };
            self.queue(device, op)?;
        }
        Ok(Dispatched {
            outputs: lowering.outputs,
            storages,
            warnings: lowering.warnings,
        })
    }

    /// Runs one op on `remote:{device}` through the local guest. An op whose output sizes
    /// depend on values (`nonzero`, boolean masks, `unique`) asks the host for each size
    /// and runs again.
    pub(crate) fn lower(
        &mut self,
        device: usize,
        name: &str,
        overload: &str,
        args: &[Arg],
    ) -> Result<Lowering> {
        let mut answers = Vec::new();
        loop {
            let mut recorder = Recorder::new(device);
            recorder.answers = answers;
            *self.guest.kernels() = recorder;
            let context = OpContext {
                settings: self.settings,
                launch_kernels: false,
            };
            let outputs = self
                .guest
                .run(name, overload, args, context)
                .map_err(|e| CoreError::Guest(e.to_string()))?;
            let recorder = self.guest.kernels();
            answers = std::mem::take(&mut recorder.answers);
            match (outputs, recorder.asked.take()) {
                (Err(_), Some((query, tensor))) if answers.len() < MAX_QUERIES => {
                    let size = self.data_size(device, name, query, &tensor)?;
                    answers.push((query, tensor, size));
                }
                (outputs, _) => {
                    let recorder = self.guest.kernels();
                    recorder.answers = answers;
                    return Ok(Lowering::new(outputs.map_err(op_error)?, recorder));
                }
            }
        }
    }

    /// The size `query` gives for `tensor`, from the host: the one round trip of a
    /// data-dependent op.
    fn data_size(
        &mut self,
        device: usize,
        op: &str,
        query: SizeQuery,
        tensor: &TensorMeta,
    ) -> Result<i64> {
        if query == SizeQuery::StorageBytes {
            if let Some(&bytes) = self.live.get(&tensor.storage) {
                return Ok(bytes as i64);
            }
        }
        if let (true, SizeQuery::FirstNonzero(_)) = (self.dry_run, query) {
            // Without values a dry run takes every factorization to succeed: no info is
            // nonzero up to the last.
            return Ok(i64::MAX);
        }
        if self.dry_run {
            return Err(CoreError::DryRun(format!(
                "{op} (its output's size depends on them)"
            )));
        }
        match self.request(
            device,
            &ClientMessage::Query {
                query,
                tensor: tensor.clone(),
            },
        )? {
            (HostMessage::Size(size), _) => Ok(size),
            (HostMessage::Failed { errors }, _) => Err(CoreError::Host(
                errors.into_iter().map(|e| format!("{op}: {e}")).collect(),
            )),
            (other, _) => Err(LinkError::Unexpected(Box::new(other)).into()),
        }
    }

    fn queue(&mut self, device: usize, op: Op) -> Result<()> {
        if self.dry_run {
            return Ok(());
        }
        let remote = &mut self.remotes[device];
        remote.batch.push(op);
        let since = *remote.batch_since.get_or_insert_with(Instant::now);
        if remote.batch.len() >= BATCH_OPS || since.elapsed() >= BATCH_AGE {
            self.send_batch(device)?;
            // Out now rather than when the buffer fills: the host runs it while more ops come.
            self.link(device)?.flush()?;
        }
        Ok(())
    }

    fn link(&mut self, device: usize) -> Result<&mut Link> {
        self.remotes
            .get_mut(device)
            .and_then(|r| r.link.as_mut())
            .ok_or(CoreError::NotConnected)
    }

    /// Hands the storages PyTorch released to the devices holding them.
    /// A dry run's own storages never reached a host; those made before it are freed there
    /// once it is over.
    fn sort_released(&mut self) {
        let released = std::mem::take(&mut *RELEASED.lock().unwrap_or_else(|p| p.into_inner()));
        for id in released {
            self.live.remove(&id);
            if self.dry_run && !made_before(id, self.dry_run_from) {
                continue;
            }
            if let Some(remote) = self.remotes.get_mut(device_of(id)) {
                remote.released.push(id);
            }
        }
    }

    /// The storages of `remote:{device}` PyTorch released since they were last sent.
    fn take_released(&mut self, device: usize) -> Vec<u64> {
        self.sort_released();
        std::mem::take(&mut self.remotes[device].released)
    }

    /// Sends `remote:{device}`'s batch and the storages of it PyTorch released since.
    fn send_batch(&mut self, device: usize) -> Result<()> {
        self.sort_released();
        if self.dry_run {
            return Ok(());
        }
        let remote = &mut self.remotes[device];
        remote.batch_since = None;
        let batch = std::mem::take(&mut remote.batch);
        let released = std::mem::take(&mut remote.released);
        if !batch.is_empty() {
            remote.seq += 1;
            self.stats.batches += 1;
            let message = ClientMessage::Batch {
                seq: remote.seq,
                ops: batch,
            };
            self.link(device)?.send(&message, &[])?;
        }
        let generators = take_released_generators(device);
        if let (false, Some(link)) = (generators.is_empty(), &mut self.remotes[device].link) {
            link.send(&ClientMessage::DropGenerators { ids: generators }, &[])?;
        }
        if !released.is_empty() {
            self.link(device)?
                .send(&ClientMessage::Free { storages: released }, &[])?;
        }
        Ok(())
    }

    /// Sends a message that must keep its place after the ops queued so far for `device`.
    fn send_in_order(
        &mut self,
        device: usize,
        message: ClientMessage,
        payload: &[u8],
    ) -> Result<()> {
        self.send_batch(device)?;
        if !self.dry_run {
            self.stats.bytes_up += payload.len() as u64;
            self.link(device)?.send(&message, payload)?;
        }
        Ok(())
    }

    /// A storage PyTorch's allocator asked for on `remote:{device}`.
    pub fn alloc(&mut self, device: usize, nbytes: u64) -> Result<u64> {
        self.check_device("allocating a storage", device)?;
        let id = new_storage_id(device);
        self.live.insert(id, nbytes);
        self.send_in_order(
            device,
            ClientMessage::Alloc {
                storage: id,
                nbytes,
            },
            &[],
        )?;
        Ok(id)
    }

    /// A new storage of `new_nbytes` holding the first bytes of storage `id`.
    pub fn resize_storage(&mut self, id: u64, old_nbytes: u64, new_nbytes: u64) -> Result<u64> {
        let device = device_of(id);
        let new = self.alloc(device, new_nbytes)?;
        let kept = old_nbytes.min(new_nbytes) as i64;
        let bytes = |storage| TensorMeta {
            sizes: vec![kept],
            strides: vec![1],
            storage_offset: 0,
            dtype: ScalarType::Uint8,
            storage,
        };
        if kept > 0 {
            let args = vec![
                Arg::Tensor(bytes(new)),
                Arg::Tensor(bytes(id)),
                Arg::Boolean(false),
            ];
            self.dispatch(device, "copy_", "", args)?;
        }
        Ok(new)
    }

    /// `device`'s link for a request that waits: everything queued for it goes first, and
    /// it counts as a round trip.
    fn waiting_link(&mut self, device: usize) -> Result<&mut Link> {
        self.send_batch(device)?;
        self.stats.round_trips += 1;
        self.link(device)
    }

    fn request(
        &mut self,
        device: usize,
        message: &ClientMessage,
    ) -> Result<(HostMessage, Vec<u8>)> {
        let reply = self.waiting_link(device)?.request(message)?;
        self.stats.bytes_down += reply.1.len() as u64;
        Ok(reply)
    }

    /// Copies dense CPU bytes of `dtype` and `sizes` into the remote tensor `dst`; what the
    /// conversion gives (its warnings) is that of `copy_`.
    pub fn upload(
        &mut self,
        dst: TensorMeta,
        dtype: ScalarType,
        sizes: Vec<i64>,
        bytes: &[u8],
    ) -> Result<Dispatched> {
        let device = device_of(dst.storage);
        let whole = dst.storage_offset == 0
            && dst.dtype == dtype
            && dst.sizes == sizes
            && dst.strides == contiguous_strides(&sizes)
            && self.live.get(&dst.storage) == Some(&(bytes.len() as u64));
        if whole {
            // `dst` is its storage, byte for byte: the bytes replace it, with no copy kernel.
            let message = ClientMessage::Replace {
                storage: dst.storage,
            };
            self.send_in_order(device, message, bytes)?;
            return Ok(Dispatched::default());
        }
        let tmp = new_storage_id(device);
        self.send_in_order(device, ClientMessage::Upload { storage: tmp }, bytes)?;
        let strides = contiguous_strides(&sizes);
        let src = TensorMeta {
            sizes,
            strides,
            storage_offset: 0,
            dtype,
            storage: tmp,
        };
        let copied = self.dispatch(
            device,
            "copy_",
            "",
            vec![Arg::Tensor(dst), Arg::Tensor(src), Arg::Boolean(false)],
        )?;
        RELEASED.lock().unwrap_or_else(|p| p.into_inner()).push(tmp);
        Ok(copied)
    }

    /// Reads the bytes of `src`, densely packed, into `out` (exactly as many bytes).
    pub fn download(&mut self, src: TensorMeta, what: &str, out: &mut [u8]) -> Result<()> {
        if self.dry_run {
            return Err(CoreError::DryRun(what.to_string()));
        }
        let device = device_of(src.storage);
        let message = ClientMessage::Download { tensor: src };
        match self.waiting_link(device)?.request_into(&message, out)? {
            HostMessage::Data => {
                self.stats.bytes_down += out.len() as u64;
                Ok(())
            }
            HostMessage::Failed { errors } => Err(CoreError::Host(errors)),
            other => Err(LinkError::Unexpected(Box::new(other)).into()),
        }
    }

    /// Waits for every op sent so far to `remote:{device}`; raises what failed on its host
    /// since the last wait.
    pub fn synchronize(&mut self, device: usize) -> Result<()> {
        self.check_device("synchronize", device)?;
        if self.dry_run {
            return Ok(());
        }
        match self.request(device, &ClientMessage::Sync)? {
            (HostMessage::Synced { errors }, _) if errors.is_empty() => Ok(()),
            (HostMessage::Synced { errors }, _) => Err(CoreError::Host(errors)),
            (other, _) => Err(LinkError::Unexpected(Box::new(other)).into()),
        }
    }

    /// Waits for every op sent so far to `remote:{device}`, leaving what failed on its host
    /// to the next wait that raises (for callers that cannot raise, as the profiler's
    /// events): the host answers a figures request after the ops before it.
    pub fn wait_quietly(&mut self, device: usize) -> Result<()> {
        self.host_stats(device).map(drop)
    }

    /// Sets `remote:{device}`'s random state: a seed, and the random ops run since it was set.
    pub fn set_rng_state(&mut self, device: usize, seed: u64, offset: u64) -> Result<()> {
        self.check_device("set_rng_state", device)?;
        self.send_in_order(device, ClientMessage::Seed { seed, offset }, &[])
    }

    /// Makes generator `id` (0: the device's default) the one `remote:{device}`'s next ops
    /// draw from; the host keeps each generator's state.
    pub fn select_generator(&mut self, device: usize, id: u64) -> Result<()> {
        self.check_device("generator", device)?;
        self.send_in_order(device, ClientMessage::Generator { id }, &[])
    }

    /// Seeds generator `id` of `remote:{device}`, or puts it back to a saved state.
    pub fn seed_generator(&mut self, device: usize, id: u64, seed: u64, offset: u64) -> Result<()> {
        self.select_generator(device, id)?;
        self.set_rng_state(device, seed, offset)?;
        self.select_generator(device, 0)
    }

    /// Generator `id`'s state on `remote:{device}`: its seed and the random ops it ran since;
    /// none in a dry run, where no host keeps it.
    pub fn generator_state(&mut self, device: usize, id: u64) -> Result<Option<(u64, u64)>> {
        if self.dry_run {
            return Ok(None);
        }
        self.select_generator(device, id)?;
        let stats = self.host_stats(device);
        self.select_generator(device, 0)?;
        Ok(Some(stats?.rng))
    }

    /// Has `remote:{device}`'s host free the memory it keeps for reuse.
    pub fn empty_cache(&mut self, device: usize) -> Result<()> {
        self.check_device("empty_cache", device)?;
        self.send_in_order(device, ClientMessage::EmptyCache, &[])?;
        // Now, not with the next batch: the caller wants the memory back while it waits.
        match &mut self.remotes[device].link {
            Some(link) if !self.dry_run => Ok(link.flush()?),
            _ => Ok(()),
        }
    }

    pub fn reset_peak(&mut self, device: usize) -> Result<()> {
        self.check_device("reset_peak_memory_stats", device)?;
        self.send_in_order(device, ClientMessage::ResetPeak, &[])
    }

    /// `remote:{device}`'s figures for this session; in a dry run, the client's own count.
    pub fn host_stats(&mut self, device: usize) -> Result<HostStats> {
        self.check_device("host stats", device)?;
        if self.dry_run {
            self.send_batch(device)?;
            return Ok(HostStats {
                storages: self.live_on(device).count() as u64,
                bytes: self.live_bytes(device)?,
                device: "dry-run".into(),
                device_name: "dry run (no host)".into(),
                ..HostStats::default()
            });
        }
        match self.request(device, &ClientMessage::Stats)? {
            (HostMessage::Stats(stats), _) => Ok(stats),
            (other, _) => Err(LinkError::Unexpected(Box::new(other)).into()),
        }
    }

    /// The live storages on `remote:{device}`, with their bytes.
    fn live_on(&self, device: usize) -> impl Iterator<Item = (&u64, &u64)> {
        self.live
            .iter()
            .filter(move |(&id, _)| device_of(id) == device)
    }

    /// Bytes of the storages on `remote:{device}` that PyTorch holds: what its host holds
    /// for this client once it has run the ops sent, known here without asking.
    pub fn live_bytes(&mut self, device: usize) -> Result<u64> {
        self.check_device("memory_allocated", device)?;
        self.sort_released();
        Ok(self.live_on(device).map(|(_, &n)| n).sum())
    }

    /// The figures of `remote:{device}`'s host that never change (what it computes on, its
    /// name, memory and capability): asked once per host, as CUDA reads a GPU's properties
    /// once, so code that reads them every step waits for nothing.
    pub fn hardware(&mut self, device: usize) -> Result<HostStats> {
        self.check_device("host stats", device)?;
        if self.dry_run {
            return self.host_stats(device);
        }
        if let Some(known) = &self.remotes[device].hardware {
            return Ok(known.clone());
        }
        let stats = self.host_stats(device)?;
        self.remotes[device].hardware = Some(stats.clone());
        Ok(stats)
    }
}
