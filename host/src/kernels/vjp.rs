//! Backwards that tch does not bind: the forward recomputed under autograd from the same
//! inputs, so that libtorch's own backward kernel produces the gradients.

use tch::{TchError, Tensor};

/// A leaf copy of `t` that tracks gradients.
fn leaf(t: &Tensor) -> Result<Tensor, TchError> {
    t.f_detach()?.f_set_requires_grad(true)
}

/// The gradients of `forward(leaves)` weighted by `grad`, for each leaf.
pub fn gradients(
    grad: &Tensor,
    inputs: &[Option<&Tensor>],
    forward: impl FnOnce(&[Option<Tensor>]) -> Result<Tensor, TchError>,
) -> Result<Vec<Option<Tensor>>, TchError> {
    tch::with_grad(|| {
        let leaves = inputs
            .iter()
            .map(|t| t.map(leaf).transpose())
            .collect::<Result<Vec<_>, _>>()?;
        let y = forward(&leaves)?;
        let weighted = weighted(&y, grad)?;
        let defined: Vec<&Tensor> = leaves.iter().flatten().collect();
        let mut grads = Tensor::f_run_backward(&[&weighted], &defined, false, false)?.into_iter();
        Ok(leaves
            .iter()
            .map(|l| l.as_ref().and_then(|_| grads.next()))
            .collect())
    })
}

/// `y` weighted by `grad` and summed, whose backward hands `y`'s backward `grad` in `grad`'s
/// layout: libtorch's kernels take other paths (and round otherwise) for a broadcast
/// gradient, as `sum`'s backward gives one.
fn weighted(y: &Tensor, grad: &Tensor) -> Result<Tensor, TchError> {
    let grad = grad.f_to_kind(y.kind())?;
    if grad.numel() > 0 && grad.stride().iter().all(|&s| s == 0) {
        let value = grad.f_flatten(0, -1)?.f_get(0)?;
        return y.f_sum(y.kind())?.f_mul(&value);
    }
    y.f_mul(&grad)?.f_sum(y.kind())
}
