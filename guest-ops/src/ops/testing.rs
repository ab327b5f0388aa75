//! Test support: a recording fake of the host's kernels, and builders for arguments.

use crate::kernels::{KernelResult, Kernels};
use crate::rules::layout::contiguous_strides;
use crate::types::{
    ActivationOp, Arg, BinaryOp, ConvParams, CpuConvolutions, Determinism, GatherOp, IndexReduceOp,
    LibraryOp, LinalgOp, LossOp, LossOptions, MomentOp, OpError, OpSettings, Operand, Output,
    PadMode, PoolOp, PoolParams, RandomOp, ReduceOp, SampleOp, Scalar, ScalarType, ScanOp,
    ScatterOp, SelectOp, SizeQuery, StorageId, TensorMeta, TernaryOp, UnaryOp, UpsampleMode,
    Warning,
};

/// One kernel call: its name, the tensors it got (inputs, then outputs), the rest in Debug form.
#[derive(Debug, Clone)]
pub struct Call {
    pub kernel: &'static str,
    pub tensors: Vec<TensorMeta>,
    pub detail: String,
}

/// Hands out storage ids from 100 up and records every call; `fail` makes that kernel fail;
/// every `data-size` query is answered with `data_size`.
#[derive(Default)]
pub struct Fake {
    pub calls: Vec<Call>,
    pub allocated: Vec<(StorageId, u64)>,
    pub freed: Vec<StorageId>,
    pub fail: Option<&'static str>,
    pub data_size: i64,
    /// What the op warned of.
    pub warnings: Vec<Warning>,
}

impl Fake {
    fn record(
        &mut self,
        kernel: &'static str,
        tensors: Vec<TensorMeta>,
        detail: String,
    ) -> KernelResult {
        self.calls.push(Call {
            kernel,
            tensors,
            detail,
        });
        match self.fail {
            Some(k) if k == kernel => Err("out of memory".to_string()),
            _ => Ok(()),
        }
    }

    pub fn kernels(&self) -> Vec<&'static str> {
        self.calls.iter().map(|c| c.kernel).collect()
    }
}

fn operand(o: &Operand, tensors: &mut Vec<TensorMeta>) -> String {
    match o {
        Operand::Tensor(t) => {
            tensors.push(t.clone());
            "tensor".to_string()
        }
        Operand::Number(s) => format!("{s:?}"),
    }
}

impl Kernels for Fake {
    fn new_storage(&mut self, nbytes: u64) -> StorageId {
        let id = 100 + self.allocated.len() as u64;
        self.allocated.push((id, nbytes));
        id
    }

    fn free_storage(&mut self, id: StorageId) {
        self.freed.push(id);
    }

    fn data_size(&mut self, query: SizeQuery, x: &TensorMeta) -> Result<i64, String> {
        self.record("data_size", vec![x.clone()], format!("{query:?}"))?;
        Ok(self.data_size)
    }

    fn nonzero(&mut self, x: &TensorMeta, out: &TensorMeta) -> KernelResult {
        self.record("nonzero", vec![x.clone(), out.clone()], String::new())
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
        let mut tensors = vec![x.clone(), values.clone()];
        tensors.extend(inverse.into_iter().chain(counts).cloned());
        self.record("unique", tensors, format!("{query:?} {sorted}"))
    }

    fn arange(
        &mut self,
        start: Scalar,
        end: Scalar,
        step: Scalar,
        out: &TensorMeta,
    ) -> KernelResult {
        let detail = format!("{start:?} {end:?} {step:?}");
        self.record("arange", vec![out.clone()], detail)
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
        let detail = format!("{mode:?} {output_size:?} {align_corners} {scales:?}");
        self.record("upsample", vec![x.clone(), out.clone()], detail)
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
        let detail = format!("{mode:?} {output_size:?} {input_size:?} {align_corners} {scales:?}");
        self.record("upsample_backward", vec![grad.clone(), out.clone()], detail)
    }

    fn pad(
        &mut self,
        mode: PadMode,
        x: &TensorMeta,
        padding: &[i64],
        out: &TensorMeta,
    ) -> KernelResult {
        let detail = format!("{mode:?} {padding:?}");
        self.record("pad", vec![x.clone(), out.clone()], detail)
    }

    fn pad_backward(
        &mut self,
        mode: PadMode,
        grad: &TensorMeta,
        x: &TensorMeta,
        padding: &[i64],
        out: &TensorMeta,
    ) -> KernelResult {
        let detail = format!("{mode:?} {padding:?}");
        self.record(
            "pad_backward",
            vec![grad.clone(), x.clone(), out.clone()],
            detail,
        )
    }

    fn fill(&mut self, out: &TensorMeta, value: Scalar) -> KernelResult {
        self.record("fill", vec![out.clone()], format!("{value:?}"))
    }

    fn copy(&mut self, src: &TensorMeta, out: &TensorMeta) -> KernelResult {
        self.record("copy", vec![src.clone(), out.clone()], String::new())
    }

    fn random(&mut self, op: RandomOp, a: f64, b: f64, out: &TensorMeta) -> KernelResult {
        self.record("random", vec![out.clone()], format!("{op:?} {a} {b}"))
    }

    fn sample(&mut self, op: SampleOp, params: &[TensorMeta], out: &TensorMeta) -> KernelResult {
        let tensors = params.iter().chain([out]).cloned().collect();
        self.record("sample", tensors, format!("{op:?}"))
    }

    fn unary(
        &mut self,
        op: UnaryOp,
        x: &TensorMeta,
        compute: ScalarType,
        out: &TensorMeta,
    ) -> KernelResult {
        self.record(
            "unary",
            vec![x.clone(), out.clone()],
            format!("{op:?} {compute:?}"),
        )
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
        let mut tensors = Vec::new();
        let detail = format!(
            "{op:?} {} {} {alpha:?} {compute:?}",
            operand(a, &mut tensors),
            operand(b, &mut tensors)
        );
        tensors.push(out.clone());
        self.record("binary", tensors, detail)
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
        let mut tensors = Vec::new();
        let detail = format!(
            "{op:?} {} {} {} {value:?} {compute:?}",
            operand(a, &mut tensors),
            operand(b, &mut tensors),
            operand(c, &mut tensors)
        );
        tensors.push(out.clone());
        self.record("ternary", tensors, detail)
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
        let detail = format!("{op:?} {dims:?} {keepdim} {compute:?}");
        self.record("reduce", vec![x.clone(), out.clone()], detail)
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
        let mut tensors = vec![x.clone()];
        tensors.extend(values.cloned());
        tensors.push(indices.clone());
        self.record("index_reduce", tensors, format!("{op:?} {dim:?} {keepdim}"))
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
        let mut tensors = vec![a.clone(), b.clone()];
        tensors.extend(bias.cloned());
        tensors.push(out.clone());
        self.record("matmul", tensors, format!("{beta:?} {alpha:?}"))
    }

    fn softmax(&mut self, x: &TensorMeta, dim: i64, log: bool, out: &TensorMeta) -> KernelResult {
        self.record(
            "softmax",
            vec![x.clone(), out.clone()],
            format!("{dim} {log}"),
        )
    }

    fn softmax_backward(
        &mut self,
        grad: &TensorMeta,
        output: &TensorMeta,
        dim: i64,
        log: bool,
        out: &TensorMeta,
    ) -> KernelResult {
        let tensors = vec![grad.clone(), output.clone(), out.clone()];
        self.record("softmax_backward", tensors, format!("{dim} {log}"))
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
        let mut tensors = vec![x.clone(), target.clone()];
        tensors.extend(weight.cloned());
        tensors.extend([out.clone(), total_weight.clone()]);
        self.record("nll_loss", tensors, format!("{reduction} {ignore_index}"))
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
        let mut tensors = vec![grad.clone(), x.clone(), target.clone()];
        tensors.extend(weight.cloned());
        tensors.extend([total_weight.clone(), out.clone()]);
        self.record(
            "nll_loss_backward",
            tensors,
            format!("{reduction} {ignore_index}"),
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
        let mut tensors = vec![x.clone(), target.clone()];
        tensors.extend(options.weight.clone());
        tensors.push(out.clone());
        let note = format!("{op:?} {} {}", options.reduction, options.param);
        self.record("loss", tensors, note)
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
        let mut tensors = vec![grad.clone(), x.clone(), target.clone()];
        tensors.extend(options.weight.clone());
        tensors.push(out.clone());
        let note = format!("{op:?} {} {}", options.reduction, options.param);
        self.record("loss_backward", tensors, note)
    }

    fn threshold_backward(
        &mut self,
        grad: &TensorMeta,
        x: &TensorMeta,
        threshold: Scalar,
        out: &TensorMeta,
    ) -> KernelResult {
        let tensors = vec![grad.clone(), x.clone(), out.clone()];
        self.record("threshold_backward", tensors, format!("{threshold:?}"))
    }

    fn activation(&mut self, op: ActivationOp, x: &TensorMeta, out: &TensorMeta) -> KernelResult {
        self.record(
            "activation",
            vec![x.clone(), out.clone()],
            format!("{op:?}"),
        )
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
        let tensors = vec![grad.clone(), x.clone(), out.clone()];
        let detail = format!("{op:?} {x_is_result} {compute:?}");
        self.record("activation_backward", tensors, detail)
    }

    fn cat(&mut self, xs: &[TensorMeta], dim: i64, out: &TensorMeta) -> KernelResult {
        let mut tensors = xs.to_vec();
        tensors.push(out.clone());
        self.record("cat", tensors, format!("{dim}"))
    }

    fn gather(
        &mut self,
        op: GatherOp,
        x: &TensorMeta,
        dim: i64,
        index: &TensorMeta,
        out: &TensorMeta,
    ) -> KernelResult {
        let tensors = vec![x.clone(), index.clone(), out.clone()];
        self.record("gather", tensors, format!("{op:?} {dim}"))
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
        let mut tensors = vec![x.clone(), index.clone()];
        let detail = format!("{op:?} {dim} {} {alpha:?}", operand(src, &mut tensors));
        tensors.push(out.clone());
        self.record("scatter", tensors, detail)
    }

    fn masked_fill(
        &mut self,
        x: &TensorMeta,
        mask: &TensorMeta,
        value: &Operand,
        out: &TensorMeta,
    ) -> KernelResult {
        let mut tensors = vec![x.clone(), mask.clone()];
        let detail = operand(value, &mut tensors);
        tensors.push(out.clone());
        self.record("masked_fill", tensors, detail)
    }

    fn flip(&mut self, x: &TensorMeta, dims: &[i64], out: &TensorMeta) -> KernelResult {
        self.record("flip", vec![x.clone(), out.clone()], format!("{dims:?}"))
    }

    fn triangle(
        &mut self,
        x: &TensorMeta,
        diagonal: i64,
        upper: bool,
        out: &TensorMeta,
    ) -> KernelResult {
        let detail = format!("{diagonal} {upper}");
        self.record("triangle", vec![x.clone(), out.clone()], detail)
    }

    fn roll(
        &mut self,
        x: &TensorMeta,
        shifts: &[i64],
        dims: &[i64],
        out: &TensorMeta,
    ) -> KernelResult {
        let detail = format!("{shifts:?} {dims:?}");
        self.record("roll", vec![x.clone(), out.clone()], detail)
    }

    fn scan(
        &mut self,
        op: ScanOp,
        x: &TensorMeta,
        dim: i64,
        compute: ScalarType,
        out: &TensorMeta,
    ) -> KernelResult {
        let detail = format!("{op:?} {dim} {compute:?}");
        self.record("scan", vec![x.clone(), out.clone()], detail)
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
        let tensors = vec![x.clone(), values.clone(), indices.clone()];
        self.record("sort", tensors, format!("{dim} {descending} {stable}"))
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
        let tensors = vec![x.clone(), values.clone(), indices.clone()];
        self.record("topk", tensors, format!("{k} {dim} {largest} {sorted}"))
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
        let tensors = vec![grad.clone(), indices.clone(), out.clone()];
        let detail = format!("{num_weights} {padding_idx} {scale_grad_by_freq}");
        self.record("embedding_backward", tensors, detail)
    }

    fn index(
        &mut self,
        x: &TensorMeta,
        indices: &[Option<TensorMeta>],
        out: &TensorMeta,
    ) -> KernelResult {
        let mut tensors = vec![x.clone()];
        tensors.extend(indices.iter().flatten().cloned());
        tensors.push(out.clone());
        let detail = format!(
            "{:?}",
            indices.iter().map(Option::is_some).collect::<Vec<_>>()
        );
        self.record("index", tensors, detail)
    }

    fn index_put(
        &mut self,
        x: &TensorMeta,
        indices: &[Option<TensorMeta>],
        values: &TensorMeta,
        accumulate: bool,
        out: &TensorMeta,
    ) -> KernelResult {
        let mut tensors = vec![x.clone()];
        tensors.extend(indices.iter().flatten().cloned());
        tensors.extend([values.clone(), out.clone()]);
        self.record("index_put", tensors, format!("{accumulate}"))
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
        let mut tensors = vec![x.clone(), out.clone(), mean.clone(), rstd.clone()];
        tensors.extend(weight.cloned());
        tensors.extend(bias.cloned());
        let detail = format!(
            "{normalized_shape:?} {eps:?} {:?}",
            [weight.is_some(), bias.is_some()]
        );
        self.record("layer_norm", tensors, detail)
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
        let mut tensors = vec![grad.clone(), x.clone(), mean.clone(), rstd.clone()];
        tensors.extend(weight.cloned());
        tensors.extend(bias.cloned());
        tensors.extend(grad_input.cloned());
        tensors.extend(grad_weight.cloned());
        tensors.extend(grad_bias.cloned());
        let detail = format!(
            "{normalized_shape:?} {:?}",
            [
                weight.is_some(),
                bias.is_some(),
                grad_input.is_some(),
                grad_weight.is_some(),
                grad_bias.is_some()
            ]
        );
        self.record("layer_norm_backward", tensors, detail)
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
        let mut tensors = vec![
            x.clone(),
            out.clone(),
            save_mean.clone(),
            save_invstd.clone(),
        ];
        tensors.extend(weight.cloned());
        tensors.extend(bias.cloned());
        tensors.extend(running_mean.cloned());
        tensors.extend(running_var.cloned());
        let detail = format!(
            "{training:?} {momentum:?} {eps:?} {:?}",
            [
                weight.is_some(),
                bias.is_some(),
                running_mean.is_some(),
                running_var.is_some()
            ]
        );
        self.record("batch_norm", tensors, detail)
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
        let mut tensors = vec![grad.clone(), x.clone()];
        tensors.extend(weight.cloned());
        tensors.extend(running_mean.cloned());
        tensors.extend(running_var.cloned());
        tensors.extend(save_mean.cloned());
        tensors.extend(save_invstd.cloned());
        tensors.extend(grad_input.cloned());
        tensors.extend(grad_weight.cloned());
        tensors.extend(grad_bias.cloned());
        let detail = format!(
            "{training:?} {eps:?} {:?}",
            [
                weight.is_some(),
                running_mean.is_some(),
                running_var.is_some(),
                save_mean.is_some(),
                save_invstd.is_some(),
                grad_input.is_some(),
                grad_weight.is_some(),
                grad_bias.is_some()
            ]
        );
        self.record("batch_norm_backward", tensors, detail)
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
        let mut tensors = vec![x.clone(), out.clone(), mean.clone(), rstd.clone()];
        tensors.extend(weight.cloned());
        tensors.extend(bias.cloned());
        let detail = format!(
            "{n:?} {c:?} {hxw:?} {groups:?} {eps:?} {:?}",
            [weight.is_some(), bias.is_some()]
        );
        self.record("group_norm", tensors, detail)
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
        let mut tensors = vec![grad.clone(), x.clone(), mean.clone(), rstd.clone()];
        tensors.extend(weight.cloned());
        tensors.extend(grad_input.cloned());
        tensors.extend(grad_weight.cloned());
        tensors.extend(grad_bias.cloned());
        let detail = format!(
            "{n:?} {c:?} {hxw:?} {groups:?} {:?}",
            [
                weight.is_some(),
                grad_input.is_some(),
                grad_weight.is_some(),
                grad_bias.is_some()
            ]
        );
        self.record("group_norm_backward", tensors, detail)
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
        let mut tensors = vec![x.clone(), out.clone()];
        tensors.extend(mean.cloned());
        let detail = format!("{op:?} {dims:?} {correction:?} {keepdim:?}");
        self.record("moments", tensors, detail)
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
        let tensors = vec![x.clone(), out.clone()];
        let detail = format!("{ord:?} {dims:?} {keepdim:?} {compute:?}");
        self.record("vector_norm", tensors, detail)
    }

    fn pool(
        &mut self,
        op: PoolOp,
        x: &TensorMeta,
        params: &PoolParams,
        out: &TensorMeta,
        indices: Option<&TensorMeta>,
    ) -> KernelResult {
        let mut tensors = vec![x.clone(), out.clone()];
        tensors.extend(indices.cloned());
        let detail = format!(
            "{op:?} {:?} {:?} {:?}",
            params.kernel, params.stride, params.padding
        );
        self.record("pool", tensors, detail)
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
        let mut tensors = vec![grad.clone(), x.clone(), out.clone()];
        tensors.extend(indices.cloned());
        let detail = format!(
            "{op:?} {:?} {:?} {:?}",
            params.kernel, params.stride, params.padding
        );
        self.record("pool_backward", tensors, detail)
    }

    fn random_integers(
        &mut self,
        range: Option<(i64, Option<i64>)>,
        out: &TensorMeta,
    ) -> KernelResult {
        let tensors = vec![out.clone()];
        self.record("random_integers", tensors, format!("{range:?}"))
    }

    fn spaced(
        &mut self,
        start: Scalar,
        end: Scalar,
        base: Option<f64>,
        out: &TensorMeta,
    ) -> KernelResult {
        let detail = format!("{start:?} {end:?} {base:?}");
        self.record("spaced", vec![out.clone()], detail)
    }

    fn multinomial(
        &mut self,
        probs: &TensorMeta,
        samples: i64,
        replacement: bool,
        out: &TensorMeta,
    ) -> KernelResult {
        let tensors = vec![probs.clone(), out.clone()];
        self.record("multinomial", tensors, format!("{samples} {replacement}"))
    }

    fn linalg(&mut self, op: LinalgOp, inputs: &[TensorMeta], outs: &[TensorMeta]) -> KernelResult {
        let tensors = inputs.iter().chain(outs).cloned().collect();
        self.record("linalg", tensors, format!("{op:?}"))
    }

    fn library(
        &mut self,
        op: LibraryOp,
        inputs: &[TensorMeta],
        outs: &[TensorMeta],
    ) -> KernelResult {
        let tensors = inputs.iter().chain(outs).cloned().collect();
        self.record("library", tensors, format!("{op:?}"))
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
        let mut tensors = vec![x.clone(), values.clone()];
        tensors.extend(indices.cloned());
        self.record("select", tensors, format!("{op:?} {k} {dim:?} {keepdim}"))
    }

    fn permutation(&mut self, out: &TensorMeta) -> KernelResult {
        self.record("permutation", vec![out.clone()], String::new())
    }

    fn dropout(
        &mut self,
        x: &TensorMeta,
        p: f64,
        train: bool,
        out: &TensorMeta,
        mask: &TensorMeta,
    ) -> KernelResult {
        let tensors = vec![x.clone(), out.clone(), mask.clone()];
        self.record("dropout", tensors, format!("{p:?} {train:?}"))
    }

    fn dropout_backward(
        &mut self,
        grad: &TensorMeta,
        mask: &TensorMeta,
        scale: f64,
        out: &TensorMeta,
    ) -> KernelResult {
        let tensors = vec![grad.clone(), mask.clone(), out.clone()];
        self.record("dropout_backward", tensors, format!("{scale:?}"))
    }

    fn conv(
        &mut self,
        x: &TensorMeta,
        weight: &TensorMeta,
        bias: Option<&TensorMeta>,
        params: &ConvParams,
        out: &TensorMeta,
    ) -> KernelResult {
        let mut tensors = vec![x.clone(), weight.clone(), out.clone()];
        tensors.extend(bias.cloned());
        let detail = format!(
            "{:?} {:?} {:?} {} {}",
            params.stride, params.padding, params.dilation, params.transposed, params.groups
        );
        self.record("conv", tensors, detail)
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
        let mut tensors = vec![grad.clone(), x.clone(), weight.clone()];
        tensors.extend(grad_input.cloned());
        tensors.extend(grad_weight.cloned());
        tensors.extend(grad_bias.cloned());
        let detail = format!(
            "{:?} {:?} {:?} {} {}",
            params.stride, params.padding, params.dilation, params.transposed, params.groups
        );
        self.record("conv_backward", tensors, detail)
    }
}

/// A contiguous tensor of `dtype` on storage `storage`.
pub fn tensor(sizes: &[i64], dtype: ScalarType, storage: StorageId) -> TensorMeta {
    TensorMeta {
        sizes: sizes.to_vec(),
        strides: contiguous_strides(sizes).unwrap(),
        storage_offset: 0,
        dtype,
        storage,
    }
}

pub fn f32s(sizes: &[i64], storage: StorageId) -> TensorMeta {
    tensor(sizes, ScalarType::Float32, storage)
}

pub fn arg(t: &TensorMeta) -> Arg {
    Arg::Tensor(t.clone())
}

/// PyTorch's defaults: float32, deterministic algorithms off.
pub fn settings() -> OpSettings {
    OpSettings {
        default_float: ScalarType::Float32,
        determinism: Determinism::Off,
        fill_uninitialized_memory: false,
        convolutions: CpuConvolutions {
            mkldnn: true,
            mkldnn_bfloat16: false,
            mkldnn_float16: false,
            single_threaded: false,
        },
    }
}

/// Runs `name.overload` against a fresh fake.
pub fn run(name: &str, overload: &str, args: Vec<Arg>) -> (Result<Vec<Output>, OpError>, Fake) {
    run_sized(name, overload, args, 0)
}

/// Runs `name.overload` against a fresh fake that answers every `data-size` with `size`.
pub fn run_sized(
    name: &str,
    overload: &str,
    args: Vec<Arg>,
    size: i64,
) -> (Result<Vec<Output>, OpError>, Fake) {
    run_under(name, overload, args, size, settings())
}

/// PyTorch's defaults with deterministic algorithms, which fill uninitialised memory.
pub fn deterministic() -> OpSettings {
    OpSettings {
        determinism: Determinism::Required,
        fill_uninitialized_memory: true,
        ..settings()
    }
}

/// [`run_sized`] under the client's `settings`.
pub fn run_under(
    name: &str,
    overload: &str,
    args: Vec<Arg>,
    size: i64,
    settings: OpSettings,
) -> (Result<Vec<Output>, OpError>, Fake) {
    let mut fake = Fake {
        data_size: size,
        ..Fake::default()
    };
    let result = super::find(name, overload)
        .and_then(|id| super::run(id, &args, settings, &mut fake))
        .map(|(outputs, warnings)| {
            fake.warnings = warnings;
            outputs
        });
    (result, fake)
}

/// The metadata of a new tensor (or updated argument) among the outputs.
pub fn meta(outputs: &[Output], i: usize) -> TensorMeta {
    match &outputs[i] {
        Output::Tensor(t) | Output::Updated((_, t)) => t.clone(),
        other => panic!("output {i} is {other:?}, not a tensor"),
    }
}

/// `(sizes, strides, storage_offset, dtype)` of a tensor, for compact assertions.
pub fn geometry(t: &TensorMeta) -> (Vec<i64>, Vec<i64>, i64, ScalarType) {
    (
        t.sizes.clone(),
        t.strides.clone(),
        t.storage_offset,
        t.dtype,
    )
}
