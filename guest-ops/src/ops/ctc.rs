//! The connectionist temporal classification loss: `_ctc_loss` and its backward, with the
//! checks of PyTorch's CPU kernel. Lengths arrive as int lists (`ctc_loss` reads length
//! tensors on the CPU first, as the extension's kernels of the `.Tensor` overloads do), so
//! every shape is known here; the host's libtorch computes.

use crate::error::{ensure, ensure_kernel, Result};
use crate::ops::args::Args;
use crate::ops::ctx::Ctx;
use crate::ops::library::launch;
use crate::ops::tensor_arg::{check_dim, check_scalar_types, TensorArg};
use crate::ops::Outputs;
use crate::rules::shape::numel;
use crate::types::{CtcParams, LibraryOp, ScalarType, TensorMeta};

/// Where the CPU checks the arguments, as argument errors name it.
const CHECKED: &str = "ctc_loss_allocate_outputs";

/// Where an op's CTC arguments are: the input lengths (the target lengths follow them), the
/// blank and `zero_infinity`.
struct Positions {
    lengths: usize,
    blank: usize,
    zero_infinity: usize,
}

/// The dtype dispatch of the CPU kernel named `kernel`, its first check.
fn check_dtype(log_probs: &TensorMeta, kernel: &str) -> Result<()> {
    ensure_kernel!(
        matches!(log_probs.dtype, ScalarType::Float32 | ScalarType::Float64),
        "\"{kernel}\" not implemented for '{}'",
        log_probs.dtype.name()
    );
    Ok(())
}

/// The lengths, blank and `zero_infinity` of a `_ctc_loss` or its backward, checked against
/// the tensors as PyTorch's CPU kernel checks them. Returns them with the longest target.
fn params(
    args: &Args,
    at: Positions,
    log_probs: &TensorMeta,
    targets: &TensorMeta,
) -> Result<(CtcParams, i64)> {
    // The CPU runs its long kernel for long targets and its int kernel for any other.
    if targets.dtype != ScalarType::Int64 {
        let arg = TensorArg::new(targets, "targets", 2);
        check_scalar_types(CHECKED, arg, &[ScalarType::Int32])?;
    }
    check_dim(CHECKED, TensorArg::new(log_probs, "log_probs", 1), 3)?;
    ensure!(
        (1..=2).contains(&targets.dim()),
        "Expected 1 to 2 dimensions, but got {}-dimensional tensor for argument #2 'targets' \
         (while checking arguments for {CHECKED})",
        targets.dim()
    );
    let (max_input, batch, labels) = (log_probs.sizes[0], log_probs.sizes[1], log_probs.sizes[2]);
    let input_lengths = args.int_list(at.lengths)?.to_vec();
    let target_lengths = args.int_list(at.lengths + 1)?.to_vec();
    let blank = args.int_or(at.blank, 0)?;
    ensure!((0..labels).contains(&blank), "blank must be in label range");
    ensure!(
        input_lengths.len() as i64 == batch,
        "input_lengths must be of size batch_size"
    );
    ensure!(
        target_lengths.len() as i64 == batch,
        "target_lengths must be of size batch_size"
    );
    let negative = |what: &str, v: i64| {
        format!("Expected {what} to have value at least 0, but got value {v} (while checking arguments for {CHECKED})")
    };
    for &len in &target_lengths {
        ensure!(len >= 0, "{}", negative("target_lengths", len));
    }
    let max_target = target_lengths.iter().copied().max().unwrap_or(0);
    if targets.dim() == 1 {
        let total: i64 = target_lengths.iter().sum();
        ensure!(
            targets.sizes[0] == total,
            "Expected tensor to have size {total} at dimension 0, but got size {} for argument #2 \
             'targets' (while checking arguments for {CHECKED})",
            targets.sizes[0]
        );
    } else {
        ensure!(
            targets.sizes[0] == batch,
            "Expected tensor to have size {batch} at dimension 0, but got size {} for argument #2 \
             'targets' (while checking arguments for {CHECKED})",
            targets.sizes[0]
        );
        ensure!(
            targets.sizes[1] >= max_target,
            "Expected tensor to have size at least {max_target} at dimension 1, but got size {} \
             for argument #2 'targets' (while checking arguments for {CHECKED})",
            targets.sizes[1]
        );
    }
    for &len in &input_lengths {
        ensure!(len >= 0, "{}", negative("input_lengths", len));
        ensure!(
            len <= max_input,
            "Expected input_lengths to have value at most {max_input}, but got value {len} \
             (while checking arguments for {CHECKED})"
        );
    }
    let zero_infinity = args.bool_or(at.zero_infinity, false)?;
    let params = CtcParams {
        input_lengths,
        target_lengths,
        blank,
        zero_infinity,
    };
    Ok((params, max_target))
}

/// `_ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0,
/// zero_infinity=False)`: each sequence's negative log likelihood, and the forward
/// variables `[batch, time, 2 * longest target + 1]` its backward reuses.
pub fn forward(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(6)?;
    let (log_probs, targets) = (args.tensor(0)?, args.tensor(1)?);
    let at = Positions {
        lengths: 2,
        blank: 4,
        zero_infinity: 5,
    };
    check_dtype(log_probs, "ctc_loss_cpu")?;
    ensure!(
        numel(&log_probs.sizes)? > 0,
        "log_probs tensor must not be empty"
    );
    let (params, max_target) = params(args, at, log_probs, targets)?;
    let (time, batch) = (log_probs.sizes[0], log_probs.sizes[1]);
    let nll = cx.empty_contiguous(&[batch], log_probs.dtype)?;
    let log_alpha = cx.empty_contiguous(&[batch, time, 2 * max_target + 1], log_probs.dtype)?;
    let inputs = [log_probs.clone(), targets.clone()];
    launch(
        cx,
        LibraryOp::CtcLoss(params),
        &inputs,
        vec![nll, log_alpha],
    )
}

/// `_ctc_loss_backward(grad, log_probs, targets, input_lengths, target_lengths,
/// neg_log_likelihood, log_alpha, blank, zero_infinity=False)`: the gradient of
/// `log_probs`, laid out contiguously.
pub fn backward(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(9)?;
    let (grad, log_probs, targets) = (args.tensor(0)?, args.tensor(1)?, args.tensor(2)?);
    let (nll, log_alpha) = (args.tensor(5)?, args.tensor(6)?);
    let at = Positions {
        lengths: 3,
        blank: 7,
        zero_infinity: 8,
    };
    check_dtype(log_probs, "ctc_loss_backward_cpu")?;
    let (params, _) = params(args, at, log_probs, targets)?;
    let batch = log_probs.sizes[1];
    ensure!(
        grad.sizes == [batch] && nll.sizes == [batch] && log_alpha.dim() == 3,
        "_ctc_loss_backward: expected grad and neg_log_likelihood of size [{batch}] and a 3-d \
         log_alpha, but got {}, {} and {}",
        grad.describe(),
        nll.describe(),
        log_alpha.describe()
    );
    let out = cx.empty_contiguous(&log_probs.sizes, log_probs.dtype)?;
    let inputs = [grad, log_probs, targets, nll, log_alpha].map(TensorMeta::clone);
    launch(cx, LibraryOp::CtcLossBackward(params), &inputs, vec![out])
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{arg, f32s, geometry, meta, run, tensor};
    use crate::types::{Arg, ScalarType};

    fn lengths(v: &[i64]) -> Arg {
        Arg::IntList(v.to_vec())
    }

    #[test]
    fn forward_shapes_follow_the_longest_target() {
        let log_probs = f32s(&[7, 3, 5], 1);
        let targets = tensor(&[3, 4], ScalarType::Int64, 2);
        let args = vec![
            arg(&log_probs),
            arg(&targets),
            lengths(&[7, 6, 5]),
            lengths(&[2, 4, 1]),
        ];
        let (res, fake) = run("_ctc_loss", "", args);
        let outputs = res.unwrap();
        assert_eq!(
            geometry(&meta(&outputs, 0)),
            (vec![3], vec![1], 0, ScalarType::Float32)
        );
        assert_eq!(
            geometry(&meta(&outputs, 1)),
            (vec![3, 7, 9], vec![63, 9, 1], 0, ScalarType::Float32)
        );
        assert_eq!(fake.kernels(), vec!["library"]);
    }

    #[test]
    fn lengths_are_checked_against_the_tensors() {
        let log_probs = f32s(&[7, 2, 5], 1);
        let flat = tensor(&[5], ScalarType::Int64, 2);
        let cases = [
            (lengths(&[8, 7]), lengths(&[2, 3]), "value at most 7"),
            (
                lengths(&[7, 7]),
                lengths(&[2, 2]),
                "size 4 at dimension 0, but got size 5",
            ),
            (
                lengths(&[7]),
                lengths(&[2, 3]),
                "input_lengths must be of size batch_size",
            ),
            (
                lengths(&[7, 7]),
                lengths(&[-1, 6]),
                "target_lengths to have value at least 0",
            ),
        ];
        for (il, tl, message) in cases {
            let args = vec![arg(&log_probs), arg(&flat), il, tl];
            let err = run("_ctc_loss", "", args).0.unwrap_err();
            assert!(err.message.contains(message), "{}", err.message);
        }
        let args = vec![
            arg(&log_probs),
            arg(&flat),
            lengths(&[7, 7]),
            lengths(&[2, 3]),
            Arg::Integer(5),
        ];
        let err = run("_ctc_loss", "", args).0.unwrap_err();
        assert!(err.message.contains("blank must be in label range"));
    }

    #[test]
    fn backward_is_contiguous_like_log_probs() {
        let mut log_probs = f32s(&[7, 2, 5], 1);
        log_probs.strides = vec![5, 35, 1];
        let targets = tensor(&[2, 3], ScalarType::Int64, 2);
        let (grad, nll, alpha) = (f32s(&[2], 3), f32s(&[2], 4), f32s(&[2, 7, 7], 5));
        let mut args = vec![arg(&grad), arg(&log_probs), arg(&targets), lengths(&[7, 6])];
        args.extend([
            lengths(&[3, 2]),
            arg(&nll),
            arg(&alpha),
            Arg::Integer(0),
            Arg::Boolean(false),
        ]);
        let (res, _) = run("_ctc_loss_backward", "", args);
        let out = meta(&res.unwrap(), 0);
        assert_eq!(
            geometry(&out),
            (vec![7, 2, 5], vec![10, 5, 1], 0, ScalarType::Float32)
        );
    }
}
