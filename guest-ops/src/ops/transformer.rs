//! The fast paths `nn.TransformerEncoderLayer` and `nn.MultiheadAttention` take in inference
//! (`_transformer_encoder_layer_fwd`, `_native_multi_head_attention`): PyTorch's checks and
//! output shapes; the host's libtorch computes each whole with one `library` kernel.

use crate::error::{ensure, Error, Result};
use crate::kernels::failed;
use crate::ops::args::Args;
use crate::ops::ctx::Ctx;
use crate::ops::library::launch;
use crate::ops::Outputs;
use crate::rules::dtype::check_floating_alike;
use crate::rules::shape::fmt_shape;
use crate::types::{AttentionParams, EncoderLayerParams, LibraryOp, Output, TensorMeta};

/// Checks that `t` (the argument `what` of `op`) has `sizes`.
fn check_sizes(op: &str, t: &TensorMeta, sizes: &[i64], what: &str) -> Result<()> {
    ensure!(
        t.sizes == sizes,
        "{op}: expected `{what}` of shape {}, but got {}",
        fmt_shape(sizes),
        fmt_shape(&t.sizes)
    );
    Ok(())
}

/// Checks a `[batch, len, embed_dim]` input and the in-projection and out-projection
/// weights that follow it at `weights`, as `native_multi_head_attention` does.
fn check_attention(
    op: &str,
    args: &Args,
    x: &TensorMeta,
    embed_dim: i64,
    num_heads: i64,
    weights: usize,
) -> Result<()> {
    ensure!(
        x.dim() == 3,
        "{op}: expected a 3-D input, got a {}-D tensor of shape {}",
        x.dim(),
        fmt_shape(&x.sizes)
    );
    ensure!(
        x.sizes[2] == embed_dim,
        "{op}: passed-in embed_dim {embed_dim} didn't match last dim of query {}",
        x.sizes[2]
    );
    ensure!(
        num_heads > 0 && embed_dim % num_heads == 0,
        "{op}: `embed_dim` {embed_dim} must divide evenly by `num_heads` {num_heads}"
    );
    let e = embed_dim;
    check_sizes(op, args.tensor(weights)?, &[3 * e, e], "qkv_weight")?;
    check_sizes(op, args.tensor(weights + 1)?, &[3 * e], "qkv_bias")?;
    check_sizes(op, args.tensor(weights + 2)?, &[e, e], "proj_weight")?;
    check_sizes(op, args.tensor(weights + 3)?, &[e], "proj_bias")
}

/// Checks the attention mask of an input `[batch, len, embed_dim]` with `num_heads` heads as
/// `_masked_softmax` does for the `[batch, heads, len, len]` scores: a 2-D mask is a
/// `[len, len]` attention mask (type 0) or a `[batch, len]` padding mask (type 1); any
/// other is a whole mask (type 2) of the scores' shape.
fn check_mask(
    x: &TensorMeta,
    num_heads: i64,
    mask: &TensorMeta,
    mask_type: Option<i64>,
) -> Result<()> {
    let (batch, len) = (x.sizes[0], x.sizes[1]);
    let scores = [batch, num_heads, len, len];
    let mask_type = if mask.dim() == 2 { mask_type } else { Some(2) };
    let message = match mask_type {
        None => "Mask Type should be defined",
        Some(0) if mask.sizes != [len, len] => "For mask_type == 0 mask shape should be (L, L)",
        Some(1) if mask.sizes != [batch, len] => "For mask_type == 1 mask shape should be (B, L)",
        Some(2) if mask.sizes != scores => "For mask_type == 2 mask shape should match input shape",
        Some(0..=2) => return Ok(()),
        Some(_) => {
            "Mask Type should be 0 (src_mask) or 1 (src_key_padding_mask), or 2 (default_mask)"
        }
    };
    Err(Error::invalid(message.to_string()))
}

/// The tensors at `indices`.
fn tensors(args: &Args, indices: std::ops::Range<usize>) -> Result<Vec<TensorMeta>> {
    indices.map(|i| args.tensor(i).cloned()).collect()
}

/// `_native_multi_head_attention(query, key, value, embed_dim, num_head, qkv_weight,
/// qkv_bias, proj_weight, proj_bias, mask?, need_weights, average_attn_weights, mask_type?)`:
/// the output like `query`, and the attention weights when asked for (averaged over heads,
/// or per head).
pub fn multi_head_attention(args: &Args, cx: &mut Ctx) -> Outputs {
    const OP: &str = "_native_multi_head_attention";
    args.at_most(13)?;
    let (query, key, value) = (args.tensor(0)?, args.tensor(1)?, args.tensor(2)?);
    let (embed_dim, num_heads) = (args.int(3)?, args.int(4)?);
    check_attention(OP, args, query, embed_dim, num_heads, 5)?;
    ensure!(
        key.sizes == query.sizes && value.sizes == query.sizes,
        "{OP}: expected `query`/`key`/`value` shapes to match, but got {}, {} and {}",
        fmt_shape(&query.sizes),
        fmt_shape(&key.sizes),
        fmt_shape(&value.sizes)
    );
    let mut inputs = tensors(args, 0..3)?;
    inputs.extend(tensors(args, 5..9)?);
    check_floating_alike(OP, &inputs.iter().collect::<Vec<_>>())?;
    let mask = args.opt_tensor(9)?;
    if let Some(mask) = mask {
        check_mask(query, num_heads, mask, args.opt_int(12)?)?;
    }
    inputs.extend(mask.cloned());
    let (need_weights, average) = (args.bool_or(10, true)?, args.bool_or(11, true)?);
    let params = AttentionParams {
        embed_dim,
        num_heads,
        need_weights,
        average_attn_weights: average,
        mask_type: args.opt_int(12)?,
    };
    let (batch, len) = (query.sizes[0], query.sizes[1]);
    let mut outs = vec![cx.empty_contiguous(&query.sizes, query.dtype)?];
    if need_weights {
        let sizes = if average {
            vec![batch, len, len]
        } else {
            vec![batch, num_heads, len, len]
        };
        outs.push(cx.empty_contiguous(&sizes, query.dtype)?);
    }
    cx.k.library(LibraryOp::MultiHeadAttention(params), &inputs, &outs)
        .map_err(failed("library"))?;
    let mut result: Vec<Output> = outs.into_iter().map(Output::Tensor).collect();
    result.resize(2, Output::None);
    Ok(result)
}

/// `_transformer_encoder_layer_fwd(src, embed_dim, num_heads, qkv_weight, qkv_bias,
/// proj_weight, proj_bias, use_gelu, norm_first, eps, norm_weight_1, norm_bias_1,
/// norm_weight_2, norm_bias_2, ffn_weight_1, ffn_bias_1, ffn_weight_2, ffn_bias_2, mask?,
/// mask_type?)`: one contiguous output shaped like `src`.
pub fn encoder_layer(args: &Args, cx: &mut Ctx) -> Outputs {
    const OP: &str = "_transformer_encoder_layer_fwd";
    args.at_most(20)?;
    let src = args.tensor(0)?;
    let (embed_dim, num_heads) = (args.int(1)?, args.int(2)?);
    check_attention(OP, args, src, embed_dim, num_heads, 3)?;
    let e = embed_dim;
    for (i, what) in (10..14).zip([
        "norm_weight_1",
        "norm_bias_1",
        "norm_weight_2",
        "norm_bias_2",
    ]) {
        check_sizes(OP, args.tensor(i)?, &[e], what)?;
    }
    let ffn = args.tensor(14)?.sizes.first().copied().unwrap_or(0);
    check_sizes(OP, args.tensor(14)?, &[ffn, e], "ffn_weight_1")?;
    check_sizes(OP, args.tensor(15)?, &[ffn], "ffn_bias_1")?;
    check_sizes(OP, args.tensor(16)?, &[e, ffn], "ffn_weight_2")?;
    check_sizes(OP, args.tensor(17)?, &[e], "ffn_bias_2")?;
    let mut inputs = vec![src.clone()];
    inputs.extend(tensors(args, 3..7)?);
    inputs.extend(tensors(args, 10..18)?);
    check_floating_alike(OP, &inputs.iter().collect::<Vec<_>>())?;
    let mask = args.opt_tensor(18)?;
    if let Some(mask) = mask {
        check_mask(src, num_heads, mask, args.opt_int(19)?)?;
    }
    inputs.extend(mask.cloned());
    let params = EncoderLayerParams {
        embed_dim,
        num_heads,
        use_gelu: args.bool_or(7, false)?,
        norm_first: args.bool_or(8, false)?,
        eps: args.float_or(9, 1e-5)?,
        mask_type: args.opt_int(19)?,
    };
    let out = cx.empty_contiguous(&src.sizes, src.dtype)?;
    launch(cx, LibraryOp::EncoderLayer(params), &inputs, vec![out])
}
