//! The op table: which handler serves each aten `(name, overload)`, and in which form.
//!
//! The table is data: one `Entry` per handler, grouped by family in the submodules
//! (`tensors`, `elementwise`, `math`, `nn`), which take this module's imports. `dispatch` looks
//! ops up in it and `supported` lists it, so the two never disagree. Every `(name, overload)`
//! in it is an aten schema of PyTorch 2.13, but for those named with their library: remote's own
//! `torch_remote::rnn_layer` and torchvision's ops (`torchvision::nms`, `torchvision::roi_align`).

mod elementwise;
mod math;
mod nn;
mod tensors;

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::error::{Error, Result};
use crate::ops::activation::{self, Bounds, Kind};
use crate::ops::args::Args;
use crate::ops::ctx::Ctx;
use crate::ops::pad::{self, Padding};
use crate::ops::pool::Pooling;
use crate::ops::random::{self, Range};
use crate::ops::upsample::{self, Resample};
use crate::ops::Form::{Functional as F, InPlace as I, Out};
use crate::ops::Outputs;
use crate::ops::{
    advanced, amp, arrange, audio, complex, conv, copied_out, counting, ctc, data,
    elementwise_loss, embedding_bag, factorize, fake_quant, flash_attention, fractional_pool,
    index, indexed_write, library, margin_loss, norm, optim, pool, recurrent, recurrent_layer,
    segment, spatial, stats, transformer, vision,
};
use crate::ops::{
    binary, copy, factory, linalg, loss, minmax, reduce, softmax, ternary, unary, view,
};
use crate::types::{
    BinaryOp, FftKind, IndexReduceOp, LibraryOp, LossOp, MomentOp, PadMode, PoolOp, RandomOp,
    ReduceOp, SampleOp, ScanOp, ScatterOp, SelectOp, TernaryOp, UnaryOp, UpsampleMode,
};

/// A handler: runs one op on its arguments.
type Handler = fn(&Args, &mut Ctx) -> Outputs;

/// The handler of op `name` (aten's when it names no library) for each of `overloads` (`""`
/// is the default overload).
pub struct Entry {
    pub name: &'static str,
    pub overloads: &'static [&'static str],
    pub run: Handler,
}

const fn e(name: &'static str, overloads: &'static [&'static str], run: Handler) -> Entry {
    Entry {
        name,
        overloads,
        run,
    }
}

/// Every entry of the table, family by family.
fn entries() -> impl Iterator<Item = &'static Entry> {
    use self::{elementwise::*, math::*, nn::*, tensors::*};
    let families: [&'static [Entry]; 20] = [
        FACTORY, COPY, VIEW, BINARY, TERNARY, REDUCE, MINMAX, LINALG, SOFTMAX, LOSS, CLAMP, INDEX,
        DATA, ARRANGE, NORM, LAYER, STATS, CONV, RANDOM, COMPLEX,
    ];
    families
        .into_iter()
        .flatten()
        .chain(UNARY.iter().flatten())
        .chain(UNARY_FUNCTIONAL.iter().flatten())
        .chain(BINARY_ELEMENTWISE.iter().flatten())
        .chain(SPECIAL_BINARY.iter().flatten())
        .chain(ACTIVATION.iter().flatten())
        .chain(ACTIVATION_BACKWARD.iter().flatten())
        .chain(UPSAMPLE.iter().flatten())
        .chain(ELEMENTWISE_LOSS.iter().flatten())
        .chain(PAD.iter().flatten())
        .chain(POOL.iter().flatten())
        .chain(ADAPTIVE_POOL.iter().flatten())
}

/// One `name.overload` of the table; its index is the op's id.
struct Op {
    name: &'static str,
    overload: &'static str,
    run: Handler,
    /// Which complex arguments the handler takes.
    complex: complex::Accepts,
}

/// Every `name.overload` in table order, and the ids of each name's overloads. Built once
/// per instance: a scan of every entry cost more than many ops' own work.
struct Table {
    ops: Vec<Op>,
    by_name: HashMap<&'static str, Vec<u32>>,
}

/// Builds the op table now, so that it is not built inside an op's allocation arena.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub fn prepare() {
    table();
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let ops: Vec<Op> = entries()
            .flat_map(|entry| {
                entry.overloads.iter().map(|&overload| Op {
                    name: entry.name,
                    overload,
                    run: entry.run,
                    complex: complex::Accepts::of(entry.name, overload),
                })
            })
            .collect();
        let mut by_name: HashMap<&'static str, Vec<u32>> = HashMap::new();
        for (id, op) in (0u32..).zip(&ops) {
            by_name.entry(op.name).or_default().push(id);
        }
        Table { ops, by_name }
    })
}

/// The id of `name.overload`, or `not-implemented`.
pub fn find(name: &str, overload: &str) -> Result<u32> {
    let table = table();
    table
        .by_name
        .get(name)
        .and_then(|ids| {
            ids.iter()
                .copied()
                .find(|&id| table.ops[id as usize].overload == overload)
        })
        .ok_or_else(|| {
            Error::unsupported(format!(
                "{} is not supported on device remote; set TORCH_REMOTE_CPU_FALLBACK=1 to run \
                 it on the CPU instead",
                in_library(name, overload)
            ))
        })
}

/// `library::name.overload`, as PyTorch's dispatcher names an op: `aten::` for a bare name.
pub fn in_library(name: &str, overload: &str) -> String {
    let qualified = qualified(name, overload);
    if name.contains("::") {
        qualified
    } else {
        format!("aten::{qualified}")
    }
}

/// `name.overload`, or `name` for the default overload, as errors name an op.
pub fn qualified(name: &str, overload: &str) -> String {
    if overload.is_empty() {
        name.to_string()
    } else {
        format!("{name}.{overload}")
    }
}

/// The `name.overload` of op `id` without its library, as the op's messages name it, if
/// there is one.
pub fn name_of(id: u32) -> Option<String> {
    let op = table().ops.get(id as usize)?;
    let name = op.name.rsplit("::").next().unwrap_or(op.name);
    Some(qualified(name, op.overload))
}

/// Runs the handler of op `id` (from [`find`]).
pub fn dispatch(id: u32, args: &Args, cx: &mut Ctx) -> Outputs {
    match table().ops.get(id as usize) {
        Some(op) => {
            op.complex.check(op.name, op.overload, args.raw())?;
            (op.run)(args, cx)
        }
        None => Err(Error::invalid(format!("this guest has no op with id {id}"))),
    }
}

/// Every `name.overload` the table serves (`name.` for the default overload), table order.
pub fn supported() -> Vec<String> {
    table()
        .ops
        .iter()
        .map(|op| format!("{}.{}", op.name, op.overload))
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{arg, f32s, run, tensor};
    use crate::types::{Arg, ErrorKind, Scalar, ScalarType, TensorMeta};

    /// Every `(name, overload)` the registry serves.
    fn supported() -> Vec<(String, String)> {
        super::supported()
            .into_iter()
            .map(|op| {
                let (name, overload) = op.split_once('.').expect("name.overload");
                (name.to_string(), overload.to_string())
            })
            .collect()
    }

    #[test]
    fn supported_lists_each_op_once() {
        let all = super::supported();
        assert!(!all.is_empty());
        let unique: std::collections::BTreeSet<&String> = all.iter().collect();
        assert_eq!(unique.len(), all.len(), "duplicates in {all:?}");
        for op in [
            "add.Tensor",
            "add.out",
            "add_.Scalar",
            "empty.memory_format",
            "view.",
            "view.dtype",
            "_log_softmax.out",
            "neg.",
            "neg_.",
            "neg.out",
            "isnan.",
            "eq.Tensor_out",
            "logical_and.",
            "maximum.out",
            "div.Scalar_mode_out",
            "nll_loss_backward.grad_input",
        ] {
            assert!(all.iter().any(|s| s == op), "{op} missing");
        }
        for op in [
            "isnan_.",
            "maximum_.",
            "add.",
            "add.Tensor_out",
            "eq.out",
            "square.",
        ] {
            assert!(
                !all.iter().any(|s| s == op),
                "{op} is not an aten op this guest runs"
            );
        }
        for op in &all {
            assert_eq!(op.matches('.').count(), 1, "{op}");
            assert!(!op.starts_with('.'), "{op}");
        }
    }

    /// Every listed op reaches its handler, which refuses an empty argument list.
    #[test]
    fn every_listed_op_is_dispatched() {
        for (name, overload) in supported() {
            let (res, fake) = run(&name, &overload, vec![]);
            let e = res.expect_err(&format!("{name}.{overload} ran without arguments"));
            assert_eq!(
                e.kind,
                ErrorKind::InvalidArgument,
                "{name}.{overload}: {e:?}"
            );
            assert!(fake.calls.is_empty(), "{name}.{overload}");
        }
    }

    #[test]
    fn unknown_ops_are_not_implemented() {
        for (name, overload) in [
            ("cummax", ""),
            ("add", "Tensor_out"),
            ("square", ""),
            ("", ""),
        ] {
            let (res, _) = run(name, overload, vec![]);
            let e = res.unwrap_err();
            assert_eq!(e.kind, ErrorKind::NotImplemented, "{name}.{overload}");
            assert!(
                e.message.contains("TORCH_REMOTE_CPU_FALLBACK=1"),
                "{}",
                e.message
            );
        }
    }

    #[test]
    fn refusals_name_the_op_with_its_library() {
        for (name, expected) in [
            ("cummax", "aten::cummax is not supported"),
            (
                "torchvision::deform_conv2d",
                "torchvision::deform_conv2d is not supported",
            ),
            ("roi_align", "aten::roi_align is not supported"),
        ] {
            let e = run(name, "", vec![]).0.unwrap_err();
            assert!(e.message.starts_with(expected), "{}", e.message);
        }
        let boxes = tensor(&[2, 4], ScalarType::Complex64, 1);
        let scores = tensor(&[2], ScalarType::Complex64, 2);
        let args = vec![arg(&boxes), arg(&scores), Arg::Scalar(Scalar::Float(0.5))];
        let e = run("torchvision::nms", "", args).0.unwrap_err();
        assert!(
            e.message
                .contains("\"nms_kernel\" not implemented for 'ComplexFloat'"),
            "{}",
            e.message
        );
    }

    fn odd_tensors() -> Vec<TensorMeta> {
        let mut ragged = f32s(&[2, 3], 1);
        ragged.strides = vec![1];
        let mut negative = f32s(&[3], 2);
        negative.strides = vec![-1];
        let mut huge = f32s(&[1, 4], 3);
        huge.sizes[0] = i64::MAX / 2;
        let mut far = f32s(&[3], 4);
        far.storage_offset = i64::MAX - 1;
        let mut expanded = f32s(&[3, 4], 5);
        expanded.strides = vec![0, 1];
        vec![
            f32s(&[2, 3], 6),
            f32s(&[], 7),
            f32s(&[0, 3], 8),
            tensor(&[3], ScalarType::Int64, 9),
            tensor(&[2, 3], ScalarType::Bool, 10),
            tensor(&[3, 2, 1, 2], ScalarType::Float16, 11),
            ragged,
            negative,
            huge,
            far,
            expanded,
            TensorMeta {
                sizes: vec![-1, 3],
                ..f32s(&[1, 3], 12)
            },
        ]
    }

    fn odd_args(t: &TensorMeta) -> Vec<Arg> {
        vec![
            arg(t),
            Arg::None,
            Arg::Integer(-1),
            Arg::Integer(i64::MAX),
            Arg::Integer(i64::MIN),
            Arg::Float(f64::NAN),
            Arg::Boolean(true),
            Arg::IntList(vec![-1, i64::MAX]),
            Arg::IntList(vec![]),
            Arg::Scalar(Scalar::Float(1.5)),
            Arg::Dtype(ScalarType::Float16),
            Arg::Str("remote:0".into()),
            Arg::OptionalTensor(None),
            Arg::TensorList(vec![t.clone()]),
        ]
    }

    /// No argument list, however wrong, may panic the guest.
    #[test]
    fn odd_arguments_never_panic() {
        let tensors = odd_tensors();
        for (name, overload) in supported() {
            for t in &tensors {
                let pool = odd_args(t);
                for len in 0..9 {
                    for shift in 0..pool.len() {
                        let args: Vec<Arg> = (0..len)
                            .map(|i| pool[(i * 7 + shift) % pool.len()].clone())
                            .collect();
                        let _ = run(&name, &overload, args);
                    }
                    let same: Vec<Arg> = (0..len).map(|_| arg(t)).collect();
                    let _ = run(&name, &overload, same);
                }
            }
        }
    }
}
