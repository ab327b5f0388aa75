//! Ops that count values: `bincount`, `histc`, and `repeat_interleave.Tensor` (each index
//! repeated its count of times). The lengths of `bincount`'s and `repeat_interleave`'s
//! results depend on values, so they ask the `data-size` import first (on the client, the
//! op's one round trip); the host's libtorch computes each whole with one `library` kernel.

use crate::error::{ensure, ensure_kernel};
use crate::kernels::failed;
use crate::ops::args::Args;
use crate::ops::copied_out;
use crate::ops::ctx::Ctx;
use crate::ops::data::count;
use crate::ops::library::launch;
use crate::ops::Outputs;
use crate::types::{LibraryOp, Output, ScalarType, SizeQuery};

/// `bincount(self, weights=None, minlength=0)`: how often each value of the 1-d
/// non-negative integers occurs (or their summed `weights`), at least `minlength` long. Long
/// counts; float32 weights sum in float32, any others in float64.
pub fn bincount(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(3)?;
    let x = args.tensor(0)?;
    let weights = args.opt_tensor(1)?;
    let minlength = args.int_or(2, 0)?;
    ensure_kernel!(
        x.dtype.is_integral(false),
        "\"bincount_cpu\" not implemented for '{}'",
        x.dtype.name()
    );
    ensure!(
        x.dim() == 1,
        "bincount only supports 1-d non-negative integral inputs."
    );
    ensure!(minlength >= 0, "minlength should be >= 0");
    if let Some(w) = weights {
        ensure!(
            w.dim() == 1 && w.sizes[0] == x.sizes[0],
            "weights should be 1-d and have the same length as input"
        );
    }
    // An empty input counts in Long whatever the weights, as on PyTorch's CPU.
    let dtype = match weights.map(|w| w.dtype) {
        _ if x.sizes[0] == 0 => ScalarType::Int64,
        None => ScalarType::Int64,
        Some(ScalarType::Float32) => ScalarType::Float32,
        Some(_) => ScalarType::Float64,
    };
    let len = count(cx, SizeQuery::BincountLength, x)?.max(minlength);
    let out = cx.empty_contiguous(&[len], dtype)?;
    let mut inputs = vec![x.clone()];
    inputs.extend(weights.cloned());
    launch(cx, LibraryOp::Bincount(minlength), &inputs, vec![out])
}

/// `repeat_interleave.Tensor(repeats, *, output_size=None)`: each index of the 1-d integer
/// `repeats` repeated that many times, in `repeats`' dtype.
pub fn repeat_interleave(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(2)?;
    let repeats = args.tensor(0)?;
    ensure_kernel!(
        matches!(repeats.dtype, ScalarType::Int64 | ScalarType::Int32),
        "\"repeat_interleave_cpu\" not implemented for '{}'",
        repeats.dtype.name()
    );
    ensure!(
        repeats.dim() == 1,
        "repeat_interleave only accept 1D vector as repeat"
    );
    let len = match args.opt_int(1)? {
        Some(n) => n,
        None => count(cx, SizeQuery::Total, repeats)?,
    };
    let out = cx.empty_contiguous(&[len], repeats.dtype)?;
    launch(
        cx,
        LibraryOp::RepeatInterleave(len),
        std::slice::from_ref(repeats),
        vec![out],
    )
}

/// `histc.out(self, bins=100, min=0, max=0, *, out)`: `out` of `self`'s dtype.
pub fn histc_out(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(5)?;
    let (x, out) = (args.tensor(0)?, args.tensor(4)?);
    ensure!(
        x.dtype == out.dtype,
        "torch.histogram: input tensor and hist tensor should have the same dtype, but got \
         input {} and hist {}",
        x.dtype.type_meta_name(),
        out.dtype.type_meta_name()
    );
    copied_out::exact(args, cx, 1, histc)
}

/// `histc(self, bins=100, min=0, max=0)`: `bins` equal bins over `[min, max]` (the data's own
/// range when both are 0), counted in `self`'s dtype.
///
/// Integer tensors are counted as on CUDA, which takes them (the CPU does not): code written
/// for accelerators relies on it, such as MoE load-balancing losses that count expert ids
/// as int32 off the CPU. They are counted in float64, which holds their bins exactly.
pub fn histc(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(4)?;
    let x = args.tensor(0)?;
    let bins = args.int_or(1, 100)?;
    let (min, max) = (args.float_or(2, 0.0)?, args.float_or(3, 0.0)?);
    ensure_kernel!(
        x.dtype.is_floating() || x.dtype.is_integral(false),
        "\"histogram_cpu\" not implemented for '{}'",
        x.dtype.name()
    );
    ensure!(
        bins > 0,
        "torch.histogram(): bins must be > 0, but got {bins} for dimension 0"
    );
    let ordered = min <= max;
    ensure!(ordered, "torch.histc: max must be larger than min");
    let out = cx.empty_contiguous(&[bins], x.dtype)?;
    let op = LibraryOp::Histc((bins, min, max));
    if x.dtype.is_floating() {
        return launch(cx, op, std::slice::from_ref(x), vec![out]);
    }
    let wide = cx.empty_contiguous(&x.sizes, ScalarType::Float64)?;
    let counts = cx.empty_contiguous(&[bins], ScalarType::Float64)?;
    cx.k.copy(x, &wide).map_err(failed("copy"))?;
    cx.k.library(
        op,
        std::slice::from_ref(&wide),
        std::slice::from_ref(&counts),
    )
    .map_err(failed("library"))?;
    cx.k.copy(&counts, &out).map_err(failed("copy"))?;
    cx.free(&wide);
    cx.free(&counts);
    Ok(vec![Output::Tensor(out)])
}
