//! Whole recurrent layers over a sequence, one op each, which `aten::lstm`, `aten::gru`,
//! `aten::rnn_tanh` and `aten::rnn_relu` lower to on remote instead of a dozen ops per step:
//! an LSTM layer is `mkldnn_rnn_layer`, the op PyTorch's own CPU `nn.LSTM` calls (with
//! PyTorch's autograd formula); a GRU or RNN layer is remote's `torch_remote::rnn_layer`
//! (PyTorch has none outside cuDNN's). The workspaces are remote's own: an LSTM's gates and
//! cell state at each step, a GRU's gates; an RNN needs none beyond its output.

use crate::error::{ensure, Error, Result};
use crate::ops::args::Args;
use crate::ops::ctx::Ctx;
use crate::ops::library::launch;
use crate::ops::Outputs;
use crate::rules::dtype::check_floating_alike;
use crate::rules::shape::fmt_shape;
use crate::types::{LibraryOp, LstmLayerParams, Output, RnnLayerParams, RnnMode, TensorMeta};

/// PyTorch's RNN code numbers the modes as cuDNN does.
const LSTM_MODE: i64 = 2;

/// The checked operands of one layer: the input `[steps, batch, features]` (`[batch, steps,
/// features]` when batch first), the weights, the biases if any, and the initial states
/// `[batch, hidden]` (an LSTM's two, one otherwise).
struct Layer<'a> {
    op: &'static str,
    input: &'a TensorMeta,
    w_ih: &'a TensorMeta,
    w_hh: &'a TensorMeta,
    biases: Option<[&'a TensorMeta; 2]>,
    hx: &'a TensorMeta,
    cx: Option<&'a TensorMeta>,
    /// The gates the weights project onto: 4 for an LSTM, 3 for a GRU, 1 for an RNN.
    gates: i64,
    /// The `[batch, hidden]` parts of the workspace at each step.
    saved_parts: i64,
    batch_first: bool,
    hidden: i64,
}

impl<'a> Layer<'a> {
    fn steps_and_batch(&self) -> (i64, i64) {
        let sizes = &self.input.sizes;
        match self.batch_first {
            true => (sizes[1], sizes[0]),
            false => (sizes[0], sizes[1]),
        }
    }

    fn check(&self) -> Result<()> {
        let (op, input) = (self.op, &self.input.sizes);
        ensure!(
            input.len() == 3 && input.iter().all(|&n| n > 0) && self.hidden > 0,
            "{op}: expected a non-empty 3-dimensional input and a hidden size, but got input {} \
             and hidden size {}",
            fmt_shape(input),
            self.hidden
        );
        let (width, state) = (self.gates * self.hidden, self.state_sizes());
        let mut expected = vec![
            (self.w_ih, vec![width, input[2]], "w_ih"),
            (self.w_hh, vec![width, self.hidden], "w_hh"),
            (self.hx, state.to_vec(), "hx"),
        ];
        expected.extend(self.cx.map(|cx| (cx, state.to_vec(), "cx")));
        if let Some([b_ih, b_hh]) = self.biases {
            expected.extend([(b_ih, vec![width], "b_ih"), (b_hh, vec![width], "b_hh")]);
        }
        for (t, sizes, what) in &expected {
            self.expect(t, sizes, what)?;
        }
        let mut all = vec![self.input];
        all.extend(expected.iter().map(|(t, _, _)| *t));
        check_floating_alike(op, &all)
    }

    fn state_sizes(&self) -> [i64; 2] {
        [self.steps_and_batch().1, self.hidden]
    }

    /// The output's sizes: the input's, with `hidden` features.
    fn output_sizes(&self) -> [i64; 3] {
        [self.input.sizes[0], self.input.sizes[1], self.hidden]
    }

    fn workspace_sizes(&self) -> [i64; 3] {
        let (steps, batch) = self.steps_and_batch();
        [steps, batch, self.saved_parts * self.hidden]
    }

    fn expect(&self, t: &TensorMeta, sizes: &[i64], what: &str) -> Result<()> {
        let op = self.op;
        ensure!(
            t.sizes == sizes,
            "{op}: expected {what} of shape {} for input {} and hidden size {}, but got {}",
            fmt_shape(sizes),
            fmt_shape(&self.input.sizes),
            self.hidden,
            fmt_shape(&t.sizes)
        );
        Ok(())
    }

    /// The forward's results: the output, the final states and the workspace.
    fn forward(&self, cx: &mut Ctx, op: LibraryOp) -> Outputs {
        let dtype = self.input.dtype;
        let mut inputs = vec![self.input.clone(), self.w_ih.clone(), self.w_hh.clone()];
        inputs.extend(self.biases.into_iter().flatten().cloned());
        inputs.extend([Some(self.hx), self.cx].into_iter().flatten().cloned());
        let mut outs = vec![cx.empty_contiguous(&self.output_sizes(), dtype)?];
        for _ in 0..1 + usize::from(self.cx.is_some()) {
            outs.push(cx.empty_contiguous(&self.state_sizes(), dtype)?);
        }
        outs.push(cx.empty_contiguous(&self.workspace_sizes(), dtype)?);
        launch(cx, op, &inputs, outs)
    }

    /// The backward's results from the gradients of the output and the final states (in
    /// that order, each `None` where there is none): the gradients of the input, the two
    /// weights, the two biases (`None` without biases) and the initial states; all `None`
    /// without any gradient.
    fn backward(
        &self,
        cx: &mut Ctx,
        grads: &[Option<&TensorMeta>],
        [output, workspace]: [&TensorMeta; 2],
        has_biases: bool,
        op: LibraryOp,
    ) -> Outputs {
        let states = 1 + usize::from(self.cx.is_some());
        if grads.iter().all(Option::is_none) {
            return Ok(vec![Output::None; 5 + states]);
        }
        self.expect(output, &self.output_sizes(), "output")?;
        self.expect(workspace, &self.workspace_sizes(), "workspace")?;
        let state = self.state_sizes();
        let grad_sizes = [&self.output_sizes()[..], &state, &state];
        let names = ["grad_output", "grad_hy", "grad_cy"];
        for ((grad, sizes), what) in grads.iter().zip(grad_sizes).zip(names) {
            if let Some(grad) = grad {
                self.expect(grad, sizes, what)?;
            }
        }
        let mut inputs: Vec<TensorMeta> = grads.iter().flatten().map(|t| (*t).clone()).collect();
        inputs.extend([self.input, self.w_ih, self.w_hh, self.hx].map(Clone::clone));
        inputs.extend(self.cx.cloned());
        inputs.extend([output.clone(), workspace.clone()]);
        check_floating_alike(self.op, &inputs.iter().collect::<Vec<_>>())?;
        let dtype = self.input.dtype;
        let mut outs = vec![
            cx.empty_contiguous(&self.input.sizes, dtype)?,
            cx.empty_contiguous(&self.w_ih.sizes, dtype)?,
            cx.empty_contiguous(&self.w_hh.sizes, dtype)?,
        ];
        if has_biases {
            for _ in 0..2 {
                outs.push(cx.empty_contiguous(&[self.gates * self.hidden], dtype)?);
            }
        }
        for _ in 0..states {
            outs.push(cx.empty_contiguous(&state, dtype)?);
        }
        let mut result = launch(cx, op, &inputs, outs)?;
        if !has_biases {
            result.splice(3..3, [Output::None, Output::None]);
        }
        Ok(result)
    }
}

/// Both biases or neither, at `at` and the next position.
fn biases<'a>(op: &str, args: &Args<'a>, at: usize) -> Result<Option<[&'a TensorMeta; 2]>> {
    match (args.opt_tensor(at)?, args.opt_tensor(at + 1)?) {
        (Some(i), Some(h)) => Ok(Some([i, h])),
        (None, None) => Ok(None),
        _ => Err(Error::invalid(format!(
            "{op}: b_ih and b_hh must both be given or both be None"
        ))),
    }
}

/// Where an `mkldnn_rnn_layer` op's arguments sit: the input, the four weights, hx and cx,
/// then `reverse`, `batch_sizes`, `mode`, `hidden_size`, `has_biases` and `batch_first`.
struct LstmPositions {
    reverse: usize,
    batch_sizes: usize,
    mode: usize,
    hidden_size: usize,
    has_biases: usize,
    batch_first: usize,
}

/// The LSTM layer of an `mkldnn_rnn_layer` op, and its flags.
fn lstm_layer<'a>(
    op: &'static str,
    args: &Args<'a>,
    at: LstmPositions,
) -> Result<(Layer<'a>, LstmLayerParams)> {
    let mode = args.int(at.mode)?;
    if mode != LSTM_MODE {
        return Err(Error::unsupported(format!(
            "{op}: remote runs LSTM layers (mode {LSTM_MODE}) only, not mode {mode}"
        )));
    }
    if !args.int_list(at.batch_sizes)?.is_empty() {
        return Err(Error::unsupported(format!(
            "{op}: remote does not run packed sequences (batch_sizes) in one layer op"
        )));
    }
    let params = LstmLayerParams {
        reverse: args.bool_or(at.reverse, false)?,
        batch_first: args.bool_or(at.batch_first, false)?,
        has_biases: args.bool_or(at.has_biases, true)?,
    };
    let layer = Layer {
        op,
        input: args.tensor(0)?,
        w_ih: args.tensor(1)?,
        w_hh: args.tensor(2)?,
        biases: match params.has_biases {
            true => Some([args.tensor(3)?, args.tensor(4)?]),
            false => None,
        },
        hx: args.tensor(5)?,
        cx: Some(args.tensor(6)?),
        gates: 4,
        saved_parts: 5,
        batch_first: params.batch_first,
        hidden: args.int(at.hidden_size)?,
    };
    layer.check()?;
    Ok((layer, params))
}

/// `mkldnn_rnn_layer(input, weight0..3, hx_, cx_, reverse, batch_sizes, mode, hidden_size,
/// num_layers, has_biases, bidirectional, batch_first, train)`: the output, hy, cy and the
/// workspace, all contiguous.
pub fn lstm(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(16)?;
    let at = LstmPositions {
        reverse: 7,
        batch_sizes: 8,
        mode: 9,
        hidden_size: 10,
        has_biases: 12,
        batch_first: 14,
    };
    let (layer, params) = lstm_layer("mkldnn_rnn_layer", args, at)?;
    layer.forward(cx, LibraryOp::LstmLayer(params))
}

/// `mkldnn_rnn_layer_backward(input, weight1..4, hx_, cx_tmp, output, hy_, cy_, grad_output?,
/// grad_hy?, grad_cy?, reverse, mode, hidden_size, num_layers, has_biases, train,
/// bidirectional, batch_sizes, batch_first, workspace)`.
pub fn lstm_backward(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(23)?;
    let at = LstmPositions {
        reverse: 13,
        batch_sizes: 20,
        mode: 14,
        hidden_size: 15,
        has_biases: 17,
        batch_first: 21,
    };
    let (layer, params) = lstm_layer("mkldnn_rnn_layer_backward", args, at)?;
    let grads = [
        args.opt_tensor(10)?,
        args.opt_tensor(11)?,
        args.opt_tensor(12)?,
    ];
    let given = grads.map(|g| g.is_some());
    let op = LibraryOp::LstmLayerBackward((params, given[0], given[1], given[2]));
    let saved = [args.tensor(7)?, args.tensor(22)?];
    layer.backward(cx, &grads, saved, params.has_biases, op)
}

fn rnn_mode(op: &str, mode: i64) -> Result<RnnMode> {
    match mode {
        0 => Ok(RnnMode::Relu),
        1 => Ok(RnnMode::Tanh),
        3 => Ok(RnnMode::Gru),
        _ => Err(Error::value(format!(
            "{op}: expected mode 0 (RNN_RELU), 1 (RNN_TANH) or 3 (GRU), but got {mode}"
        ))),
    }
}

/// The GRU or RNN layer of an `rnn_layer` op: the input, the weights and hx at `at`, the
/// biases as given.
fn rnn_layer<'a>(
    op: &'static str,
    args: &Args<'a>,
    [input, w_ih, w_hh, hx]: [usize; 4],
    biases: Option<[&'a TensorMeta; 2]>,
    mode: RnnMode,
) -> Result<Layer<'a>> {
    let (gates, saved_parts) = match mode {
        RnnMode::Gru => (3, 4),
        RnnMode::Tanh | RnnMode::Relu => (1, 0),
    };
    let hx = args.tensor(hx)?;
    let layer = Layer {
        op,
        input: args.tensor(input)?,
        w_ih: args.tensor(w_ih)?,
        w_hh: args.tensor(w_hh)?,
        biases,
        hx,
        cx: None,
        gates,
        saved_parts,
        batch_first: false,
        hidden: hx.sizes.get(1).copied().unwrap_or(0),
    };
    layer.check()?;
    Ok(layer)
}

/// `rnn_layer(input, w_ih, w_hh, b_ih?, b_hh?, hx, mode, reverse)`: the output, hy and the
/// workspace, all contiguous.
pub fn rnn(args: &Args, cx: &mut Ctx) -> Outputs {
    const OP: &str = "rnn_layer";
    args.at_most(8)?;
    let biases = biases(OP, args, 3)?;
    let params = RnnLayerParams {
        mode: rnn_mode(OP, args.int(6)?)?,
        reverse: args.bool_or(7, false)?,
        has_biases: biases.is_some(),
    };
    let layer = rnn_layer(OP, args, [0, 1, 2, 5], biases, params.mode)?;
    layer.forward(cx, LibraryOp::RnnLayer(params))
}

/// `rnn_layer_backward(grad_output?, grad_hy?, input, w_ih, w_hh, hx, output, workspace, mode,
/// reverse, has_biases)`. The biases' gradients are the gates' summed: it takes no biases.
pub fn rnn_backward(args: &Args, cx: &mut Ctx) -> Outputs {
    const OP: &str = "rnn_layer_backward";
    args.at_most(11)?;
    let params = RnnLayerParams {
        mode: rnn_mode(OP, args.int(8)?)?,
        reverse: args.bool_or(9, false)?,
        has_biases: args.bool_or(10, true)?,
    };
    let layer = rnn_layer(OP, args, [2, 3, 4, 5], None, params.mode)?;
    let grads = [args.opt_tensor(0)?, args.opt_tensor(1)?];
    let op = LibraryOp::RnnLayerBackward((params, grads[0].is_some(), grads[1].is_some()));
    let saved = [args.tensor(6)?, args.tensor(7)?];
    layer.backward(cx, &grads, saved, params.has_biases, op)
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{arg, f32s, meta, run};
    use crate::types::{Arg, ErrorKind, Output};

    /// A layer of hidden size 4 over 6 steps of a batch of 3 with 5 features, batch first.
    fn forward_args(mode: i64, cx_rows: i64) -> Vec<Arg> {
        let mut args: Vec<Arg> = [
            f32s(&[3, 6, 5], 1),
            f32s(&[16, 5], 2),
            f32s(&[16, 4], 3),
            f32s(&[0], 4),
            f32s(&[0], 5),
            f32s(&[3, 4], 6),
            f32s(&[cx_rows, 4], 7),
        ]
        .iter()
        .map(arg)
        .collect();
        args.extend([
            Arg::Boolean(true),
            Arg::IntList(vec![]),
            Arg::Integer(mode),
            Arg::Integer(4),
            Arg::Integer(1),
            Arg::Boolean(false),
            Arg::Boolean(false),
            Arg::Boolean(true),
            Arg::Boolean(true),
        ]);
        args
    }

    #[test]
    fn lstm_shapes_the_output_and_workspace_and_checks_the_state() {
        let outputs = run("mkldnn_rnn_layer", "", forward_args(2, 3)).0.unwrap();
        assert_eq!(meta(&outputs, 0).sizes, vec![3, 6, 4]);
        assert_eq!(meta(&outputs, 2).sizes, vec![3, 4]);
        assert_eq!(meta(&outputs, 3).sizes, vec![6, 3, 20]);
        let err = run("mkldnn_rnn_layer", "", forward_args(2, 2))
            .0
            .unwrap_err();
        assert!(
            err.message.contains("expected cx of shape [3, 4]"),
            "{}",
            err.message
        );
        let err = run("mkldnn_rnn_layer", "", forward_args(3, 3))
            .0
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::NotImplemented);
    }

    #[test]
    fn lstm_backward_leaves_out_what_has_no_gradient() {
        let forward = forward_args(2, 3);
        let grad_hy = Arg::OptionalTensor(Some(f32s(&[3, 4], 9)));
        let mut args: Vec<Arg> = forward[..7].to_vec();
        args.extend([
            arg(&f32s(&[3, 6, 4], 8)),
            arg(&f32s(&[3, 4], 10)),
            arg(&f32s(&[3, 4], 11)),
        ]);
        args.extend([
            Arg::OptionalTensor(None),
            grad_hy,
            Arg::OptionalTensor(None),
        ]);
        args.extend([
            Arg::Boolean(true),
            Arg::Integer(2),
            Arg::Integer(4),
            Arg::Integer(1),
            Arg::Boolean(false),
        ]);
        args.extend([
            Arg::Boolean(true),
            Arg::Boolean(false),
            Arg::IntList(vec![]),
            Arg::Boolean(true),
        ]);
        args.push(arg(&f32s(&[6, 3, 20], 12)));
        let outputs = run("mkldnn_rnn_layer_backward", "", args.clone())
            .0
            .unwrap();
        assert_eq!(meta(&outputs, 0).sizes, vec![3, 6, 5]);
        assert_eq!(meta(&outputs, 2).sizes, vec![16, 4]);
        assert_eq!(outputs[3..5], [Output::None, Output::None]);
        assert_eq!(meta(&outputs, 6).sizes, vec![3, 4]);
        args[11] = Arg::OptionalTensor(None);
        let outputs = run("mkldnn_rnn_layer_backward", "", args).0.unwrap();
        assert_eq!(outputs, vec![Output::None; 7]);
    }

    /// A GRU (mode 3) or RNN layer of hidden size 4 over 6 steps of a batch of 3 with 5
    /// features, with biases.
    fn rnn_args(mode: i64, gates: i64) -> Vec<Arg> {
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
    fn rnn_shapes_the_workspace_by_mode_and_checks_the_weights() {
        let outputs = run("torch_remote::rnn_layer", "", rnn_args(3, 3))
            .0
            .unwrap();
        assert_eq!(meta(&outputs, 0).sizes, vec![6, 3, 4]);
        assert_eq!(meta(&outputs, 2).sizes, vec![6, 3, 16]);
        let outputs = run("torch_remote::rnn_layer", "", rnn_args(1, 1))
            .0
            .unwrap();
        assert_eq!(meta(&outputs, 2).sizes, vec![6, 3, 0]);
        let err = run("torch_remote::rnn_layer", "", rnn_args(0, 3))
            .0
            .unwrap_err();
        assert!(
            err.message.contains("expected w_ih of shape [4, 5]"),
            "{}",
            err.message
        );
        let err = run("torch_remote::rnn_layer", "", rnn_args(2, 4))
            .0
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidValue);
    }

    #[test]
    fn rnn_backward_without_biases_or_gradients_leaves_them_out() {
        let forward = rnn_args(3, 3);
        let mut args = vec![Arg::OptionalTensor(None), arg(&f32s(&[3, 4], 7))];
        args.extend(forward[..3].iter().cloned());
        args.push(forward[5].clone());
        args.extend([arg(&f32s(&[6, 3, 4], 8)), arg(&f32s(&[6, 3, 16], 9))]);
        args.extend([Arg::Integer(3), Arg::Boolean(false), Arg::Boolean(false)]);
        let outputs = run("torch_remote::rnn_layer_backward", "", args.clone())
            .0
            .unwrap();
        assert_eq!(meta(&outputs, 1).sizes, vec![12, 5]);
        assert_eq!(outputs[3..5], [Output::None, Output::None]);
        assert_eq!(meta(&outputs, 5).sizes, vec![3, 4]);
        args[1] = Arg::OptionalTensor(None);
        let outputs = run("torch_remote::rnn_layer_backward", "", args).0.unwrap();
        assert_eq!(outputs, vec![Output::None; 6]);
    }
}
