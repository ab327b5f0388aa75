//! A whole GRU or plain RNN layer over a sequence in one op: remote's own
//! `torch_remote::rnn_layer` and its backward, which `aten::gru`, `aten::rnn_tanh` and
//! `aten::rnn_relu` lower to on remote (PyTorch has no such op outside cuDNN's). The
//! workspace is remote's own: a GRU's gates at each step; an RNN needs none beyond its output.

use crate::error::{ensure, Error, Result};
use crate::ops::args::Args;
use crate::ops::ctx::Ctx;
use crate::ops::library::launch;
use crate::ops::Outputs;
use crate::rules::dtype::check_floating_alike;
use crate::rules::shape::fmt_shape;
use crate::types::{LibraryOp, Output, RnnLayerParams, RnnMode, TensorMeta};

/// The checked operands of one layer: the input `[steps, batch, features]`, the weights, the
/// biases if any, and the initial state `[batch, hidden]`.
struct Layer<'a> {
    op: &'static str,
    input: &'a TensorMeta,
    w_ih: &'a TensorMeta,
    w_hh: &'a TensorMeta,
    biases: Option<[&'a TensorMeta; 2]>,
    hx: &'a TensorMeta,
    params: RnnLayerParams,
}

/// PyTorch's RNN code numbers the modes as cuDNN does.
fn mode(op: &str, mode: i64) -> Result<RnnMode> {
    match mode {
        0 => Ok(RnnMode::Relu),
        1 => Ok(RnnMode::Tanh),
        3 => Ok(RnnMode::Gru),
        _ => Err(Error::value(format!(
            "{op}: expected mode 0 (RNN_RELU), 1 (RNN_TANH) or 3 (GRU), but got {mode}"
        ))),
    }
}

/// The biases of `rnn_layer` (arguments 3 and 4): both or neither.
fn biases<'a>(op: &str, args: &Args<'a>) -> Result<Option<[&'a TensorMeta; 2]>> {
    match (args.opt_tensor(3)?, args.opt_tensor(4)?) {
        (Some(i), Some(h)) => Ok(Some([i, h])),
        (None, None) => Ok(None),
        _ => Err(Error::invalid(format!(
            "{op}: b_ih and b_hh must both be given or both be None"
        ))),
    }
}

impl<'a> Layer<'a> {
    /// `at`: where the input, the two weights and hx are in the schema.
    fn new(
        op: &'static str,
        args: &Args<'a>,
        [input, w_ih, w_hh, hx]: [usize; 4],
        biases: Option<[&'a TensorMeta; 2]>,
        params: RnnLayerParams,
    ) -> Result<Self> {
        let layer = Layer {
            op,
            input: args.tensor(input)?,
            w_ih: args.tensor(w_ih)?,
            w_hh: args.tensor(w_hh)?,
            biases,
            hx: args.tensor(hx)?,
            params,
        };
        layer.check()?;
        Ok(layer)
    }

    fn gates(&self) -> i64 {
        match self.params.mode {
            RnnMode::Gru => 3,
            RnnMode::Tanh | RnnMode::Relu => 1,
        }
    }

    fn hidden(&self) -> i64 {
        self.hx.sizes.get(1).copied().unwrap_or(0)
    }

    fn check(&self) -> Result<()> {
        let op = self.op;
        let input = &self.input.sizes;
        ensure!(
            input.len() == 3 && input.iter().all(|&n| n > 0),
            "{op}: expected a non-empty 3-dimensional input [steps, batch, features], but got {}",
            fmt_shape(input)
        );
        ensure!(
            self.hx.dim() == 2 && self.hx.sizes[0] == input[1] && self.hidden() > 0,
            "{op}: expected hx of shape [{}, hidden] for input {}, but got {}",
            input[1],
            fmt_shape(input),
            fmt_shape(&self.hx.sizes)
        );
        let (width, hidden) = (self.gates() * self.hidden(), self.hidden());
        let mut expected = vec![
            (self.w_ih, vec![width, input[2]], "w_ih"),
            (self.w_hh, vec![width, hidden], "w_hh"),
        ];
        if let Some([b_ih, b_hh]) = self.biases {
            expected.extend([(b_ih, vec![width], "b_ih"), (b_hh, vec![width], "b_hh")]);
        }
        for (t, sizes, what) in &expected {
            ensure!(
                t.sizes == *sizes,
                "{op}: expected {what} of shape {} for input {} and hx {}, but got {}",
                fmt_shape(sizes),
                fmt_shape(input),
                fmt_shape(&self.hx.sizes),
                fmt_shape(&t.sizes)
            );
        }
        let mut all = vec![self.input, self.hx];
        all.extend(expected.iter().map(|(t, _, _)| *t));
        check_floating_alike(op, &all)
    }

    fn output_sizes(&self) -> [i64; 3] {
        [self.input.sizes[0], self.input.sizes[1], self.hidden()]
    }

    fn workspace_sizes(&self) -> [i64; 3] {
        let width = match self.params.mode {
            RnnMode::Gru => 4 * self.hidden(),
            RnnMode::Tanh | RnnMode::Relu => 0,
        };
        [self.input.sizes[0], self.input.sizes[1], width]
    }

    fn expect(&self, t: &TensorMeta, sizes: &[i64], what: &str) -> Result<()> {
        let op = self.op;
        ensure!(
            t.sizes == sizes,
            "{op}: expected {what} of shape {} for input {}, but got {}",
            fmt_shape(sizes),
            fmt_shape(&self.input.sizes),
            fmt_shape(&t.sizes)
        );
        Ok(())
    }
}

/// `rnn_layer(input, w_ih, w_hh, b_ih?, b_hh?, hx, mode, reverse)`: the output, hy and the
/// workspace, all contiguous.
pub fn forward(args: &Args, cx: &mut Ctx) -> Outputs {
    const OP: &str = "rnn_layer";
    args.at_most(8)?;
    let biases = biases(OP, args)?;
    let params = RnnLayerParams {
        mode: mode(OP, args.int(6)?)?,
        reverse: args.bool_or(7, false)?,
        has_biases: biases.is_some(),
    };
    let layer = Layer::new(OP, args, [0, 1, 2, 5], biases, params)?;
    let dtype = layer.input.dtype;
    let mut inputs = vec![layer.input.clone(), layer.w_ih.clone(), layer.w_hh.clone()];
    inputs.extend(layer.biases.into_iter().flatten().cloned());
    inputs.push(layer.hx.clone());
    let outs = vec![
        cx.empty_contiguous(&layer.output_sizes(), dtype)?,
        cx.empty_contiguous(&layer.hx.sizes, dtype)?,
        cx.empty_contiguous(&layer.workspace_sizes(), dtype)?,
    ];
    launch(cx, LibraryOp::RnnLayer(layer.params), &inputs, outs)
}

/// `rnn_layer_backward(grad_output?, grad_hy?, input, w_ih, w_hh, hx, output, workspace, mode,
/// reverse, has_biases)`: the gradients of the input, the two weights, the two biases (`None`
/// without biases) and hx; all `None` without a gradient.
pub fn backward(args: &Args, cx: &mut Ctx) -> Outputs {
    const OP: &str = "rnn_layer_backward";
    args.at_most(11)?;
    let has_biases = args.bool_or(10, true)?;
    let params = RnnLayerParams {
        mode: mode(OP, args.int(8)?)?,
        reverse: args.bool_or(9, false)?,
        has_biases,
    };
    let grads = [args.opt_tensor(0)?, args.opt_tensor(1)?];
    // The biases' gradients are the gates' summed: the backward needs no bias itself.
    let layer = Layer::new(OP, args, [2, 3, 4, 5], None, params)?;
    if grads.iter().all(Option::is_none) {
        return Ok(vec![Output::None; 6]);
    }
    let (output, workspace) = (args.tensor(6)?, args.tensor(7)?);
    layer.expect(output, &layer.output_sizes(), "output")?;
    layer.expect(workspace, &layer.workspace_sizes(), "workspace")?;
    let state = layer.hx.sizes.clone();
    let grad_sizes: [&[i64]; 2] = [&layer.output_sizes(), &state];
    for ((grad, sizes), what) in grads.iter().zip(grad_sizes).zip(["grad_output", "grad_hy"]) {
        if let Some(grad) = grad {
            layer.expect(grad, sizes, what)?;
        }
    }
    let mut inputs: Vec<TensorMeta> = grads.iter().flatten().map(|t| (*t).clone()).collect();
    inputs.extend(
        [
            layer.input,
            layer.w_ih,
            layer.w_hh,
            layer.hx,
            output,
            workspace,
        ]
        .map(Clone::clone),
    );
    check_floating_alike(OP, &inputs.iter().collect::<Vec<_>>())?;
    let dtype = layer.input.dtype;
    let mut outs = vec![
        cx.empty_contiguous(&layer.input.sizes, dtype)?,
        cx.empty_contiguous(&layer.w_ih.sizes, dtype)?,
        cx.empty_contiguous(&layer.w_hh.sizes, dtype)?,
    ];
    if has_biases {
        for _ in 0..2 {
            outs.push(cx.empty_contiguous(&[layer.w_hh.sizes[0]], dtype)?);
        }
    }
    outs.push(cx.empty_contiguous(&state, dtype)?);
    let op = LibraryOp::RnnLayerBackward((layer.params, grads[0].is_some(), grads[1].is_some()));
    let mut result = launch(cx, op, &inputs, outs)?;
    if !has_biases {
        result.splice(3..3, [Output::None, Output::None]);
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{arg, f32s, meta, run};
    use crate::types::{Arg, ErrorKind, Output};

    /// A GRU (mode 3) or RNN layer of hidden size 4 over 6 steps of a batch of 3 with 5
    /// features, with biases.
    fn forward_args(mode: i64, gates: i64) -> Vec<Arg> {
        let mut args: Vec<Arg> = [
            f32s(&[6, 3, 5], 1),
            f32s(&[4 * gates, 5], 2),
            f32s(&[4 * gates, 4], 3),
            f32s(&[4 * gates], 4),
            f32s(&[4 * gates], 5),
            f32s(&[3, 4], 6),
        ]
        .iter()
        .map(arg)
        .collect();
        args.extend([Arg::Integer(mode), Arg::Boolean(true)]);
        args
    }

    #[test]
    fn forward_shapes_the_workspace_by_mode_and_checks_the_weights() {
        let outputs = run("rnn_layer", "", forward_args(3, 3)).0.unwrap();
        assert_eq!(meta(&outputs, 0).sizes, vec![6, 3, 4]);
        assert_eq!(meta(&outputs, 2).sizes, vec![6, 3, 16]);
        let outputs = run("rnn_layer", "", forward_args(1, 1)).0.unwrap();
        assert_eq!(meta(&outputs, 2).sizes, vec![6, 3, 0]);
        let err = run("rnn_layer", "", forward_args(0, 3)).0.unwrap_err();
        assert!(
            err.message.contains("expected w_ih of shape [4, 5]"),
            "{}",
            err.message
        );
        let err = run("rnn_layer", "", forward_args(2, 4)).0.unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidValue);
    }

    #[test]
    fn backward_without_biases_or_gradients_leaves_them_out() {
        let forward = forward_args(3, 3);
        let mut args = vec![Arg::OptionalTensor(None), arg(&f32s(&[3, 4], 7))];
        args.extend(forward[..3].iter().cloned());
        args.push(forward[5].clone());
        args.extend([arg(&f32s(&[6, 3, 4], 8)), arg(&f32s(&[6, 3, 16], 9))]);
        args.extend([Arg::Integer(3), Arg::Boolean(false), Arg::Boolean(false)]);
        let outputs = run("rnn_layer_backward", "", args.clone()).0.unwrap();
        assert_eq!(meta(&outputs, 1).sizes, vec![12, 5]);
        assert_eq!(outputs[3..5], [Output::None, Output::None]);
        assert_eq!(meta(&outputs, 5).sizes, vec![3, 4]);
        args[1] = Arg::OptionalTensor(None);
        let outputs = run("rnn_layer_backward", "", args).0.unwrap();
        assert_eq!(outputs, vec![Output::None; 6]);
    }
}
