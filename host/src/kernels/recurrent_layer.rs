//! One recurrent layer over a whole sequence and its backward: LSTM (`mkldnn_rnn_layer`), GRU
//! and plain RNN (`rnn_layer`). The input's projection for all steps is one matmul, then a
//! loop over the steps writes each step's gates, state and output in place. The backward
//! walks the steps back the same way and takes the weights' gradients for all steps in one
//! matmul each.

use tch::{TchError, Tensor};

use crate::guest::{LstmLayerParams, RnnLayerParams, RnnMode};

fn missing(what: &str) -> TchError {
    TchError::Kind(format!("recurrent layer: {what} is missing"))
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
fn order(steps: i64, reverse: bool) -> Vec<i64> {
    match reverse {
        true => (0..steps).rev().collect(),
        false => (0..steps).collect(),
    }
}

/// The steps from the last the layer ran back to the first, each with the step the layer ran
/// before it (`None` for the first).
fn steps_back(steps: i64, reverse: bool) -> impl Iterator<Item = (usize, Option<usize>)> {
    let order: Vec<usize> = order(steps, reverse)
        .into_iter()
        .map(|t| t as usize)
        .collect();
    (0..order.len())
        .rev()
        .map(move |k| (order[k], k.checked_sub(1).map(|j| order[j])))
}

/// The gradient of the hidden state that step `t` produced: what flowed back from the later
/// steps, plus the output's gradient at `t` if there is one.
fn at_step(dh: Tensor, grad_outputs: Option<&[Tensor]>, t: usize) -> Result<Tensor, TchError> {
    match grad_outputs {
        Some(g) => dh.f_add(&g[t]),
        None => Ok(dh),
    }
}

/// Views per step of a `[steps, batch, parts * hidden]` tensor: each `[batch, hidden]` part
/// (an LSTM's input, forget, cell and output gates, then its cell state; a GRU's reset,
/// update and new gates, then the hidden part of the new gate), and the first `whole` parts
/// together.
struct Steps {
    whole: Vec<Tensor>,
    parts: Vec<Vec<Tensor>>,
}

impl Steps {
    fn of(t: &Tensor, hidden: i64, whole: i64) -> Result<Self, TchError> {
        let parts = (0..t.size()[2] / hidden)
            .map(|i| t.f_narrow(2, i * hidden, hidden)?.f_unbind(0))
            .collect::<Result<_, _>>()?;
        Ok(Steps {
            whole: t.f_narrow(2, 0, whole * hidden)?.f_unbind(0)?,
            parts,
        })
    }

    /// Step `t`'s first `N` parts.
    fn at<const N: usize>(&self, t: usize) -> [&Tensor; N] {
        std::array::from_fn(|i| &self.parts[i][t])
    }
}

/// The initial gradient of a state: the one given, or zeros.
fn initial(grad: Option<&Tensor>, state: &Tensor) -> Result<Tensor, TchError> {
    grad.map_or_else(|| state.f_zeros_like(), |g| Ok(g.shallow_clone()))
}

/// An LSTM layer's `[output, hy, cy, workspace]` from `[input, w_ih, w_hh(, b_ih, b_hh), hx,
/// cx]`. Each step writes its gates, cell state and output in place: seven libtorch ops.
pub fn lstm(inputs: &[Tensor], params: &LstmLayerParams) -> Result<Vec<Tensor>, TchError> {
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
    let (outputs, saved) = (output.f_unbind(0)?, Steps::of(&workspace, hidden, 4)?);
    let w_hh = w_hh.f_tr()?;
    let (mut h, mut c) = (hx.shallow_clone(), cx.shallow_clone());
    for t in order(steps, params.reverse) {
        let t = t as usize;
        let [i, f, g, o, cell] = saved.at(t);
        let summed = input_gates[t].f_addmm(&h, &w_hh)?;
        written(summed.f_sigmoid_out(&saved.whole[t]))?;
        written(summed.f_narrow(1, 2 * hidden, hidden)?.f_tanh_out(g))?;
        c = f.f_mul_out(cell, &c)?.f_addcmul_(i, g)?;
        h = c.f_tanh_out(&outputs[t])?.f_mul_(o)?;
    }
    Ok(vec![steps_first(&output, params)?, h, c, workspace])
}

/// An LSTM layer's `[grad_input, grad_w_ih, grad_w_hh(, grad_b_ih, grad_b_hh), grad_hx,
/// grad_cx]` from `[grad_output?, grad_hy?, grad_cy?, input, w_ih, w_hh, hx, cx, output,
/// workspace]`, the gradients as `given` says. Each step back writes its gates' gradient.
pub fn lstm_backward(
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
    let saved = Steps::of(workspace, hidden, 4)?;
    let grad_gates = Tensor::f_empty([steps, batch, 4 * hidden], (x.kind(), x.device()))?;
    let grad_steps = Steps::of(&grad_gates, hidden, 4)?;
    let (mut dh, mut dc) = (initial(grad_hy, hx)?, initial(grad_cy, cx)?);
    for (t, before) in steps_back(steps, params.reverse) {
        dh = at_step(dh, grad_outputs.as_deref(), t)?;
        let previous = before.map_or(cx, |b| &saved.parts[4][b]);
        let [i, f, g, o, cell] = saved.at(t);
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
        dh = grad_steps.whole[t].f_mm(w_hh)?;
    }
    let layer = Backward {
        x: &x,
        hx,
        output: &output,
        reverse: params.reverse,
        has_biases: params.has_biases,
    };
    let mut results = layer.input_and_weight_grads(&grad_gates, &grad_gates, w_ih)?;
    if let Some(grad_input) = results.first_mut() {
        *grad_input = steps_first(grad_input, params)?;
    }
    results.extend([dh, dc]);
    Ok(results)
}

/// What a layer's backward needs once its steps are done: the input `[steps, batch,
/// features]`, the initial hidden state and the output.
struct Backward<'a> {
    x: &'a Tensor,
    hx: &'a Tensor,
    output: &'a Tensor,
    reverse: bool,
    has_biases: bool,
}

impl Backward<'_> {
    /// `[grad_input, grad_w_ih, grad_w_hh(, grad_b_ih, grad_b_hh)]` from the gradients of
    /// the input's and the hidden state's projections at every step, one matmul each.
    fn input_and_weight_grads(
        &self,
        grad_input_gates: &Tensor,
        grad_hidden_gates: &Tensor,
        w_ih: &Tensor,
    ) -> Result<Vec<Tensor>, TchError> {
        let width = grad_input_gates.size()[2];
        let (input_flat, hidden_flat) = (
            grad_input_gates.f_reshape([-1, width])?,
            grad_hidden_gates.f_reshape([-1, width])?,
        );
        let grad_input = grad_input_gates.f_matmul(w_ih)?;
        let features = self.x.size()[2];
        let grad_w_ih = input_flat
            .f_tr()?
            .f_mm(&self.x.f_reshape([-1, features])?)?;
        let hidden = self.hx.size()[1];
        let earlier = self.hidden_before_each_step()?.f_reshape([-1, hidden])?;
        let grad_w_hh = hidden_flat.f_tr()?.f_mm(&earlier)?;
        let mut results = vec![grad_input, grad_w_ih, grad_w_hh];
        if self.has_biases {
            for flat in [input_flat, hidden_flat] {
                results.push(flat.f_sum_dim_intlist(0, false, None)?);
            }
        }
        Ok(results)
    }

    /// The hidden state each step started from, `[steps, batch, hidden]`: hx for the first
    /// step the layer ran, the previous step's output for the others.
    fn hidden_before_each_step(&self) -> Result<Tensor, TchError> {
        let steps = self.output.size()[0];
        let first = self.hx.f_unsqueeze(0)?;
        let rest = |start| self.output.f_narrow(0, start, steps - 1);
        match self.reverse {
            true => Tensor::f_cat(&[&rest(1)?, &first], 0),
            false => Tensor::f_cat(&[&first, &rest(0)?], 0),
        }
    }
}

/// A GRU or RNN layer's `[output, hy, workspace]` from `[input, w_ih, w_hh(, b_ih, b_hh),
/// hx]`, input `[steps, batch, features]`. Each step writes its gates and output in place.
pub fn rnn(inputs: &[Tensor], params: &RnnLayerParams) -> Result<Vec<Tensor>, TchError> {
    let (Some([x, w_ih, w_hh]), Some(hx)) = (inputs.get(..3), inputs.last()) else {
        return Err(missing("an input"));
    };
    let biases = inputs.get(3..5).filter(|_| params.has_biases);
    let (steps, batch, hidden) = (x.size()[0], x.size()[1], hx.size()[1]);
    // A GRU's new gate takes the hidden bias inside its reset product; an RNN adds both.
    let hidden_bias = match (biases, params.mode) {
        (Some([_, b_hh]), RnnMode::Gru) => Some(b_hh),
        _ => None,
    };
    let mut input_gates = x.f_matmul(&w_ih.f_tr()?)?;
    if let Some([b_ih, b_hh]) = biases {
        input_gates = match hidden_bias {
            Some(_) => input_gates.f_add(b_ih)?,
            None => input_gates.f_add(&b_ih.f_add(b_hh)?)?,
        };
    }
    let input_gates = input_gates.f_unbind(0)?;
    let options = (x.kind(), x.device());
    let output = Tensor::f_empty([steps, batch, hidden], options)?;
    let outputs = output.f_unbind(0)?;
    let workspace = match params.mode {
        RnnMode::Gru => Tensor::f_empty([steps, batch, 4 * hidden], options)?,
        RnnMode::Tanh | RnnMode::Relu => Tensor::f_empty([steps, batch, 0], options)?,
    };
    let w_hh = w_hh.f_tr()?;
    let mut h = hx.shallow_clone();
    let saved = (params.mode == RnnMode::Gru)
        .then(|| Steps::of(&workspace, hidden, 2))
        .transpose()?;
    for t in order(steps, params.reverse) {
        let t = t as usize;
        h = match &saved {
            Some(saved) => {
                let hidden_gates = match hidden_bias {
                    Some(b_hh) => b_hh.f_addmm(&h, &w_hh)?,
                    None => h.f_mm(&w_hh)?,
                };
                gru_step(&input_gates[t], &hidden_gates, &h, saved, t, &outputs[t])?
            }
            None => {
                let summed = input_gates[t].f_addmm(&h, &w_hh)?;
                match params.mode {
                    RnnMode::Relu => summed.f_clamp_min_out(&outputs[t], 0.0)?,
                    RnnMode::Tanh | RnnMode::Gru => summed.f_tanh_out(&outputs[t])?,
                }
            }
        };
    }
    Ok(vec![output, h, workspace])
}

/// Writes step `t` of a GRU: its gates into `saved` and its new hidden state, returned, into
/// `out`, as PyTorch's `gru_cell` computes them.
fn gru_step(
    input_gates: &Tensor,
    hidden_gates: &Tensor,
    h: &Tensor,
    saved: &Steps,
    t: usize,
    out: &Tensor,
) -> Result<Tensor, TchError> {
    let hidden = h.size()[1];
    let [r, z, n, hidden_new] = saved.at(t);
    let both = |g: &Tensor| g.f_narrow(1, 0, 2 * hidden);
    let new = |g: &Tensor| g.f_narrow(1, 2 * hidden, hidden);
    written(
        both(input_gates)?
            .f_add(&both(hidden_gates)?)?
            .f_sigmoid_out(&saved.whole[t]),
    )?;
    hidden_new.shallow_clone().f_copy_(&new(hidden_gates)?)?;
    let n = r
        .f_mul_out(n, hidden_new)?
        .f_add_(&new(input_gates)?)?
        .f_tanh_()?;
    h.f_sub_out(out, &n)?.f_mul_(z)?.f_add_(&n)
}

/// A GRU or RNN layer's `[grad_input, grad_w_ih, grad_w_hh(, grad_b_ih, grad_b_hh), grad_hx]`
/// from `[grad_output?, grad_hy?, input, w_ih, w_hh, hx, output, workspace]`, the gradients
/// as `given` says.
pub fn rnn_backward(
    inputs: &[Tensor],
    (params, given): (&RnnLayerParams, [bool; 2]),
) -> Result<Vec<Tensor>, TchError> {
    let count = given.iter().filter(|&&g| g).count();
    let Some([x, w_ih, w_hh, hx, output, workspace]) = inputs.get(count..count + 6) else {
        return Err(missing("an input"));
    };
    let mut grads = inputs[..count].iter();
    let [grad_output, grad_hy] = given.map(|g| g.then(|| grads.next()).flatten());
    let grad_outputs = grad_output.map(|g| g.f_unbind(0)).transpose()?;
    let (steps, batch, hidden) = (x.size()[0], x.size()[1], hx.size()[1]);
    let width = w_hh.size()[0];
    let options = (x.kind(), x.device());
    let grad_input_gates = Tensor::f_empty([steps, batch, width], options)?;
    let grad_hidden_gates = match params.mode {
        RnnMode::Gru => Tensor::f_empty([steps, batch, width], options)?,
        RnnMode::Tanh | RnnMode::Relu => grad_input_gates.shallow_clone(),
    };
    let into_input = Steps::of(&grad_input_gates, hidden, 1)?;
    let into_hidden = Steps::of(&grad_hidden_gates, hidden, width / hidden)?;
    let saved = (params.mode == RnnMode::Gru)
        .then(|| Steps::of(workspace, hidden, 2))
        .transpose()?;
    let outputs = output.f_unbind(0)?;
    let mut dh = initial(grad_hy, hx)?;
    for (t, before) in steps_back(steps, params.reverse) {
        dh = at_step(dh, grad_outputs.as_deref(), t)?;
        let previous = before.map_or(hx, |b| &outputs[b]);
        dh = match &saved {
            Some(saved) => {
                let into = [&into_input, &into_hidden];
                let direct = gru_step_back(&dh, previous, saved, into, t)?;
                direct.f_addmm(&into_hidden.whole[t], w_hh)?
            }
            None => {
                let grad = &into_hidden.whole[t];
                written(match params.mode {
                    RnnMode::Relu => outputs[t].f_threshold_backward_grad_input(grad, &dh, 0.0),
                    RnnMode::Tanh | RnnMode::Gru => {
                        Tensor::f_tanh_backward_grad_input(grad, &dh, &outputs[t])
                    }
                })?;
                grad.f_mm(w_hh)?
            }
        };
    }
    if params.mode == RnnMode::Gru {
        let both = |g: &Tensor| g.f_narrow(2, 0, 2 * hidden);
        both(&grad_input_gates)?.f_copy_(&both(&grad_hidden_gates)?)?;
    }
    let layer = Backward {
        x,
        hx,
        output,
        reverse: params.reverse,
        has_biases: params.has_biases,
    };
    let mut results = layer.input_and_weight_grads(&grad_input_gates, &grad_hidden_gates, w_ih)?;
    results.push(dh);
    Ok(results)
}

/// Writes the gradients of step `t` of a GRU's gates: the reset and update gates' and the
/// hidden part of the new gate's into the hidden gates' (`into[1]`), the new gate's into the
/// input gates' (`into[0]`). Returns the part of hx's gradient that skips the projection.
fn gru_step_back(
    dh: &Tensor,
    previous: &Tensor,
    saved: &Steps,
    [into_input, into_hidden]: [&Steps; 2],
    t: usize,
) -> Result<Tensor, TchError> {
    let [r, z, n, hidden_new] = saved.at(t);
    let [dr, dz, d_hidden_new] = into_hidden.at(t);
    let dn = &into_input.parts[2][t];
    let through_z = dh.f_mul(z)?;
    written(Tensor::f_tanh_backward_grad_input(
        dn,
        &dh.f_sub(&through_z)?,
        n,
    ))?;
    let grad_z = dh.f_mul(&previous.f_sub(n)?)?;
    written(Tensor::f_sigmoid_backward_grad_input(dz, &grad_z, z))?;
    written(dn.f_mul_out(d_hidden_new, r))?;
    written(Tensor::f_sigmoid_backward_grad_input(
        dr,
        &dn.f_mul(hidden_new)?,
        r,
    ))?;
    Ok(through_z)
}
