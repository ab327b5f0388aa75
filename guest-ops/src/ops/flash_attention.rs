//! The CPU's fused attention, `_scaled_dot_product_flash_attention_for_cpu` and its backward:
//! `scaled_dot_product_attention` takes it where the CPU's choice function picks it (the
//! shim gives remote that choice), so attention is one op each way, not the math path's
//! dozen, with the CPU kernel's values and layouts. The host's libtorch computes it whole.

use crate::error::{ensure, Result};
use crate::ops::args::Args;
use crate::ops::ctx::Ctx;
use crate::ops::library::launch;
use crate::ops::Outputs;
use crate::rules::dims::{expand, transpose};
use crate::rules::shape::fmt_shape;
use crate::types::{LibraryOp, Output, ScalarType, TensorMeta};

const OP: &str = "scaled_dot_product_attention_flash_attention";

/// The inputs the kernel reads: the CPU's checks, and the shapes it takes for granted (its
/// key and value lengths, batch and heads), refused here rather than read out of bounds.
fn check_inputs(q: &TensorMeta, k: &TensorMeta, v: &TensorMeta, dropout_p: f64) -> Result<()> {
    ensure!(
        q.dtype.is_floating(),
        "{OP}: Expected data type in FP32, FP64, BF16, FP16, but got {} instead.",
        q.dtype.name()
    );
    ensure!(
        q.dim() == 4 && k.dim() == 4 && v.dim() == 4,
        "{OP}: Accept only 4 dims inputs shape of {{B, H, T, K}}"
    );
    ensure!(
        dropout_p == 0.0,
        "{OP}: Currently do not support dropout > 0"
    );
    ensure!(
        q.sizes[3] == v.sizes[3] && k.sizes[3] == v.sizes[3],
        "{OP}: Q/K/V should have the same head size"
    );
    for t in [k, v] {
        ensure!(
            t.dtype == q.dtype,
            "expected scalar type {} but found {}",
            q.dtype.name(),
            t.dtype.name()
        );
    }
    let (batch, heads, kv_heads) = (q.sizes[0], q.sizes[1], k.sizes[1]);
    let fits = k.sizes[0] == batch
        && v.sizes[..3] == k.sizes[..3]
        && kv_heads > 0
        && heads % kv_heads == 0;
    ensure!(
        fits,
        "{OP}: key {} and value {} do not fit query {} (the same batch and length, and a \
         number of heads that divides the query's)",
        fmt_shape(&k.sizes),
        fmt_shape(&v.sizes),
        fmt_shape(&q.sizes)
    );
    Ok(())
}

/// A mask of query's dtype (or float32), 2-D or 4-D, that broadcasts over `[B, H, L, S]`.
fn check_mask(mask: &TensorMeta, q: &TensorMeta, k: &TensorMeta) -> Result<()> {
    ensure!(
        mask.dtype == q.dtype || mask.dtype == ScalarType::Float32,
        "{OP}: Attention mask is the same data type as query"
    );
    ensure!(
        mask.dim() == 2 || mask.dim() == 4,
        "{OP}: Attention mask dim in {{2, 4}}"
    );
    let mut sizes = vec![1; 4 - mask.dim()];
    sizes.extend(&mask.sizes);
    let four = mask.view(sizes, vec![0; 4], mask.storage_offset);
    expand(&four, &[q.sizes[0], q.sizes[1], q.sizes[2], k.sizes[2]])?;
    Ok(())
}

/// A `[B, H, T, E]` tensor of `dtype` whose memory runs `[B, T, H, E]`, as the CPU kernel
/// makes its gradients.
fn heads_inner(cx: &mut Ctx, sizes: &[i64], dtype: ScalarType) -> Result<TensorMeta> {
    let inner = cx.empty_contiguous(&[sizes[0], sizes[2], sizes[1], sizes[3]], dtype)?;
    transpose(&inner, 1, 2)
}

/// `(is_causal, scale)` of the op's arguments from `at`.
fn params(args: &Args, at: usize) -> Result<(bool, Option<f64>)> {
    Ok((args.bool_or(at, false)?, args.opt_float(at + 2)?))
}

/// `_scaled_dot_product_flash_attention_for_cpu(query, key, value, dropout_p, is_causal, *,
/// attn_mask, scale) -> (output, logsumexp)`.
pub fn forward(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(7)?;
    let (q, k, v) = (args.tensor(0)?, args.tensor(1)?, args.tensor(2)?);
    check_inputs(q, k, v, args.float_or(3, 0.0)?)?;
    let mask = args.opt_tensor(5)?;
    if let Some(mask) = mask {
        check_mask(mask, q, k)?;
    }
    // The CPU kernel divides by both lengths (SIGFPE, which would end the host): no keys is
    // refused, no queries has nothing to compute.
    ensure!(
        k.sizes[2] > 0 || q.sizes[2] == 0,
        "{OP}: key {} has no positions for query {} to attend to",
        fmt_shape(&k.sizes),
        fmt_shape(&q.sizes)
    );
    let out = cx.empty_like(q)?;
    let (b, h, l) = (q.sizes[0], q.sizes[1], q.sizes[2]);
    let lse = transpose(&cx.empty_contiguous(&[b, l, h], q.dtype.op_math())?, 1, 2)?;
    if l == 0 {
        return Ok(vec![Output::Tensor(out), Output::Tensor(lse)]);
    }
    let mut inputs = vec![q.clone(), k.clone(), v.clone()];
    inputs.extend(mask.cloned());
    launch(
        cx,
        LibraryOp::FlashAttention(params(args, 4)?),
        &inputs,
        vec![out, lse],
    )
}

/// `_scaled_dot_product_flash_attention_for_cpu_backward(grad_out, query, key, value, out,
/// logsumexp, dropout_p, is_causal, *, attn_mask, scale) -> (grad_query, grad_key, grad_value)`.
pub fn backward(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(10)?;
    let (q, k, v) = (args.tensor(1)?, args.tensor(2)?, args.tensor(3)?);
    // An undefined gradient of the output (autograd passes one on) gives undefined ones.
    let Some(grad) = args.opt_tensor(0)? else {
        return Ok(vec![Output::None, Output::None, Output::None]);
    };
    let (out, lse) = (args.tensor(4)?, args.tensor(5)?);
    check_inputs(q, k, v, args.float_or(6, 0.0)?)?;
    let mask = args.opt_tensor(8)?;
    if let Some(mask) = mask {
        check_mask(mask, q, k)?;
    }
    let (b, h, l) = (q.sizes[0], q.sizes[1], q.sizes[2]);
    let fits = grad.sizes == q.sizes
        && out.sizes == q.sizes
        && grad.dtype == q.dtype
        && out.dtype == q.dtype
        && lse.sizes == [b, h, l]
        && lse.dtype == q.dtype.op_math();
    ensure!(
        fits,
        "{OP}_backward: grad_out {} {}, out {} {} and logsumexp {} {} do not fit query {} {}",
        fmt_shape(&grad.sizes),
        grad.dtype.name(),
        fmt_shape(&out.sizes),
        out.dtype.name(),
        fmt_shape(&lse.sizes),
        lse.dtype.name(),
        fmt_shape(&q.sizes),
        q.dtype.name()
    );
    let grads = vec![
        heads_inner(cx, &q.sizes, q.dtype)?,
        heads_inner(cx, &k.sizes, q.dtype)?,
        heads_inner(cx, &v.sizes, q.dtype)?,
    ];
    let mut inputs = vec![
        grad.clone(),
        q.clone(),
        k.clone(),
        v.clone(),
        out.clone(),
        lse.clone(),
    ];
    inputs.extend(mask.cloned());
    launch(
        cx,
        LibraryOp::FlashAttentionBackward(params(args, 7)?),
        &inputs,
        grads,
    )
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{arg, meta, run, tensor};
    use crate::types::{Arg, ScalarType};

    const HALF: ScalarType = ScalarType::Float16;

    /// Layouts and dtypes printed by torch 2.13's CPU kernel.
    #[test]
    fn outputs_are_laid_out_as_the_cpu_kernels() {
        let q = tensor(&[2, 3, 5, 4], HALF, 1);
        let kv = tensor(&[2, 3, 6, 4], HALF, 2);
        let (res, fake) = run(
            "_scaled_dot_product_flash_attention_for_cpu",
            "",
            vec![arg(&q), arg(&kv), arg(&kv)],
        );
        let out = res.unwrap();
        let (o, lse) = (meta(&out, 0), meta(&out, 1));
        assert_eq!((o.strides, o.dtype), (vec![60, 20, 4, 1], HALF));
        assert_eq!((lse.sizes, lse.strides), (vec![2, 3, 5], vec![15, 1, 3]));
        assert_eq!(lse.dtype, ScalarType::Float32);
        assert_eq!(fake.kernels(), vec!["library"]);
        let lse = tensor(&[2, 3, 5], ScalarType::Float32, 3);
        let grad_args = vec![arg(&q), arg(&q), arg(&kv), arg(&kv), arg(&q), arg(&lse)];
        let (res, _) = run(
            "_scaled_dot_product_flash_attention_for_cpu_backward",
            "",
            grad_args,
        );
        let grads = res.unwrap();
        assert_eq!(meta(&grads, 0).strides, vec![60, 4, 12, 1]);
        assert_eq!(meta(&grads, 1).strides, vec![72, 4, 12, 1]);
    }

    /// Shapes the CPU kernel would read past: refused.
    #[test]
    fn keys_and_values_that_do_not_fit_are_refused() {
        let q = tensor(&[2, 3, 5, 4], HALF, 1);
        for (k, v) in [
            (
                tensor(&[1, 3, 6, 4], HALF, 2),
                tensor(&[1, 3, 6, 4], HALF, 3),
            ),
            (
                tensor(&[2, 3, 6, 4], HALF, 2),
                tensor(&[2, 3, 7, 4], HALF, 3),
            ),
            (
                tensor(&[2, 2, 6, 4], HALF, 2),
                tensor(&[2, 2, 6, 4], HALF, 3),
            ),
        ] {
            let args = vec![arg(&q), arg(&k), arg(&v), Arg::Float(0.0)];
            let (res, _) = run("_scaled_dot_product_flash_attention_for_cpu", "", args);
            assert!(res
                .unwrap_err()
                .message
                .contains("do not fit query [2, 3, 5, 4]"));
        }
    }
}
