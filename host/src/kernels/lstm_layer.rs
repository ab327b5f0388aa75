//! One LSTM layer over a whole sequence and its backward (`mkldnn_rnn_layer`): the input's
//! projection for all steps in one matmul, then a loop over the steps that writes each
//! step's gates, cell state and output in place. The backward walks the steps back the same
//! way and takes the weights' gradients for all steps in one matmul each.

use tch::{TchError, Tensor};

use crate::guest::LstmLayerParams;

fn missing(what: &str) -> TchError {
    TchError::Kind(format!("lstm layer: {what} is missing"))
}

/// The outcome of an op that writes into a view it was given (its result is that view).
fn written(result: Result<Tensor, TchError>) -> Result<(), TchError> {
    result.map(drop)
}

/// `t` as `[steps, batch, features]`.
fn steps_first(t: &Tensor, params: &LstmLayerParams) -> Result<Tensor, TchError> {
    match params.batch_first {
        true => t.f_transpose(0, 1),
        false => Ok(t.shallow_clone()),
    }
}

/// The steps in the order the layer runs them.
fn order(steps: i64, params: &LstmLayerParams) -> Vec<i64> {
    match params.reverse {
        true => (0..steps).rev().collect(),
        false => (0..steps).collect(),
    }
}

/// One view per step of a `[steps, batch, 5 * hidden]` workspace (the activated input,
/// forget, cell and output gates side by side, then the cell state), or of a
/// `[steps, batch, 4 * hidden]` gradient of the gates (no cell state).
struct Steps {
    gates: Vec<Tensor>,
    each_gate: [Vec<Tensor>; 4],
    cells: Vec<Tensor>,
}

impl Steps {
    fn of(t: &Tensor, hidden: i64) -> Result<Self, TchError> {
        let part = |i: i64| t.f_narrow(2, i * hidden, hidden)?.f_unbind(0);
        Ok(Steps {
            gates: t.f_narrow(2, 0, 4 * hidden)?.f_unbind(0)?,
            each_gate: [part(0)?, part(1)?, part(2)?, part(3)?],
            cells: match t.size()[2] / hidden {
                5 => part(4)?,
                _ => Vec::new(),
            },
        })
    }

    /// Step `t`'s input, forget, cell and output gates.
    fn at(&self, t: usize) -> [&Tensor; 4] {
        self.each_gate.each_ref().map(|gate| &gate[t])
    }
}

/// `[output, hy, cy, workspace]` from `[input, w_ih, w_hh(, b_ih, b_hh), hx, cx]`. Each step
/// writes its gates, cell state and output in place: seven libtorch ops a step.
pub fn forward(inputs: &[Tensor], params: &LstmLayerParams) -> Result<Vec<Tensor>, TchError> {
    let state_at = if params.has_biases { 5 } else { 3 };
    let (Some([x, w_ih, w_hh]), Some([hx, cx])) =
        (inputs.get(..3), inputs.get(state_at..state_at + 2))
    else {
        return Err(missing("an input"));
    };
    let x = steps_first(x, params)?;
    let (steps, batch, hidden) = (x.size()[0], x.size()[1], hx.size()[1]);
    let mut input_gates = x.f_matmul(&w_ih.f_tr()?)?;
    if let Some([b_ih, b_hh]) = inputs.get(3..5).filter(|_| params.has_biases) {
        input_gates = input_gates.f_add(&b_ih.f_add(b_hh)?)?;
    }
    let input_gates = input_gates.f_unbind(0)?;
    let options = (x.kind(), x.device());
    let output = Tensor::f_empty([steps, batch, hidden], options)?;
    let workspace = Tensor::f_empty([steps, batch, 5 * hidden], options)?;
    let (outputs, saved) = (output.f_unbind(0)?, Steps::of(&workspace, hidden)?);
    let w_hh = w_hh.f_tr()?;
    let (mut h, mut c) = (hx.shallow_clone(), cx.shallow_clone());
    for t in order(steps, params) {
        let t = t as usize;
        let ([i, f, g, o], cell) = (saved.at(t), &saved.cells[t]);
        let summed = input_gates[t].f_addmm(&h, &w_hh)?;
        written(summed.f_sigmoid_out(&saved.gates[t]))?;
        written(summed.f_narrow(1, 2 * hidden, hidden)?.f_tanh_out(g))?;
        c = f.f_mul_out(cell, &c)?.f_addcmul_(i, g)?;
        h = c.f_tanh_out(&outputs[t])?.f_mul_(o)?;
    }
    Ok(vec![steps_first(&output, params)?, h, c, workspace])
}

/// `[grad_input, grad_w_ih, grad_w_hh(, grad_b_ih, grad_b_hh), grad_hx, grad_cx]` from
/// `[grad_output?, grad_hy?, grad_cy?, input, w_ih, w_hh, hx, cx, output, workspace]`, the
/// gradients as `given` says. Each step back writes its gates' gradient in place.
pub fn backward(
    inputs: &[Tensor],
    (params, given): (&LstmLayerParams, [bool; 3]),
) -> Result<Vec<Tensor>, TchError> {
    let count = given.iter().filter(|&&g| g).count();
    let Some([x, w_ih, w_hh, hx, cx, output, workspace]) = inputs.get(count..count + 7) else {
        return Err(missing("an input"));
    };
    let mut grads = inputs[..count].iter();
    let [grad_output, grad_hy, grad_cy] = given.map(|g| g.then(|| grads.next()).flatten());
    let (x, output) = (steps_first(x, params)?, steps_first(output, params)?);
    let grad_outputs = match grad_output {
        Some(g) => Some(steps_first(g, params)?.f_unbind(0)?),
        None => None,
    };
    let (steps, batch, hidden) = (x.size()[0], x.size()[1], hx.size()[1]);
    let saved = Steps::of(workspace, hidden)?;
    let grad_gates = Tensor::f_empty([steps, batch, 4 * hidden], (x.kind(), x.device()))?;
    let grad_steps = Steps::of(&grad_gates, hidden)?;
    let mut dh = grad_hy.map_or_else(|| hx.f_zeros_like(), |g| Ok(g.shallow_clone()))?;
    let mut dc = grad_cy.map_or_else(|| cx.f_zeros_like(), |g| Ok(g.shallow_clone()))?;
    let order = order(steps, params);
    for (k, &t) in order.iter().enumerate().rev() {
        let t = t as usize;
        if let Some(g) = &grad_outputs {
            dh = dh.f_add(&g[t])?;
        }
        let previous = match k {
            0 => cx,
            _ => &saved.cells[order[k - 1] as usize],
        };
        let ([i, f, g, o], cell) = (saved.at(t), &saved.cells[t]);
        let [di, df, dg, d_o] = grad_steps.at(t);
        let tanh_cell = cell.f_tanh()?;
        let grad_cell = dc.f_add(&Tensor::f_tanh_backward(&dh.f_mul(o)?, &tanh_cell)?)?;
        written(Tensor::f_sigmoid_backward_grad_input(
            d_o,
            &dh.f_mul(&tanh_cell)?,
            o,
        ))?;
        written(Tensor::f_sigmoid_backward_grad_input(
            di,
            &grad_cell.f_mul(g)?,
            i,
        ))?;
        written(Tensor::f_sigmoid_backward_grad_input(
            df,
            &grad_cell.f_mul(previous)?,
            f,
        ))?;
        written(Tensor::f_tanh_backward_grad_input(
            dg,
            &grad_cell.f_mul(i)?,
            g,
        ))?;
        dc = grad_cell.f_mul(f)?;
        dh = grad_steps.gates[t].f_mm(w_hh)?;
    }
    let grad_input = steps_first(&grad_gates.f_matmul(w_ih)?, params)?;
    let flat = grad_gates.f_reshape([-1, 4 * hidden])?;
    let features = x.size()[2];
    let grad_w_ih = flat.f_tr()?.f_mm(&x.f_reshape([-1, features])?)?;
    let earlier = hidden_before_each_step(hx, &output, params)?;
    let grad_w_hh = flat.f_tr()?.f_mm(&earlier.f_reshape([-1, hidden])?)?;
    let mut results = vec![grad_input, grad_w_ih, grad_w_hh];
    if params.has_biases {
        let grad_bias = flat.f_sum_dim_intlist(0, false, None)?;
        results.extend([grad_bias.copy(), grad_bias]);
    }
    results.extend([dh, dc]);
    Ok(results)
}

/// The hidden state each step started from, `[steps, batch, hidden]`: hx for the first step
/// the layer ran, the previous step's output for the others.
fn hidden_before_each_step(
    hx: &Tensor,
    output: &Tensor,
    params: &LstmLayerParams,
) -> Result<Tensor, TchError> {
    let steps = output.size()[0];
    let first = hx.f_unsqueeze(0)?;
    match params.reverse {
        true => Tensor::f_cat(&[&output.f_narrow(0, 1, steps - 1)?, &first], 0),
        false => Tensor::f_cat(&[&first, &output.f_narrow(0, 0, steps - 1)?], 0),
    }
}
