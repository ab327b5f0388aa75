//! `Kernels`: the host's kernel imports as a trait, so that handlers also run natively in
//! tests against a recording fake; `Host` forwards to the real imports inside the component.

use crate::bindings::torch_remote::ops::kernels as imports;
use crate::error::Error;
use crate::types::{
    BinaryOp, IndexReduceOp, Operand, RandomOp, ReduceOp, Scalar, ScalarType, StorageId,
    TensorMeta, TernaryOp, UnaryOp,
};

/// What a kernel import returns: the host's message on failure.
pub type KernelResult = Result<(), String>;

/// One method per import of the `kernels` interface, with the same arguments.
pub trait Kernels {
    fn new_storage(&mut self, nbytes: u64) -> StorageId;
    fn free_storage(&mut self, id: StorageId);
    fn fill(&mut self, out: &TensorMeta, value: Scalar) -> KernelResult;
    fn copy(&mut self, src: &TensorMeta, out: &TensorMeta) -> KernelResult;
    fn random(&mut self, op: RandomOp, a: f64, b: f64, out: &TensorMeta) -> KernelResult;
    fn unary(
        &mut self,
        op: UnaryOp,
        x: &TensorMeta,
        compute: ScalarType,
        out: &TensorMeta,
    ) -> KernelResult;
    fn binary(
        &mut self,
        op: BinaryOp,
        a: &Operand,
        b: &Operand,
        alpha: Option<Scalar>,
        compute: ScalarType,
        out: &TensorMeta,
    ) -> KernelResult;
    // The argument lists mirror the WIT imports one to one.
    #[allow(clippy::too_many_arguments)]
    fn ternary(
        &mut self,
        op: TernaryOp,
        a: &Operand,
        b: &Operand,
        c: &Operand,
        value: Option<Scalar>,
        compute: ScalarType,
        out: &TensorMeta,
    ) -> KernelResult;
    fn reduce(
        &mut self,
        op: ReduceOp,
        x: &TensorMeta,
        dims: &[i64],
        keepdim: bool,
        compute: ScalarType,
        out: &TensorMeta,
    ) -> KernelResult;
    fn index_reduce(
        &mut self,
        op: IndexReduceOp,
        x: &TensorMeta,
        dim: Option<i64>,
        keepdim: bool,
        values: Option<&TensorMeta>,
        indices: &TensorMeta,
    ) -> KernelResult;
    fn matmul(
        &mut self,
        a: &TensorMeta,
        b: &TensorMeta,
        bias: Option<&TensorMeta>,
        beta: Scalar,
        alpha: Scalar,
        out: &TensorMeta,
    ) -> KernelResult;
    fn softmax(&mut self, x: &TensorMeta, dim: i64, log: bool, out: &TensorMeta) -> KernelResult;
    fn softmax_backward(
        &mut self,
        grad: &TensorMeta,
        output: &TensorMeta,
        dim: i64,
        log: bool,
        out: &TensorMeta,
    ) -> KernelResult;
    #[allow(clippy::too_many_arguments)]
    fn nll_loss(
        &mut self,
        x: &TensorMeta,
        target: &TensorMeta,
        weight: Option<&TensorMeta>,
        reduction: i64,
        ignore_index: i64,
        out: &TensorMeta,
        total_weight: &TensorMeta,
    ) -> KernelResult;
    #[allow(clippy::too_many_arguments)]
    fn nll_loss_backward(
        &mut self,
        grad: &TensorMeta,
        x: &TensorMeta,
        target: &TensorMeta,
        weight: Option<&TensorMeta>,
        reduction: i64,
        ignore_index: i64,
        total_weight: &TensorMeta,
        out: &TensorMeta,
    ) -> KernelResult;
    fn threshold_backward(
        &mut self,
        grad: &TensorMeta,
        x: &TensorMeta,
        threshold: Scalar,
        out: &TensorMeta,
    ) -> KernelResult;
}

/// Turns a kernel's failure into a `kernel-failed` error naming the kernel.
pub fn failed(kernel: &'static str) -> impl FnOnce(String) -> Error {
    move |message| Error::kernel(format!("kernel `{kernel}` failed on the host: {message}"))
}

/// The real imports; only callable inside the component.
pub struct Host;

impl Kernels for Host {
    fn new_storage(&mut self, nbytes: u64) -> StorageId {
        imports::new_storage(nbytes)
    }

    fn free_storage(&mut self, id: StorageId) {
        imports::free_storage(id)
    }

    fn fill(&mut self, out: &TensorMeta, value: Scalar) -> KernelResult {
        imports::fill(out, value)
    }

    fn copy(&mut self, src: &TensorMeta, out: &TensorMeta) -> KernelResult {
        imports::copy(src, out)
    }

    fn random(&mut self, op: RandomOp, a: f64, b: f64, out: &TensorMeta) -> KernelResult {
        imports::random(op, a, b, out)
    }

    fn unary(
        &mut self,
        op: UnaryOp,
        x: &TensorMeta,
        compute: ScalarType,
        out: &TensorMeta,
    ) -> KernelResult {
        imports::unary(op, x, compute, out)
    }

    fn binary(
        &mut self,
        op: BinaryOp,
        a: &Operand,
        b: &Operand,
        alpha: Option<Scalar>,
        compute: ScalarType,
        out: &TensorMeta,
    ) -> KernelResult {
        imports::binary(op, a, b, alpha, compute, out)
    }

    fn ternary(
        &mut self,
        op: TernaryOp,
        a: &Operand,
        b: &Operand,
        c: &Operand,
        value: Option<Scalar>,
        compute: ScalarType,
        out: &TensorMeta,
    ) -> KernelResult {
        imports::ternary(op, a, b, c, value, compute, out)
    }

    fn reduce(
        &mut self,
        op: ReduceOp,
        x: &TensorMeta,
        dims: &[i64],
        keepdim: bool,
        compute: ScalarType,
        out: &TensorMeta,
    ) -> KernelResult {
        imports::reduce(op, x, dims, keepdim, compute, out)
    }

    fn index_reduce(
        &mut self,
        op: IndexReduceOp,
        x: &TensorMeta,
        dim: Option<i64>,
        keepdim: bool,
        values: Option<&TensorMeta>,
        indices: &TensorMeta,
    ) -> KernelResult {
        imports::index_reduce(op, x, dim, keepdim, values, indices)
    }

    fn matmul(
        &mut self,
        a: &TensorMeta,
        b: &TensorMeta,
        bias: Option<&TensorMeta>,
        beta: Scalar,
        alpha: Scalar,
        out: &TensorMeta,
    ) -> KernelResult {
        imports::matmul(a, b, bias, beta, alpha, out)
    }

    fn softmax(&mut self, x: &TensorMeta, dim: i64, log: bool, out: &TensorMeta) -> KernelResult {
        imports::softmax(x, dim, log, out)
    }

    fn softmax_backward(
        &mut self,
        grad: &TensorMeta,
        output: &TensorMeta,
        dim: i64,
        log: bool,
        out: &TensorMeta,
    ) -> KernelResult {
        imports::softmax_backward(grad, output, dim, log, out)
    }

    fn nll_loss(
        &mut self,
        x: &TensorMeta,
        target: &TensorMeta,
        weight: Option<&TensorMeta>,
        reduction: i64,
        ignore_index: i64,
        out: &TensorMeta,
        total_weight: &TensorMeta,
    ) -> KernelResult {
        imports::nll_loss(
            x,
            target,
            weight,
            reduction,
            ignore_index,
            out,
            total_weight,
        )
    }

    fn nll_loss_backward(
        &mut self,
        grad: &TensorMeta,
        x: &TensorMeta,
        target: &TensorMeta,
        weight: Option<&TensorMeta>,
        reduction: i64,
        ignore_index: i64,
        total_weight: &TensorMeta,
        out: &TensorMeta,
    ) -> KernelResult {
        imports::nll_loss_backward(
            grad,
            x,
            target,
            weight,
            reduction,
            ignore_index,
            total_weight,
            out,
        )
    }

    fn threshold_backward(
        &mut self,
        grad: &TensorMeta,
        x: &TensorMeta,
        threshold: Scalar,
        out: &TensorMeta,
    ) -> KernelResult {
        imports::threshold_backward(grad, x, threshold, out)
    }
}
