//! Fused attention, `_scaled_dot_product_flash_attention_for_cpu` and its backward: the CPU's
//! own kernel on a CPU host. A GPU has no such kernel, so there the same quantities (the
//! output and the log-sum-exp of each row of scores, then the three gradients) come from
//! matrix products in the accumulation dtype, query heads sharing key heads as the CPU's do.

use tch::{Device, Kind, TchError, Tensor};

/// `(is_causal, scale)`.
pub type Params = (bool, Option<f64>);

fn missing(count: usize) -> TchError {
    TchError::Kind(format!("attention: expected at least {count} inputs"))
}

/// `[output, logsumexp]` of `query, key, value[, attn_mask]`.
pub fn forward(inputs: &[Tensor], (causal, scale): Params) -> Result<Vec<Tensor>, TchError> {
    let [q, k, v, rest @ ..] = inputs else {
        return Err(missing(3));
    };
    let mask = rest.first();
    if q.device() == Device::Cpu {
        let (out, lse) = Tensor::f_internal_scaled_dot_product_flash_attention_for_cpu(
            q, k, v, 0.0, causal, mask, scale,
        )?;
        return Ok(vec![out, lse]);
    }
    let (out, lse) = math_forward(q, k, v, mask, (causal, scale))?;
    Ok(vec![out, lse])
}

/// `[grad_query, grad_key, grad_value]` of `grad_out, query, key, value, out, logsumexp[,
/// attn_mask]`.
pub fn backward(inputs: &[Tensor], (causal, scale): Params) -> Result<Vec<Tensor>, TchError> {
    let [grad, q, k, v, out, lse, rest @ ..] = inputs else {
        return Err(missing(6));
    };
    let mask = rest.first();
    if q.device() == Device::Cpu {
        let (dq, dk, dv) = Tensor::f_internal_scaled_dot_product_flash_attention_for_cpu_backward(
            grad, q, k, v, out, lse, 0.0, causal, mask, scale,
        )?;
        return Ok(vec![dq, dk, dv]);
    }
    let (dq, dk, dv) = math_backward(grad, q, k, v, out, lse, mask, (causal, scale))?;
    Ok(vec![dq, dk, dv])
}

/// The inputs in the accumulation dtype, key and value repeated to the query's heads.
struct Widened {
    q: Tensor,
    k: Tensor,
    v: Tensor,
    /// Query heads per key head.
    group: i64,
    scale: f64,
    kind: Kind,
}

fn widen(q: &Tensor, k: &Tensor, v: &Tensor, scale: Option<f64>) -> Result<Widened, TchError> {
    let kind = match q.kind() {
        Kind::Half | Kind::BFloat16 => Kind::Float,
        other => other,
    };
    let size = q.size();
    let group = size[1] / k.size()[1].max(1);
    let repeat = |t: &Tensor| -> Result<Tensor, TchError> {
        t.f_to_kind(kind)?
            .f_repeat_interleave_self_int(group, Some(1), None::<i64>)
    };
    Ok(Widened {
        q: q.f_to_kind(kind)?,
        k: repeat(k)?,
        v: repeat(v)?,
        group,
        scale: scale.unwrap_or(1.0 / (size[3] as f64).sqrt()),
        kind,
    })
}

impl Widened {
    /// `[B, H, L, S]` scaled scores, masked.
    fn scores(&self, mask: Option<&Tensor>, causal: bool) -> Result<Tensor, TchError> {
        let mut scores = self
            .q
            .f_matmul(&self.k.f_transpose(-2, -1)?)?
            .f_mul_scalar(self.scale)?;
        if let Some(mask) = mask {
            scores = scores.f_add(&mask.f_to_kind(self.kind)?)?;
        }
        if causal {
            let (l, s) = (scores.size()[2], scores.size()[3]);
            let kept = Tensor::f_ones([l, s], (Kind::Bool, scores.device()))?.f_tril(0)?;
            scores = scores.f_masked_fill(&kept.f_logical_not()?, f64::NEG_INFINITY)?;
        }
        Ok(scores)
    }

    /// A gradient for the repeated key or value heads, summed back to each shared head.
    fn gather_heads(&self, grad: Tensor) -> Result<Tensor, TchError> {
        if self.group == 1 {
            return Ok(grad);
        }
        let s = grad.size();
        grad.f_reshape([s[0], s[1] / self.group, self.group, s[2], s[3]])?
            .f_sum_dim_intlist(2, false, None::<Kind>)
    }
}

fn math_forward(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    mask: Option<&Tensor>,
    (causal, scale): Params,
) -> Result<(Tensor, Tensor), TchError> {
    let w = widen(q, k, v, scale)?;
    let scores = w.scores(mask, causal)?;
    // A row whose every score is masked has the log-sum-exp 0 and weights 0, as the CPU
    // kernel gives them, rather than -inf and NaN.
    let lse = scores.f_logsumexp(-1, false)?;
    let lse = lse.f_masked_fill(&lse.f_isneginf()?, 0.0)?;
    let weights = weights(&scores, &lse)?;
    let out = weights.f_matmul(&w.v)?.f_to_kind(q.kind())?;
    Ok((out, lse))
}

/// `exp(scores - lse)`: each row's softmax.
fn weights(scores: &Tensor, lse: &Tensor) -> Result<Tensor, TchError> {
    scores.f_sub(&lse.f_unsqueeze(-1)?)?.f_exp()
}

#[allow(clippy::too_many_arguments)]
fn math_backward(
    grad: &Tensor,
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    out: &Tensor,
    lse: &Tensor,
    mask: Option<&Tensor>,
    (causal, scale): Params,
) -> Result<(Tensor, Tensor, Tensor), TchError> {
    let w = widen(q, k, v, scale)?;
    let weights = weights(&w.scores(mask, causal)?, &lse.f_to_kind(w.kind)?)?;
    let grad = grad.f_to_kind(w.kind)?;
    let dv = weights.f_transpose(-2, -1)?.f_matmul(&grad)?;
    let dweights = grad.f_matmul(&w.v.f_transpose(-2, -1)?)?;
    let rows = grad
        .f_mul(&out.f_to_kind(w.kind)?)?
        .f_sum_dim_intlist(-1, true, None::<Kind>)?;
    let dscores = weights.f_mul(&dweights.f_sub(&rows)?)?;
    let dq = dscores.f_matmul(&w.k)?.f_mul_scalar(w.scale)?;
    let dk = dscores
        .f_transpose(-2, -1)?
        .f_matmul(&w.q)?
        .f_mul_scalar(w.scale)?;
    let kind = q.kind();
    Ok((
        dq.f_to_kind(kind)?,
        w.gather_heads(dk)?.f_to_kind(kind)?,
        w.gather_heads(dv)?.f_to_kind(kind)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &Tensor, b: &Tensor) -> bool {
        a.allclose(b, 1e-5, 1e-6, false)
    }

    /// The products a GPU host computes give the CPU kernel's values, with and without a
    /// mask, causal, and with query heads sharing key heads.
    #[test]
    fn products_give_the_cpu_kernels_values() {
        tch::manual_seed(0);
        let opts = (Kind::Double, Device::Cpu);
        let q = Tensor::randn([2, 4, 5, 8], opts);
        let k = Tensor::randn([2, 2, 6, 8], opts);
        let v = Tensor::randn([2, 2, 6, 8], opts);
        let grad = Tensor::randn([2, 4, 5, 8], opts);
        let mask = Tensor::randn([5, 6], opts);
        // The second query row sees no key at all.
        let blind = mask.copy();
        let _ = blind.get(1).fill_(f64::NEG_INFINITY);
        for (mask, causal, scale) in [
            (None, false, None),
            (Some(&mask), false, Some(0.3)),
            (None, true, None),
            (Some(&blind), true, None),
        ] {
            let params = (causal, scale);
            let (out, lse) = Tensor::internal_scaled_dot_product_flash_attention_for_cpu(
                &q, &k, &v, 0.0, causal, mask, scale,
            );
            let (m_out, m_lse) = math_forward(&q, &k, &v, mask, params).unwrap();
            assert!(close(&out, &m_out) && close(&lse, &m_lse));
            let want = Tensor::internal_scaled_dot_product_flash_attention_for_cpu_backward(
                &grad, &q, &k, &v, &out, &lse, 0.0, causal, mask, scale,
            );
            let got = math_backward(&grad, &q, &k, &v, &out, &lse, mask, params).unwrap();
            assert!(close(&want.0, &got.0) && close(&want.1, &got.1) && close(&want.2, &got.2));
        }
    }
}
