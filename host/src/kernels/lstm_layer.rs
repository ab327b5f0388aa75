//! One LSTM layer over a whole sequence and its backward (`mkldnn_rnn_layer`): the input's
//! projection for all steps in one matmul, then a loop over the steps of the hidden projection
//! and `recurrent`'s fused cell. The backward walks the steps back with the cell's backward
//! and takes the weights' gradients for all steps in one matmul each.

use tch::{TchError, Tensor};

use super::recurrent;
use crate::guest::LstmLayerParams;

fn missing(what: &str) -> TchError {
    TchError::Kind(format!("lstm layer: {what} is missing"))
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

/// `[output, hy, cy, workspace]` from `[input, w_ih, w_hh(, b_ih, b_hh), hx, cx]`.
pub fn forward(inputs: &[Tensor], params: &LstmLayerParams) -> Result<Vec<Tensor>, TchError> {
    let state_at = if params.has_biases { 5 } else { 3 };
    let (Some([x, w_ih, w_hh]), Some([hx, cx])) =
        (inputs.get(..3), inputs.get(state_at..state_at + 2))
    else {
        return Err(missing("an input"));
    };
    let x = steps_first(x, params)?;
    let mut input_gates = x.f_matmul(&w_ih.f_tr()?)?;
    if let Some([b_ih, b_hh]) = inputs.get(3..5).filter(|_| params.has_biases) {
        input_gates = input_gates.f_add(&b_ih.f_add(b_hh)?)?;
    }
    let w_hh = w_hh.f_tr()?;
    let steps = x.size()[0];
    let (mut h, mut c) = (hx.shallow_clone(), cx.shallow_clone());
    let mut outputs: Vec<Option<Tensor>> = (0..steps).map(|_| None).collect();
    let mut workspaces: Vec<Option<Tensor>> = (0..steps).map(|_| None).collect();
    for t in order(steps, params) {
        let cell_inputs = [input_gates.f_select(0, t)?, h.f_mm(&w_hh)?, c];
        let [hy, cy, gates] = <[Tensor; 3]>::try_from(recurrent::lstm_cell(&cell_inputs)?)
            .map_err(|_| missing("a cell result"))?;
        workspaces[t as usize] = Some(Tensor::f_cat(&[&gates, &cy], 1)?);
        outputs[t as usize] = Some(hy.shallow_clone());
        (h, c) = (hy, cy);
    }
    let output = Tensor::f_stack(&outputs.into_iter().flatten().collect::<Vec<_>>(), 0)?;
    let workspace = Tensor::f_stack(&workspaces.into_iter().flatten().collect::<Vec<_>>(), 0)?;
    Ok(vec![steps_first(&output, params)?, h, c, workspace])
}

/// `[grad_input, grad_w_ih, grad_w_hh(, grad_b_ih, grad_b_hh), grad_hx, grad_cx]` from
/// `[grad_output?, grad_hy?, grad_cy?, input, w_ih, w_hh, hx, cx, output, workspace]`, the
/// gradients as `given` says.
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
    let grad_output = grad_output.map(|g| steps_first(g, params)).transpose()?;
    let hidden = hx.size()[1];
    let gates = workspace.f_narrow(2, 0, 4 * hidden)?;
    let cells = workspace.f_narrow(2, 4 * hidden, hidden)?;
    let mut dh = grad_hy.map_or_else(|| hx.f_zeros_like(), |g| Ok(g.shallow_clone()))?;
    let mut dc = grad_cy.map_or_else(|| cx.f_zeros_like(), |g| Ok(g.shallow_clone()))?;
    let steps = x.size()[0];
    let order = order(steps, params);
    let mut grad_gates: Vec<Option<Tensor>> = (0..steps).map(|_| None).collect();
    for (k, &t) in order.iter().enumerate().rev() {
        if let Some(g) = &grad_output {
            dh = dh.f_add(&g.f_select(0, t)?)?;
        }
        let previous = match k {
            0 => cx.shallow_clone(),
            _ => cells.f_select(0, order[k - 1])?,
        };
        let cell = [
            dh,
            dc,
            previous,
            cells.f_select(0, t)?,
            gates.f_select(0, t)?,
        ];
        let [dg, dc_previous] =
            <[Tensor; 2]>::try_from(recurrent::lstm_cell_backward(&cell, (true, true, false))?)
                .map_err(|_| missing("a cell gradient"))?;
        dh = dg.f_mm(w_hh)?;
        dc = dc_previous;
        grad_gates[t as usize] = Some(dg);
    }
    let grad_gates = Tensor::f_stack(&grad_gates.into_iter().flatten().collect::<Vec<_>>(), 0)?;
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
