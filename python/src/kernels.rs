//! The client's side of the guest's kernel imports: nothing is computed here, only storage
//! ids are handed out and the op's use of kernels is noted, so the client knows every
//! output's metadata without asking the host.

use std::sync::atomic::{AtomicU64, Ordering};

use torch_remote_host::guest::{
    ActivationOp, BinaryOp, ConvParams, GatherOp, IndexReduceOp, KernelsHost, LibraryOp, LinalgOp,
    LossOp, LossOptions, MomentOp, Operand, PadMode, PoolOp, PoolParams, RandomOp, ReduceOp,
    SampleOp, Scalar, ScalarType, ScanOp, ScatterOp, SelectOp, SizeQuery, StorageId, TensorMeta,
    TernaryOp, TypesHost, UnaryOp, UpsampleMode,
};

static NEXT_STORAGE: AtomicU64 = AtomicU64::new(1);

/// The bits of a storage id from this one up name the remote device that holds it, so a
/// storage's device needs no table (the C++ shim hands back only ids).
const DEVICE_SHIFT: u32 = 56;

/// Remote devices one process may have. PyTorch's autograd engine keeps a thread for each
/// possible device, so this stays small.
pub const MAX_DEVICES: usize = 16;

/// A storage id on remote device `device` that no other storage of this process has had.
pub fn new_storage_id(device: usize) -> u64 {
    debug_assert!(device < MAX_DEVICES);
    NEXT_STORAGE.fetch_add(1, Ordering::Relaxed) | ((device as u64) << DEVICE_SHIFT)
}

/// Whether storage `id` was made before `new_storage_id` handed out `mark` (an earlier
/// return of [`storage_mark`]).
pub fn made_before(id: u64, mark: u64) -> bool {
    id & ((1 << DEVICE_SHIFT) - 1) < mark
}

/// Where the storage ids handed out so far end.
pub fn storage_mark() -> u64 {
    NEXT_STORAGE.load(Ordering::Relaxed)
}

/// The remote device holding storage `id`.
pub fn device_of(id: u64) -> usize {
    (id >> DEVICE_SHIFT) as usize
}

/// What the guest asked of its kernels while running one op.
pub struct Recorder {
    /// Storages created, in call order, with their sizes.
    pub created: Vec<(u64, u64)>,
    /// Temporaries given back within the op.
    pub freed: Vec<u64>,
    /// The remote device the op runs on, which holds the storages it creates.
    pub device: usize,
    /// Sizes the host gave for this op's `data-size` queries.
    pub answers: Vec<(SizeQuery, TensorMeta, i64)>,
    /// The first query `answers` did not hold: the op is run again once the host answers.
    pub asked: Option<(SizeQuery, TensorMeta)>,
    /// Whether the op's outputs depend on values (an answered query), so that its lowering
    /// holds for this op only.
    pub reads_values: bool,
}

impl Recorder {
    pub fn new(device: usize) -> Self {
        Self {
            created: Vec::new(),
            freed: Vec::new(),
            device,
            answers: Vec::new(),
            asked: None,
            reads_values: false,
        }
    }
}

type KernelResult = Result<(), String>;

impl Recorder {
    /// The client runs the guest with `launch-kernels` off, so no kernel call reaches it.
    fn launch(&mut self) -> KernelResult {
        Err("kernels run on the host; the client's guest lowers ops without them".into())
    }
}

impl TypesHost for Recorder {}

impl KernelsHost for Recorder {
    fn new_storage(&mut self, nbytes: u64) -> StorageId {
        let id = new_storage_id(self.device);
        self.created.push((id, nbytes));
        id
    }

    fn data_size(&mut self, query: SizeQuery, x: TensorMeta) -> Result<i64, String> {
        let known = self.answers.iter().find(|(q, t, _)| *q == query && *t == x);
        if let Some(&(_, _, size)) = known {
            self.reads_values = true;
            return Ok(size);
        }
        self.asked.get_or_insert((query, x));
        Err("the size depends on values the host has not sent yet".into())
    }

    fn nonzero(&mut self, _: TensorMeta, _: TensorMeta) -> KernelResult {
        self.launch()
    }

    fn unique(
        &mut self,
        _: SizeQuery,
        _: TensorMeta,
        _: bool,
        _: TensorMeta,
        _: Option<TensorMeta>,
        _: Option<TensorMeta>,
    ) -> KernelResult {
        self.launch()
    }

    fn free_storage(&mut self, id: StorageId) {
        self.freed.push(id);
    }

    fn arange(&mut self, _: Scalar, _: Scalar, _: Scalar, _: TensorMeta) -> KernelResult {
        self.launch()
    }

    fn upsample(
        &mut self,
        _: UpsampleMode,
        _: TensorMeta,
        _: Vec<i64>,
        _: bool,
        _: Vec<Option<f64>>,
        _: TensorMeta,
    ) -> KernelResult {
        self.launch()
    }

    fn upsample_backward(
        &mut self,
        _: UpsampleMode,
        _: TensorMeta,
        _: Vec<i64>,
        _: Vec<i64>,
        _: bool,
        _: Vec<Option<f64>>,
        _: TensorMeta,
    ) -> KernelResult {
        self.launch()
    }

    fn pad(&mut self, _: PadMode, _: TensorMeta, _: Vec<i64>, _: TensorMeta) -> KernelResult {
        self.launch()
    }

    fn pad_backward(
        &mut self,
        _: PadMode,
        _: TensorMeta,
        _: TensorMeta,
        _: Vec<i64>,
        _: TensorMeta,
    ) -> KernelResult {
        self.launch()
    }

    fn fill(&mut self, _: TensorMeta, _: Scalar) -> KernelResult {
        self.launch()
    }

    fn copy(&mut self, _: TensorMeta, _: TensorMeta) -> KernelResult {
        self.launch()
    }

    fn random(&mut self, _: RandomOp, _: f64, _: f64, _: TensorMeta) -> KernelResult {
        self.launch()
    }

    fn sample(&mut self, _: SampleOp, _: Vec<TensorMeta>, _: TensorMeta) -> KernelResult {
        self.launch()
    }

    fn unary(&mut self, _: UnaryOp, _: TensorMeta, _: ScalarType, _: TensorMeta) -> KernelResult {
        self.launch()
    }

    fn binary(
        &mut self,
        _: BinaryOp,
        _: Operand,
        _: Operand,
        _: Option<Scalar>,
        _: ScalarType,
        _: TensorMeta,
    ) -> KernelResult {
        self.launch()
    }

    fn ternary(
        &mut self,
        _: TernaryOp,
        _: Operand,
        _: Operand,
        _: Operand,
        _: Option<Scalar>,
        _: ScalarType,
        _: TensorMeta,
    ) -> KernelResult {
        self.launch()
    }

    fn reduce(
        &mut self,
        _: ReduceOp,
        _: TensorMeta,
        _: Vec<i64>,
        _: bool,
        _: ScalarType,
        _: TensorMeta,
    ) -> KernelResult {
        self.launch()
    }

    fn index_reduce(
        &mut self,
        _: IndexReduceOp,
        _: TensorMeta,
        _: Option<i64>,
        _: bool,
        _: Option<TensorMeta>,
        _: TensorMeta,
    ) -> KernelResult {
        self.launch()
    }

    fn matmul(
        &mut self,
        _: TensorMeta,
        _: TensorMeta,
        _: Option<TensorMeta>,
        _: Scalar,
        _: Scalar,
        _: TensorMeta,
    ) -> KernelResult {
        self.launch()
    }

    fn softmax(&mut self, _: TensorMeta, _: i64, _: bool, _: TensorMeta) -> KernelResult {
        self.launch()
    }

    fn softmax_backward(
        &mut self,
        _: TensorMeta,
        _: TensorMeta,
        _: i64,
        _: bool,
        _: TensorMeta,
    ) -> KernelResult {
        self.launch()
    }

    fn nll_loss(
        &mut self,
        _: TensorMeta,
        _: TensorMeta,
        _: Option<TensorMeta>,
        _: i64,
        _: i64,
        _: TensorMeta,
        _: TensorMeta,
    ) -> KernelResult {
        self.launch()
    }

    fn nll_loss_backward(
        &mut self,
        _: TensorMeta,
        _: TensorMeta,
        _: TensorMeta,
        _: Option<TensorMeta>,
        _: i64,
        _: i64,
        _: TensorMeta,
        _: TensorMeta,
    ) -> KernelResult {
        self.launch()
    }

    fn loss(
        &mut self,
        _: LossOp,
        _: TensorMeta,
        _: TensorMeta,
        _: LossOptions,
        _: TensorMeta,
    ) -> KernelResult {
        self.launch()
    }

    fn loss_backward(
        &mut self,
        _: LossOp,
        _: TensorMeta,
        _: TensorMeta,
        _: TensorMeta,
        _: LossOptions,
        _: TensorMeta,
    ) -> KernelResult {
        self.launch()
    }

    fn threshold_backward(
        &mut self,
        _: TensorMeta,
        _: TensorMeta,
        _: Scalar,
        _: TensorMeta,
    ) -> KernelResult {
        self.launch()
    }

    fn activation(&mut self, _: ActivationOp, _: TensorMeta, _: TensorMeta) -> KernelResult {
        self.launch()
    }

    fn activation_backward(
        &mut self,
        _: ActivationOp,
        _: TensorMeta,
        _: TensorMeta,
        _: bool,
        _: ScalarType,
        _: TensorMeta,
    ) -> KernelResult {
        self.launch()
    }

    fn cat(&mut self, _: Vec<TensorMeta>, _: i64, _: TensorMeta) -> KernelResult {
        self.launch()
    }

    fn gather(
        &mut self,
        _: GatherOp,
        _: TensorMeta,
        _: i64,
        _: TensorMeta,
        _: TensorMeta,
    ) -> KernelResult {
        self.launch()
    }

    fn scatter(
        &mut self,
        _: ScatterOp,
        _: TensorMeta,
        _: i64,
        _: TensorMeta,
        _: Operand,
        _: Scalar,
        _: TensorMeta,
    ) -> KernelResult {
        self.launch()
    }

    fn masked_fill(
        &mut self,
        _: TensorMeta,
        _: TensorMeta,
        _: Operand,
        _: TensorMeta,
    ) -> KernelResult {
        self.launch()
    }

    fn flip(&mut self, _: TensorMeta, _: Vec<i64>, _: TensorMeta) -> KernelResult {
        self.launch()
    }

    fn triangle(&mut self, _: TensorMeta, _: i64, _: bool, _: TensorMeta) -> KernelResult {
        self.launch()
    }

    fn roll(&mut self, _: TensorMeta, _: Vec<i64>, _: Vec<i64>, _: TensorMeta) -> KernelResult {
        self.launch()
    }

    fn scan(
        &mut self,
        _: ScanOp,
        _: TensorMeta,
        _: i64,
        _: ScalarType,
        _: TensorMeta,
    ) -> KernelResult {
        self.launch()
    }

    fn sort(
        &mut self,
        _: TensorMeta,
        _: i64,
        _: bool,
        _: bool,
        _: TensorMeta,
        _: TensorMeta,
    ) -> KernelResult {
        self.launch()
    }

    fn topk(
        &mut self,
        _: TensorMeta,
        _: i64,
        _: i64,
        _: bool,
        _: bool,
        _: TensorMeta,
        _: TensorMeta,
    ) -> KernelResult {
        self.launch()
    }

    fn embedding_backward(
        &mut self,
        _: TensorMeta,
        _: TensorMeta,
        _: i64,
        _: i64,
        _: bool,
        _: TensorMeta,
    ) -> KernelResult {
        self.launch()
    }

    fn index(&mut self, _: TensorMeta, _: Vec<Option<TensorMeta>>, _: TensorMeta) -> KernelResult {
        self.launch()
    }

    fn index_put(
        &mut self,
        _: TensorMeta,
        _: Vec<Option<TensorMeta>>,
        _: TensorMeta,
        _: bool,
        _: TensorMeta,
    ) -> KernelResult {
        self.launch()
    }

    fn layer_norm(
        &mut self,
        _: TensorMeta,
        _: Vec<i64>,
        _: Option<TensorMeta>,
        _: Option<TensorMeta>,
        _: f64,
        _: TensorMeta,
        _: TensorMeta,
        _: TensorMeta,
    ) -> KernelResult {
        self.launch()
    }

    fn layer_norm_backward(
        &mut self,
        _: TensorMeta,
        _: TensorMeta,
        _: Vec<i64>,
        _: TensorMeta,
        _: TensorMeta,
        _: Option<TensorMeta>,
        _: Option<TensorMeta>,
        _: Option<TensorMeta>,
        _: Option<TensorMeta>,
        _: Option<TensorMeta>,
    ) -> KernelResult {
        self.launch()
    }

    fn batch_norm(
        &mut self,
        _: TensorMeta,
        _: Option<TensorMeta>,
        _: Option<TensorMeta>,
        _: Option<TensorMeta>,
        _: Option<TensorMeta>,
        _: bool,
        _: f64,
        _: f64,
        _: TensorMeta,
        _: TensorMeta,
        _: TensorMeta,
    ) -> KernelResult {
        self.launch()
    }

    fn batch_norm_backward(
        &mut self,
        _: TensorMeta,
        _: TensorMeta,
        _: Option<TensorMeta>,
        _: Option<TensorMeta>,
        _: Option<TensorMeta>,
        _: Option<TensorMeta>,
        _: Option<TensorMeta>,
        _: bool,
        _: f64,
        _: Option<TensorMeta>,
        _: Option<TensorMeta>,
        _: Option<TensorMeta>,
    ) -> KernelResult {
        self.launch()
    }

    fn group_norm(
        &mut self,
        _: TensorMeta,
        _: Option<TensorMeta>,
        _: Option<TensorMeta>,
        _: i64,
        _: i64,
        _: i64,
        _: i64,
        _: f64,
        _: TensorMeta,
        _: TensorMeta,
        _: TensorMeta,
    ) -> KernelResult {
        self.launch()
    }

    fn group_norm_backward(
        &mut self,
        _: TensorMeta,
        _: TensorMeta,
        _: TensorMeta,
        _: TensorMeta,
        _: Option<TensorMeta>,
        _: i64,
        _: i64,
        _: i64,
        _: i64,
        _: Option<TensorMeta>,
        _: Option<TensorMeta>,
        _: Option<TensorMeta>,
    ) -> KernelResult {
        self.launch()
    }

    fn moments(
        &mut self,
        _: MomentOp,
        _: TensorMeta,
        _: Vec<i64>,
        _: Scalar,
        _: bool,
        _: TensorMeta,
        _: Option<TensorMeta>,
    ) -> KernelResult {
        self.launch()
    }

    fn vector_norm(
        &mut self,
        _: TensorMeta,
        _: Scalar,
        _: Vec<i64>,
        _: bool,
        _: ScalarType,
        _: TensorMeta,
    ) -> KernelResult {
        self.launch()
    }

    fn pool(
        &mut self,
        _: PoolOp,
        _: TensorMeta,
        _: PoolParams,
        _: TensorMeta,
        _: Option<TensorMeta>,
    ) -> KernelResult {
        self.launch()
    }

    fn pool_backward(
        &mut self,
        _: PoolOp,
        _: TensorMeta,
        _: TensorMeta,
        _: PoolParams,
        _: Option<TensorMeta>,
        _: TensorMeta,
    ) -> KernelResult {
        self.launch()
    }

    fn random_integers(&mut self, _: Option<(i64, Option<i64>)>, _: TensorMeta) -> KernelResult {
        self.launch()
    }

    fn spaced(&mut self, _: Scalar, _: Scalar, _: Option<f64>, _: TensorMeta) -> KernelResult {
        self.launch()
    }

    fn multinomial(&mut self, _: TensorMeta, _: i64, _: bool, _: TensorMeta) -> KernelResult {
        self.launch()
    }

    fn linalg(&mut self, _: LinalgOp, _: Vec<TensorMeta>, _: Vec<TensorMeta>) -> KernelResult {
        self.launch()
    }

    fn library(&mut self, _: LibraryOp, _: Vec<TensorMeta>, _: Vec<TensorMeta>) -> KernelResult {
        self.launch()
    }

    fn select(
        &mut self,
        _: SelectOp,
        _: TensorMeta,
        _: i64,
        _: Option<i64>,
        _: bool,
        _: TensorMeta,
        _: Option<TensorMeta>,
    ) -> KernelResult {
        self.launch()
    }

    fn permutation(&mut self, _: TensorMeta) -> KernelResult {
        self.launch()
    }

    fn dropout(
        &mut self,
        _: TensorMeta,
        _: f64,
        _: bool,
        _: TensorMeta,
        _: TensorMeta,
    ) -> KernelResult {
        self.launch()
    }

    fn dropout_backward(
        &mut self,
        _: TensorMeta,
        _: TensorMeta,
        _: f64,
        _: TensorMeta,
    ) -> KernelResult {
        self.launch()
    }

    fn conv(
        &mut self,
        _: TensorMeta,
        _: TensorMeta,
        _: Option<TensorMeta>,
        _: ConvParams,
        _: TensorMeta,
    ) -> KernelResult {
        self.launch()
    }

    fn conv_backward(
        &mut self,
        _: TensorMeta,
        _: TensorMeta,
        _: TensorMeta,
        _: ConvParams,
        _: Option<TensorMeta>,
        _: Option<TensorMeta>,
        _: Option<TensorMeta>,
    ) -> KernelResult {
        self.launch()
    }
}
