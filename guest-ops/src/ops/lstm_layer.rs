//! A whole LSTM layer over a sequence in one op: `mkldnn_rnn_layer` and its backward, the op
//! PyTorch's own CPU `nn.LSTM` calls per layer and direction (and whose autograd formula it
//! defines). On remote `aten::lstm` lowers to it too, so that a layer costs one op instead of
//! a dozen per step. The workspace is remote's own: each step's activated gates and cell state.

use crate::error::{ensure, Error, Result};
use crate::ops::args::Args;
use crate::ops::ctx::Ctx;
use crate::ops::library::launch;
use crate::ops::Outputs;
use crate::rules::dtype::check_floating_alike;
use crate::rules::shape::fmt_shape;
use crate::types::{LibraryOp, LstmLayerParams, Output, TensorMeta};

/// The `mode` of PyTorch's RNN code (cuDNN's numbering) for LSTM, the only one remote runs.
const LSTM_MODE: i64 = 2;

/// The checked operands of one layer: the input `[steps, batch, features]` (batch first when
/// the params say so), the weights, the biases if any, and the initial state `[batch, hidden]`.
struct Layer<'a> {
    op: &'static str,
    input: &'a TensorMeta,
    w_ih: &'a TensorMeta,
    w_hh: &'a TensorMeta,
    biases: Option<[&'a TensorMeta; 2]>,
    hx: &'a TensorMeta,
    cx: &'a TensorMeta,
    params: LstmLayerParams,
    steps: i64,
    batch: i64,
    hidden: i64,
}

/// Where a layer's arguments sit in the schema: the input, the four weights, hx and cx, then
/// `reverse`, `batch_sizes`, `mode`, `hidden_size`, `has_biases` and `batch_first`.
struct Positions {
    tensors: [usize; 7],
    reverse: usize,
    batch_sizes: usize,
    mode: usize,
    hidden_size: usize,
    has_biases: usize,
    batch_first: usize,
}

impl<'a> Layer<'a> {
    fn new(op: &'static str, args: &Args<'a>, at: &Positions) -> Result<Self> {
        let [input, w_ih, w_hh, b_ih, b_hh, hx, cx] = at.tensors.map(|i| args.tensor(i));
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
        let input = input?;
        ensure!(
            input.dim() == 3,
            "{op}: expected input to be 3-dimensional, but got a tensor of shape {}",
            fmt_shape(&input.sizes)
        );
        let params = LstmLayerParams {
            reverse: args.bool_or(at.reverse, false)?,
            batch_first: args.bool_or(at.batch_first, false)?,
            has_biases: args.bool_or(at.has_biases, true)?,
        };
        let (steps, batch) = match params.batch_first {
            true => (input.sizes[1], input.sizes[0]),
            false => (input.sizes[0], input.sizes[1]),
        };
        let layer = Layer {
            op,
            input,
            w_ih: w_ih?,
            w_hh: w_hh?,
            biases: match params.has_biases {
                true => Some([b_ih?, b_hh?]),
                false => None,
            },
            hx: hx?,
            cx: cx?,
            params,
            steps,
            batch,
            hidden: args.int(at.hidden_size)?,
        };
        layer.check()?;
        Ok(layer)
    }

    fn check(&self) -> Result<()> {
        let op = self.op;
        ensure!(
            self.steps > 0 && self.batch > 0 && self.hidden > 0,
            "{op}: expected a non-empty input and hidden size, but got input {} and hidden size {}",
            fmt_shape(&self.input.sizes),
            self.hidden
        );
        let (gates, features) = (4 * self.hidden, self.input.sizes[2]);
        let mut expected = vec![
            (self.w_ih, vec![gates, features], "weight_ih"),
            (self.w_hh, vec![gates, self.hidden], "weight_hh"),
            (self.hx, vec![self.batch, self.hidden], "hx"),
            (self.cx, vec![self.batch, self.hidden], "cx"),
        ];
        if let Some([b_ih, b_hh]) = self.biases {
            expected.extend([
                (b_ih, vec![gates], "bias_ih"),
                (b_hh, vec![gates], "bias_hh"),
            ]);
        }
        for (t, sizes, what) in &expected {
            ensure!(
                t.sizes == *sizes,
                "{op}: expected {what} of shape {} for input {} and hidden size {}, but got {}",
                fmt_shape(sizes),
                fmt_shape(&self.input.sizes),
                self.hidden,
                fmt_shape(&t.sizes)
            );
        }
        let mut all = vec![self.input];
        all.extend(expected.iter().map(|(t, _, _)| *t));
        check_floating_alike(op, &all)
    }

    /// The output's sizes: the input's, with `hidden` features.
    fn output_sizes(&self) -> [i64; 3] {
        [self.input.sizes[0], self.input.sizes[1], self.hidden]
    }

    fn workspace_sizes(&self) -> [i64; 3] {
        [self.steps, self.batch, 5 * self.hidden]
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

/// `mkldnn_rnn_layer(input, weight0..3, hx_, cx_, reverse, batch_sizes, mode, hidden_size,
/// num_layers, has_biases, bidirectional, batch_first, train)`: the output, hy, cy and the
/// workspace, all contiguous.
pub fn forward(args: &Args, cx: &mut Ctx) -> Outputs {
    const OP: &str = "mkldnn_rnn_layer";
    args.at_most(16)?;
    let positions = Positions {
        tensors: [0, 1, 2, 3, 4, 5, 6],
        reverse: 7,
        batch_sizes: 8,
        mode: 9,
        hidden_size: 10,
        has_biases: 12,
        batch_first: 14,
    };
    let layer = Layer::new(OP, args, &positions)?;
    let dtype = layer.input.dtype;
    let mut inputs = vec![layer.input.clone(), layer.w_ih.clone(), layer.w_hh.clone()];
    inputs.extend(layer.biases.into_iter().flatten().cloned());
    inputs.extend([layer.hx.clone(), layer.cx.clone()]);
    let outs = vec![
        cx.empty_contiguous(&layer.output_sizes(), dtype)?,
        cx.empty_contiguous(&layer.hx.sizes, dtype)?,
        cx.empty_contiguous(&layer.cx.sizes, dtype)?,
        cx.empty_contiguous(&layer.workspace_sizes(), dtype)?,
    ];
    launch(cx, LibraryOp::LstmLayer(layer.params), &inputs, outs)
}

/// `mkldnn_rnn_layer_backward(input, weight1..4, hx_, cx_tmp, output, hy_, cy_, grad_output?,
/// grad_hy?, grad_cy?, reverse, mode, hidden_size, num_layers, has_biases, train,
/// bidirectional, batch_sizes, batch_first, workspace)`: the gradients of the input, the two
/// weights, the two biases (`None` without biases), hx and cx; all `None` without a gradient.
pub fn backward(args: &Args, cx: &mut Ctx) -> Outputs {
    const OP: &str = "mkldnn_rnn_layer_backward";
    args.at_most(23)?;
    let positions = Positions {
        tensors: [0, 1, 2, 3, 4, 5, 6],
        reverse: 13,
        batch_sizes: 20,
        mode: 14,
        hidden_size: 15,
        has_biases: 17,
        batch_first: 21,
    };
    let layer = Layer::new(OP, args, &positions)?;
    let (output, workspace) = (args.tensor(7)?, args.tensor(22)?);
    let grads = [
        args.opt_tensor(10)?,
        args.opt_tensor(11)?,
        args.opt_tensor(12)?,
    ];
    if grads.iter().all(Option::is_none) {
        return Ok(vec![Output::None; 7]);
    }
    layer.expect(output, &layer.output_sizes(), "output")?;
    layer.expect(workspace, &layer.workspace_sizes(), "workspace")?;
    let state = [layer.batch, layer.hidden];
    let grad_sizes: [&[i64]; 3] = [&layer.output_sizes(), &state, &state];
    for ((grad, sizes), what) in
        grads
            .iter()
            .zip(grad_sizes)
            .zip(["grad_output", "grad_hy", "grad_cy"])
    {
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
            layer.cx,
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
    if layer.params.has_biases {
        for _ in 0..2 {
            outs.push(cx.empty_contiguous(&[4 * layer.hidden], dtype)?);
        }
    }
    outs.push(cx.empty_contiguous(&state, dtype)?);
    outs.push(cx.empty_contiguous(&state, dtype)?);
    let has_biases = layer.params.has_biases;
    let given = grads.map(|g| g.is_some());
    let op = LibraryOp::LstmLayerBackward((layer.params, given[0], given[1], given[2]));
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
    fn forward_shapes_the_output_and_workspace_and_checks_the_state() {
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
    fn backward_leaves_out_what_has_no_gradient() {
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
}
