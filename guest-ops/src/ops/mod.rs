//! The aten ops: argument parsing, PyTorch's checks and the lowering to kernels, one module
//! per family, found by `(name, overload)` in `registry`.

pub mod args;
pub mod ctx;
pub mod iter;
pub mod registry;

mod activation;
mod advanced;
mod amp;
mod arrange;
mod audio;
mod binary;
mod complex;
mod conv;
mod copied_out;
mod copy;
mod counting;
mod ctc;
mod data;
mod elementwise_loss;
mod embedding_bag;
mod factorize;
mod factory;
mod fake_quant;
mod flash_attention;
mod fractional_pool;
mod index;
mod indexed_write;
mod library;
mod linalg;
mod loss;
mod margin_loss;
mod minmax;
mod norm;
mod optim;
mod out;
mod pad;
mod pool;
mod random;
mod recurrent;
mod recurrent_layer;
mod reduce;
mod segment;
mod softmax;
mod spatial;
mod stats;
mod tensor_arg;
mod ternary;
mod transformer;
mod unary;
mod upsample;
mod view;
mod vision;

#[cfg(test)]
mod testing;

use crate::error::Result;
use crate::kernels::Kernels;
use crate::types::{Arg, OpError, OpSettings, Output, TensorMeta, Warning};
use args::Args;
use ctx::Ctx;

/// How an op returns its result: a new tensor, in `self` (argument 0), or in an `out=`
/// argument at the given position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Functional,
    InPlace,
    Out(u32),
}

/// `Form` resolved against the arguments.
#[derive(Debug, Clone, Copy)]
pub enum Dest<'a> {
    New,
    InPlace(u32, &'a TensorMeta),
    Out(u32, &'a TensorMeta),
}

impl Form {
    /// How many `out=` arguments the schema of this form adds.
    pub fn out_len(self) -> usize {
        usize::from(matches!(self, Form::Out(_)))
    }

    pub fn dest<'a>(self, args: &Args<'a>) -> Result<Dest<'a>> {
        match self {
            Form::Functional => Ok(Dest::New),
            Form::InPlace => Ok(Dest::InPlace(0, args.tensor(0)?)),
            Form::Out(i) => Ok(Dest::Out(i, args.tensor(i as usize)?)),
        }
    }
}

pub type Outputs = Result<Vec<Output>>;

/// The id `run` takes for op `name.overload`, or why this guest does not run it (a refusal
/// that names the op with its library, and the device, already).
pub fn find(name: &str, overload: &str) -> core::result::Result<u32, OpError> {
    registry::find(name, overload).map_err(|e| OpError {
        kind: e.kind,
        op: registry::qualified(name, overload),
        message: e.message,
    })
}

/// Runs op `id` (from [`find`]) under the client's `settings`: its outputs and warnings. On failure every storage it allocated is given back.
pub fn run(
    id: u32,
    list: &[Arg],
    settings: OpSettings,
    k: &mut dyn Kernels,
) -> core::result::Result<(Vec<Output>, Vec<Warning>), OpError> {
    crate::rules::dtype::set_default_float(settings.default_float);
    let args = Args::new(list);
    let mut cx = Ctx::new(k, settings);
    match registry::dispatch(id, &args, &mut cx) {
        Ok(outputs) => Ok((outputs, cx.warnings)),
        Err(e) => {
            cx.abandon();
            let op = registry::name_of(id).unwrap_or_else(|| format!("op {id}"));
            Err(e.into_op_error(&op, list))
        }
    }
}
