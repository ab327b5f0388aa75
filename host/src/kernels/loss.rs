//! The elementwise losses (MSE, smooth L1, Huber, binary cross entropy) and their
//! gradients: libtorch's own functions, so values match PyTorch's CPU bit for bit.

use tch::{Reduction, TchError, Tensor};

use crate::guest::LossOp;

/// `op`'s loss of `x` against `target`; `param` is beta or delta.
pub fn forward(
    op: LossOp,
    x: &Tensor,
    target: &Tensor,
    weight: Option<&Tensor>,
    param: f64,
    reduction: Reduction,
) -> Result<Tensor, TchError> {
    match op {
        LossOp::Mse => x.f_mse_loss(target, reduction),
        LossOp::SmoothL1 => x.f_smooth_l1_loss(target, reduction, param),
        LossOp::Huber => x.f_huber_loss(target, reduction, param),
        LossOp::BinaryCrossEntropy => x.f_binary_cross_entropy(target, weight, reduction),
    }
}

/// The gradient of `op`'s loss with respect to `x`, given the loss's gradient `grad`.
pub fn backward(
    op: LossOp,
    grad: &Tensor,
    x: &Tensor,
    target: &Tensor,
    weight: Option<&Tensor>,
    param: f64,
    reduction: Reduction,
) -> Result<Tensor, TchError> {
    match op {
        LossOp::Mse => x.f_mse_loss_backward(grad, target, reduction),
        LossOp::SmoothL1 => x.f_smooth_l1_loss_backward(grad, target, reduction, param),
        LossOp::Huber => x.f_huber_loss_backward(grad, target, reduction, param),
        LossOp::BinaryCrossEntropy => {
            x.f_binary_cross_entropy_backward(grad, target, weight, reduction)
        }
    }
}
