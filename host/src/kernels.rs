//! The guest's kernel imports, run with libtorch on the session's device.
//!
//! A kernel computes its result from views of the inputs, checks the result's shape and
//! dtype against the output metadata the guest computed, and puts it in the output: as the
//! memory of a storage the op created when the layouts agree, else as a copy into the output
//! view (in-place arithmetic writes straight into its `self`). It never decides a shape; a
//! disagreement is an error, not a guess.

mod activation;
mod aten;
mod attention;
mod audio;
mod conv;
mod data;
mod elements;
mod elementwise;
mod embedding_bag;
mod index;
mod library;
mod linalg;
mod loss;
mod numbers;
mod optim;
pub mod plan;
mod pool;
mod recurrent;
mod recurrent_layer;
mod resample;
mod segment;
pub(crate) mod vision;

use std::cell::Cell;
use std::collections::{HashMap, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Mutex, Once};

use tch::{Kind, Reduction, Tensor};

use crate::guest::{
    ActivationOp, BinaryOp, ConvParams, Determinism, GatherOp, IndexReduceOp, KernelsHost,
    LibraryOp, LinalgOp, LossOp, LossOptions, MomentOp, Operand, PadMode, PoolOp, PoolParams,
    RandomOp, ReduceOp, SampleOp, Scalar, ScalarType, ScanOp, ScatterOp, SelectOp, SizeQuery,
    StorageId, TensorMeta, TernaryOp, TypesHost, UnaryOp, UpsampleMode,
};
use crate::storage::{kind_of, Storages};
use elementwise::{binary_in_place, binary_result, reduce_result, unary_result, writes_self};
use plan::Step;

pub type KernelResult = Result<(), String>;

extern "C" {
    fn trh_enter_session_thread();
    fn trh_set_determinism(on: bool);
}

/// Has libtorch choose deterministic kernels when the client ran the op under deterministic
/// algorithms (`csrc/session_thread.cpp`).
pub fn set_determinism(determinism: Determinism) {
    // SAFETY: a plain value; libtorch's context is process-wide and takes it at any time.
    unsafe { trh_set_determinism(determinism != Determinism::Off) }
}

/// Sets this thread up to run a session's kernels (`csrc/session_thread.cpp`): autograd off,
/// as the client sends backward ops itself, and libtorch's warnings dropped, as the client
/// gives each op's warnings from the guest, where the op was called.
pub fn enter_session_thread() {
    // SAFETY: no arguments; what it installs lives as long as the thread.
    unsafe { trh_enter_session_thread() }
}

/// c10's `default_rng_seed_val`: the seed of a generator nobody seeded.
const DEFAULT_SEED: u64 = 67_280_421_310_721;

/// A seed nobody can predict, for a session's default generator: the CPU's and each CUDA
/// device's default generators start from one.
fn random_seed() -> u64 {
    use std::hash::BuildHasher;
    std::hash::RandomState::new().hash_one(std::time::SystemTime::now())
}

/// The most generator states one session keeps.
const MAX_GENERATORS: usize = 4096;

/// libtorch's default generator is process-wide; sessions take turns with it.
static RNG: Mutex<()> = Mutex::new(());

/// Kernel state of one session.
pub struct TchKernels {
    pub storages: Storages,
    /// Ids the client's guest received from `new-storage` for the op being run.
    pending: VecDeque<u64>,
    /// A fault outside any kernel's result (a storage the client did not name).
    fault: Option<String>,
    seed: u64,
    random_ops: u64,
    /// The generator whose state `seed` and `random_ops` are, and the others' states.
    generator: u64,
    generators: HashMap<u64, (u64, u64)>,
    /// The steps of the op being run, while its lowering is being recorded.
    recording: Option<Vec<Step>>,
}

impl TchKernels {
    pub fn new(storages: Storages) -> Self {
        Self {
            storages,
            pending: VecDeque::new(),
            fault: None,
            seed: random_seed(),
            random_ops: 0,
            generator: 0,
            generators: HashMap::new(),
            recording: None,
        }
    }

    /// Prepares for one op: the storage ids its `new-storage` calls must return.
    pub fn begin_op(&mut self, storages: &[u64]) {
        self.pending = storages.iter().copied().collect();
        self.fault = None;
        self.storages.begin_op();
    }

    /// Ends an op: any fault, or ids the client gave that the guest did not ask for.
    pub fn end_op(&mut self) -> Result<(), String> {
        if let Some(fault) = self.fault.take() {
            return Err(fault);
        }
        if !self.pending.is_empty() {
            return Err(format!(
                "the client named {} storages the op did not create",
                self.pending.len()
            ));
        }
        Ok(())
    }

    /// Starts keeping every import the guest calls, so the op can be replayed without it.
    pub fn record(&mut self) {
        self.recording = Some(Vec::new());
    }

    /// The steps kept since [`record`](Self::record); none when the op read values
    /// (`data-size`), so that it cannot be replayed.
    pub fn take_recording(&mut self) -> Option<Vec<Step>> {
        self.recording.take()
    }

    fn note(&mut self, step: Step) {
        if let Some(steps) = &mut self.recording {
            steps.push(step);
        }
    }

    /// Runs one kernel now and, while recording, keeps it for replays of the same lowering.
    fn launch(
        &mut self,
        kernel: impl Fn(&mut TchKernels) -> KernelResult + Send + 'static,
    ) -> KernelResult {
        let result = guarded(|| kernel(self));
        self.note(Step::Kernel(Box::new(kernel)));
        result
    }

    /// The answer to a client's `data-size` query, read off the values as the guest's is.
    pub fn data_size_of(&self, query: SizeQuery, x: &TensorMeta) -> Result<i64, String> {
        if query == SizeQuery::StorageBytes {
            let bytes = self.storages.nbytes(x.storage);
            return bytes
                .map(|n| n as i64)
                .ok_or_else(|| format!("storage {} does not exist", x.storage));
        }
        if let SizeQuery::Nms(q) = query {
            let scores = TensorMeta {
                sizes: vec![x.sizes.first().copied().unwrap_or(0)],
                strides: vec![q.scores_stride],
                storage_offset: q.scores_offset,
                dtype: x.dtype,
                storage: q.scores,
            };
            let (dets, scores) = (self.view(x)?, self.view(&scores)?);
            let kept = vision::kept(&dets, &scores, q.iou_threshold).map_err(err)?;
            return Ok(kept.len() as i64);
        }
        data::size(query, &self.view(x)?).map_err(err)
    }

    /// Sets the random state: the seed, and how many random ops ran since it was set.
    pub fn set_rng_state(&mut self, seed: u64, offset: u64) {
        self.seed = seed;
        self.random_ops = offset;
    }

    pub fn rng_state(&self) -> (u64, u64) {
        (self.seed, self.random_ops)
    }

    /// Forgets the states of generators the client freed (never the default's, nor the one
    /// in use).
    pub fn drop_generators(&mut self, ids: &[u64]) {
        for id in ids {
            if *id != 0 && *id != self.generator {
                self.generators.remove(id);
            }
        }
    }

    /// Makes generator `id`'s state the one random ops use; a generator not seen before
    /// starts from c10's default seed, as a new `torch.Generator` does.
    pub fn select_generator(&mut self, id: u64) {
        if id == self.generator {
            return;
        }
        if self.generators.len() >= MAX_GENERATORS && !self.generators.contains_key(&id) {
            // The client names generators; a flood of new names must not grow the host.
            self.generators.retain(|&kept, _| kept == 0);
        }
        self.generators
            .insert(self.generator, (self.seed, self.random_ops));
        (self.seed, self.random_ops) = self.generators.remove(&id).unwrap_or((DEFAULT_SEED, 0));
        self.generator = id;
    }

    fn view(&self, meta: &TensorMeta) -> Result<Tensor, String> {
        self.storages.view(meta)
    }

    fn views(&self, metas: &[TensorMeta]) -> Result<Vec<Tensor>, String> {
        metas.iter().map(|m| self.view(m)).collect()
    }

    /// Writes each result to its output; an output without elements (a factor the op was
    /// not asked for) needs nothing.
    fn write_each(&mut self, outs: &[TensorMeta], results: Vec<Tensor>) -> KernelResult {
        if outs.len() != results.len() {
            return Err(format!(
                "the kernel made {} results for {} outputs",
                results.len(),
                outs.len()
            ));
        }
        for (out, result) in outs.iter().zip(results) {
            if out.sizes.iter().product::<i64>() > 0 {
                self.write(out, result)?;
            }
        }
        Ok(())
    }

    fn operand(&self, operand: &Operand, compute: Kind) -> Result<Tensor, String> {
        match operand {
            Operand::Tensor(meta) => cast(self.view(meta)?, compute),
            Operand::Number(value) => number(value, (compute, self.storages.device())).map_err(err),
        }
    }

    /// The operands of a binary kernel as PyTorch's own call passes them, for libtorch to
    /// promote to `compute` itself: a number wrapped ([`numbers::wrapped`]); beside a
    /// half-precision computation, a real tensor of another dtype broadcast from one element
    /// (a 0-dim one, as the guest hands it expanded) as that 0-dim tensor, in its own dtype
    /// (the CPU's kernel reads either whole, in float); any other tensor in `compute`. Two
    /// numbers, with no tensor to rank them below, are both made tensors of `compute`.
    fn binary_operands(
        &self,
        a: &Operand,
        b: &Operand,
        compute: Kind,
    ) -> Result<(Tensor, Tensor), String> {
        if let (Operand::Number(_), Operand::Number(_)) = (a, b) {
            return Ok((self.operand(a, compute)?, self.operand(b, compute)?));
        }
        let half = matches!(compute, Kind::Half | Kind::BFloat16);
        let taken = |operand: &Operand| match operand {
            Operand::Number(value) => numbers::wrapped(value).map_err(err),
            Operand::Tensor(t)
                if half
                    && kind_of(t.dtype) != compute
                    && !is_complex_dtype(t.dtype)
                    && t.strides.iter().all(|&s| s == 0) =>
            {
                self.view(&TensorMeta {
                    sizes: Vec::new(),
                    strides: Vec::new(),
                    ..t.clone()
                })
            }
            Operand::Tensor(t) => cast(self.view(t)?, compute),
        };
        Ok((taken(a)?, taken(b)?))
    }

    /// A tensor operand, or the number itself (for kernels that take a Scalar).
    fn tensor_or_number(&self, operand: &Operand) -> Result<Result<Tensor, Scalar>, String> {
        match operand {
            Operand::Tensor(meta) => Ok(Ok(self.view(meta)?)),
            Operand::Number(value) => Ok(Err(*value)),
        }
    }

    fn optional_views(&self, metas: &[Option<TensorMeta>]) -> Result<Vec<Option<Tensor>>, String> {
        metas
            .iter()
            .map(|m| m.as_ref().map(|m| self.view(m)).transpose())
            .collect()
    }

    fn optional_view(&self, meta: &Option<TensorMeta>) -> Result<Option<Tensor>, String> {
        meta.as_ref().map(|m| self.view(m)).transpose()
    }

    /// The views a layer or group norm's backward takes from its forward.
    fn normalized(
        &self,
        x: &TensorMeta,
        mean: &TensorMeta,
        rstd: &TensorMeta,
        weight: &Option<TensorMeta>,
    ) -> Result<aten::Normalized, String> {
        Ok(aten::Normalized {
            x: self.view(x)?,
            mean: self.view(mean)?,
            rstd: self.view(rstd)?,
            weight: self.optional_view(weight)?,
        })
    }

    /// Writes each requested gradient.
    fn write_grads(
        &mut self,
        outs: [&Option<TensorMeta>; 3],
        grads: Vec<Option<Tensor>>,
    ) -> KernelResult {
        for (out, grad) in outs.iter().zip(grads) {
            if let Some(out) = out {
                let grad = grad.ok_or("the recomputed forward gave no such gradient")?;
                self.write(out, cast(grad, kind_of(out.dtype))?)?;
            }
        }
        Ok(())
    }

    /// Takes the process-wide generator and seeds it for this session's next random op.
    fn reseed(&mut self) -> std::sync::MutexGuard<'static, ()> {
        self.random_ops += 1;
        let turn = RNG.lock().unwrap_or_else(|p| p.into_inner());
        tch::manual_seed(
            self.seed
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                .wrapping_add(self.random_ops) as i64,
        );
        turn
    }

    /// Puts `result` in `out` once its shape and dtype match the guest's metadata: as the
    /// memory of `out`'s new storage where it can be, else as a copy.
    fn write(&mut self, out: &TensorMeta, result: Tensor) -> KernelResult {
        let sizes = result.size();
        let kind = result.kind();
        if sizes != out.sizes || kind != kind_of(out.dtype) {
            return Err(format!(
                "the kernel produced {kind:?}{sizes:?} but the guest expects {:?}{:?}",
                out.dtype, out.sizes
            ));
        }
        if self.storages.adopt(out, &result) {
            return Ok(());
        }
        self.view(out)?.f_copy_(&result).map_err(err)
    }
}

/// libtorch's message (or the host's own) without tch's prefix and the C++ backtrace
/// libtorch appends: the user sees what the CPU would have said.
pub fn err(e: tch::TchError) -> String {
    let text = match e {
        tch::TchError::Torch(message) | tch::TchError::Kind(message) => message,
        other => other.to_string(),
    };
    let message = text
        .split("\nException raised from")
        .next()
        .unwrap_or(&text);
    message
        .lines()
        .take_while(|l| !l.starts_with("frame #"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `f` of `xs`, computed in float32 where they are of a half type on the CPU and rounded
/// back once. The guest takes half types wherever CUDA does; libtorch's CPU lacks a few of
/// those kernels (3-d average pooling, antialiased resampling), and CUDA's own accumulate in
/// float. The first tensor's dtype and device decide.
fn in_float<const N: usize>(
    xs: [&Tensor; N],
    f: impl FnOnce([&Tensor; N]) -> Result<Tensor, tch::TchError>,
) -> Result<Tensor, tch::TchError> {
    let kind = xs[0].kind();
    if !(matches!(kind, Kind::Half | Kind::BFloat16) && xs[0].device() == tch::Device::Cpu) {
        return f(xs);
    }
    let wide = xs
        .iter()
        .map(|x| x.f_to_kind(Kind::Float))
        .collect::<Result<Vec<_>, _>>()?;
    f(std::array::from_fn(|i| &wide[i]))?.f_to_kind(kind)
}

fn cast(t: Tensor, kind: Kind) -> Result<Tensor, String> {
    if t.kind() == kind {
        Ok(t)
    } else {
        t.f_to_kind(kind).map_err(err)
    }
}

/// libtorch's Scalar of a number. libtorch's C API has no complex Scalar: the guest hands
/// complex numbers only to the kernels that take them as tensors ([`number`]), so this keeps
/// the real part.
fn scalar(value: &Scalar) -> tch::Scalar {
    match *value {
        Scalar::Integer(v) => tch::Scalar::int(v),
        Scalar::Float(v) => tch::Scalar::float(v),
        Scalar::Boolean(v) => tch::Scalar::int(v as i64),
        Scalar::Complex((re, _)) => tch::Scalar::float(re),
    }
}

/// A 0-dim tensor of `kind` holding `value`, complex numbers included. A value out of
/// `kind`'s range is cast from its Python type (int64, double) the way a kernel casts a
/// wrapped number, so an integer wraps around as on PyTorch's CPU, where libtorch's Scalar
/// conversion would refuse it (the ops that refuse such values had the guest check them).
fn number(value: &Scalar, options: (Kind, tch::Device)) -> Result<Tensor, tch::TchError> {
    let wide = match *value {
        Scalar::Complex((re, im)) => Tensor::from_slice(&[re, im]).f_view_as_complex()?,
        _ if converts_checked(value, options.0) => {
            return Tensor::f_scalar_tensor(scalar(value), options)
        }
        Scalar::Float(v) => Tensor::from(v),
        Scalar::Integer(v) => Tensor::from(v),
        Scalar::Boolean(v) => Tensor::from(i64::from(v)),
    };
    wide.f_to_device(options.1)?.f_to_kind(options.0)
}

/// Whether libtorch's checked Scalar conversion takes `value` into `kind` (one op, the
/// common case); others take the cast.
fn converts_checked(value: &Scalar, kind: Kind) -> bool {
    let within = |v: f64, max: f64| !v.is_finite() || v.abs() <= max;
    match (*value, kind) {
        (Scalar::Boolean(_), _) | (_, Kind::Bool) => true,
        (Scalar::Integer(v), Kind::Uint8) => (0..=255).contains(&v),
        (Scalar::Integer(v), Kind::Int8) => i8::try_from(v).is_ok(),
        (Scalar::Integer(v), Kind::Int16) => i16::try_from(v).is_ok(),
        (Scalar::Integer(v), Kind::Int) => i32::try_from(v).is_ok(),
        (Scalar::Integer(v), Kind::Half) => v.abs() <= 65504,
        (Scalar::Integer(_), _) => true,
        (Scalar::Float(_), Kind::Double | Kind::ComplexDouble) => true,
        (Scalar::Float(v), Kind::Float | Kind::ComplexFloat) => within(v, f32::MAX.into()),
        (Scalar::Float(v), Kind::BFloat16) => within(v, 3.389_531_389_251_535_5e38),
        (Scalar::Float(v), Kind::Half) => within(v, 65504.0),
        _ => false,
    }
}

/// `t` times `value`; a complex one goes as a tensor (libtorch's C API has no complex Scalar).
fn times(t: &Tensor, value: &Scalar) -> Result<Tensor, tch::TchError> {
    match value {
        Scalar::Complex(_) => t.f_mul(&number(value, (t.kind(), t.device()))?),
        _ => t.f_mul_scalar(scalar(value)),
    }
}

fn is_complex(value: &Scalar) -> bool {
    matches!(value, Scalar::Complex(_))
}

/// Whether `value` has no imaginary part: a real number, or a complex one with an imaginary
/// part of zero, which PyTorch's kernels compare equal to its real part.
fn is_real(value: &Scalar) -> bool {
    !matches!(value, Scalar::Complex((_, im)) if *im != 0.0)
}

fn is_complex_dtype(dtype: ScalarType) -> bool {
    matches!(dtype, ScalarType::Complex64 | ScalarType::Complex128)
}

fn is_one(value: &Scalar) -> bool {
    matches!(*value, Scalar::Integer(1) | Scalar::Boolean(true)) || *value == Scalar::Float(1.0)
}

/// `target` filled with standard normal samples times `std`, after PyTorch's check of `std`.
fn scaled_normal(target: &mut Tensor, std: &Tensor) -> Result<(), tch::TchError> {
    let bad = std.f_lt(0)?.f_logical_or(&std.f_isnan()?)?.f_any()?;
    if bad.f_int64_value(&[])? != 0 {
        return Err(tch::TchError::Kind(
            "normal expects all elements of std >= 0.0".into(),
        ));
    }
    target.f_normal_(0.0, 1.0)?.f_mul_(std).map(drop)
}

/// `binomial(count, prob)`, NaN where a count is NaN: libtorch's CPU sampler never returns
/// for one, which would stall this session for good.
fn binomial(count: &Tensor, prob: &Tensor) -> Result<Tensor, tch::TchError> {
    let nan = count.f_isnan()?;
    let counted = count.f_masked_fill(&nan, 0.0)?;
    Tensor::f_binomial(&counted, prob)?.f_masked_fill(&nan, f64::NAN)
}

fn reduction(code: i64) -> Result<Reduction, String> {
    match code {
        0 => Ok(Reduction::None),
        1 => Ok(Reduction::Mean),
        2 => Ok(Reduction::Sum),
        other => Err(format!("unknown reduction {other}")),
    }
}

thread_local! {
    /// Whether this thread is inside [`guarded`], whose panics become the op's error.
    static GUARDED: Cell<bool> = const { Cell::new(false) };
}

/// tch panics where a failed call drops a `Scalar` argument before reading libtorch's error.
/// [`guarded`] turns such a panic into the op's error, so the default hook's report on the
/// host's stderr (C++ frames and all) would only repeat it: the hook skips them.
fn quiet_guarded_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let report = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !GUARDED.with(Cell::get) {
                report(info);
            }
        }));
    });
}

/// Runs a kernel body so that no libtorch failure, not even a panic, escapes as anything
/// but an error for the guest.
fn guarded(body: impl FnOnce() -> KernelResult) -> KernelResult {
    quiet_guarded_panics();
    let outer = GUARDED.with(|g| g.replace(true));
    let result = catch_unwind(AssertUnwindSafe(body));
    GUARDED.with(|g| g.set(outer));
    result.unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown panic".into());
        Err(format!("kernel panicked: {}", torch_message(&message)))
    })
}

/// libtorch's own message inside a panic's `Torch("...")` (tch unwraps a pending error when
/// a call fails), without the C++ frames that follow it.
fn torch_message(panic: &str) -> &str {
    let Some((_, inner)) = panic.split_once("Torch(\"") else {
        return panic;
    };
    let inner = inner
        .split("\\nException raised from")
        .next()
        .unwrap_or(inner);
    inner.strip_suffix("\")").unwrap_or(inner)
}

impl TypesHost for TchKernels {}

impl KernelsHost for TchKernels {
    fn new_storage(&mut self, nbytes: u64) -> StorageId {
        let Some(id) = self.pending.pop_front() else {
            self.fault = Some("the op created more storages than the client named".into());
            return 0;
        };
        if let Err(e) = self.storages.alloc(id, nbytes) {
            self.fault.get_or_insert(e);
        }
        self.note(Step::NewStorage { id, nbytes });
        id
    }

    fn free_storage(&mut self, id: StorageId) {
        self.storages.free(id);
        self.note(Step::FreeStorage(id));
    }

    fn data_size(&mut self, query: SizeQuery, x: TensorMeta) -> Result<i64, String> {
        // What follows depends on values, so this op's lowering cannot be replayed.
        self.recording = None;
        let mut size = Ok(0);
        guarded(|| {
            size = self.data_size_of(query, &x);
            Ok(())
        })?;
        size
    }

    fn nonzero(&mut self, x: TensorMeta, out: TensorMeta) -> KernelResult {
        self.launch(move |kernels| {
            let x = kernels.view(&x)?;
            kernels.write(&out, x.f_nonzero().map_err(err)?)
        })
    }

    fn unique(
        &mut self,
        query: SizeQuery,
        x: TensorMeta,
        sorted: bool,
        values: TensorMeta,
        inverse: Option<TensorMeta>,
        counts: Option<TensorMeta>,
    ) -> KernelResult {
        self.launch(move |kernels| {
            let x = kernels.view(&x)?;
            let (v, i, c) = data::unique(query, &x, sorted, inverse.is_some(), counts.is_some())
                .map_err(err)?;
            kernels.write(&values, v)?;
            if let Some(inverse) = &inverse {
                kernels.write(inverse, i)?;
            }
            if let Some(counts) = &counts {
                kernels.write(counts, c)?;
            }
            Ok(())
        })
    }

    fn arange(
        &mut self,
        start: Scalar,
        end: Scalar,
        step: Scalar,
        out: TensorMeta,
    ) -> KernelResult {
        self.launch(move |kernels| {
            let options = (kind_of(out.dtype), kernels.storages.device());
            let values =
                Tensor::f_arange_start_step(scalar(&start), scalar(&end), scalar(&step), options)
                    .map_err(err)?;
            kernels.write(&out, values)
        })
    }

    fn upsample(
        &mut self,
        mode: UpsampleMode,
        x: TensorMeta,
        output_size: Vec<i64>,
        align_corners: bool,
        scales: Vec<Option<f64>>,
        out: TensorMeta,
    ) -> KernelResult {
        self.launch(move |kernels| {
            let x = kernels.view(&x)?;
            let result = resample::forward(mode, &x, &output_size, align_corners, &scales);
            kernels.write(&out, result.map_err(err)?)
        })
    }

    fn upsample_backward(
        &mut self,
        mode: UpsampleMode,
        grad: TensorMeta,
        output_size: Vec<i64>,
        input_size: Vec<i64>,
        align_corners: bool,
        scales: Vec<Option<f64>>,
        out: TensorMeta,
    ) -> KernelResult {
        self.launch(move |kernels| {
            let grad = kernels.view(&grad)?;
            let result = resample::backward(
                mode,
                &grad,
                &output_size,
                &input_size,
                align_corners,
                &scales,
            );
            kernels.write(&out, result.map_err(err)?)
        })
    }

    fn pad(
        &mut self,
        mode: PadMode,
        x: TensorMeta,
        padding: Vec<i64>,
        out: TensorMeta,
    ) -> KernelResult {
        self.launch(move |kernels| {
            let x = kernels.view(&x)?;
            kernels.write(&out, resample::pad(mode, &x, &padding).map_err(err)?)
        })
    }

    fn pad_backward(
        &mut self,
        mode: PadMode,
        grad: TensorMeta,
        x: TensorMeta,
        padding: Vec<i64>,
        out: TensorMeta,
    ) -> KernelResult {
        self.launch(move |kernels| {
            let (grad, x) = (kernels.view(&grad)?, kernels.view(&x)?);
            let result = resample::pad_backward(mode, &grad, &x, &padding);
            kernels.write(&out, result.map_err(err)?)
        })
    }

    fn fill(&mut self, out: TensorMeta, value: Scalar) -> KernelResult {
        self.launch(move |kernels| {
            let mut target = kernels.view(&out)?;
            match value {
                Scalar::Complex(_) => number(&value, (target.kind(), target.device()))
                    .and_then(|v| target.f_fill_tensor_(&v)),
                _ => target.f_fill_(scalar(&value)),
            }
            .map(drop)
            .map_err(err)
        })
    }

    fn copy(&mut self, src: TensorMeta, out: TensorMeta) -> KernelResult {
        self.launch(move |kernels| {
            let src = kernels.view(&src)?;
            kernels.view(&out)?.f_copy_(&src).map_err(err)
        })
    }

    fn random(&mut self, op: RandomOp, a: f64, b: f64, out: TensorMeta) -> KernelResult {
        self.launch(move |kernels| {
            let mut target = kernels.view(&out)?;
            let _turn = kernels.reseed();
            match op {
                RandomOp::Normal => target.f_normal_(a, b),
                RandomOp::Uniform => target.f_uniform_(a, b),
                RandomOp::Bernoulli => target.f_bernoulli_float_(a),
                RandomOp::Exponential => target.f_exponential_(a),
                RandomOp::LogNormal => target.f_log_normal_(a, b),
                RandomOp::Cauchy => target.f_cauchy_(a, b),
                RandomOp::Geometric => target.f_geometric_(a),
            }
            .map(drop)
            .map_err(err)
        })
    }

    fn sample(&mut self, op: SampleOp, params: Vec<TensorMeta>, out: TensorMeta) -> KernelResult {
        self.launch(move |kernels| {
            let params = kernels.views(&params)?;
            let param = params.first().ok_or("sample: no parameters")?;
            let _turn = kernels.reseed();
            let result = match op {
                SampleOp::Bernoulli => {
                    let mut target = kernels.view(&out)?;
                    return target.f_bernoulli_(param).map(drop).map_err(err);
                }
                SampleOp::Poisson => param.f_poisson(),
                SampleOp::StandardGamma => param.f_internal_standard_gamma(),
                SampleOp::Dirichlet => param.f_internal_sample_dirichlet(),
                SampleOp::Binomial => {
                    let prob = params.get(1).ok_or("binomial: no probabilities")?;
                    binomial(param, prob)
                }
                SampleOp::Normal => {
                    let mut target = kernels.view(&out)?;
                    return scaled_normal(&mut target, param).map_err(err);
                }
            };
            kernels.write(&out, result.map_err(err)?)
        })
    }

    fn spaced(
        &mut self,
        start: Scalar,
        end: Scalar,
        base: Option<f64>,
        out: TensorMeta,
    ) -> KernelResult {
        self.launch(move |kernels| {
            let options = (kind_of(out.dtype), kernels.storages.device());
            let steps = out.sizes[0];
            let (start, end) = (scalar(&start), scalar(&end));
            let values = match base {
                None => Tensor::f_linspace(start, end, steps, options),
                Some(base) => Tensor::f_logspace(start, end, steps, base, options),
            };
            kernels.write(&out, values.map_err(err)?)
        })
    }

    fn multinomial(
        &mut self,
        probs: TensorMeta,
        samples: i64,
        replacement: bool,
        out: TensorMeta,
    ) -> KernelResult {
        self.launch(move |kernels| {
            let probs = kernels.view(&probs)?;
            let _turn = kernels.reseed();
            let drawn = probs.f_multinomial(samples, replacement).map_err(err)?;
            kernels.write(&out, drawn)
        })
    }

    fn linalg(
        &mut self,
        op: LinalgOp,
        inputs: Vec<TensorMeta>,
        outs: Vec<TensorMeta>,
    ) -> KernelResult {
        self.launch(move |kernels| {
            let results = linalg::run(&op, &kernels.views(&inputs)?).map_err(err)?;
            kernels.write_each(&outs, results)
        })
    }

    fn library(
        &mut self,
        op: LibraryOp,
        inputs: Vec<TensorMeta>,
        outs: Vec<TensorMeta>,
    ) -> KernelResult {
        self.launch(move |kernels| {
            let out = outs.first().ok_or("library: no output")?;
            let options = (kind_of(out.dtype), kernels.storages.device());
            let results =
                library::run(&op, &kernels.views(&inputs)?, options, &outs).map_err(err)?;
            kernels.write_each(&outs, results)
        })
    }

    fn select(
        &mut self,
        op: SelectOp,
        x: TensorMeta,
        k: i64,
        dim: Option<i64>,
        keepdim: bool,
        values: TensorMeta,
        indices: Option<TensorMeta>,
    ) -> KernelResult {
        self.launch(move |kernels| {
            let x = kernels.view(&x)?;
            let Some(dim) = dim else {
                let all = match op {
                    SelectOp::Nanmedian => x.f_nanmedian(),
                    _ => x.f_median(),
                };
                return kernels.write(&values, all.map_err(err)?);
            };
            let (v, i) = match op {
                SelectOp::Kthvalue => x.f_kthvalue(k, dim, keepdim),
                SelectOp::Median => x.f_median_dim(dim, keepdim),
                SelectOp::Nanmedian => x.f_nanmedian_dim(dim, keepdim),
                SelectOp::Mode => x.f_mode(dim, keepdim),
            }
            .map_err(err)?;
            kernels.write(&values, v)?;
            match &indices {
                Some(indices) => kernels.write(indices, i),
                None => Ok(()),
            }
        })
    }

    fn permutation(&mut self, out: TensorMeta) -> KernelResult {
        self.launch(move |kernels| {
            let options = (kind_of(out.dtype), kernels.storages.device());
            let _turn = kernels.reseed();
            let values = Tensor::f_randperm(out.sizes[0], options).map_err(err)?;
            kernels.write(&out, values)
        })
    }

    fn random_integers(
        &mut self,
        range: Option<(i64, Option<i64>)>,
        out: TensorMeta,
    ) -> KernelResult {
        self.launch(move |kernels| {
            let mut target = kernels.view(&out)?;
            let _turn = kernels.reseed();
            match range {
                None => target.f_random_(),
                Some((from, to)) => target.f_random_from_(from, to),
            }
            .map(drop)
            .map_err(err)
        })
    }

    fn dropout(
        &mut self,
        x: TensorMeta,
        p: f64,
        train: bool,
        out: TensorMeta,
        mask: TensorMeta,
    ) -> KernelResult {
        self.launch(move |kernels| {
            let x = kernels.view(&x)?;
            let (y, m) = {
                let _turn = kernels.reseed();
                x.f_native_dropout(p, train).map_err(err)?
            };
            kernels.write(&out, y)?;
            kernels.write(&mask, m)
        })
    }

    fn dropout_backward(
        &mut self,
        grad: TensorMeta,
        mask: TensorMeta,
        scale: f64,
        out: TensorMeta,
    ) -> KernelResult {
        self.launch(move |kernels| {
            let (grad, mask) = (kernels.view(&grad)?, kernels.view(&mask)?);
            let kind = kind_of(out.dtype);
            let result =
                Tensor::f_native_dropout_backward(&cast(grad, kind)?, &mask, scale).map_err(err)?;
            kernels.write(&out, cast(result, kind)?)
        })
    }

    fn unary(
        &mut self,
        op: UnaryOp,
        x: TensorMeta,
        compute: ScalarType,
        out: TensorMeta,
    ) -> KernelResult {
        self.launch(move |kernels| {
            let x = cast(kernels.view(&x)?, kind_of(compute))?;
            kernels.write(&out, unary_result(op, &x).map_err(err)?)
        })
    }

    fn binary(
        &mut self,
        op: BinaryOp,
        a: Operand,
        b: Operand,
        alpha: Option<Scalar>,
        compute: ScalarType,
        out: TensorMeta,
    ) -> KernelResult {
        self.launch(move |kernels| {
            let kind = kind_of(compute);
            let in_place = writes_self(&out, kind, &a, &[&b]);
            let result = match (op, &b, alpha.filter(|alpha| !is_one(alpha))) {
                (BinaryOp::Pow, Operand::Number(exponent), _) if is_real(exponent) => {
                    // `pow.Tensor_Scalar`, whose kernel has its own paths for 2, 0.5, -1...
                    // also for a complex exponent without an imaginary part (`float_power`).
                    let base = kernels.operand(&a, kind)?;
                    base.f_pow_tensor_scalar(scalar(exponent)).map_err(err)?
                }
                (BinaryOp::Add | BinaryOp::Sub, _, Some(alpha)) => {
                    let (x, y) = kernels.binary_operands(&a, &b, kind)?;
                    let subtract = op == BinaryOp::Sub;
                    let result = numbers::add(&x, &y, &alpha, subtract, in_place).map_err(err)?;
                    if in_place {
                        return Ok(());
                    }
                    result
                }
                _ => {
                    let (x, y) = kernels.binary_operands(&a, &b, kind)?;
                    if let Some(done) = in_place.then(|| binary_in_place(op, &x, &y)).flatten() {
                        return done.map(drop).map_err(err);
                    }
                    binary_result(op, &x, &y, kind).map_err(err)?
                }
            };
            kernels.write(&out, result)
        })
    }

    fn ternary(
        &mut self,
        op: TernaryOp,
        a: Operand,
        b: Operand,
        c: Operand,
        value: Option<Scalar>,
        compute: ScalarType,
        out: TensorMeta,
    ) -> KernelResult {
        self.launch(move |kernels| {
            let kind = kind_of(compute);
            let first = if op == TernaryOp::Where {
                Kind::Bool
            } else {
                kind
            };
            let in_place = matches!(
                op,
                TernaryOp::Addcmul | TernaryOp::Addcdiv | TernaryOp::Lerp
            ) && writes_self(&out, kind, &a, &[&b, &c]);
            // A number weight stays a number: rounding it to the tensors' dtype would move it.
            let weight = match (op, &c) {
                (TernaryOp::Lerp, Operand::Number(w)) if !is_complex(w) => Some(scalar(w)),
                _ => None,
            };
            let a = kernels.operand(&a, first)?;
            let (b, c) = (kernels.operand(&b, kind)?, kernels.operand(&c, kind)?);
            let value = value.unwrap_or(Scalar::Integer(1));
            let result = match op {
                TernaryOp::Addcmul => numbers::addcmul([&a, &b, &c], &value, false, in_place),
                TernaryOp::Addcdiv => numbers::addcmul([&a, &b, &c], &value, true, in_place),
                TernaryOp::Lerp => match (weight, in_place) {
                    (Some(w), true) => a.shallow_clone().f_lerp_(&b, w),
                    (Some(w), false) => a.f_lerp(&b, w),
                    (None, true) => a.shallow_clone().f_lerp_tensor_(&b, &c),
                    (None, false) => a.f_lerp_tensor(&b, &c),
                },
                TernaryOp::Where => b.f_where_self(&a, &c),
                TernaryOp::Clamp => a.f_clamp_tensor(Some(&b), Some(&c)),
            }
            .map_err(err)?;
            if in_place {
                return Ok(());
            }
            kernels.write(&out, result)
        })
    }

    fn reduce(
        &mut self,
        op: ReduceOp,
        x: TensorMeta,
        dims: Vec<i64>,
        keepdim: bool,
        compute: ScalarType,
        out: TensorMeta,
    ) -> KernelResult {
        self.launch(move |kernels| {
            let x = cast(kernels.view(&x)?, kind_of(compute))?;
            kernels.write(&out, reduce_result(op, &x, &dims, keepdim).map_err(err)?)
        })
    }

    fn index_reduce(
        &mut self,
        op: IndexReduceOp,
        x: TensorMeta,
        dim: Option<i64>,
        keepdim: bool,
        values: Option<TensorMeta>,
        indices: TensorMeta,
    ) -> KernelResult {
        self.launch(move |kernels| {
            let x = kernels.view(&x)?;
            let (vals, idx) = match (op, dim) {
                (IndexReduceOp::Max, Some(d)) => x.f_max_dim(d, keepdim).map(|(v, i)| (Some(v), i)),
                (IndexReduceOp::Min, Some(d)) => x.f_min_dim(d, keepdim).map(|(v, i)| (Some(v), i)),
                (IndexReduceOp::Argmax, d) => x.f_argmax(d, keepdim).map(|i| (None, i)),
                (IndexReduceOp::Argmin, d) => x.f_argmin(d, keepdim).map(|i| (None, i)),
                (_, None) => return Err("max/min with indices need a dim".into()),
            }
            .map_err(err)?;
            if let (Some(meta), Some(v)) = (&values, vals) {
                kernels.write(meta, v)?;
            }
            kernels.write(&indices, idx)
        })
    }

    fn matmul(
        &mut self,
        a: TensorMeta,
        b: TensorMeta,
        bias: Option<TensorMeta>,
        beta: Scalar,
        alpha: Scalar,
        out: TensorMeta,
    ) -> KernelResult {
        self.launch(move |kernels| {
            let (a, b) = (kernels.view(&a)?, kernels.view(&b)?);
            let batched = a.dim() == 3;
            let result = match &bias {
                Some(bias) => {
                    numbers::addmm([&kernels.view(bias)?, &a, &b], &beta, &alpha, batched)
                }
                None => {
                    let product = if batched { a.f_bmm(&b) } else { a.f_mm(&b) };
                    product.and_then(|p| {
                        if is_one(&alpha) {
                            Ok(p)
                        } else {
                            times(&p, &alpha)
                        }
                    })
                }
            };
            kernels.write(&out, result.map_err(err)?)
        })
    }

    fn softmax(&mut self, x: TensorMeta, dim: i64, log: bool, out: TensorMeta) -> KernelResult {
        self.launch(move |kernels| {
            let x = cast(kernels.view(&x)?, kind_of(out.dtype))?;
            let result = if log {
                x.f_internal_log_softmax(dim, false)
            } else {
                x.f_internal_softmax(dim, false)
            };
            kernels.write(&out, result.map_err(err)?)
        })
    }

    fn softmax_backward(
        &mut self,
        grad: TensorMeta,
        output: TensorMeta,
        dim: i64,
        log: bool,
        out: TensorMeta,
    ) -> KernelResult {
        self.launch(move |kernels| {
            let (grad, output) = (kernels.view(&grad)?, kernels.view(&output)?);
            let kind = kind_of(out.dtype);
            let result = if log {
                Tensor::f_internal_log_softmax_backward_data(&grad, &output, dim, kind)
            } else {
                Tensor::f_internal_softmax_backward_data(&grad, &output, dim, kind)
            };
            kernels.write(&out, result.map_err(err)?)
        })
    }

    fn nll_loss(
        &mut self,
        x: TensorMeta,
        target: TensorMeta,
        weight: Option<TensorMeta>,
        reduction_code: i64,
        ignore_index: i64,
        out: TensorMeta,
        total_weight: TensorMeta,
    ) -> KernelResult {
        self.launch(move |kernels| {
            let (x, target) = (kernels.view(&x)?, kernels.view(&target)?);
            let weight = weight.as_ref().map(|w| kernels.view(w)).transpose()?;
            let spatial = x.dim() == 4;
            let (loss, total) = aten::nll_loss_forward(
                &x,
                &target,
                weight.as_ref(),
                reduction_code,
                ignore_index,
                spatial,
            )
            .map_err(err)?;
            kernels.write(&out, loss)?;
            kernels.write(&total_weight, total)
        })
    }

    fn nll_loss_backward(
        &mut self,
        grad: TensorMeta,
        x: TensorMeta,
        target: TensorMeta,
        weight: Option<TensorMeta>,
        reduction_code: i64,
        ignore_index: i64,
        total_weight: TensorMeta,
        out: TensorMeta,
    ) -> KernelResult {
        self.launch(move |kernels| {
            let (grad, x, target) = (
                kernels.view(&grad)?,
                kernels.view(&x)?,
                kernels.view(&target)?,
            );
            let weight = weight.as_ref().map(|w| kernels.view(w)).transpose()?;
            let total = kernels.view(&total_weight)?;
            let red = reduction(reduction_code)?;
            let w = weight.as_ref();
            let result = if x.dim() == 4 {
                x.f_nll_loss2d_backward(&grad, &target, w, red, ignore_index, &total)
            } else {
                x.f_nll_loss_backward(&grad, &target, w, red, ignore_index, &total)
            };
            let result = result.map_err(err)?;
            kernels.write(&out, result)
        })
    }

    fn threshold_backward(
        &mut self,
        grad: TensorMeta,
        x: TensorMeta,
        threshold: Scalar,
        out: TensorMeta,
    ) -> KernelResult {
        self.launch(move |kernels| {
            let (grad, x) = (kernels.view(&grad)?, kernels.view(&x)?);
            kernels.write(
                &out,
                x.f_threshold_backward(&grad, scalar(&threshold))
                    .map_err(err)?,
            )
        })
    }

    fn loss(
        &mut self,
        op: LossOp,
        x: TensorMeta,
        target: TensorMeta,
        options: LossOptions,
        out: TensorMeta,
    ) -> KernelResult {
        self.launch(move |kernels| {
            let (x, target) = (kernels.view(&x)?, kernels.view(&target)?);
            let weight = kernels.optional_view(&options.weight)?;
            let red = reduction(options.reduction)?;
            let result = loss::forward(op, &x, &target, weight.as_ref(), options.param, red);
            kernels.write(&out, result.map_err(err)?)
        })
    }

    fn loss_backward(
        &mut self,
        op: LossOp,
        grad: TensorMeta,
        x: TensorMeta,
        target: TensorMeta,
        options: LossOptions,
        out: TensorMeta,
    ) -> KernelResult {
        self.launch(move |kernels| {
            let (grad, x) = (kernels.view(&grad)?, kernels.view(&x)?);
            let target = kernels.view(&target)?;
            let weight = kernels.optional_view(&options.weight)?;
            let red = reduction(options.reduction)?;
            let result =
                loss::backward(op, &grad, &x, &target, weight.as_ref(), options.param, red);
            kernels.write(&out, result.map_err(err)?)
        })
    }

    fn activation(&mut self, op: ActivationOp, x: TensorMeta, out: TensorMeta) -> KernelResult {
        self.launch(move |kernels| {
            let x = kernels.view(&x)?;
            kernels.write(&out, activation::forward(&op, &x).map_err(err)?)
        })
    }

    fn activation_backward(
        &mut self,
        op: ActivationOp,
        grad: TensorMeta,
        x: TensorMeta,
        x_is_result: bool,
        compute: ScalarType,
        out: TensorMeta,
    ) -> KernelResult {
        self.launch(move |kernels| {
            let (grad, x) = (kernels.view(&grad)?, kernels.view(&x)?);
            let result = activation::backward(&op, &grad, &x, x_is_result, kind_of(compute));
            kernels.write(&out, result.map_err(err)?)
        })
    }

    fn cat(&mut self, xs: Vec<TensorMeta>, dim: i64, out: TensorMeta) -> KernelResult {
        self.launch(move |kernels| {
            let xs = xs
                .iter()
                .map(|x| kernels.view(x))
                .collect::<Result<Vec<_>, _>>()?;
            let result = Tensor::f_cat(&xs, dim).map_err(err)?;
            kernels.write(&out, cast(result, kind_of(out.dtype))?)
        })
    }

    fn gather(
        &mut self,
        op: GatherOp,
        x: TensorMeta,
        dim: i64,
        index: TensorMeta,
        out: TensorMeta,
    ) -> KernelResult {
        self.launch(move |kernels| {
            let (x, index) = (kernels.view(&x)?, kernels.view(&index)?);
            kernels.write(&out, index::gather(op, &x, dim, &index).map_err(err)?)
        })
    }

    fn scatter(
        &mut self,
        op: ScatterOp,
        x: TensorMeta,
        dim: i64,
        index: TensorMeta,
        src: Operand,
        alpha: Scalar,
        out: TensorMeta,
    ) -> KernelResult {
        self.launch(move |kernels| {
            let (x, index) = (kernels.view(&x)?, kernels.view(&index)?);
            let src = kernels.tensor_or_number(&src)?;
            let result = index::scatter(op, &x, dim, &index, src, &alpha).map_err(err)?;
            kernels.write(&out, result)
        })
    }

    fn masked_fill(
        &mut self,
        x: TensorMeta,
        mask: TensorMeta,
        value: Operand,
        out: TensorMeta,
    ) -> KernelResult {
        self.launch(move |kernels| {
            let (mut x_view, mask_view) = (kernels.view(&x)?, kernels.view(&mask)?);
            let value = kernels.tensor_or_number(&value)?;
            if x == out {
                // In place, as libtorch's kernel writes it: also into an expanded tensor,
                // whose elements share memory (a copy into it is refused).
                return index::masked_fill_(&mut x_view, &mask_view, value).map_err(err);
            }
            let result = index::masked_fill(&x_view, &mask_view, value).map_err(err)?;
            kernels.write(&out, result)
        })
    }

    fn flip(&mut self, x: TensorMeta, dims: Vec<i64>, out: TensorMeta) -> KernelResult {
        self.launch(move |kernels| {
            let x = kernels.view(&x)?;
            kernels.write(&out, x.f_flip(dims.as_slice()).map_err(err)?)
        })
    }

    fn triangle(
        &mut self,
        x: TensorMeta,
        diagonal: i64,
        upper: bool,
        out: TensorMeta,
    ) -> KernelResult {
        self.launch(move |kernels| {
            let x = kernels.view(&x)?;
            let result = if upper {
                x.f_triu(diagonal)
            } else {
                x.f_tril(diagonal)
            };
            kernels.write(&out, result.map_err(err)?)
        })
    }

    fn roll(
        &mut self,
        x: TensorMeta,
        shifts: Vec<i64>,
        dims: Vec<i64>,
        out: TensorMeta,
    ) -> KernelResult {
        self.launch(move |kernels| {
            let x = kernels.view(&x)?;
            let result = x.f_roll(shifts.as_slice(), dims.as_slice()).map_err(err)?;
            kernels.write(&out, result)
        })
    }

    fn scan(
        &mut self,
        op: ScanOp,
        x: TensorMeta,
        dim: i64,
        compute: ScalarType,
        out: TensorMeta,
    ) -> KernelResult {
        self.launch(move |kernels| {
            let x = kernels.view(&x)?;
            let result = index::scan(op, &x, dim, kind_of(compute)).map_err(err)?;
            kernels.write(&out, result)
        })
    }

    fn sort(
        &mut self,
        x: TensorMeta,
        dim: i64,
        descending: bool,
        stable: bool,
        values: TensorMeta,
        indices: TensorMeta,
    ) -> KernelResult {
        self.launch(move |kernels| {
            let x = kernels.view(&x)?;
            let (v, i) = x.f_sort_stable(stable, dim, descending).map_err(err)?;
            kernels.write(&values, v)?;
            kernels.write(&indices, i)
        })
    }

    fn topk(
        &mut self,
        x: TensorMeta,
        k: i64,
        dim: i64,
        largest: bool,
        sorted: bool,
        values: TensorMeta,
        indices: TensorMeta,
    ) -> KernelResult {
        self.launch(move |kernels| {
            let x = kernels.view(&x)?;
            let (v, i) = x.f_topk(k, dim, largest, sorted).map_err(err)?;
            kernels.write(&values, v)?;
            kernels.write(&indices, i)
        })
    }

    fn embedding_backward(
        &mut self,
        grad: TensorMeta,
        indices: TensorMeta,
        num_weights: i64,
        padding_idx: i64,
        scale_grad_by_freq: bool,
        out: TensorMeta,
    ) -> KernelResult {
        self.launch(move |kernels| {
            let (grad, indices) = (kernels.view(&grad)?, kernels.view(&indices)?);
            let result = Tensor::f_embedding_dense_backward(
                &grad,
                &indices,
                num_weights,
                padding_idx,
                scale_grad_by_freq,
            )
            .map_err(err)?;
            kernels.write(&out, result)
        })
    }

    fn index(
        &mut self,
        x: TensorMeta,
        indices: Vec<Option<TensorMeta>>,
        out: TensorMeta,
    ) -> KernelResult {
        self.launch(move |kernels| {
            let x = kernels.view(&x)?;
            let indices = kernels.optional_views(&indices)?;
            kernels.write(&out, x.f_index(&indices).map_err(err)?)
        })
    }

    fn index_put(
        &mut self,
        x: TensorMeta,
        indices: Vec<Option<TensorMeta>>,
        values: TensorMeta,
        accumulate: bool,
        out: TensorMeta,
    ) -> KernelResult {
        self.launch(move |kernels| {
            let (mut x_view, values) = (kernels.view(&x)?, kernels.view(&values)?);
            let indices = kernels.optional_views(&indices)?;
            if x == out {
                // In place, as libtorch's kernel writes it: also into an expanded tensor.
                return x_view
                    .f_index_put_(&indices, &values, accumulate)
                    .map(drop)
                    .map_err(err);
            }
            let result = x_view
                .f_index_put(&indices, &values, accumulate)
                .map_err(err)?;
            kernels.write(&out, result)
        })
    }

    fn layer_norm(
        &mut self,
        x: TensorMeta,
        normalized_shape: Vec<i64>,
        weight: Option<TensorMeta>,
        bias: Option<TensorMeta>,
        eps: f64,
        out: TensorMeta,
        mean: TensorMeta,
        rstd: TensorMeta,
    ) -> KernelResult {
        self.launch(move |kernels| {
            let x = kernels.view(&x)?;
            let (w, b) = (
                kernels.optional_view(&weight)?,
                kernels.optional_view(&bias)?,
            );
            let (y, m, r) = x
                .f_native_layer_norm(normalized_shape.as_slice(), w.as_ref(), b.as_ref(), eps)
                .map_err(err)?;
            kernels.write(&out, y)?;
            kernels.write(&mean, m)?;
            kernels.write(&rstd, r)
        })
    }

    fn layer_norm_backward(
        &mut self,
        grad: TensorMeta,
        x: TensorMeta,
        normalized_shape: Vec<i64>,
        mean: TensorMeta,
        rstd: TensorMeta,
        weight: Option<TensorMeta>,
        bias: Option<TensorMeta>,
        grad_input: Option<TensorMeta>,
        grad_weight: Option<TensorMeta>,
        grad_bias: Option<TensorMeta>,
    ) -> KernelResult {
        self.launch(move |kernels| {
            let grad = kernels.view(&grad)?;
            let forward = kernels.normalized(&x, &mean, &rstd, &weight)?;
            let b = kernels.optional_view(&bias)?;
            let outs = [&grad_input, &grad_weight, &grad_bias];
            let mask = outs.map(Option::is_some);
            let grads = aten::native_layer_norm_backward(
                &grad,
                &forward,
                &normalized_shape,
                b.as_ref(),
                mask,
            )
            .map_err(err)?;
            kernels.write_grads(outs, grads)
        })
    }

    fn batch_norm(
        &mut self,
        x: TensorMeta,
        weight: Option<TensorMeta>,
        bias: Option<TensorMeta>,
        running_mean: Option<TensorMeta>,
        running_var: Option<TensorMeta>,
        training: bool,
        momentum: f64,
        eps: f64,
        out: TensorMeta,
        save_mean: TensorMeta,
        save_invstd: TensorMeta,
    ) -> KernelResult {
        self.launch(move |kernels| {
            let x = kernels.view(&x)?;
            let (w, b) = (
                kernels.optional_view(&weight)?,
                kernels.optional_view(&bias)?,
            );
            let rm = kernels.optional_view(&running_mean)?;
            let rv = kernels.optional_view(&running_var)?;
            let (y, m, v) = x
                .f_native_batch_norm(
                    w.as_ref(),
                    b.as_ref(),
                    rm.as_ref(),
                    rv.as_ref(),
                    training,
                    momentum,
                    eps,
                )
                .map_err(err)?;
            kernels.write(&out, y)?;
            kernels.write(&save_mean, m)?;
            kernels.write(&save_invstd, v)
        })
    }

    fn batch_norm_backward(
        &mut self,
        grad: TensorMeta,
        x: TensorMeta,
        weight: Option<TensorMeta>,
        running_mean: Option<TensorMeta>,
        running_var: Option<TensorMeta>,
        save_mean: Option<TensorMeta>,
        save_invstd: Option<TensorMeta>,
        training: bool,
        eps: f64,
        grad_input: Option<TensorMeta>,
        grad_weight: Option<TensorMeta>,
        grad_bias: Option<TensorMeta>,
    ) -> KernelResult {
        self.launch(move |kernels| {
            let (grad, x) = (kernels.view(&grad)?, kernels.view(&x)?);
            let w = kernels.optional_view(&weight)?;
            let (rm, rv) = (
                kernels.optional_view(&running_mean)?,
                kernels.optional_view(&running_var)?,
            );
            let (sm, si) = (
                kernels.optional_view(&save_mean)?,
                kernels.optional_view(&save_invstd)?,
            );
            let stats = aten::BatchNormStats {
                running_mean: rm.as_ref(),
                running_var: rv.as_ref(),
                save_mean: sm.as_ref(),
                save_invstd: si.as_ref(),
            };
            let outs = [&grad_input, &grad_weight, &grad_bias];
            let mask = outs.map(Option::is_some);
            let grads = aten::native_batch_norm_backward(
                &grad,
                &x,
                w.as_ref(),
                &stats,
                training,
                eps,
                mask,
            )
            .map_err(err)?;
            kernels.write_grads(outs, grads)
        })
    }

    fn group_norm(
        &mut self,
        x: TensorMeta,
        weight: Option<TensorMeta>,
        bias: Option<TensorMeta>,
        n: i64,
        c: i64,
        hxw: i64,
        groups: i64,
        eps: f64,
        out: TensorMeta,
        mean: TensorMeta,
        rstd: TensorMeta,
    ) -> KernelResult {
        self.launch(move |kernels| {
            let x = kernels.view(&x)?;
            // The CPU kernel reads weight and bias as dense; a client may send other views.
            let dense = |t: Option<Tensor>| t.map(|t| t.contiguous());
            let (w, b) = (
                dense(kernels.optional_view(&weight)?),
                dense(kernels.optional_view(&bias)?),
            );
            let (y, m, r) = x
                .f_native_group_norm(w.as_ref(), b.as_ref(), n, c, hxw, groups, eps)
                .map_err(err)?;
            kernels.write(&out, y)?;
            kernels.write(&mean, m)?;
            kernels.write(&rstd, r)
        })
    }

    fn group_norm_backward(
        &mut self,
        grad: TensorMeta,
        x: TensorMeta,
        mean: TensorMeta,
        rstd: TensorMeta,
        weight: Option<TensorMeta>,
        n: i64,
        c: i64,
        hxw: i64,
        groups: i64,
        grad_input: Option<TensorMeta>,
        grad_weight: Option<TensorMeta>,
        grad_bias: Option<TensorMeta>,
    ) -> KernelResult {
        self.launch(move |kernels| {
            let grad = kernels.view(&grad)?;
            let forward = kernels.normalized(&x, &mean, &rstd, &weight)?;
            let outs = [&grad_input, &grad_weight, &grad_bias];
            let mask = outs.map(Option::is_some);
            let grads =
                aten::native_group_norm_backward(&grad, &forward, [n, c, hxw, groups], mask)
                    .map_err(err)?;
            kernels.write_grads(outs, grads)
        })
    }

    fn moments(
        &mut self,
        op: MomentOp,
        x: TensorMeta,
        dims: Vec<i64>,
        correction: Scalar,
        keepdim: bool,
        out: TensorMeta,
        mean: Option<TensorMeta>,
    ) -> KernelResult {
        self.launch(move |kernels| {
            let x = kernels.view(&x)?;
            let c = scalar(&correction);
            let dims = dims.as_slice();
            let (result, m) = match (op, &mean) {
                (MomentOp::Var, None) => (x.f_var_correction(dims, c, keepdim), None),
                (MomentOp::Std, None) => (x.f_std_correction(dims, c, keepdim), None),
                (MomentOp::Var, Some(_)) => match x.f_var_mean_correction(dims, c, keepdim) {
                    Ok((v, m)) => (Ok(v), Some(m)),
                    Err(e) => (Err(e), None),
                },
                (MomentOp::Std, Some(_)) => match x.f_std_mean_correction(dims, c, keepdim) {
                    Ok((v, m)) => (Ok(v), Some(m)),
                    Err(e) => (Err(e), None),
                },
            };
            let result = result.map_err(err)?;
            kernels.write(&out, cast(result, kind_of(out.dtype))?)?;
            if let (Some(meta), Some(m)) = (&mean, m) {
                kernels.write(meta, m)?;
            }
            Ok(())
        })
    }

    fn vector_norm(
        &mut self,
        x: TensorMeta,
        ord: Scalar,
        dims: Vec<i64>,
        keepdim: bool,
        compute: ScalarType,
        out: TensorMeta,
    ) -> KernelResult {
        self.launch(move |kernels| {
            let x = cast(kernels.view(&x)?, kind_of(compute))?;
            let result = x
                .f_norm_scalaropt_dim(scalar(&ord), dims.as_slice(), keepdim)
                .map_err(err)?;
            kernels.write(&out, result)
        })
    }

    fn pool(
        &mut self,
        op: PoolOp,
        x: TensorMeta,
        params: PoolParams,
        out: TensorMeta,
        indices: Option<TensorMeta>,
    ) -> KernelResult {
        self.launch(move |kernels| {
            let x = kernels.view(&x)?;
            let (values, found) = pool::forward(op, &x, &params).map_err(err)?;
            if let Some(found) = found {
                let meta = indices
                    .as_ref()
                    .ok_or("max pooling needs an indices output")?;
                kernels.write(meta, found)?;
            }
            kernels.write(&out, values)
        })
    }

    fn pool_backward(
        &mut self,
        op: PoolOp,
        grad: TensorMeta,
        x: TensorMeta,
        params: PoolParams,
        indices: Option<TensorMeta>,
        out: TensorMeta,
    ) -> KernelResult {
        self.launch(move |kernels| {
            let (grad, x) = (kernels.view(&grad)?, kernels.view(&x)?);
            let indices = indices.as_ref().map(|m| kernels.view(m)).transpose()?;
            let result = pool::backward(op, &grad, &x, &params, indices.as_ref()).map_err(err)?;
            kernels.write(&out, result)
        })
    }

    fn conv(
        &mut self,
        x: TensorMeta,
        weight: TensorMeta,
        bias: Option<TensorMeta>,
        params: ConvParams,
        out: TensorMeta,
    ) -> KernelResult {
        self.launch(move |kernels| {
            let (x, weight) = (kernels.view(&x)?, kernels.view(&weight)?);
            let bias = kernels.optional_view(&bias)?;
            let result = conv::forward(&x, &weight, bias.as_ref(), &params).map_err(err)?;
            kernels.write(&out, result)
        })
    }

    fn conv_backward(
        &mut self,
        grad: TensorMeta,
        x: TensorMeta,
        weight: TensorMeta,
        params: ConvParams,
        grad_input: Option<TensorMeta>,
        grad_weight: Option<TensorMeta>,
        grad_bias: Option<TensorMeta>,
    ) -> KernelResult {
        self.launch(move |kernels| {
            let (grad, x) = (kernels.view(&grad)?, kernels.view(&x)?);
            let weight = kernels.view(&weight)?;
            let bias_len = grad_bias.as_ref().map(|b| b.sizes[0]);
            let outs = [&grad_input, &grad_weight, &grad_bias];
            let mask = outs.map(Option::is_some);
            let grads = aten::convolution_backward(&grad, &x, &weight, bias_len, &params, mask)
                .map_err(err)?;
            kernels.write_grads(outs, grads)
        })
    }
}
