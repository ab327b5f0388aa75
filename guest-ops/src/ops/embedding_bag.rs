//! `nn.EmbeddingBag`: `_embedding_bag` (and `_forward_only`) with its bookkeeping outputs
//! shaped as PyTorch's CPU kernel shapes them, and its backwards (dense weight gradients
//! only, and the per-sample weights' gradient). The
//! host's libtorch computes the bags; the host fills the bookkeeping the same way on any
//! device, since the backward reads it.

use crate::error::{ensure, ensure_kernel, Result};
use crate::ops::args::Args;
use crate::ops::ctx::Ctx;
use crate::ops::library::launch;
use crate::ops::tensor_arg::{check_same_type, check_scalar_types, TensorArg, INDEX_TYPES};
use crate::ops::Outputs;
use crate::rules::dtype::promote;
use crate::rules::shape::{fmt_shape, numel};
use crate::types::{EmbeddingBagParams, LibraryOp, ScalarType, TensorMeta};

const SUM: i64 = 0;
const MAX: i64 = 2;

/// `check_arguments` of PyTorch's embedding bag, after its kernel's checks of the weight's
/// and the offsets' dims, in the CPU's order. Indices must be 1-d here (the CPU reads
/// others as flat).
fn check(args: &Args, mode: i64, include_last: bool) -> Result<()> {
    const OP: &str = "embedding_bag";
    let (weight, indices, offsets) = (args.tensor(0)?, args.tensor(1)?, args.tensor(2)?);
    ensure!(
        weight.dim() == 2,
        "weight has to be a 2D Tensor, but got Tensor of dimension {}",
        weight.dim()
    );
    ensure!(
        offsets.dim() == 1,
        "offsets has to be a 1D Tensor, but got Tensor of dimension {}",
        offsets.dim()
    );
    // The CPU checks the indices and the offsets promoted to one dtype, both as "indices".
    let promoted = TensorMeta {
        dtype: promote(indices.dtype, offsets.dtype),
        ..indices.clone()
    };
    check_scalar_types(OP, TensorArg::new(&promoted, "indices", 1), &INDEX_TYPES)?;
    let weight_arg = TensorArg::new(weight, "weight", 1);
    let floating = [
        ScalarType::Float16,
        ScalarType::Bfloat16,
        ScalarType::Float32,
        ScalarType::Float64,
    ];
    check_scalar_types(OP, weight_arg, &floating)?;
    ensure!(
        indices.dim() == 1,
        "embedding_bag: expected 1-dimensional indices, but got a tensor of shape {}",
        fmt_shape(&indices.sizes)
    );
    if let Some(w) = args.opt_tensor(6)? {
        ensure!(
            mode == SUM,
            "embedding_bag: per_sample_weights only supported with mode='sum'"
        );
        check_same_type(OP, weight_arg, TensorArg::new(w, "per_sample_weights", 1))?;
        ensure!(
            w.dim() == 1,
            "Expected per_sample_weights.value().dim() == 1 to be true, but got false.  \
             (Could this error message be improved?  If so, please report an enhancement \
             request to PyTorch.)"
        );
        ensure!(
            numel(&w.sizes)? == numel(&indices.sizes)?,
            "Expected per_sample_weights.value().numel() == indices.numel() to be true, but got \
             false.  (Could this error message be improved?  If so, please report an \
             enhancement request to PyTorch.)"
        );
    }
    ensure!(
        !include_last || offsets.sizes[0] >= 1,
        "include_last_offset: number of offset should be at least 1"
    );
    ensure!(
        (0..=MAX).contains(&mode),
        "`mode` must be sum, mean, or max."
    );
    Ok(())
}

/// `_embedding_bag(weight, indices, offsets, scale_grad_by_freq=False, mode=0, sparse=False,
/// per_sample_weights=None, include_last_offset=False, padding_idx=-1)` and
/// `_embedding_bag_forward_only`: the bags `[bags, dim]`, then `offset2bag`, `bag_size` and
/// `max_indices`.
pub fn embedding_bag(args: &Args, cx: &mut Ctx, forward_only: bool) -> Outputs {
    args.at_most(9)?;
    let (weight, indices, offsets) = (args.tensor(0)?, args.tensor(1)?, args.tensor(2)?);
    let mode = args.int_or(4, SUM)?;
    let include_last = args.bool_or(7, false)?;
    check(args, mode, include_last)?;
    let padding_idx = args.int_or(8, -1)?;
    let per_sample = args.opt_tensor(6)?;
    let index_dtype = promote(indices.dtype, offsets.dtype);
    let (n, dim) = (indices.sizes[0], weight.sizes[1]);
    let bags = offsets.sizes[0] - i64::from(include_last);
    // PyTorch's CPU kernel sums without `offset2bag` in its fast path.
    let fast_sum = mode == SUM
        && padding_idx < 0
        && weight.dtype != ScalarType::Float64
        && weight.strides[1] == 1;
    let offset2bag_len = if fast_sum { 0 } else { n };
    let bag_size_len = if forward_only && mode == SUM {
        offsets.sizes[0]
    } else {
        bags
    };
    let max_indices: Vec<i64> = if mode == MAX {
        vec![bags, dim]
    } else {
        vec![bag_size_len]
    };
    let outs = vec![
        cx.empty_contiguous(&[bags, dim], weight.dtype)?,
        cx.empty_contiguous(&[offset2bag_len], index_dtype)?,
        cx.empty_contiguous(&[bag_size_len], index_dtype)?,
        cx.empty_contiguous(&max_indices, index_dtype)?,
    ];
    let params = EmbeddingBagParams {
        mode,
        scale_grad_by_freq: args.bool_or(3, false)?,
        include_last_offset: include_last,
        padding_idx,
    };
    let mut inputs = vec![weight.clone(), indices.clone(), offsets.clone()];
    inputs.extend(per_sample.cloned());
    launch(cx, LibraryOp::EmbeddingBag(params), &inputs, outs)
}

/// `_embedding_bag_backward(grad, indices, offsets, offset2bag, bag_size, maximum_indices,
/// num_weights, scale_grad_by_freq, mode, sparse, per_sample_weights, padding_idx=-1)`: the
/// weight's dense gradient `[num_weights, dim]`, contiguous.
pub fn embedding_bag_backward(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(12)?;
    let grad = args.tensor(0)?;
    ensure!(
        grad.dim() == 2,
        "_embedding_bag_backward: expected a 2-D grad, but got {}",
        fmt_shape(&grad.sizes)
    );
    // `sparse` asks only for a sparse gradient, which remote cannot hold.
    ensure_kernel!(
        !args.bool_or(9, false)?,
        "embedding_bag with sparse=True gradients is not supported on remote (it holds no \
         sparse tensors); use sparse=False"
    );
    let num_weights = args.int(6)?;
    ensure!(
        num_weights >= 0,
        "_embedding_bag_backward: num_weights must be non-negative, got {num_weights}"
    );
    let params = EmbeddingBagParams {
        mode: args.int(8)?,
        scale_grad_by_freq: args.bool_or(7, false)?,
        include_last_offset: false,
        padding_idx: args.int_or(11, -1)?,
    };
    let mut inputs = (0..6)
        .map(|i| args.tensor(i).cloned())
        .collect::<Result<Vec<_>>>()?;
    inputs.extend(args.opt_tensor(10)?.cloned());
    let out = cx.empty_contiguous(&[num_weights, grad.sizes[1]], grad.dtype)?;
    let op = LibraryOp::EmbeddingBagBackward((params, num_weights));
    launch(cx, op, &inputs, vec![out])
}

/// `_embedding_bag_per_sample_weights_backward(grad, weight, indices, offsets, offset2bag,
/// mode, padding_idx=-1)`: the gradient of the per-sample weights, one per index.
pub fn per_sample_weights_backward(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(7)?;
    let (grad, indices) = (args.tensor(0)?, args.tensor(2)?);
    ensure!(
        grad.dim() == 2,
        "_embedding_bag_per_sample_weights_backward: expected a 2-D grad, but got {}",
        fmt_shape(&grad.sizes)
    );
    let mode = args.int(5)?;
    ensure!(
        mode == SUM,
        "embedding_bag_backward: per_sample_weights only supported for mode='sum'"
    );
    let params = EmbeddingBagParams {
        mode,
        scale_grad_by_freq: false,
        include_last_offset: false,
        padding_idx: args.int_or(6, -1)?,
    };
    let inputs = (0..5)
        .map(|i| args.tensor(i).cloned())
        .collect::<Result<Vec<_>>>()?;
    let out = cx.empty_contiguous(&indices.sizes, grad.dtype)?;
    let op = LibraryOp::EmbeddingBagPerSampleWeightsBackward(params);
    launch(cx, op, &inputs, vec![out])
}
