//! The guest's kernel imports, run with libtorch on the session's device.
//!
//! A kernel computes its result from views of the inputs, checks the result's shape and
//! dtype against the output metadata the guest computed, and copies it into the output
//! view. It never decides a shape; a disagreement is an error, not a guess.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;

use tch::{Kind, Reduction, Tensor};

use crate::guest::{
    BinaryOp, IndexReduceOp, KernelsHost, Operand, RandomOp, ReduceOp, Scalar, ScalarType,
    StorageId, TensorMeta, TernaryOp, TypesHost, UnaryOp,
};
use crate::storage::{kind_of, Storages};

type KernelResult = Result<(), String>;

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
}

impl TchKernels {
    pub fn new(storages: Storages) -> Self {
        Self {
            storages,
            pending: VecDeque::new(),
            fault: None,
            seed: 0,
            random_ops: 0,
        }
    }

    /// Prepares for one op: the storage ids its `new-storage` calls must return.
    pub fn begin_op(&mut self, storages: &[u64]) {
        self.pending = storages.iter().copied().collect();
        self.fault = None;
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

    pub fn seed(&mut self, seed: u64) {
        self.seed = seed;
        self.random_ops = 0;
    }

    fn view(&self, meta: &TensorMeta) -> Result<Tensor, String> {
        self.storages.view(meta)
    }

    fn operand(&self, operand: &Operand, compute: Kind) -> Result<Tensor, String> {
        match operand {
            Operand::Tensor(meta) => cast(self.view(meta)?, compute),
            Operand::Number(value) => {
                Tensor::f_scalar_tensor(scalar(value), (compute, self.storages.device()))
                    .map_err(err)
            }
        }
    }

    /// Copies `result` into `out` once its shape and dtype match the guest's metadata.
    fn write(&self, out: &TensorMeta, result: Tensor) -> KernelResult {
        let sizes = result.size();
        let kind = result.kind();
        if sizes != out.sizes || kind != kind_of(out.dtype) {
            return Err(format!(
                "the kernel produced {kind:?}{sizes:?} but the guest expects {:?}{:?}",
                out.dtype, out.sizes
            ));
        }
        self.view(out)?.f_copy_(&result).map_err(err)
    }
}

/// libtorch's message without the C++ backtrace it appends.
pub fn err(e: tch::TchError) -> String {
    let text = e.to_string();
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

fn cast(t: Tensor, kind: Kind) -> Result<Tensor, String> {
    if t.kind() == kind {
        Ok(t)
    } else {
        t.f_to_kind(kind).map_err(err)
    }
}

fn scalar(value: &Scalar) -> tch::Scalar {
    match *value {
        Scalar::Integer(v) => tch::Scalar::int(v),
        Scalar::Float(v) => tch::Scalar::float(v),
        Scalar::Boolean(v) => tch::Scalar::int(v as i64),
    }
}

fn is_one(value: &Scalar) -> bool {
    matches!(*value, Scalar::Integer(1) | Scalar::Boolean(true)) || *value == Scalar::Float(1.0)
}

fn reduction(code: i64) -> Result<Reduction, String> {
    match code {
        0 => Ok(Reduction::None),
        1 => Ok(Reduction::Mean),
        2 => Ok(Reduction::Sum),
        other => Err(format!("unknown reduction {other}")),
    }
}

/// Runs a kernel body so that no libtorch failure, not even a panic, escapes as anything
/// but an error for the guest.
fn guarded(body: impl FnOnce() -> KernelResult) -> KernelResult {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown panic".into());
        Err(format!("kernel panicked: {message}"))
    })
}

fn unary_result(op: UnaryOp, x: &Tensor) -> Result<Tensor, tch::TchError> {
    match op {
        UnaryOp::Neg => x.f_neg(),
        UnaryOp::Exp => x.f_exp(),
        UnaryOp::Log => x.f_log(),
        UnaryOp::Sqrt => x.f_sqrt(),
        UnaryOp::Rsqrt => x.f_rsqrt(),
        UnaryOp::Abs => x.f_abs(),
        UnaryOp::Relu => x.f_relu(),
        UnaryOp::Sigmoid => x.f_sigmoid(),
        UnaryOp::Tanh => x.f_tanh(),
        UnaryOp::Sin => x.f_sin(),
        UnaryOp::Cos => x.f_cos(),
        UnaryOp::Ceil => x.f_ceil(),
        UnaryOp::Floor => x.f_floor(),
        UnaryOp::Round => x.f_round(),
        UnaryOp::Trunc => x.f_trunc(),
        UnaryOp::Sign => x.f_sign(),
        UnaryOp::Reciprocal => x.f_reciprocal(),
        UnaryOp::LogicalNot => x.f_logical_not(),
        UnaryOp::BitwiseNot => x.f_bitwise_not(),
        UnaryOp::Isnan => x.f_isnan(),
        UnaryOp::Erf => x.f_erf(),
        UnaryOp::Log1p => x.f_log1p(),
        UnaryOp::Expm1 => x.f_expm1(),
        UnaryOp::Square => x.f_square(),
    }
}

fn binary_result(op: BinaryOp, a: &Tensor, b: &Tensor) -> Result<Tensor, tch::TchError> {
    match op {
        BinaryOp::Add => a.f_add(b),
        BinaryOp::Sub => a.f_sub(b),
        BinaryOp::Mul => a.f_mul(b),
        BinaryOp::Div => a.f_div(b),
        BinaryOp::DivTrunc => a.f_div_tensor_mode(b, "trunc"),
        BinaryOp::DivFloor => a.f_div_tensor_mode(b, "floor"),
        BinaryOp::Remainder => a.f_remainder_tensor(b),
        BinaryOp::Pow => a.f_pow(b),
        BinaryOp::Maximum => a.f_maximum(b),
        BinaryOp::Minimum => a.f_minimum(b),
        BinaryOp::Eq => a.f_eq_tensor(b),
        BinaryOp::Ne => a.f_ne_tensor(b),
        BinaryOp::Lt => a.f_lt_tensor(b),
        BinaryOp::Le => a.f_le_tensor(b),
        BinaryOp::Gt => a.f_gt_tensor(b),
        BinaryOp::Ge => a.f_ge_tensor(b),
        BinaryOp::LogicalAnd => a.f_logical_and(b),
        BinaryOp::LogicalOr => a.f_logical_or(b),
        BinaryOp::LogicalXor => a.f_logical_xor(b),
        BinaryOp::BitwiseAnd => a.f_bitwise_and_tensor(b),
        BinaryOp::BitwiseOr => a.f_bitwise_or_tensor(b),
        BinaryOp::BitwiseXor => a.f_bitwise_xor_tensor(b),
        BinaryOp::Atan2 => a.f_atan2(b),
    }
}

fn reduce_result(
    op: ReduceOp,
    x: &Tensor,
    dims: &[i64],
    keepdim: bool,
) -> Result<Tensor, tch::TchError> {
    match op {
        ReduceOp::Sum => x.f_sum_dim_intlist(dims, keepdim, None),
        ReduceOp::Mean => x.f_mean_dim(dims, keepdim, None),
        ReduceOp::Amax => x.f_amax(dims, keepdim),
        ReduceOp::Amin => x.f_amin(dims, keepdim),
        ReduceOp::All => x.f_all_dims(dims, keepdim),
        ReduceOp::Any => x.f_any_dims(dims, keepdim),
        ReduceOp::Prod => {
            let all: Vec<i64> = (0..x.dim() as i64).collect();
            let dims = if dims.is_empty() { &all } else { dims };
            let mut sorted = dims.to_vec();
            sorted.sort_unstable_by(|a, b| b.cmp(a));
            sorted.iter().try_fold(x.shallow_clone(), |acc, &d| {
                acc.f_prod_dim_int(d, keepdim, None)
            })
        }
    }
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
        id
    }

    fn free_storage(&mut self, id: StorageId) {
        self.storages.free(id);
    }

    fn fill(&mut self, out: TensorMeta, value: Scalar) -> KernelResult {
        guarded(|| {
            self.view(&out)?
                .f_fill_(scalar(&value))
                .map(drop)
                .map_err(err)
        })
    }

    fn copy(&mut self, src: TensorMeta, out: TensorMeta) -> KernelResult {
        guarded(|| {
            let src = self.view(&src)?;
            self.view(&out)?.f_copy_(&src).map_err(err)
        })
    }

    fn random(&mut self, op: RandomOp, a: f64, b: f64, out: TensorMeta) -> KernelResult {
        guarded(|| {
            let mut target = self.view(&out)?;
            self.random_ops += 1;
            let _turn = RNG.lock().unwrap_or_else(|p| p.into_inner());
            tch::manual_seed(
                self.seed
                    .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                    .wrapping_add(self.random_ops) as i64,
            );
            match op {
                RandomOp::Normal => target.f_normal_(a, b),
                RandomOp::Uniform => target.f_uniform_(a, b),
            }
            .map(drop)
            .map_err(err)
        })
    }

    fn unary(
        &mut self,
        op: UnaryOp,
        x: TensorMeta,
        compute: ScalarType,
        out: TensorMeta,
    ) -> KernelResult {
        guarded(|| {
            let x = cast(self.view(&x)?, kind_of(compute))?;
            self.write(&out, unary_result(op, &x).map_err(err)?)
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
        guarded(|| {
            let kind = kind_of(compute);
            let a = self.operand(&a, kind)?;
            let mut b = self.operand(&b, kind)?;
            if let Some(alpha) = alpha.filter(|alpha| !is_one(alpha)) {
                b = b.f_mul_scalar(scalar(&alpha)).map_err(err)?;
            }
            self.write(&out, binary_result(op, &a, &b).map_err(err)?)
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
        guarded(|| {
            let kind = kind_of(compute);
            let first = if op == TernaryOp::Where {
                Kind::Bool
            } else {
                kind
            };
            let a = self.operand(&a, first)?;
            let (b, c) = (self.operand(&b, kind)?, self.operand(&c, kind)?);
            let scaled = |t: Tensor| match &value {
                Some(v) if !is_one(v) => t.f_mul_scalar(scalar(v)),
                _ => Ok(t),
            };
            let result = match op {
                TernaryOp::Addcmul => scaled(b)
                    .and_then(|b| b.f_mul(&c))
                    .and_then(|p| a.f_add(&p)),
                TernaryOp::Addcdiv => scaled(b)
                    .and_then(|b| b.f_div(&c))
                    .and_then(|q| a.f_add(&q)),
                TernaryOp::Lerp => a.f_lerp_tensor(&b, &c),
                TernaryOp::Where => b.f_where_self(&a, &c),
            };
            self.write(&out, result.map_err(err)?)
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
        guarded(|| {
            let x = cast(self.view(&x)?, kind_of(compute))?;
            self.write(&out, reduce_result(op, &x, &dims, keepdim).map_err(err)?)
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
        guarded(|| {
            let x = self.view(&x)?;
            let (vals, idx) = match (op, dim) {
                (IndexReduceOp::Max, Some(d)) => x.f_max_dim(d, keepdim).map(|(v, i)| (Some(v), i)),
                (IndexReduceOp::Min, Some(d)) => x.f_min_dim(d, keepdim).map(|(v, i)| (Some(v), i)),
                (IndexReduceOp::Argmax, d) => x.f_argmax(d, keepdim).map(|i| (None, i)),
                (IndexReduceOp::Argmin, d) => x.f_argmin(d, keepdim).map(|i| (None, i)),
                (_, None) => return Err("max/min with indices need a dim".into()),
            }
            .map_err(err)?;
            if let (Some(meta), Some(v)) = (&values, vals) {
                self.write(meta, v)?;
            }
            self.write(&indices, idx)
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
        guarded(|| {
            let (a, b) = (self.view(&a)?, self.view(&b)?);
            let batched = a.dim() == 3;
            let result = match bias {
                Some(bias) if batched => {
                    self.view(&bias)?
                        .f_baddbmm(&a, &b, scalar(&beta), scalar(&alpha))
                }
                Some(bias) if is_one(&beta) && is_one(&alpha) => self.view(&bias)?.f_addmm(&a, &b),
                _ => {
                    let product = if batched { a.f_bmm(&b) } else { a.f_mm(&b) };
                    let product = product.and_then(|p| {
                        if is_one(&alpha) {
                            Ok(p)
                        } else {
                            p.f_mul_scalar(scalar(&alpha))
                        }
                    });
                    match (bias, product) {
                        (Some(bias), Ok(p))
                            if beta != Scalar::Float(0.0) && beta != Scalar::Integer(0) =>
                        {
                            self.view(&bias)?
                                .f_mul_scalar(scalar(&beta))
                                .and_then(|s| p.f_add(&s))
                        }
                        (_, product) => product,
                    }
                }
            };
            self.write(&out, result.map_err(err)?)
        })
    }

    fn softmax(&mut self, x: TensorMeta, dim: i64, log: bool, out: TensorMeta) -> KernelResult {
        guarded(|| {
            let x = cast(self.view(&x)?, kind_of(out.dtype))?;
            let result = if log {
                x.f_internal_log_softmax(dim, false)
            } else {
                x.f_internal_softmax(dim, false)
            };
            self.write(&out, result.map_err(err)?)
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
        guarded(|| {
            let (grad, output) = (self.view(&grad)?, self.view(&output)?);
            let kind = kind_of(out.dtype);
            let result = if log {
                Tensor::f_internal_log_softmax_backward_data(&grad, &output, dim, kind)
            } else {
                Tensor::f_internal_softmax_backward_data(&grad, &output, dim, kind)
            };
            self.write(&out, result.map_err(err)?)
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
        guarded(|| {
            let (x, target) = (self.view(&x)?, self.view(&target)?);
            let weight = weight.map(|w| self.view(&w)).transpose()?;
            let red = reduction(reduction_code)?;
            let loss = x
                .f_nll_loss(&target, weight.as_ref(), red, ignore_index)
                .map_err(err)?;
            self.write(&out, loss)?;
            let kept = target.f_ne(ignore_index).map_err(err)?;
            let per_target = match &weight {
                Some(w) => w
                    .f_index_select(0, &target.f_clamp_min(0).map_err(err)?)
                    .map_err(err)?,
                None => kept.f_to_kind(x.kind()).map_err(err)?,
            };
            let mut total = per_target
                .f_mul(&kept)
                .and_then(|t| t.f_sum(x.kind()))
                .map_err(err)?;
            let total = if reduction_code == 0 {
                total.f_zero_().map_err(err)?
            } else {
                total
            };
            self.write(&total_weight, total)
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
        guarded(|| {
            let (grad, x, target) = (self.view(&grad)?, self.view(&x)?, self.view(&target)?);
            let weight = weight.map(|w| self.view(&w)).transpose()?;
            let total = self.view(&total_weight)?;
            let red = reduction(reduction_code)?;
            let result = x
                .f_nll_loss_backward(&grad, &target, weight.as_ref(), red, ignore_index, &total)
                .map_err(err)?;
            self.write(&out, result)
        })
    }

    fn threshold_backward(
        &mut self,
        grad: TensorMeta,
        x: TensorMeta,
        threshold: Scalar,
        out: TensorMeta,
    ) -> KernelResult {
        guarded(|| {
            let (grad, x) = (self.view(&grad)?, self.view(&x)?);
            self.write(
                &out,
                x.f_threshold_backward(&grad, scalar(&threshold))
                    .map_err(err)?,
            )
        })
    }
}
