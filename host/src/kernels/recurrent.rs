//! The fused LSTM and GRU cells and their backwards, composed from libtorch's elementwise ops
//! (libtorch has fused kernels for CUDA only, and a CPU host must give the same values).
//! The gates are added with their biases first, as the unfused cells of `nn.LSTM` on the
//! CPU add them.

use tch::{TchError, Tensor};

fn missing(what: &str) -> TchError {
    TchError::Kind(format!("recurrent cell: {what} is missing"))
}

/// `input_gates + hidden_gates`, each with its bias when `inputs` has them (after the state).
fn summed_gates(inputs: &[Tensor]) -> Result<(Tensor, Tensor), TchError> {
    let [input_gates, hidden_gates, ..] = inputs else {
        return Err(missing("a gate"));
    };
    Ok(match inputs.get(3..5) {
        Some([input_bias, hidden_bias]) => (
            input_gates.f_add(input_bias)?,
            hidden_gates.f_add(hidden_bias)?,
        ),
        _ => (input_gates.shallow_clone(), hidden_gates.shallow_clone()),
    })
}

fn state(inputs: &[Tensor]) -> Result<&Tensor, TchError> {
    inputs.get(2).ok_or_else(|| missing("the previous state"))
}

/// `[hy, cy, gates]`: the activated input, forget, cell and output gates side by side.
pub fn lstm_cell(inputs: &[Tensor]) -> Result<Vec<Tensor>, TchError> {
    let (input_gates, hidden_gates) = summed_gates(inputs)?;
    let cx = state(inputs)?;
    let gates = input_gates.f_add(&hidden_gates)?.f_chunk(4, 1)?;
    let [i, f, g, o] = gates.as_slice() else {
        return Err(missing("a gate"));
    };
    let (i, f, g, o) = (i.f_sigmoid()?, f.f_sigmoid()?, g.f_tanh()?, o.f_sigmoid()?);
    let cy = f.f_mul(cx)?.f_add(&i.f_mul(&g)?)?;
    let hy = o.f_mul(&cy.f_tanh()?)?;
    let workspace = Tensor::f_cat(&[i, f, g, o], 1)?;
    Ok(vec![hy, cy, workspace])
}

/// `[grad_gates, grad_cx(, grad_bias)]` from the gradients given and `cx, cy, gates`.
pub fn lstm_cell_backward(
    inputs: &[Tensor],
    (has_grad_hy, has_grad_cy, has_bias): (bool, bool, bool),
) -> Result<Vec<Tensor>, TchError> {
    let grads = usize::from(has_grad_hy) + usize::from(has_grad_cy);
    let Some([cx, cy, workspace]) = inputs.get(grads..grads + 3) else {
        return Err(missing("cx, cy or the gates"));
    };
    let grad_hy = has_grad_hy.then(|| &inputs[0]);
    let grad_cy = has_grad_cy.then(|| &inputs[grads - 1]);
    let gates = workspace.f_chunk(4, 1)?;
    let [i, f, g, o] = gates.as_slice() else {
        return Err(missing("a gate"));
    };
    let tanh_cy = cy.f_tanh()?;
    let one_minus = |t: &Tensor| t.f_neg()?.f_add_scalar(1.0);
    let mut grad_c = match grad_cy {
        Some(grad_cy) => grad_cy.shallow_clone(),
        None => cx.f_zeros_like()?,
    };
    let grad_o = match grad_hy {
        Some(grad_hy) => {
            let through_tanh = one_minus(&tanh_cy.f_square()?)?;
            grad_c = grad_c.f_add(&grad_hy.f_mul(o)?.f_mul(&through_tanh)?)?;
            grad_hy.f_mul(&tanh_cy)?.f_mul(o)?.f_mul(&one_minus(o)?)?
        }
        None => o.f_zeros_like()?,
    };
    let grad_i = grad_c.f_mul(g)?.f_mul(i)?.f_mul(&one_minus(i)?)?;
    let grad_f = grad_c.f_mul(cx)?.f_mul(f)?.f_mul(&one_minus(f)?)?;
    let grad_g = grad_c.f_mul(i)?.f_mul(&one_minus(&g.f_square()?)?)?;
    let grad_gates = Tensor::f_cat(&[grad_i, grad_f, grad_g, grad_o], 1)?;
    let grad_cx = grad_c.f_mul(f)?;
    let grad_bias = bias_grad(&grad_gates, has_bias)?;
    Ok([grad_gates, grad_cx].into_iter().chain(grad_bias).collect())
}

/// The gradient of a bias added to every row of `grad_gates`, when there is one.
fn bias_grad(grad_gates: &Tensor, has_bias: bool) -> Result<Option<Tensor>, TchError> {
    has_bias
        .then(|| grad_gates.f_sum_dim_intlist(0, false, None))
        .transpose()
}

/// `[hy, workspace]`, the workspace holding the reset, update and new gates, `hx` and the
/// hidden part of the new gate.
pub fn gru_cell(inputs: &[Tensor]) -> Result<Vec<Tensor>, TchError> {
    let (input_gates, hidden_gates) = summed_gates(inputs)?;
    let hx = state(inputs)?;
    let (ig, hg) = (input_gates.f_chunk(3, 1)?, hidden_gates.f_chunk(3, 1)?);
    let ([ir, iz, in_], [hr, hz, hn]) = (ig.as_slice(), hg.as_slice()) else {
        return Err(missing("a gate"));
    };
    let r = hr.f_add(ir)?.f_sigmoid()?;
    let z = hz.f_add(iz)?.f_sigmoid()?;
    let n = in_.f_add(&hn.f_mul(&r)?)?.f_tanh()?;
    let hy = hx.f_sub(&n)?.f_mul(&z)?.f_add(&n)?;
    let workspace = Tensor::f_cat(&[&r, &z, &n, hx, hn], 1)?;
    Ok(vec![hy, workspace])
}

/// `[grad_input_gates, grad_hidden_gates, grad_hx(, grad_input_bias, grad_hidden_bias)]`.
pub fn gru_cell_backward(inputs: &[Tensor], has_bias: bool) -> Result<Vec<Tensor>, TchError> {
    let [grad_hy, workspace] = inputs else {
        return Err(missing("grad_hy or the workspace"));
    };
    let parts = workspace.f_chunk(5, 1)?;
    let [r, z, n, hx, hn] = parts.as_slice() else {
        return Err(missing("a gate"));
    };
    let one_minus = |t: &Tensor| t.f_neg()?.f_add_scalar(1.0);
    let grad_hx = grad_hy.f_mul(z)?;
    let grad_n = grad_hy
        .f_mul(&one_minus(z)?)?
        .f_mul(&one_minus(&n.f_square()?)?)?;
    let grad_z = grad_hy
        .f_mul(&hx.f_sub(n)?)?
        .f_mul(z)?
        .f_mul(&one_minus(z)?)?;
    let grad_r = grad_n.f_mul(hn)?.f_mul(r)?.f_mul(&one_minus(r)?)?;
    let grad_hn = grad_n.f_mul(r)?;
    let grad_input = Tensor::f_cat(&[&grad_r, &grad_z, &grad_n], 1)?;
    let grad_hidden = Tensor::f_cat(&[&grad_r, &grad_z, &grad_hn], 1)?;
    let biases = [
        bias_grad(&grad_input, has_bias)?,
        bias_grad(&grad_hidden, has_bias)?,
    ];
    Ok([grad_input, grad_hidden, grad_hx]
        .into_iter()
        .chain(biases.into_iter().flatten())
        .collect())
}
