//! Test support: a recording fake of the host's kernels, and builders for arguments.

use crate::kernels::{KernelResult, Kernels};
use crate::rules::layout::contiguous_strides;
use crate::types::{
    Arg, BinaryOp, IndexReduceOp, OpError, Operand, Output, RandomOp, ReduceOp, Scalar, ScalarType,
    StorageId, TensorMeta, TernaryOp, UnaryOp,
};

/// One kernel call: its name, the tensors it got (inputs, then outputs), the rest in Debug form.
#[derive(Debug, Clone)]
pub struct Call {
    pub kernel: &'static str,
    pub tensors: Vec<TensorMeta>,
    pub detail: String,
}

/// Hands out storage ids from 100 up and records every call; `fail` makes that kernel fail.
#[derive(Default)]
pub struct Fake {
    pub calls: Vec<Call>,
    pub allocated: Vec<(StorageId, u64)>,
    pub freed: Vec<StorageId>,
    pub fail: Option<&'static str>,
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

    fn fill(&mut self, out: &TensorMeta, value: Scalar) -> KernelResult {
        self.record("fill", vec![out.clone()], format!("{value:?}"))
    }

    fn copy(&mut self, src: &TensorMeta, out: &TensorMeta) -> KernelResult {
        self.record("copy", vec![src.clone(), out.clone()], String::new())
    }

    fn random(&mut self, op: RandomOp, a: f64, b: f64, out: &TensorMeta) -> KernelResult {
        self.record("random", vec![out.clone()], format!("{op:?} {a} {b}"))
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

/// Runs `name.overload` against a fresh fake.
pub fn run(name: &str, overload: &str, args: Vec<Arg>) -> (Result<Vec<Output>, OpError>, Fake) {
    let mut fake = Fake::default();
    let result = super::run(name, overload, &args, &mut fake);
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
