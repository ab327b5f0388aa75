//! torchaudio's compiled `_lfilter_core_loop`, the recursion of its IIR filters (`lfilter`,
//! the biquads, `filtfilt`), checked as torchaudio's CPU kernel checks it. The host runs the
//! loop in one kernel, where the op's Python fallback would make three ops a sample.

use crate::error::{ensure, Result};
use crate::kernels::failed;
use crate::ops::args::Args;
use crate::ops::ctx::Ctx;
use crate::ops::Outputs;
use crate::rules::layout::is_contiguous;
use crate::types::{LibraryOp, Output, ScalarType, TensorMeta};

const OP: &str = "_lfilter_core_loop";

/// Each row of `a_coeff_flipped` filters its channel of every batch: `[batch, channels,
/// samples]` in, `[batch, channels, samples + order - 1]` out, in one float dtype, dense.
fn check(x: &TensorMeta, a: &TensorMeta, out: &TensorMeta) -> Result<()> {
    let named = [
        ("input_signal_windows", x),
        ("a_coeff_flipped", a),
        ("padded_output_waveform", out),
    ];
    ensure!(
        x.dim() == 3 && a.dim() == 2 && out.dim() == 3,
        "{OP}: expected input_signal_windows [batch, channels, samples], a_coeff_flipped \
         [channels, order] and padded_output_waveform [batch, channels, samples + order - 1], \
         got {}, {} and {}",
        x.describe(),
        a.describe(),
        out.describe()
    );
    for (name, t) in named {
        ensure!(
            matches!(t.dtype, ScalarType::Float32 | ScalarType::Float64) && t.dtype == x.dtype,
            "{OP}: {name} must be float32 or float64 as input_signal_windows ({}), got {}",
            x.dtype.name(),
            t.dtype.name()
        );
        ensure!(
            is_contiguous(&t.sizes, &t.strides),
            "{OP}: {name} must be contiguous, got {}",
            t.describe()
        );
    }
    let order = a.sizes[1];
    ensure!(
        order >= 1
            && a.sizes[0] == x.sizes[1]
            && out.sizes[..2] == x.sizes[..2]
            && out.sizes[2] == x.sizes[2] + order - 1,
        "{OP}: a_coeff_flipped {} and padded_output_waveform {} do not fit \
         input_signal_windows {} (one row of at least one coefficient per channel, and order - 1 \
         more samples out)",
        a.describe(),
        out.describe(),
        x.describe()
    );
    Ok(())
}

/// `_lfilter_core_loop(input_signal_windows, a_coeff_flipped, padded_output_waveform)`:
/// `out[t + order - 1] = x[t] - sum_k out[t + k] * a[k]`, sample by sample, in place; returns
/// the output.
pub fn lfilter_core_loop(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(3)?;
    let (x, a, out) = (args.tensor(0)?, args.tensor(1)?, args.tensor(2)?);
    check(x, a, out)?;
    let inputs = [x.clone(), a.clone(), out.clone()];
    cx.k.library(LibraryOp::LfilterCoreLoop, &inputs, &inputs[2..])
        .map_err(failed("library"))?;
    Ok(vec![Output::Argument(2)])
}
