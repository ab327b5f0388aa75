//! `Kernels`: the host's kernel imports as a trait, so that handlers also run natively in
//! tests against a recording fake; `Host` forwards to the real imports inside the component.

use crate::bindings::torch_remote::ops::kernels as imports;
use crate::error::Error;
use crate::types::{
    ActivationOp, BinaryOp, ConvParams, GatherOp, IndexReduceOp, LibraryOp, LinalgOp, LossOp,
    LossOptions, MomentOp, Operand, PadMode, PoolOp, PoolParams, RandomOp, ReduceOp, SampleOp,
    Scalar, ScalarType, ScanOp, ScatterOp, SelectOp, SizeQuery, StorageId, TensorMeta, TernaryOp,
    UnaryOp, UpsampleMode,
};

/// What a kernel import returns: the host's message on failure.
pub type KernelResult = Result<(), String>;

/// One method per import of the `kernels` interface, with the same arguments.
pub trait Kernels {
    fn new_storage(&mut self, nbytes: u64) -> StorageId;
    fn free_storage(&mut self, id: StorageId);
    fn data_size(&mut self, query: SizeQuery, x: &TensorMeta) -> Result<i64, String>;
    fn nonzero(&mut self, x: &TensorMeta, out: &TensorMeta) -> KernelResult;
    fn unique(
        &mut self,
        query: SizeQuery,
        x: &TensorMeta,
        sorted: bool,
        values: &TensorMeta,
        inverse: Option<&TensorMeta>,
        counts: Option<&TensorMeta>,
    ) -> KernelResult;
    fn pad(
        &mut self,
        mode: PadMode,
        x: &TensorMeta,
        padding: &[i64],
        out: &TensorMeta,
    ) -> KernelResult;
    fn pad_backward(
        &mut self,
        mode: PadMode,
        grad: &TensorMeta,
        x: &TensorMeta,
        padding: &[i64],
        out: &TensorMeta,
    ) -> KernelResult;
    fn fill(&mut self, out: &TensorMeta, value: Scalar) -> KernelResult;
    fn upsample(
        &mut self,
        mode: UpsampleMode,
        x: &TensorMeta,
        output_size: &[i64],
        align_corners: bool,
        scales: &[Option<f64>],
        out: &TensorMeta,
    ) -> KernelResult;
    #[allow(clippy::too_many_arguments)]
    fn upsample_backward(
        &mut self,
        mode: UpsampleMode,
        grad: &TensorMeta,
        output_size: &[i64],
        input_size: &[i64],
        align_corners: bool,
        scales: &[Option<f64>],
        out: &TensorMeta,
    ) -> KernelResult;
    fn arange(
        &mut self,
        start: Scalar,
        end: Scalar,
        step: Scalar,
        out: &TensorMeta,
    ) -> KernelResult;
    fn copy(&mut self, src: &TensorMeta, out: &TensorMeta) -> KernelResult;
    fn random(&mut self, op: RandomOp, a: f64, b: f64, out: &TensorMeta) -> KernelResult;
    fn sample(&mut self, op: SampleOp, params: &[TensorMeta], out: &TensorMeta) -> KernelResult;
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
    fn loss(
        &mut self,
        op: LossOp,
        x: &TensorMeta,
        target: &TensorMeta,
        options: &LossOptions,
        out: &TensorMeta,
    ) -> KernelResult;
    fn loss_backward(
        &mut self,
        op: LossOp,
        grad: &TensorMeta,
        x: &TensorMeta,
        target: &TensorMeta,
        options: &LossOptions,
        out: &TensorMeta,
    ) -> KernelResult;
    fn threshold_backward(
        &mut self,
        grad: &TensorMeta,
        x: &TensorMeta,
        threshold: Scalar,
        out: &TensorMeta,
    ) -> KernelResult;
    fn activation(&mut self, op: ActivationOp, x: &TensorMeta, out: &TensorMeta) -> KernelResult;
    fn cat(&mut self, xs: &[TensorMeta], dim: i64, out: &TensorMeta) -> KernelResult;
    fn gather(
        &mut self,
        op: GatherOp,
        x: &TensorMeta,
        dim: i64,
        index: &TensorMeta,
        out: &TensorMeta,
    ) -> KernelResult;
    #[allow(clippy::too_many_arguments)]
    fn scatter(
        &mut self,
        op: ScatterOp,
        x: &TensorMeta,
        dim: i64,
        index: &TensorMeta,
        src: &Operand,
        alpha: Scalar,
        out: &TensorMeta,
    ) -> KernelResult;
    fn masked_fill(
        &mut self,
        x: &TensorMeta,
        mask: &TensorMeta,
        value: &Operand,
        out: &TensorMeta,
    ) -> KernelResult;
    fn flip(&mut self, x: &TensorMeta, dims: &[i64], out: &TensorMeta) -> KernelResult;
    fn triangle(
        &mut self,
        x: &TensorMeta,
        diagonal: i64,
        upper: bool,
        out: &TensorMeta,
    ) -> KernelResult;
    fn roll(
        &mut self,
        x: &TensorMeta,
        shifts: &[i64],
        dims: &[i64],
        out: &TensorMeta,
    ) -> KernelResult;
    fn scan(
        &mut self,
        op: ScanOp,
        x: &TensorMeta,
        dim: i64,
        compute: ScalarType,
        out: &TensorMeta,
    ) -> KernelResult;
    fn sort(
        &mut self,
        x: &TensorMeta,
        dim: i64,
        descending: bool,
        stable: bool,
        values: &TensorMeta,
        indices: &TensorMeta,
    ) -> KernelResult;
    #[allow(clippy::too_many_arguments)]
    fn topk(
        &mut self,
        x: &TensorMeta,
        k: i64,
        dim: i64,
        largest: bool,
        sorted: bool,
        values: &TensorMeta,
        indices: &TensorMeta,
    ) -> KernelResult;
    fn embedding_backward(
        &mut self,
        grad: &TensorMeta,
        indices: &TensorMeta,
        num_weights: i64,
        padding_idx: i64,
        scale_grad_by_freq: bool,
        out: &TensorMeta,
    ) -> KernelResult;
    #[allow(clippy::too_many_arguments)]
    fn layer_norm(
        &mut self,
        x: &TensorMeta,
        normalized_shape: &[i64],
        weight: Option<&TensorMeta>,
        bias: Option<&TensorMeta>,
        eps: f64,
        out: &TensorMeta,
        mean: &TensorMeta,
        rstd: &TensorMeta,
    ) -> KernelResult;
    #[allow(clippy::too_many_arguments)]
    fn layer_norm_backward(
        &mut self,
        grad: &TensorMeta,
        x: &TensorMeta,
        normalized_shape: &[i64],
        mean: &TensorMeta,
        rstd: &TensorMeta,
        weight: Option<&TensorMeta>,
        bias: Option<&TensorMeta>,
        grad_input: Option<&TensorMeta>,
        grad_weight: Option<&TensorMeta>,
        grad_bias: Option<&TensorMeta>,
    ) -> KernelResult;
    #[allow(clippy::too_many_arguments)]
    fn batch_norm(
        &mut self,
        x: &TensorMeta,
        weight: Option<&TensorMeta>,
        bias: Option<&TensorMeta>,
        running_mean: Option<&TensorMeta>,
        running_var: Option<&TensorMeta>,
        training: bool,
        momentum: f64,
        eps: f64,
        out: &TensorMeta,
        save_mean: &TensorMeta,
        save_invstd: &TensorMeta,
    ) -> KernelResult;
    #[allow(clippy::too_many_arguments)]
    fn batch_norm_backward(
        &mut self,
        grad: &TensorMeta,
        x: &TensorMeta,
        weight: Option<&TensorMeta>,
        running_mean: Option<&TensorMeta>,
        running_var: Option<&TensorMeta>,
        save_mean: Option<&TensorMeta>,
        save_invstd: Option<&TensorMeta>,
        training: bool,
        eps: f64,
        grad_input: Option<&TensorMeta>,
        grad_weight: Option<&TensorMeta>,
        grad_bias: Option<&TensorMeta>,
    ) -> KernelResult;
    #[allow(clippy::too_many_arguments)]
    fn group_norm(
        &mut self,
        x: &TensorMeta,
        weight: Option<&TensorMeta>,
        bias: Option<&TensorMeta>,
        n: i64,
        c: i64,
        hxw: i64,
        groups: i64,
        eps: f64,
        out: &TensorMeta,
        mean: &TensorMeta,
        rstd: &TensorMeta,
    ) -> KernelResult;
    #[allow(clippy::too_many_arguments)]
    fn group_norm_backward(
        &mut self,
        grad: &TensorMeta,
        x: &TensorMeta,
        mean: &TensorMeta,
        rstd: &TensorMeta,
        weight: Option<&TensorMeta>,
        n: i64,
        c: i64,
        hxw: i64,
        groups: i64,
        grad_input: Option<&TensorMeta>,
        grad_weight: Option<&TensorMeta>,
        grad_bias: Option<&TensorMeta>,
    ) -> KernelResult;
    #[allow(clippy::too_many_arguments)]
    fn moments(
        &mut self,
        op: MomentOp,
        x: &TensorMeta,
        dims: &[i64],
        correction: Scalar,
        keepdim: bool,
        out: &TensorMeta,
        mean: Option<&TensorMeta>,
    ) -> KernelResult;
    fn vector_norm(
        &mut self,
        x: &TensorMeta,
        ord: Scalar,
        dims: &[i64],
        keepdim: bool,
        compute: ScalarType,
        out: &TensorMeta,
    ) -> KernelResult;
    fn pool(
        &mut self,
        op: PoolOp,
        x: &TensorMeta,
        params: &PoolParams,
        out: &TensorMeta,
        indices: Option<&TensorMeta>,
    ) -> KernelResult;
    fn pool_backward(
        &mut self,
        op: PoolOp,
        grad: &TensorMeta,
        x: &TensorMeta,
        params: &PoolParams,
        indices: Option<&TensorMeta>,
        out: &TensorMeta,
    ) -> KernelResult;
    fn random_integers(
        &mut self,
        range: Option<(i64, Option<i64>)>,
        out: &TensorMeta,
    ) -> KernelResult;
    fn linalg(&mut self, op: LinalgOp, inputs: &[TensorMeta], outs: &[TensorMeta]) -> KernelResult;
    fn library(
        &mut self,
        op: LibraryOp,
        inputs: &[TensorMeta],
        outs: &[TensorMeta],
    ) -> KernelResult;
    #[allow(clippy::too_many_arguments)]
    fn select(
        &mut self,
        op: SelectOp,
        x: &TensorMeta,
        k: i64,
        dim: Option<i64>,
        keepdim: bool,
        values: &TensorMeta,
        indices: Option<&TensorMeta>,
    ) -> KernelResult;
    fn spaced(
        &mut self,
        start: Scalar,
        end: Scalar,
        base: Option<f64>,
        out: &TensorMeta,
    ) -> KernelResult;
    fn multinomial(
        &mut self,
        probs: &TensorMeta,
        samples: i64,
        replacement: bool,
        out: &TensorMeta,
    ) -> KernelResult;
    fn permutation(&mut self, out: &TensorMeta) -> KernelResult;
    fn dropout(
        &mut self,
        x: &TensorMeta,
        p: f64,
        train: bool,
        out: &TensorMeta,
        mask: &TensorMeta,
    ) -> KernelResult;
    fn dropout_backward(
        &mut self,
        grad: &TensorMeta,
        mask: &TensorMeta,
        scale: f64,
        out: &TensorMeta,
    ) -> KernelResult;
    fn conv(
        &mut self,
        x: &TensorMeta,
        weight: &TensorMeta,
        bias: Option<&TensorMeta>,
        params: &ConvParams,
        out: &TensorMeta,
    ) -> KernelResult;
    #[allow(clippy::too_many_arguments)]
    fn conv_backward(
        &mut self,
        grad: &TensorMeta,
        x: &TensorMeta,
        weight: &TensorMeta,
        params: &ConvParams,
        grad_input: Option<&TensorMeta>,
        grad_weight: Option<&TensorMeta>,
        grad_bias: Option<&TensorMeta>,
    ) -> KernelResult;
    fn index(
        &mut self,
        x: &TensorMeta,
        indices: &[Option<TensorMeta>],
        out: &TensorMeta,
    ) -> KernelResult;
    fn index_put(
        &mut self,
        x: &TensorMeta,
        indices: &[Option<TensorMeta>],
        values: &TensorMeta,
        accumulate: bool,
        out: &TensorMeta,
    ) -> KernelResult;
    fn activation_backward(
        &mut self,
        op: ActivationOp,
        grad: &TensorMeta,
        x: &TensorMeta,
        x_is_result: bool,
        compute: ScalarType,
        out: &TensorMeta,
    ) -> KernelResult;
}

/// Turns a kernel's failure into a `kernel-failed` error naming the kernel.
pub fn failed(kernel: &'static str) -> impl FnOnce(String) -> Error {
    move |message| Error::kernel(format!("kernel `{kernel}` failed on the host: {message}"))
}

/// The real imports; only callable inside the component.
pub struct Host {
    /// Whether kernel calls reach the imports, or are only noted (the client's metadata run).
    launch: bool,
    /// Whether the op called any kernel.
    pub launched: bool,
}

impl Host {
    pub fn new(launch: bool) -> Self {
        Self {
            launch,
            launched: false,
        }
    }
}

/// A kernel call on `host`: noted, and made unless only metadata was asked for.
macro_rules! launch {
    ($host:ident, $call:expr) => {{
        $host.launched = true;
        if $host.launch {
            $call
        } else {
            Ok(())
        }
    }};
}

impl Kernels for Host {
    fn new_storage(&mut self, nbytes: u64) -> StorageId {
        imports::new_storage(nbytes)
    }

    fn free_storage(&mut self, id: StorageId) {
        imports::free_storage(id)
    }

    fn data_size(&mut self, query: SizeQuery, x: &TensorMeta) -> Result<i64, String> {
        imports::data_size(query, x)
    }

    fn nonzero(&mut self, x: &TensorMeta, out: &TensorMeta) -> KernelResult {
        launch!(self, imports::nonzero(x, out))
    }

    fn unique(
        &mut self,
        query: SizeQuery,
        x: &TensorMeta,
        sorted: bool,
        values: &TensorMeta,
        inverse: Option<&TensorMeta>,
        counts: Option<&TensorMeta>,
    ) -> KernelResult {
        launch!(
            self,
            imports::unique(query, x, sorted, values, inverse, counts)
        )
    }

    fn pad(
        &mut self,
        mode: PadMode,
        x: &TensorMeta,
        padding: &[i64],
        out: &TensorMeta,
    ) -> KernelResult {
        launch!(self, imports::pad(mode, x, padding, out))
    }

    fn pad_backward(
        &mut self,
        mode: PadMode,
        grad: &TensorMeta,
        x: &TensorMeta,
        padding: &[i64],
        out: &TensorMeta,
    ) -> KernelResult {
        launch!(self, imports::pad_backward(mode, grad, x, padding, out))
    }

    fn fill(&mut self, out: &TensorMeta, value: Scalar) -> KernelResult {
        launch!(self, imports::fill(out, value))
    }

    fn upsample(
        &mut self,
        mode: UpsampleMode,
        x: &TensorMeta,
        output_size: &[i64],
        align_corners: bool,
        scales: &[Option<f64>],
        out: &TensorMeta,
    ) -> KernelResult {
        launch!(
            self,
            imports::upsample(mode, x, output_size, align_corners, scales, out)
        )
    }

    fn upsample_backward(
        &mut self,
        mode: UpsampleMode,
        grad: &TensorMeta,
        output_size: &[i64],
        input_size: &[i64],
        align_corners: bool,
        scales: &[Option<f64>],
        out: &TensorMeta,
    ) -> KernelResult {
        launch!(
            self,
            imports::upsample_backward(
                mode,
                grad,
                output_size,
                input_size,
                align_corners,
                scales,
                out,
            )
        )
    }

    fn arange(
        &mut self,
        start: Scalar,
        end: Scalar,
        step: Scalar,
        out: &TensorMeta,
    ) -> KernelResult {
        launch!(self, imports::arange(start, end, step, out))
    }

    fn copy(&mut self, src: &TensorMeta, out: &TensorMeta) -> KernelResult {
        launch!(self, imports::copy(src, out))
    }

    fn random(&mut self, op: RandomOp, a: f64, b: f64, out: &TensorMeta) -> KernelResult {
        launch!(self, imports::random(op, a, b, out))
    }

    fn sample(&mut self, op: SampleOp, params: &[TensorMeta], out: &TensorMeta) -> KernelResult {
        launch!(self, imports::sample(op, params, out))
    }

    fn unary(
        &mut self,
        op: UnaryOp,
        x: &TensorMeta,
        compute: ScalarType,
        out: &TensorMeta,
    ) -> KernelResult {
        launch!(self, imports::unary(op, x, compute, out))
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
        launch!(self, imports::binary(op, a, b, alpha, compute, out))
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
        launch!(self, imports::ternary(op, a, b, c, value, compute, out))
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
        launch!(self, imports::reduce(op, x, dims, keepdim, compute, out))
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
        launch!(
            self,
            imports::index_reduce(op, x, dim, keepdim, values, indices)
        )
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
        launch!(self, imports::matmul(a, b, bias, beta, alpha, out))
    }

    fn softmax(&mut self, x: &TensorMeta, dim: i64, log: bool, out: &TensorMeta) -> KernelResult {
        launch!(self, imports::softmax(x, dim, log, out))
    }

    fn softmax_backward(
        &mut self,
        grad: &TensorMeta,
        output: &TensorMeta,
        dim: i64,
        log: bool,
        out: &TensorMeta,
    ) -> KernelResult {
        launch!(self, imports::softmax_backward(grad, output, dim, log, out))
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
        launch!(
            self,
            imports::nll_loss(
                x,
                target,
                weight,
                reduction,
                ignore_index,
                out,
                total_weight,
            )
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
        launch!(
            self,
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
        )
    }

    fn loss(
        &mut self,
        op: LossOp,
        x: &TensorMeta,
        target: &TensorMeta,
        options: &LossOptions,
        out: &TensorMeta,
    ) -> KernelResult {
        launch!(self, imports::loss(op, x, target, options, out))
    }

    fn loss_backward(
        &mut self,
        op: LossOp,
        grad: &TensorMeta,
        x: &TensorMeta,
        target: &TensorMeta,
        options: &LossOptions,
        out: &TensorMeta,
    ) -> KernelResult {
        launch!(
            self,
            imports::loss_backward(op, grad, x, target, options, out)
        )
    }

    fn threshold_backward(
        &mut self,
        grad: &TensorMeta,
        x: &TensorMeta,
        threshold: Scalar,
        out: &TensorMeta,
    ) -> KernelResult {
        launch!(self, imports::threshold_backward(grad, x, threshold, out))
    }

    fn activation(&mut self, op: ActivationOp, x: &TensorMeta, out: &TensorMeta) -> KernelResult {
        launch!(self, imports::activation(op, x, out))
    }

    fn activation_backward(
        &mut self,
        op: ActivationOp,
        grad: &TensorMeta,
        x: &TensorMeta,
        x_is_result: bool,
        compute: ScalarType,
        out: &TensorMeta,
    ) -> KernelResult {
        launch!(
            self,
            imports::activation_backward(op, grad, x, x_is_result, compute, out)
        )
    }

    fn cat(&mut self, xs: &[TensorMeta], dim: i64, out: &TensorMeta) -> KernelResult {
        launch!(self, imports::cat(xs, dim, out))
    }

    fn gather(
        &mut self,
        op: GatherOp,
        x: &TensorMeta,
        dim: i64,
        index: &TensorMeta,
        out: &TensorMeta,
    ) -> KernelResult {
        launch!(self, imports::gather(op, x, dim, index, out))
    }

    fn scatter(
        &mut self,
        op: ScatterOp,
        x: &TensorMeta,
        dim: i64,
        index: &TensorMeta,
        src: &Operand,
        alpha: Scalar,
        out: &TensorMeta,
    ) -> KernelResult {
        launch!(self, imports::scatter(op, x, dim, index, src, alpha, out))
    }

    fn masked_fill(
        &mut self,
        x: &TensorMeta,
        mask: &TensorMeta,
        value: &Operand,
        out: &TensorMeta,
    ) -> KernelResult {
        launch!(self, imports::masked_fill(x, mask, value, out))
    }

    fn flip(&mut self, x: &TensorMeta, dims: &[i64], out: &TensorMeta) -> KernelResult {
        launch!(self, imports::flip(x, dims, out))
    }

    fn triangle(
        &mut self,
        x: &TensorMeta,
        diagonal: i64,
        upper: bool,
        out: &TensorMeta,
    ) -> KernelResult {
        launch!(self, imports::triangle(x, diagonal, upper, out))
    }

    fn roll(
        &mut self,
        x: &TensorMeta,
        shifts: &[i64],
        dims: &[i64],
        out: &TensorMeta,
    ) -> KernelResult {
        launch!(self, imports::roll(x, shifts, dims, out))
    }

    fn scan(
        &mut self,
        op: ScanOp,
        x: &TensorMeta,
        dim: i64,
        compute: ScalarType,
        out: &TensorMeta,
    ) -> KernelResult {
        launch!(self, imports::scan(op, x, dim, compute, out))
    }

    fn sort(
        &mut self,
        x: &TensorMeta,
        dim: i64,
        descending: bool,
        stable: bool,
        values: &TensorMeta,
        indices: &TensorMeta,
    ) -> KernelResult {
        launch!(
            self,
            imports::sort(x, dim, descending, stable, values, indices)
        )
    }

    fn topk(
        &mut self,
        x: &TensorMeta,
        k: i64,
        dim: i64,
        largest: bool,
        sorted: bool,
        values: &TensorMeta,
        indices: &TensorMeta,
    ) -> KernelResult {
        launch!(
            self,
            imports::topk(x, k, dim, largest, sorted, values, indices)
        )
    }

    fn embedding_backward(
        &mut self,
        grad: &TensorMeta,
        indices: &TensorMeta,
        num_weights: i64,
        padding_idx: i64,
        scale_grad_by_freq: bool,
        out: &TensorMeta,
    ) -> KernelResult {
        launch!(
            self,
            imports::embedding_backward(
                grad,
                indices,
                num_weights,
                padding_idx,
                scale_grad_by_freq,
                out,
            )
        )
    }

    fn index(
        &mut self,
        x: &TensorMeta,
        indices: &[Option<TensorMeta>],
        out: &TensorMeta,
    ) -> KernelResult {
        launch!(self, imports::index(x, indices, out))
    }

    fn index_put(
        &mut self,
        x: &TensorMeta,
        indices: &[Option<TensorMeta>],
        values: &TensorMeta,
        accumulate: bool,
        out: &TensorMeta,
    ) -> KernelResult {
        launch!(
            self,
            imports::index_put(x, indices, values, accumulate, out)
        )
    }

    fn layer_norm(
        &mut self,
        x: &TensorMeta,
        normalized_shape: &[i64],
        weight: Option<&TensorMeta>,
        bias: Option<&TensorMeta>,
        eps: f64,
        out: &TensorMeta,
        mean: &TensorMeta,
        rstd: &TensorMeta,
    ) -> KernelResult {
        launch!(
            self,
            imports::layer_norm(x, normalized_shape, weight, bias, eps, out, mean, rstd)
        )
    }

    fn layer_norm_backward(
        &mut self,
        grad: &TensorMeta,
        x: &TensorMeta,
        normalized_shape: &[i64],
        mean: &TensorMeta,
        rstd: &TensorMeta,
        weight: Option<&TensorMeta>,
        bias: Option<&TensorMeta>,
        grad_input: Option<&TensorMeta>,
        grad_weight: Option<&TensorMeta>,
        grad_bias: Option<&TensorMeta>,
    ) -> KernelResult {
        launch!(
            self,
            imports::layer_norm_backward(
                grad,
                x,
                normalized_shape,
                mean,
                rstd,
                weight,
                bias,
                grad_input,
                grad_weight,
                grad_bias,
            )
        )
    }

    fn batch_norm(
        &mut self,
        x: &TensorMeta,
        weight: Option<&TensorMeta>,
        bias: Option<&TensorMeta>,
        running_mean: Option<&TensorMeta>,
        running_var: Option<&TensorMeta>,
        training: bool,
        momentum: f64,
        eps: f64,
        out: &TensorMeta,
        save_mean: &TensorMeta,
        save_invstd: &TensorMeta,
    ) -> KernelResult {
        launch!(
            self,
            imports::batch_norm(
                x,
                weight,
                bias,
                running_mean,
                running_var,
                training,
                momentum,
                eps,
                out,
                save_mean,
                save_invstd,
            )
        )
    }

    fn batch_norm_backward(
        &mut self,
        grad: &TensorMeta,
        x: &TensorMeta,
        weight: Option<&TensorMeta>,
        running_mean: Option<&TensorMeta>,
        running_var: Option<&TensorMeta>,
        save_mean: Option<&TensorMeta>,
        save_invstd: Option<&TensorMeta>,
        training: bool,
        eps: f64,
        grad_input: Option<&TensorMeta>,
        grad_weight: Option<&TensorMeta>,
        grad_bias: Option<&TensorMeta>,
    ) -> KernelResult {
        launch!(
            self,
            imports::batch_norm_backward(
                grad,
                x,
                weight,
                running_mean,
                running_var,
                save_mean,
                save_invstd,
                training,
                eps,
                grad_input,
                grad_weight,
                grad_bias,
            )
        )
    }

    fn group_norm(
        &mut self,
        x: &TensorMeta,
        weight: Option<&TensorMeta>,
        bias: Option<&TensorMeta>,
        n: i64,
        c: i64,
        hxw: i64,
        groups: i64,
        eps: f64,
        out: &TensorMeta,
        mean: &TensorMeta,
        rstd: &TensorMeta,
    ) -> KernelResult {
        launch!(
            self,
            imports::group_norm(x, weight, bias, n, c, hxw, groups, eps, out, mean, rstd)
        )
    }

    fn group_norm_backward(
        &mut self,
        grad: &TensorMeta,
        x: &TensorMeta,
        mean: &TensorMeta,
        rstd: &TensorMeta,
        weight: Option<&TensorMeta>,
        n: i64,
        c: i64,
        hxw: i64,
        groups: i64,
        grad_input: Option<&TensorMeta>,
        grad_weight: Option<&TensorMeta>,
        grad_bias: Option<&TensorMeta>,
    ) -> KernelResult {
        launch!(
            self,
            imports::group_norm_backward(
                grad,
                x,
                mean,
                rstd,
                weight,
                n,
                c,
                hxw,
                groups,
                grad_input,
                grad_weight,
                grad_bias,
            )
        )
    }

    fn moments(
        &mut self,
        op: MomentOp,
        x: &TensorMeta,
        dims: &[i64],
        correction: Scalar,
        keepdim: bool,
        out: &TensorMeta,
        mean: Option<&TensorMeta>,
    ) -> KernelResult {
        launch!(
            self,
            imports::moments(op, x, dims, correction, keepdim, out, mean)
        )
    }

    fn vector_norm(
        &mut self,
        x: &TensorMeta,
        ord: Scalar,
        dims: &[i64],
        keepdim: bool,
        compute: ScalarType,
        out: &TensorMeta,
    ) -> KernelResult {
        launch!(
            self,
            imports::vector_norm(x, ord, dims, keepdim, compute, out)
        )
    }

    fn pool(
        &mut self,
        op: PoolOp,
        x: &TensorMeta,
        params: &PoolParams,
        out: &TensorMeta,
        indices: Option<&TensorMeta>,
    ) -> KernelResult {
        launch!(self, imports::pool(op, x, params, out, indices))
    }

    fn pool_backward(
        &mut self,
        op: PoolOp,
        grad: &TensorMeta,
        x: &TensorMeta,
        params: &PoolParams,
        indices: Option<&TensorMeta>,
        out: &TensorMeta,
    ) -> KernelResult {
        launch!(
            self,
            imports::pool_backward(op, grad, x, params, indices, out)
        )
    }

    fn random_integers(
        &mut self,
        range: Option<(i64, Option<i64>)>,
        out: &TensorMeta,
    ) -> KernelResult {
        launch!(self, imports::random_integers(range, out))
    }

    fn spaced(
        &mut self,
        start: Scalar,
        end: Scalar,
        base: Option<f64>,
        out: &TensorMeta,
    ) -> KernelResult {
        launch!(self, imports::spaced(start, end, base, out))
    }

    fn multinomial(
        &mut self,
        probs: &TensorMeta,
        samples: i64,
        replacement: bool,
        out: &TensorMeta,
    ) -> KernelResult {
        launch!(self, imports::multinomial(probs, samples, replacement, out))
    }

    fn permutation(&mut self, out: &TensorMeta) -> KernelResult {
        launch!(self, imports::permutation(out))
    }

    fn linalg(&mut self, op: LinalgOp, inputs: &[TensorMeta], outs: &[TensorMeta]) -> KernelResult {
        launch!(self, imports::linalg(&op, inputs, outs))
    }

    fn library(
        &mut self,
        op: LibraryOp,
        inputs: &[TensorMeta],
        outs: &[TensorMeta],
    ) -> KernelResult {
        launch!(self, imports::library(&op, inputs, outs))
    }

    fn select(
        &mut self,
        op: SelectOp,
        x: &TensorMeta,
        k: i64,
        dim: Option<i64>,
        keepdim: bool,
        values: &TensorMeta,
        indices: Option<&TensorMeta>,
    ) -> KernelResult {
        launch!(
            self,
            imports::select(op, x, k, dim, keepdim, values, indices)
        )
    }

    fn dropout(
        &mut self,
        x: &TensorMeta,
        p: f64,
        train: bool,
        out: &TensorMeta,
        mask: &TensorMeta,
    ) -> KernelResult {
        launch!(self, imports::dropout(x, p, train, out, mask))
    }

    fn dropout_backward(
        &mut self,
        grad: &TensorMeta,
        mask: &TensorMeta,
        scale: f64,
        out: &TensorMeta,
    ) -> KernelResult {
        launch!(self, imports::dropout_backward(grad, mask, scale, out))
    }

    fn conv(
        &mut self,
        x: &TensorMeta,
        weight: &TensorMeta,
        bias: Option<&TensorMeta>,
        params: &ConvParams,
        out: &TensorMeta,
    ) -> KernelResult {
        launch!(self, imports::conv(x, weight, bias, params, out))
    }

    fn conv_backward(
        &mut self,
        grad: &TensorMeta,
        x: &TensorMeta,
        weight: &TensorMeta,
        params: &ConvParams,
        grad_input: Option<&TensorMeta>,
        grad_weight: Option<&TensorMeta>,
        grad_bias: Option<&TensorMeta>,
    ) -> KernelResult {
        launch!(
            self,
            imports::conv_backward(grad, x, weight, params, grad_input, grad_weight, grad_bias)
        )
    }
}
