//! The fused optimizer steps (`library-op` `fused-adam`, `fused-sgd`, `fused-adagrad`):
//! libtorch's own fused kernels (through `host/csrc/optim.cpp`, as tch binds none), which
//! update the lists in place and round as PyTorch's `fused=True` does on the CPU or CUDA.

use std::ffi::{c_char, c_int, CStr};
use std::ptr;

use tch::{TchError, Tensor};
use torch_sys::C_tensor;

use crate::guest::{AdagradParams, AdamParams, SgdParams};

extern "C" {
    fn trh_fused_adam(
        state: *const *const C_tensor,
        n: usize,
        lr: f64,
        beta1: f64,
        beta2: f64,
        weight_decay: f64,
        eps: f64,
        amsgrad: bool,
        maximize: bool,
        decoupled: bool,
        grad_scale: *const C_tensor,
        found_inf: *const C_tensor,
        error: *mut c_char,
        capacity: usize,
    ) -> c_int;

    fn trh_fused_sgd(
        state: *const *const C_tensor,
        n: usize,
        lr: f64,
        weight_decay: f64,
        momentum: f64,
        dampening: f64,
        nesterov: bool,
        maximize: bool,
        is_first_step: bool,
        grad_scale: *const C_tensor,
        found_inf: *const C_tensor,
        error: *mut c_char,
        capacity: usize,
    ) -> c_int;

    fn trh_fused_adagrad(
        state: *const *const C_tensor,
        n: usize,
        lr: f64,
        lr_decay: f64,
        weight_decay: f64,
        eps: f64,
        maximize: bool,
        grad_scale: *const C_tensor,
        found_inf: *const C_tensor,
        error: *mut c_char,
        capacity: usize,
    ) -> c_int;
}

/// Room for libtorch's message; longer ones are cut.
const ERROR_CAPACITY: usize = 1024;

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

    /// The first `lists` lists, which the step updates: its results.
    fn results(&self, lists: usize) -> Vec<Tensor> {
        self.state[..lists * self.n]
            .iter()
            .map(Tensor::shallow_clone)
            .collect()
    }

    /// Runs a shim's step on the lists (as pointers), `n`, the extras (null when absent)
    /// and an error buffer.
    fn step(
        &self,
        call: impl FnOnce(
            *const *const C_tensor,
            usize,
            *const C_tensor,
            *const C_tensor,
            *mut c_char,
            usize,
        ) -> c_int,
    ) -> Result<(), TchError> {
        let state: Vec<*const C_tensor> = self.state.iter().map(Tensor::as_ptr).collect();
        let extra = |t: Option<&Tensor>| t.map_or(ptr::null(), Tensor::as_ptr);
        let mut error = [0 as c_char; ERROR_CAPACITY];
        let failed = call(
            state.as_ptr(),
            self.n,
            extra(self.grad_scale),
            extra(self.found_inf),
            error.as_mut_ptr(),
            ERROR_CAPACITY,
        );
        if failed != 0 {
            // SAFETY: the shim NUL-terminates what it writes into `error`.
            let message = unsafe { CStr::from_ptr(error.as_ptr()) };
            return Err(TchError::Torch(message.to_string_lossy().into_owned()));
        }
        Ok(())
    }
}

/// One Adam (AdamW where `decoupled`) step over every parameter, in place; returns the
/// updated lists but the steps.
pub fn fused_adam(inputs: &[Tensor], p: &AdamParams) -> Result<Vec<Tensor>, TchError> {
    let updated = if p.amsgrad { 5 } else { 4 };
    let extras = Extras {
        grad_scale: p.grad_scale,
        found_inf: p.found_inf,
        lr: p.lr,
    };
    let lists = Lists::new(inputs, updated + 1, extras)?;
    lists.step(|state, n, grad_scale, found_inf, error, capacity| {
        // SAFETY: `state` holds `(updated + 1) * n` live tensors; the extras are live or null.
        unsafe {
            trh_fused_adam(
                state,
                n,
                lists.lr,
                p.beta1,
                p.beta2,
                p.weight_decay,
                p.eps,
                p.amsgrad,
                p.maximize,
                p.decoupled,
                grad_scale,
                found_inf,
                error,
                capacity,
            )
        }
    })?;
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
    lists.step(|state, n, grad_scale, found_inf, error, capacity| {
        // SAFETY: `state` holds `updated * n` live tensors; the extras are live or null.
        unsafe {
            trh_fused_sgd(
                state,
                n,
                lists.lr,
                p.weight_decay,
                p.momentum,
                p.dampening,
                p.nesterov,
                p.maximize,
                p.is_first_step,
                grad_scale,
                found_inf,
                error,
                capacity,
            )
        }
    })?;
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
    lists.step(|state, n, grad_scale, found_inf, error, capacity| {
        // SAFETY: `state` holds `4 * n` live tensors; the extras are live or null.
        unsafe {
            trh_fused_adagrad(
                state,
                n,
                lists.lr,
                p.lr_decay,
                p.weight_decay,
                p.eps,
                p.maximize,
                grad_scale,
                found_inf,
                error,
                capacity,
            )
        }
    })?;
    Ok(lists.results(3))
}
