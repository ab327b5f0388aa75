//! The client's side of the guest's kernel imports: nothing is computed here, only storage
//! ids are handed out and the op's use of kernels is noted, so the client knows every
//! output's metadata without asking the host.

use std::sync::atomic::{AtomicU64, Ordering};

use torch_remote_host::guest::{
    BinaryOp, IndexReduceOp, KernelsHost, Operand, RandomOp, ReduceOp, Scalar, ScalarType,
    StorageId, TensorMeta, TernaryOp, TypesHost, UnaryOp,
};

static NEXT_STORAGE: AtomicU64 = AtomicU64::new(1);

/// A storage id no other storage of this process has had.
pub fn new_storage_id() -> u64 {
    NEXT_STORAGE.fetch_add(1, Ordering::Relaxed)
}

/// What the guest asked of its kernels while running one op.
#[derive(Default)]
pub struct Recorder {
    /// Storages created, in call order, with their sizes.
    pub created: Vec<(u64, u64)>,
    /// Temporaries given back within the op.
    pub freed: Vec<u64>,
    /// Whether any kernel ran: an op that only makes a view has nothing for the host.
    pub launched: bool,
}

impl Recorder {
    /// Whether the host must run the op too.
    pub fn needs_host(&self) -> bool {
        self.launched || !self.created.is_empty()
    }
}

type KernelResult = Result<(), String>;

impl Recorder {
    fn launch(&mut self) -> KernelResult {
        self.launched = true;
        Ok(())
    }
}

impl TypesHost for Recorder {}

impl KernelsHost for Recorder {
    fn new_storage(&mut self, nbytes: u64) -> StorageId {
        let id = new_storage_id();
        self.created.push((id, nbytes));
        id
    }

    fn free_storage(&mut self, id: StorageId) {
        self.freed.push(id);
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

    fn threshold_backward(
        &mut self,
        _: TensorMeta,
        _: TensorMeta,
        _: Scalar,
        _: TensorMeta,
    ) -> KernelResult {
        self.launch()
    }
}
