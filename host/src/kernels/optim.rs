//! The fused Adam and AdamW step (`library-op` `fused-adam`). tch binds no `_fused_adam_`,
//! so it is composed from libtorch's ops in the order of PyTorch's fused kernel, in float32
//! for half-precision parameters as that kernel's opmath is.

use tch::{Device, Kind, TchError, Tensor};

use crate::guest::AdamParams;

/// The inputs of one `fused-adam` call, split into its lists and extras.
struct Lists<'a> {
    state: &'a [Tensor],
    n: usize,
    grad_scale: Option<&'a Tensor>,
    found_inf: Option<&'a Tensor>,
    lr: f64,
}

impl<'a> Lists<'a> {
    fn new(inputs: &'a [Tensor], p: &AdamParams) -> Result<Self, TchError> {
        let extras = [p.grad_scale, p.found_inf, p.lr.is_none()];
        let extras = extras.into_iter().filter(|&given| given).count();
        let lists = if p.amsgrad { 6 } else { 5 };
        let state_len = inputs.len().checked_sub(extras).filter(|n| n % lists == 0);
        let state_len = state_len.ok_or_else(|| {
            TchError::Kind(format!(
                "fused adam: {} inputs do not make {lists} lists",
                inputs.len()
            ))
        })?;
        let (state, rest) = inputs.split_at(state_len);
        let mut rest = rest.iter();
        let grad_scale = p.grad_scale.then(|| rest.next()).flatten();
        let found_inf = p.found_inf.then(|| rest.next()).flatten();
        let lr = match (p.lr, rest.next()) {
            (Some(lr), _) => lr,
            (None, Some(lr)) => lr.f_double_value(&[])?,
            (None, None) => {
                return Err(TchError::Kind(
                    "fused adam: the lr tensor is missing".into(),
                ))
            }
        };
        Ok(Self {
            state,
            n: state_len / lists,
            grad_scale,
            found_inf,
            lr,
        })
    }

    /// Tensor `i` of list `k` (params, grads, exp_avgs, exp_avg_sqs[, max_exp_avg_sqs], steps).
    fn get(&self, k: usize, i: usize) -> &'a Tensor {
        &self.state[k * self.n + i]
    }
}

/// One step over every parameter, in place; returns the updated lists but the steps.
pub fn fused_adam(inputs: &[Tensor], p: &AdamParams) -> Result<Vec<Tensor>, TchError> {
    let lists = Lists::new(inputs, p)?;
    let steps_at = lists.state.len() - lists.n;
    let results = lists.state[..steps_at]
        .iter()
        .map(Tensor::shallow_clone)
        .collect();
    if let Some(found) = lists.found_inf {
        if found.f_double_value(&[])? == 1.0 {
            return Ok(results);
        }
    }
    let steps = step_values(&lists.state[steps_at..])?;
    for (i, &step) in steps.iter().enumerate() {
        let max_sq = p.amsgrad.then(|| lists.get(4, i));
        let state = [
            lists.get(0, i),
            lists.get(1, i),
            lists.get(2, i),
            lists.get(3, i),
        ];
        update(state, max_sq, step, lists.lr, lists.grad_scale, p)?;
    }
    Ok(results)
}

/// Every parameter's step count, read in one transfer: on a GPU each read waits for the
/// device, so one per parameter would stall the step as many times.
fn step_values(steps: &[Tensor]) -> Result<Vec<f64>, TchError> {
    let flat: Vec<Tensor> = steps
        .iter()
        .map(|s| s.f_reshape([1]))
        .collect::<Result<_, _>>()?;
    let all = Tensor::f_cat(&flat, 0)?
        .f_to_kind(Kind::Double)?
        .f_to_device(Device::Cpu)?;
    Vec::<f64>::try_from(&all)
}

/// `t` in its opmath dtype: float32 for half precision, itself otherwise.
fn opmath(t: &Tensor) -> Result<Tensor, TchError> {
    match t.kind() {
        Kind::Half | Kind::BFloat16 => t.f_to_kind(Kind::Float),
        _ => Ok(t.shallow_clone()),
    }
}

/// `to` given the values of `from`, its opmath copy; a tensor that is its own opmath was
/// updated in place already.
fn store(to: &Tensor, from: &Tensor) -> Result<(), TchError> {
    if to.kind() != from.kind() {
        to.shallow_clone().f_copy_(from)?;
    }
    Ok(())
}

fn update(
    [param, grad, exp_avg, exp_avg_sq]: [&Tensor; 4],
    max_sq: Option<&Tensor>,
    step: f64,
    lr: f64,
    grad_scale: Option<&Tensor>,
    p: &AdamParams,
) -> Result<(), TchError> {
    let bias_correction1 = 1.0 - p.beta1.powf(step);
    let bias_correction2_sqrt = (1.0 - p.beta2.powf(step)).sqrt();
    let (mut w, mut g) = (opmath(param)?, opmath(grad)?);
    let (mut m, mut v) = (opmath(exp_avg)?, opmath(exp_avg_sq)?);
    if let Some(scale) = grad_scale {
        g = g.f_div_(scale)?;
        store(grad, &g)?;
    }
    if p.maximize {
        g = g.f_neg()?;
    }
    if p.weight_decay != 0.0 {
        if p.decoupled {
            w = w.f_mul_scalar_(1.0 - lr * p.weight_decay)?;
        } else {
            g = g.f_add(&w.f_mul_scalar(p.weight_decay)?)?;
        }
    }
    m = m.f_lerp_(&g, 1.0 - p.beta1)?;
    v = v
        .f_mul_scalar_(p.beta2)?
        .f_add_(&g.f_mul_scalar(1.0 - p.beta2)?.f_mul(&g)?)?;
    let second = match max_sq {
        Some(max_sq) => {
            let mut top = opmath(max_sq)?;
            top.f_copy_(&top.f_maximum(&v)?)?;
            store(max_sq, &top)?;
            top
        }
        None => v.shallow_clone(),
    };
    let denom = second
        .f_sqrt()?
        .f_div_scalar(bias_correction2_sqrt)?
        .f_add_scalar(p.eps)?;
    w = w.f_sub_(&m.f_mul_scalar(lr / bias_correction1)?.f_div(&denom)?)?;
    for (to, from) in [(param, &w), (exp_avg, &m), (exp_avg_sq, &v)] {
        store(to, from)?;
    }
    Ok(())
}
