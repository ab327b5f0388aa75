//! The fused optimizer steps (`library-op` `fused-adam`, `fused-sgd`, `fused-adagrad`).
//! tch binds no `_fused_adam_` and the like, so each is composed from libtorch's ops in the
//! order of PyTorch's fused kernel, in float32 for half-precision parameters as that
//! kernel's opmath is.

use tch::{Device, Kind, TchError, Tensor};

use crate::guest::{AdagradParams, AdamParams, SgdParams};

/// Which optional tensors follow a fused step's lists, in this order, and a float `lr`.
struct Extras {
    grad_scale: bool,
    found_inf: bool,
    /// None when the learning rate is a tensor, the last input.
    lr: Option<f64>,
}

/// The inputs of one fused step, split into its lists and extras.
struct Lists<'a> {
    state: &'a [Tensor],
    n: usize,
    grad_scale: Option<&'a Tensor>,
    found_inf: Option<&'a Tensor>,
    lr: f64,
}

impl<'a> Lists<'a> {
    /// `inputs` as `lists` lists of one tensor per parameter, then `extras`.
    fn new(inputs: &'a [Tensor], lists: usize, extras: Extras) -> Result<Self, TchError> {
        let given = [extras.grad_scale, extras.found_inf, extras.lr.is_none()];
        let given = given.into_iter().filter(|&given| given).count();
        let state_len = inputs.len().checked_sub(given).filter(|n| n % lists == 0);
        let state_len = state_len.ok_or_else(|| {
            TchError::Kind(format!(
                "fused step: {} inputs do not make {lists} lists",
                inputs.len()
            ))
        })?;
        let (state, rest) = inputs.split_at(state_len);
        let mut rest = rest.iter();
        let grad_scale = extras.grad_scale.then(|| rest.next()).flatten();
        let found_inf = extras.found_inf.then(|| rest.next()).flatten();
        let lr = match (extras.lr, rest.next()) {
            (Some(lr), _) => lr,
            (None, Some(lr)) => lr.f_double_value(&[])?,
            (None, None) => {
                return Err(TchError::Kind(
                    "fused step: the lr tensor is missing".into(),
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

    /// Tensor `i` of list `k`.
    fn get(&self, k: usize, i: usize) -> &'a Tensor {
        &self.state[k * self.n + i]
    }

    /// The first `lists` lists, which the step updates: its results.
    fn results(&self, lists: usize) -> Vec<Tensor> {
        self.state[..lists * self.n]
            .iter()
            .map(Tensor::shallow_clone)
            .collect()
    }

    /// Whether `found_inf` says the gradients overflowed, so the step changes nothing.
    fn skipped(&self) -> Result<bool, TchError> {
        match self.found_inf {
            Some(found) => Ok(found.f_double_value(&[])? == 1.0),
            None => Ok(false),
        }
    }

    /// Tensor `i` of the gradients (list 1) in its opmath dtype, unscaled by `grad_scale`
    /// (which the gradient keeps), negated to maximize, with `weight_decay` times the
    /// parameter added.
    fn gradient(&self, i: usize, maximize: bool, weight_decay: f64) -> Result<Tensor, TchError> {
        let grad = self.get(1, i);
        let mut g = opmath(grad)?;
        if let Some(scale) = self.grad_scale {
            g = g.f_div_(scale)?;
            store(grad, &g)?;
        }
        if maximize {
            g = g.f_neg()?;
        }
        if weight_decay != 0.0 {
            g = g.f_add(&opmath(self.get(0, i))?.f_mul_scalar(weight_decay)?)?;
        }
        Ok(g)
    }
}

/// One Adam step over every parameter, in place; returns the updated lists but the steps.
pub fn fused_adam(inputs: &[Tensor], p: &AdamParams) -> Result<Vec<Tensor>, TchError> {
    let updated = if p.amsgrad { 5 } else { 4 };
    let extras = Extras {
        grad_scale: p.grad_scale,
        found_inf: p.found_inf,
        lr: p.lr,
    };
    let lists = Lists::new(inputs, updated + 1, extras)?;
    if lists.skipped()? {
        return Ok(lists.results(updated));
    }
    let steps = step_values(&lists.state[updated * lists.n..])?;
    for (i, &step) in steps.iter().enumerate() {
        adam_update(&lists, i, step, p)?;
    }
    Ok(lists.results(updated))
}

/// One SGD step over every parameter, in place; returns the updated lists.
pub fn fused_sgd(inputs: &[Tensor], p: &SgdParams) -> Result<Vec<Tensor>, TchError> {
    let updated = if p.momentum == 0.0 { 2 } else { 3 };
    let extras = Extras {
        grad_scale: p.grad_scale,
        found_inf: p.found_inf,
        lr: p.lr,
    };
    let lists = Lists::new(inputs, updated, extras)?;
    if !lists.skipped()? {
        for i in 0..lists.n {
            sgd_update(&lists, i, p)?;
        }
    }
    Ok(lists.results(updated))
}

/// One Adagrad step over every parameter, in place; returns the updated lists but the
/// steps.
pub fn fused_adagrad(inputs: &[Tensor], p: &AdagradParams) -> Result<Vec<Tensor>, TchError> {
    let extras = Extras {
        grad_scale: p.grad_scale,
        found_inf: p.found_inf,
        lr: p.lr,
    };
    let lists = Lists::new(inputs, 4, extras)?;
    if lists.skipped()? {
        return Ok(lists.results(3));
    }
    let steps = step_values(&lists.state[3 * lists.n..])?;
    for (i, &step) in steps.iter().enumerate() {
        let clr = lists.lr / (1.0 + (step - 1.0) * p.lr_decay);
        let g = lists.gradient(i, p.maximize, p.weight_decay)?;
        let (param, sum) = (lists.get(0, i), lists.get(2, i));
        let mut s = opmath(sum)?;
        s = s.f_add_(&g.f_mul(&g)?)?;
        let std = s.f_sqrt()?.f_add_scalar(p.eps)?;
        let w = opmath(param)?.f_sub_(&g.f_mul_scalar(clr)?.f_div(&std)?)?;
        store(param, &w)?;
        store(sum, &s)?;
    }
    Ok(lists.results(3))
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

/// Parameter `i`'s Adam step at `step`.
fn adam_update(lists: &Lists, i: usize, step: f64, p: &AdamParams) -> Result<(), TchError> {
    let [param, exp_avg, exp_avg_sq] = [0, 2, 3].map(|k| lists.get(k, i));
    let bias_correction1 = 1.0 - p.beta1.powf(step);
    let bias_correction2_sqrt = (1.0 - p.beta2.powf(step)).sqrt();
    let mut w = opmath(param)?;
    if p.decoupled && p.weight_decay != 0.0 {
        w = w.f_mul_scalar_(1.0 - lists.lr * p.weight_decay)?;
    }
    let decay = if p.decoupled { 0.0 } else { p.weight_decay };
    let g = lists.gradient(i, p.maximize, decay)?;
    let (mut m, mut v) = (opmath(exp_avg)?, opmath(exp_avg_sq)?);
    m = m.f_lerp_(&g, 1.0 - p.beta1)?;
    v = v
        .f_mul_scalar_(p.beta2)?
        .f_add_(&g.f_mul_scalar(1.0 - p.beta2)?.f_mul(&g)?)?;
    let second = match p.amsgrad.then(|| lists.get(4, i)) {
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
    w = w.f_sub_(&m.f_mul_scalar(lists.lr / bias_correction1)?.f_div(&denom)?)?;
    for (to, from) in [(param, &w), (exp_avg, &m), (exp_avg_sq, &v)] {
        store(to, from)?;
    }
    Ok(())
}

/// Parameter `i`'s SGD step; the momentum buffer (list 2) starts as the gradient.
fn sgd_update(lists: &Lists, i: usize, p: &SgdParams) -> Result<(), TchError> {
    let mut g = lists.gradient(i, p.maximize, p.weight_decay)?;
    if p.momentum != 0.0 {
        let buffer = lists.get(2, i);
        let mut b = opmath(buffer)?;
        if p.is_first_step {
            b.f_copy_(&g)?;
        } else {
            b = b
                .f_mul_scalar_(p.momentum)?
                .f_add_(&g.f_mul_scalar(1.0 - p.dampening)?)?;
        }
        store(buffer, &b)?;
        g = if p.nesterov {
            g.f_add(&b.f_mul_scalar(p.momentum)?)?
        } else {
            b
        };
    }
    let param = lists.get(0, i);
    let w = opmath(param)?.f_sub_(&g.f_mul_scalar(lists.lr)?)?;
    store(param, &w)
}
