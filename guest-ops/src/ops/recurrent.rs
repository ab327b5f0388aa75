//! The fused LSTM and GRU cells that `nn.LSTM`, `nn.GRU` and their cells call on an
//! accelerator (`_thnn_fused_lstm_cell`, `_thnn_fused_gru_cell`) and their backwards: the
//! checks and output layouts of PyTorch's CUDA kernels, one `library` kernel each.

use crate::error::{ensure, Result};
use crate::ops::args::Args;
use crate::ops::ctx::Ctx;
use crate::ops::library::launch;
use crate::ops::Outputs;
use crate::rules::dtype::check_floating_alike;
use crate::rules::shape::{fmt_shape, numel};
use crate::types::{LibraryOp, Output, TensorMeta};

/// The gates of a cell: `input-gates` and `hidden-gates` `[batch, factor * hidden]`, the
/// biases (`[factor * hidden]` each, or neither) and the previous state `[batch, hidden]`.
struct Cell<'a> {
    op: &'static str,
    input_gates: &'a TensorMeta,
    hidden_gates: &'a TensorMeta,
    biases: Option<(&'a TensorMeta, &'a TensorMeta)>,
    state: &'a TensorMeta,
}

impl<'a> Cell<'a> {
    /// Checks `input_gates, hidden_gates, state, input_bias?, hidden_bias?` as PyTorch's
    /// `checkSizes` does.
    fn new(op: &'static str, args: &Args<'a>, factor: i64) -> Result<Self> {
        args.at_most(5)?;
        let (input_gates, hidden_gates, state) =
            (args.tensor(0)?, args.tensor(1)?, args.tensor(2)?);
        let biases = match (args.opt_tensor(3)?, args.opt_tensor(4)?) {
            (Some(i), Some(h)) => Some((i, h)),
            (None, None) => None,
            _ => {
                return Err(crate::error::Error::invalid(format!(
                    "{op}: input_bias and hidden_bias must both be given or both be None"
                )))
            }
        };
        let cell = Cell {
            op,
            input_gates,
            hidden_gates,
            biases,
            state,
        };
        cell.check(factor)?;
        Ok(cell)
    }

    fn check(&self, factor: i64) -> Result<()> {
        let op = self.op;
        let gates = self.input_gates;
        check_dim(op, gates, 2, "input_gates")?;
        ensure!(
            self.hidden_gates.sizes == gates.sizes,
            "{op}: input_gates {} and hidden_gates {} must have the same size",
            fmt_shape(&gates.sizes),
            fmt_shape(&self.hidden_gates.sizes)
        );
        let width = gates.sizes[1];
        if let Some((input_bias, hidden_bias)) = self.biases {
            check_dim(op, input_bias, 1, "input_bias")?;
            ensure!(
                numel(&input_bias.sizes)? == width && hidden_bias.sizes == input_bias.sizes,
                "{op}: the biases {} and {} must both have the input_gates' {width} elements",
                fmt_shape(&input_bias.sizes),
                fmt_shape(&hidden_bias.sizes)
            );
        }
        check_dim(op, self.state, 2, "the previous state")?;
        ensure!(
            width % factor == 0 && self.state.sizes == [gates.sizes[0], width / factor],
            "{op}: the previous state {} must be [batch, hidden] for gates {} of {factor} \
             gates each",
            fmt_shape(&self.state.sizes),
            fmt_shape(&gates.sizes)
        );
        check_floating_alike(op, &self.inputs().iter().collect::<Vec<_>>())
    }

    /// The inputs of the `library` kernel: gates, state, then the biases if any.
    fn inputs(&self) -> Vec<TensorMeta> {
        let mut inputs = vec![
            self.input_gates.clone(),
            self.hidden_gates.clone(),
            self.state.clone(),
        ];
        if let Some((i, h)) = self.biases {
            inputs.extend([i.clone(), h.clone()]);
        }
        inputs
    }
}

fn check_dim(op: &str, t: &TensorMeta, dim: usize, what: &str) -> Result<()> {
    ensure!(
        t.dim() == dim,
        "{op}: expected {what} to be {dim}-dimensional, but got a tensor of shape {}",
        fmt_shape(&t.sizes)
    );
    Ok(())
}

/// `_thnn_fused_lstm_cell(input_gates, hidden_gates, cx, input_bias?, hidden_bias?)`:
/// `hy` and `cy` laid out like `cx`, and the activated gates laid out like `input_gates`.
pub fn lstm_cell(args: &Args, cx: &mut Ctx) -> Outputs {
    let cell = Cell::new("_thnn_fused_lstm_cell", args, 4)?;
    let hy = cx.empty_like(cell.state)?;
    let cy = cx.empty_like(cell.state)?;
    let workspace = cx.empty_like(cell.input_gates)?;
    launch(
        cx,
        LibraryOp::LstmCell,
        &cell.inputs(),
        vec![hy, cy, workspace],
    )
}

/// `_thnn_fused_lstm_cell_backward_impl(grad_hy?, grad_cy?, cx, cy, workspace, has_bias)`:
/// the gates' gradient, `cx`'s, and the biases' (`None` without `has_bias`); all `None`
/// when neither gradient is given.
pub fn lstm_cell_backward(args: &Args, cx: &mut Ctx) -> Outputs {
    const OP: &str = "_thnn_fused_lstm_cell_backward_impl";
    args.at_most(6)?;
    let (grad_hy, grad_cy) = (args.opt_tensor(0)?, args.opt_tensor(1)?);
    let (c, cy, workspace) = (args.tensor(2)?, args.tensor(3)?, args.tensor(4)?);
    let has_bias = args.bool_or(5, false)?;
    if grad_hy.is_none() && grad_cy.is_none() {
        return Ok(vec![Output::None, Output::None, Output::None]);
    }
    check_dim(OP, workspace, 2, "workspace")?;
    let state = [workspace.sizes[0], workspace.sizes[1] / 4];
    for (t, what) in [
        (Some(c), "cx"),
        (Some(cy), "cy"),
        (grad_hy, "grad_hy"),
        (grad_cy, "grad_cy"),
    ] {
        if let Some(t) = t {
            ensure!(
                t.sizes == state && workspace.sizes[1] % 4 == 0,
                "{OP}: {what} {} must be [batch, hidden] for the workspace {}",
                fmt_shape(&t.sizes),
                fmt_shape(&workspace.sizes)
            );
        }
    }
    let mut inputs: Vec<TensorMeta> = [grad_hy, grad_cy].into_iter().flatten().cloned().collect();
    inputs.extend([c.clone(), cy.clone(), workspace.clone()]);
    check_floating_alike(OP, &inputs.iter().collect::<Vec<_>>())?;
    let grad_gates = cx.empty_like(workspace)?;
    let grad_cx = cx.empty_like(c)?;
    let mut outs = vec![grad_gates, grad_cx];
    if has_bias {
        outs.push(cx.empty_contiguous(&workspace.sizes[1..], workspace.dtype)?);
    }
    let op = LibraryOp::LstmCellBackward((grad_hy.is_some(), grad_cy.is_some(), has_bias));
    let mut result = launch(cx, op, &inputs, outs)?;
    result.resize(3, Output::None);
    Ok(result)
}

/// `_thnn_fused_gru_cell(input_gates, hidden_gates, hx, input_bias?, hidden_bias?)`: `hy`
/// laid out like `hx`, and a contiguous `[batch, 5 * hidden]` workspace.
pub fn gru_cell(args: &Args, cx: &mut Ctx) -> Outputs {
    let cell = Cell::new("_thnn_fused_gru_cell", args, 3)?;
    let hy = cx.empty_like(cell.state)?;
    let (batch, hidden) = (cell.state.sizes[0], cell.state.sizes[1]);
    let workspace = cx.empty_contiguous(&[batch, 5 * hidden], cell.state.dtype)?;
    launch(cx, LibraryOp::GruCell, &cell.inputs(), vec![hy, workspace])
}

/// `_thnn_fused_gru_cell_backward(grad_hy, workspace, has_bias)`: the gradients of the input
/// gates, the hidden gates and `hx`, then of the two biases (`None` without `has_bias`).
pub fn gru_cell_backward(args: &Args, cx: &mut Ctx) -> Outputs {
    const OP: &str = "_thnn_fused_gru_cell_backward";
    args.at_most(3)?;
    let (grad_hy, workspace) = (args.tensor(0)?, args.tensor(1)?);
    let has_bias = args.bool_or(2, false)?;
    check_dim(OP, grad_hy, 2, "grad_hy")?;
    let (batch, hidden) = (grad_hy.sizes[0], grad_hy.sizes[1]);
    ensure!(
        workspace.sizes == [batch, 5 * hidden],
        "{OP}: the workspace {} must be [batch, 5 * hidden] for grad_hy {}",
        fmt_shape(&workspace.sizes),
        fmt_shape(&grad_hy.sizes)
    );
    let inputs = [grad_hy.clone(), workspace.clone()];
    check_floating_alike(OP, &inputs.iter().collect::<Vec<_>>())?;
    let dtype = grad_hy.dtype;
    let mut outs = vec![
        cx.empty_contiguous(&[batch, 3 * hidden], dtype)?,
        cx.empty_contiguous(&[batch, 3 * hidden], dtype)?,
        cx.empty_contiguous(&grad_hy.sizes, dtype)?,
    ];
    if has_bias {
        for _ in 0..2 {
            outs.push(cx.empty_contiguous(&[3 * hidden], dtype)?);
        }
    }
    let mut result = launch(cx, LibraryOp::GruCellBackward(has_bias), &inputs, outs)?;
    result.resize(5, Output::None);
    Ok(result)
}
