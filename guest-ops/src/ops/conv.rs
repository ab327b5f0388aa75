//! `convolution` and `convolution_backward` (1-d, 2-d and 3-d, plain and transposed, grouped).
//! Results are laid out as the CPU's kernels lay them out: channels-last when the input or the
//! weight is, unless the native 3-d kernels (not mkldnn's) compute them.

use crate::error::{ensure, ensure_kernel, Error, Result};
use crate::kernels::failed;
use crate::ops::args::Args;
use crate::ops::ctx::Ctx;
use crate::ops::Outputs;
use crate::rules::dtype::check_scalar_type;
use crate::rules::layout::{is_contiguous_in, strides_for, suggest_memory_format, MemoryFormat};
use crate::rules::shape::{fmt_shape, numel};
use crate::types::{ConvParams, CpuConvolutions, Output, ScalarType, TensorMeta};

/// Whether the CPU's `use_mkldnn` takes a convolution to mkldnn rather than to its native
/// kernels: bfloat16 and float16 where the CPU's instructions let it, and float32 but for 1x1
/// filters on one thread and small unbatched ungrouped inputs, where the native kernels are
/// faster.
fn uses_mkldnn(x: &TensorMeta, weight: &TensorMeta, p: &ConvParams, cpu: CpuConvolutions) -> bool {
    let padding_big = p.output_padding.iter().zip(&p.stride).any(|(o, s)| o >= s);
    if !cpu.mkldnn || x.dim() < 4 || (p.transposed && padding_big) {
        return false;
    }
    match x.dtype {
        ScalarType::Bfloat16 => return cpu.mkldnn_bfloat16,
        ScalarType::Float16 => return cpu.mkldnn_float16,
        ScalarType::Float32 => {}
        _ => return false,
    }
    let kernel = |from_end: usize| weight.sizes[weight.dim() - from_end];
    let batch = x.sizes[0];
    let strided = p.stride.iter().any(|&s| s != 1);
    let dilated = p.dilation.iter().any(|&d| d != 1);
    let one_by_one = kernel(1) == 1 && kernel(2) == 1;
    let elements = x.sizes[..4].iter().fold(1i64, |n, &d| n.saturating_mul(d));
    (strided || dilated || batch >= 16 || !one_by_one || !cpu.single_threaded)
        && (p.groups > 1 || (kernel(1) > 3 && kernel(2) > 3) || batch > 1 || elements > 20480)
}

/// How the CPU lays out a convolution's output and its input's and weight's gradients.
struct Layout {
    format: MemoryFormat,
    /// The native 2-d kernels compute the gradients into tensors like their inputs made
    /// contiguous in `format`, which keeps the strides of an input that already is (a 1x1
    /// filter's size-1 dims take any stride); mkldnn allocates them in `format`.
    like_inputs: bool,
}

impl Layout {
    /// Channels-last (channels-last-3d for 5-d tensors) where the input or the weight is,
    /// but contiguous where the native 3-d kernels compute (not mkldnn's).
    fn of(x: &TensorMeta, weight: &TensorMeta, p: &ConvParams, cpu: CpuConvolutions) -> Self {
        let wanted = match x.dim() {
            4 => MemoryFormat::ChannelsLast,
            5 => MemoryFormat::ChannelsLast3d,
            _ => MemoryFormat::Contiguous,
        };
        let native = !uses_mkldnn(x, weight, p, cpu);
        let suggested = |t: &TensorMeta| suggest_memory_format(&t.sizes, &t.strides);
        let format = if (x.dim() == 5 && native)
            || (suggested(x) != wanted && suggested(weight) != wanted)
        {
            MemoryFormat::Contiguous
        } else {
            wanted
        };
        Layout {
            format,
            like_inputs: native && x.dim() == 4,
        }
    }

    /// The output's strides, for `sizes`.
    fn output(&self, sizes: &[i64]) -> Result<Vec<i64>> {
        strides_for(sizes, self.format)
    }

    /// The strides of the gradient of `input`.
    fn gradient(&self, input: &TensorMeta) -> Result<Vec<i64>> {
        if self.like_inputs && is_contiguous_in(&input.sizes, &input.strides, self.format) {
            Ok(input.strides.clone())
        } else {
            strides_for(&input.sizes, self.format)
        }
    }
}

/// A per-spatial-dim list: one value stands for all of them.
fn expand_list(list: &[i64], n: usize, what: &str) -> Result<Vec<i64>> {
    match list.len() {
        1 => Ok(vec![list[0]; n]),
        len if len == n => Ok(list.to_vec()),
        _ => Err(Error::invalid(format!(
            "expected {what} to be a single integer value or a list of {n} values to match the \
             convolution dimensions, but got {what}={}",
            fmt_shape(list)
        ))),
    }
}

/// The bias holds one value per filter (`filters`), which the output has unless the input
/// has no channels.
fn check_bias(
    bias: Option<&TensorMeta>,
    weight: &TensorMeta,
    transposed: bool,
    filters: i64,
) -> Result<()> {
    let Some(b) = bias else {
        return Ok(());
    };
    ensure!(
        b.dim() == 1 && b.sizes[0] == filters,
        "Given {}weight of size {}, expected bias to be 1-dimensional with {filters} elements, \
         but got bias of size {} instead",
        if transposed { "transposed=1, " } else { "" },
        fmt_shape(&weight.sizes),
        fmt_shape(&b.sizes)
    );
    Ok(())
}

/// The CPU's transposed kernels' check that each output padding is below its stride or its
/// dilation; they name 1-d convolutions' dims as 2-d ones with a height of one.
fn check_output_padding(output_padding: &[i64], stride: &[i64], dilation: &[i64]) -> Result<()> {
    let fits =
        (0..stride.len()).all(|d| output_padding[d] < stride[d] || output_padding[d] < dilation[d]);
    if fits {
        return Ok(());
    }
    let names: &[&str] = match stride.len() {
        3 => &["depth", "height", "width"],
        _ => &["height", "width"],
    };
    // A 1-d convolution runs as a 2-d one over a height of one.
    let padded = |list: &[i64], fill: i64| {
        let mut all = vec![fill; names.len() - list.len()];
        all.extend_from_slice(list);
        all
    };
    let listed = |what: &str, list: Vec<i64>| {
        let parts: Vec<String> = names
            .iter()
            .zip(list)
            .map(|(name, v)| format!("{what}_{name}: {v}"))
            .collect();
        parts.join(" ")
    };
    Err(Error::invalid(format!(
        "output padding must be smaller than either stride or dilation, but got {} {} {}",
        listed("output_padding", padded(output_padding, 0)),
        listed("stride", padded(stride, 1)),
        listed("dilation", padded(dilation, 1))
    )))
}

/// Reads `stride, padding, dilation, transposed, output_padding, groups` from `at`, each list
/// as long as the weight's spatial dims, and checks their values in the CPU's order.
fn read_params(args: &Args, at: usize, weight: &TensorMeta) -> Result<ConvParams> {
    ensure!(
        weight.dim() >= 3,
        "weight should have at least three dimensions"
    );
    let n = weight.dim() - 2;
    let stride = expand_list(args.int_list(at)?, n, "stride")?;
    let padding = expand_list(args.int_list(at + 1)?, n, "padding")?;
    let dilation = expand_list(args.int_list(at + 2)?, n, "dilation")?;
    let transposed = args.bool_or(at + 3, false)?;
    let output_padding = expand_list(args.int_list(at + 4)?, n, "output_padding")?;
    let groups = args.int(at + 5)?;
    ensure!(groups > 0, "non-positive groups is not supported");
    ensure!(
        padding.iter().all(|p| *p >= 0),
        "negative padding is not supported"
    );
    ensure!(
        output_padding.iter().all(|p| *p >= 0),
        "negative output_padding is not supported"
    );
    ensure!(
        stride.iter().all(|s| *s > 0),
        "non-positive stride is not supported"
    );
    ensure!(
        dilation.iter().all(|d| *d > 0),
        "dilation should be greater than zero"
    );
    Ok(ConvParams {
        stride,
        padding,
        dilation,
        transposed,
        output_padding,
        groups,
    })
}

/// `check_shape_forward`'s checks of the ranks, the groups, the channels and the bias; returns
/// the output's channels.
fn out_channels(
    x: &TensorMeta,
    weight: &TensorMeta,
    bias: Option<&TensorMeta>,
    p: &ConvParams,
) -> Result<i64> {
    ensure!(
        x.dim() == weight.dim(),
        "Expected {}-dimensional input for {}-dimensional weight {}, but got {}-dimensional \
         input of size {} instead",
        weight.dim(),
        weight.dim(),
        fmt_shape(&weight.sizes),
        x.dim(),
        fmt_shape(&x.sizes)
    );
    ensure_kernel!(
        x.dim() <= 5,
        "convolution: remote convolves 1-d, 2-d and 3-d inputs, but got input of size {}",
        fmt_shape(&x.sizes)
    );
    let (channels, groups) = (x.sizes[1], p.groups);
    ensure!(
        weight.sizes[0] >= groups,
        "Given groups={groups}, expected weight to be at least {groups} at dimension 0, but got \
         weight of size {} instead",
        fmt_shape(&weight.sizes)
    );
    // PyTorch prints this one's sizes in brackets of its own.
    ensure!(
        weight.sizes[0] % groups == 0,
        "Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, but \
         got weight of size [{}] instead",
        fmt_shape(&weight.sizes)
    );
    if p.transposed {
        ensure!(
            channels == weight.sizes[0],
            "Given transposed=1, weight of size {}, expected input{} to have {} channels, but \
             got {channels} channels instead",
            fmt_shape(&weight.sizes),
            fmt_shape(&x.sizes),
            weight.sizes[0]
        );
        check_bias(bias, weight, true, weight.sizes[1] * groups)?;
        // The CPU's empty backend, which takes an input without a batch or channels, does not
        // check it.
        if x.sizes[0] != 0 && channels != 0 {
            check_output_padding(&p.output_padding, &p.stride, &p.dilation)?;
        }
        return Ok(weight.sizes[1] * groups);
    }
    ensure!(
        channels == weight.sizes[1] * groups,
        "Given groups={groups}, weight of size {}, expected input{} to have {} channels, but got \
         {channels} channels instead",
        fmt_shape(&weight.sizes),
        fmt_shape(&x.sizes),
        weight.sizes[1] * groups
    );
    check_bias(bias, weight, false, weight.sizes[0])?;
    // Without input channels the CPU's empty backend gives no output channels either.
    Ok(if channels == 0 { 0 } else { weight.sizes[0] })
}

/// The output's spatial sizes, checked as the CPU checks them.
fn spatial_sizes(x: &TensorMeta, weight: &TensorMeta, p: &ConvParams) -> Result<Vec<i64>> {
    let mut sizes = Vec::new();
    let mut padded = Vec::new();
    let mut kernel = Vec::new();
    for d in 0..p.stride.len() {
        let (i, k) = (x.sizes[d + 2], weight.sizes[d + 2]);
        let span = p.dilation[d] * (k - 1) + 1;
        let o = if p.transposed {
            (i - 1) * p.stride[d] - 2 * p.padding[d] + span + p.output_padding[d]
        } else {
            padded.push(i + 2 * p.padding[d]);
            kernel.push(span);
            (i + 2 * p.padding[d] - span).div_euclid(p.stride[d]) + 1
        };
        sizes.push(o);
    }
    let join = |v: &[i64]| v.iter().map(i64::to_string).collect::<Vec<_>>().join(" x ");
    if !p.transposed && padded.iter().zip(&kernel).any(|(p, k)| p < k) {
        return Err(Error::invalid(format!(
            "Calculated padded input size per channel: ({}). Kernel size: ({}). Kernel size \
             can't be greater than actual input size",
            join(&padded),
            join(&kernel)
        )));
    }
    // The transposed kernels run a 1-d convolution as a 2-d one over a height of one.
    let per_channel = |sizes: &[i64]| match sizes {
        [one] => join(&[1, *one]),
        all => join(all),
    };
    ensure!(
        sizes.iter().all(|o| *o > 0),
        "Given input size per channel: ({}). Calculated output size per channel: ({}). Output \
         size is too small",
        per_channel(&x.sizes[2..]),
        per_channel(&sizes)
    );
    Ok(sizes)
}

/// Reads the convolution's parameters from `at` and checks them, with `x`, `weight` and `bias`,
/// as the CPU does; returns the parameters and the output's sizes.
fn params(
    args: &Args,
    at: usize,
    x: &TensorMeta,
    weight: &TensorMeta,
    bias: Option<&TensorMeta>,
) -> Result<(ConvParams, Vec<i64>)> {
    let p = read_params(args, at, weight)?;
    let channels = out_channels(x, weight, bias, &p)?;
    let mut shape = vec![x.sizes[0], channels];
    shape.extend(spatial_sizes(x, weight, &p)?);
    check_scalar_type(x.dtype, weight.dtype)?;
    ensure_kernel!(
        x.dtype.is_floating(),
        "\"convolution\" not implemented for '{}'",
        x.dtype.name()
    );
    Ok((p, shape))
}

/// `_convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding,
/// groups, benchmark, deterministic, cudnn_enabled, allow_tf32)`, which `convolution` (and so
/// every `conv*d`) calls, as on the CPU: `torch.jit.trace` records this op, not `convolution`.
/// The last four are cuDNN's choices, which libtorch makes on the host.
pub fn convolution(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(13)?;
    let (x, weight, bias) = (args.tensor(0)?, args.tensor(1)?, args.opt_tensor(2)?);
    let (p, shape) = params(args, 3, x, weight, bias)?;
    let layout = Layout::of(x, weight, &p, cx.convolutions());
    let out = cx.empty(&shape, layout.output(&shape)?, x.dtype)?;
    cx.k.conv(x, weight, bias, &p, &out)
        .map_err(failed("conv"))?;
    Ok(vec![Output::Tensor(out)])
}

/// `convolution_backward(grad_output, input, weight, bias_sizes, stride, padding, dilation,
/// transposed, output_padding, groups, output_mask)`.
pub fn convolution_backward(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(11)?;
    let (grad, x, weight) = (args.tensor(0)?, args.tensor(1)?, args.tensor(2)?);
    let bias_sizes = args.opt_int_list(3)?;
    let (p, shape) = params(args, 4, x, weight, None)?;
    let mask = args.int_list(10)?;
    ensure!(mask.len() == 3, "output_mask must have 3 entries");
    ensure!(
        grad.sizes == shape,
        "convolution_backward: expected grad_output of size {}, but got {}",
        fmt_shape(&shape),
        fmt_shape(&grad.sizes)
    );
    let layout = Layout::of(x, weight, &p, cx.convolutions());
    let mut outputs = Vec::new();
    let mut metas = Vec::new();
    let bias_shape = vec![bias_sizes
        .and_then(|b| b.first().copied())
        .unwrap_or(shape[1])];
    for (i, sizes) in [&x.sizes, &weight.sizes, &bias_shape]
        .into_iter()
        .enumerate()
    {
        if mask[i] == 0 {
            outputs.push(Output::None);
            metas.push(None);
            continue;
        }
        numel(sizes)?;
        let strides = match i {
            0 => layout.gradient(x)?,
            1 => layout.gradient(weight)?,
            _ => strides_for(sizes, MemoryFormat::Contiguous)?,
        };
        let t = cx.empty(sizes, strides, x.dtype)?;
        outputs.push(Output::Tensor(t.clone()));
        metas.push(Some(t));
    }
    cx.k.conv_backward(
        grad,
        x,
        weight,
        &p,
        metas[0].as_ref(),
        metas[1].as_ref(),
        metas[2].as_ref(),
    )
    .map_err(failed("conv_backward"))?;
    Ok(outputs)
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{arg, f32s, geometry, meta, run};
    use crate::types::{Arg, Output, ScalarType, TensorMeta};

    fn conv_args(
        x: &TensorMeta,
        w: &TensorMeta,
        stride: i64,
        pad: i64,
        transposed: bool,
    ) -> Vec<Arg> {
        vec![
            arg(x),
            arg(w),
            Arg::OptionalTensor(None),
            Arg::IntList(vec![stride]),
            Arg::IntList(vec![pad]),
            Arg::IntList(vec![1]),
            Arg::Boolean(transposed),
            Arg::IntList(vec![i64::from(transposed)]),
            Arg::Integer(1),
        ]
    }

    #[test]
    fn conv_shapes_and_layouts() {
        let (x, w) = (f32s(&[2, 3, 8, 8], 1), f32s(&[4, 3, 3, 3], 2));
        let (res, _) = run("_convolution", "", conv_args(&x, &w, 2, 1, false));
        assert_eq!(
            geometry(&meta(&res.unwrap(), 0)),
            (vec![2, 4, 4, 4], vec![64, 16, 4, 1], 0, ScalarType::Float32)
        );
        let mut cl = x.clone();
        cl.strides = vec![192, 1, 24, 3];
        let (res, _) = run("_convolution", "", conv_args(&cl, &w, 1, 0, false));
        assert_eq!(meta(&res.unwrap(), 0).strides, vec![144, 1, 24, 4]);
        let wt = f32s(&[3, 5, 3, 3], 3);
        let (res, _) = run("_convolution", "", conv_args(&x, &wt, 2, 1, true));
        assert_eq!(meta(&res.unwrap(), 0).sizes, vec![2, 5, 16, 16]);
        let (res, _) = run(
            "_convolution",
            "",
            conv_args(&f32s(&[2, 5, 8, 8], 4), &w, 1, 0, false),
        );
        assert!(res.unwrap_err().message.contains(
            "Given groups=1, weight of size [4, 3, 3, 3], expected input[2, 5, 8, 8] to have 3 channels, but got 5 channels instead"
        ));
        let (res, _) = run(
            "_convolution",
            "",
            conv_args(&f32s(&[2, 3, 2, 2], 4), &w, 1, 0, false),
        );
        assert!(res.unwrap_err().message.contains(
            "Calculated padded input size per channel: (2 x 2). Kernel size: (3 x 3). Kernel size can't be greater than actual input size"
        ));
    }

    #[test]
    fn conv_backward_masks() {
        let (x, w) = (f32s(&[2, 3, 8, 8], 1), f32s(&[4, 3, 3, 3], 2));
        let mut args = conv_args(&x, &w, 2, 1, false);
        args.insert(0, arg(&f32s(&[2, 4, 4, 4], 3)));
        args[3] = Arg::IntList(vec![4]);
        args.push(Arg::IntList(vec![0, 1, 1]));
        let (res, fake) = run("convolution_backward", "", args);
        let outputs = res.unwrap();
        assert_eq!(outputs[0], Output::None);
        assert_eq!(meta(&outputs, 1).sizes, vec![4, 3, 3, 3]);
        assert_eq!(meta(&outputs, 2).sizes, vec![4]);
        assert_eq!(fake.kernels(), vec!["conv_backward"]);
    }
}
