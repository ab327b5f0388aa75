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
        let weighted = y.f_mul(&grad.f_to_kind(y.kind())?)?.f_sum(y.kind())?;
        let defined: Vec<&Tensor> = leaves.iter().flatten().collect();
        let mut grads = Tensor::f_run_backward(&[&weighted], &defined, false, false)?.into_iter();
        Ok(leaves
            .iter()
            .map(|l| l.as_ref().and_then(|_| grads.next()))
            .collect())
    })
}
