//! The `library` kernel: ops libtorch computes whole, each a `library-op` of the WIT (from
//! `glu` and `take` to the fused recurrent cells, the transformer fast paths, GradScaler's
//! kernels, the CTC and margin losses and fractional max pooling).

use tch::{Device, Kind, TchError, Tensor};

use super::vision::pool::Pooling;
use super::{
    aten, attention, audio, embedding_bag, optim, recurrent, recurrent_layer, segment, vision,
};
use crate::guest::{
    AttentionParams, EncoderLayerParams, FftKind, FftParams, GridSampleParams, IsinParams,
    LibraryOp, Reduction, TensorMeta,
};

fn input(inputs: &[Tensor], i: usize) -> Result<&Tensor, TchError> {
    inputs
        .get(i)
        .ok_or_else(|| TchError::Kind(format!("library op: input {i} is missing")))
}

fn out(outs: &[TensorMeta], i: usize) -> Result<&TensorMeta, TchError> {
    outs.get(i)
        .ok_or_else(|| TchError::Kind(format!("library op: output {i} is missing")))
}

/// The results of `op` on `inputs`, in the order the WIT variant documents them; factories
/// make theirs with `options`, and `outs` gives the shapes a result may be fitted to.
pub fn run(
    op: &LibraryOp,
    inputs: &[Tensor],
    options: (Kind, Device),
    outs: &[TensorMeta],
) -> Result<Vec<Tensor>, TchError> {
    match op {
        LibraryOp::PreluBackward => {
            let (grad, x, weight) = (input(inputs, 0)?, input(inputs, 1)?, input(inputs, 2)?);
            let (dx, dw) = x.f_internal_prelu_kernel_backward(grad, weight)?;
            Ok(vec![dx, dw])
        }
        LibraryOp::LstmCell => recurrent::lstm_cell(inputs),
        LibraryOp::LstmCellBackward(given) => recurrent::lstm_cell_backward(inputs, *given),
        LibraryOp::GruCell => recurrent::gru_cell(inputs),
        LibraryOp::LstmLayer(params) => recurrent_layer::lstm(inputs, params),
        LibraryOp::LstmLayerBackward((params, output, hy, cy)) => {
            recurrent_layer::lstm_backward(inputs, (params, [*output, *hy, *cy]))
        }
        LibraryOp::RnnLayer(params) => recurrent_layer::rnn(inputs, params),
        LibraryOp::RnnLayerBackward((params, output, hy)) => {
            recurrent_layer::rnn_backward(inputs, (params, [*output, *hy]))
        }
        LibraryOp::GridSamplerBackward((params, want_input, want_grid)) => {
            grid_sampler_backward(inputs, params, [*want_input, *want_grid])
        }
        LibraryOp::EmbeddingBag(params) => embedding_bag::forward(inputs, params, outs),
        LibraryOp::EmbeddingBagBackward((params, num_weights)) => {
            embedding_bag::backward(inputs, params, *num_weights).map(|t| vec![t])
        }
        LibraryOp::EmbeddingBagPerSampleWeightsBackward(params) => {
            embedding_bag::per_sample_weights_backward(inputs, params).map(|t| vec![t])
        }
        LibraryOp::Cummax(dim) => pair(input(inputs, 0)?.f_cummax(*dim)?),
        LibraryOp::Cummin(dim) => pair(input(inputs, 0)?.f_cummin(*dim)?),
        LibraryOp::GruCellBackward(has_bias) => recurrent::gru_cell_backward(inputs, *has_bias),
        LibraryOp::MultiHeadAttention(params) => multi_head_attention(inputs, params),
        LibraryOp::FlashAttention(params) => attention::forward(inputs, *params),
        LibraryOp::Nms(iou_threshold) => vision::nms(inputs, *iou_threshold).map(|t| vec![t]),
        LibraryOp::RoiAlign(params) => {
            vision::roi_align(inputs, params, out(outs, 0)?, false).map(|t| vec![t])
        }
        LibraryOp::RoiAlignBackward(params) => {
            vision::roi_align(inputs, params, out(outs, 0)?, true).map(|t| vec![t])
        }
        LibraryOp::RoiPool(params) => vision::pool::pool(inputs, params, outs, Pooling::Max),
        LibraryOp::RoiPoolBackward(params) => {
            vision::pool::unpool(inputs, params, out(outs, 0)?, Pooling::Max).map(|t| vec![t])
        }
        LibraryOp::PsRoiPool(params) => {
            vision::pool::pool(inputs, params, outs, Pooling::PositionSensitive)
        }
        LibraryOp::PsRoiPoolBackward(params) => {
            let out = out(outs, 0)?;
            vision::pool::unpool(inputs, params, out, Pooling::PositionSensitive).map(|t| vec![t])
        }
        LibraryOp::PsRoiAlign(params) => vision::ps_roi_align(inputs, params, outs),
        LibraryOp::SegmentReduce(params) => {
            segment::segment_reduce(inputs, params).map(|t| vec![t])
        }
        LibraryOp::SegmentReduceBackward(params) => {
            segment::segment_reduce_backward(inputs, params).map(|t| vec![t])
        }
        LibraryOp::CooToCsr((size, out_int32)) => {
            segment::coo_to_csr(input(inputs, 0)?, *size, *out_int32).map(|t| vec![t])
        }
        LibraryOp::LfilterCoreLoop => audio::lfilter_core_loop(inputs).map(|t| vec![t]),
        LibraryOp::CsrToCoo((out_int32, transpose)) => {
            segment::csr_to_coo(inputs, *out_int32, *transpose).map(|t| vec![t])
        }
        LibraryOp::PsRoiAlignBackward(params) => {
            vision::ps_roi_align_backward(inputs, params, out(outs, 0)?).map(|t| vec![t])
        }
        LibraryOp::FlashAttentionBackward(params) => attention::backward(inputs, *params),
        LibraryOp::EncoderLayer(params) => encoder_layer(inputs, params).map(|t| vec![t]),
        LibraryOp::AmpUnscale => amp_unscale(inputs),
        LibraryOp::FusedAdam(params) => optim::fused_adam(inputs, params),
        LibraryOp::FusedSgd(params) => optim::fused_sgd(inputs, params),
        LibraryOp::FusedAdagrad(params) => optim::fused_adagrad(inputs, params),
        LibraryOp::Frexp => pair(input(inputs, 0)?.f_frexp()?),
        LibraryOp::MultilabelMarginLoss(reduction) => multilabel_margin_loss(inputs, *reduction),
        LibraryOp::FractionalMaxPool((kernel, output)) => {
            let [x, samples] = inputs else {
                return Err(missing(2));
            };
            pair(match kernel.len() {
                2 => x.f_fractional_max_pool2d(kernel.as_slice(), output.as_slice(), samples)?,
                _ => x.f_fractional_max_pool3d(kernel.as_slice(), output.as_slice(), samples)?,
            })
        }
        LibraryOp::KaiserWindow((periodic, beta)) => {
            let length = outs.first().map_or(0, |o| o.sizes[0]);
            Tensor::f_kaiser_window_beta(length, *periodic, *beta, options).map(|t| vec![t])
        }
        LibraryOp::FakeQuantize((scale, zero_point, quant_min, quant_max)) => pair(
            input(inputs, 0)?.f_fake_quantize_per_tensor_affine_cachemask(
                *scale,
                *zero_point,
                *quant_min,
                *quant_max,
            )?,
        ),
        LibraryOp::FakeQuantizeTensorQparams((quant_min, quant_max)) => {
            let [x, scale, zero_point, enabled] = inputs else {
                return Err(missing(4));
            };
            pair(
                x.f_internal_fake_quantize_per_tensor_affine_cachemask_tensor_qparams(
                    scale, zero_point, enabled, *quant_min, *quant_max,
                )?,
            )
        }
        LibraryOp::FakeQuantizePerChannel((axis, quant_min, quant_max)) => {
            let [x, scale, zero_point] = inputs else {
                return Err(missing(3));
            };
            pair(x.f_fake_quantize_per_channel_affine_cachemask(
                scale, zero_point, *axis, *quant_min, *quant_max,
            )?)
        }
        LibraryOp::FusedFakeQuantize(p) => {
            let [x, observer_on, fake_quant_on, running_min, running_max, scale, zero_point] =
                inputs
            else {
                return Err(missing(7));
            };
            pair(x.f_internal_fused_moving_avg_obs_fq_helper(
                observer_on,
                fake_quant_on,
                running_min,
                running_max,
                scale,
                zero_point,
                p.averaging_const,
                p.quant_min,
                p.quant_max,
                p.ch_axis,
                p.per_row,
                p.symmetric,
            )?)
        }
        LibraryOp::FakeQuantizeLearnableBackward(p) => {
            let [grad, x, scale, zero_point] = inputs else {
                return Err(missing(4));
            };
            let (dx, dscale, dzero_point) = match p.axis {
                None => x.f_internal_fake_quantize_learnable_per_tensor_affine_backward(
                    grad,
                    scale,
                    zero_point,
                    p.quant_min,
                    p.quant_max,
                    p.grad_factor,
                )?,
                Some(axis) => x.f_internal_fake_quantize_learnable_per_channel_affine_backward(
                    grad,
                    scale,
                    zero_point,
                    axis,
                    p.quant_min,
                    p.quant_max,
                    p.grad_factor,
                )?,
            };
            Ok(vec![dx, dscale, dzero_point])
        }
        LibraryOp::WeightNorm(dim) => pair(Tensor::f_internal_weight_norm_interface(
            input(inputs, 0)?,
            input(inputs, 1)?,
            *dim,
        )?),
        LibraryOp::WeightNormBackward(dim) => {
            let [grad, v, g, norms] = inputs else {
                return Err(missing(4));
            };
            pair(Tensor::f_internal_weight_norm_interface_backward(
                grad, v, g, norms, *dim,
            )?)
        }
        LibraryOp::CtcLoss(p) => {
            let [log_probs, targets] = inputs else {
                return Err(missing(2));
            };
            pair(Tensor::f_internal_ctc_loss(
                log_probs,
                targets,
                p.input_lengths.as_slice(),
                p.target_lengths.as_slice(),
                p.blank,
                p.zero_infinity,
            )?)
        }
        LibraryOp::AmpUpdateScale((growth, backoff, interval)) => {
            let [scale, tracker, found_inf] = inputs else {
                return Err(missing(3));
            };
            let scale = scale
                .shallow_clone()
                .f_internal_amp_update_scale_(tracker, found_inf, *growth, *backoff, *interval)?;
            Ok(vec![scale, tracker.shallow_clone()])
        }
        _ => one(op, inputs, options).map(|t| vec![t]),
    }
}

/// The single result of every op but prelu's backward and the recurrent cells.
fn one(op: &LibraryOp, inputs: &[Tensor], options: (Kind, Device)) -> Result<Tensor, TchError> {
    match op {
        LibraryOp::Prelu => input(inputs, 0)?.f_internal_prelu_kernel(input(inputs, 1)?),
        LibraryOp::Fft(params) => fft(input(inputs, 0)?, params),
        LibraryOp::Polar => Tensor::f_polar(input(inputs, 0)?, input(inputs, 1)?),
        LibraryOp::Renorm((p, dim, maxnorm)) => input(inputs, 0)?.f_renorm(*p, *dim, *maxnorm),
        LibraryOp::MultiMarginLoss((p, margin, reduction)) => {
            multi_margin_loss(inputs, *p, *margin, *reduction)
        }
        LibraryOp::MultiMarginLossBackward((p, margin, reduction)) => {
            let (grad, x, target) = (input(inputs, 0)?, input(inputs, 1)?, input(inputs, 2)?);
            let (p, margin) = (tch::Scalar::int(*p), tch::Scalar::float(*margin));
            let reduction = reduction_of(*reduction);
            x.f_multi_margin_loss_backward(grad, target, p, margin, inputs.get(3), reduction)
        }
        LibraryOp::FractionalMaxPoolBackward((kernel, output)) => {
            let [grad, x, indices] = inputs else {
                return Err(missing(3));
            };
            let (kernel, output) = (kernel.as_slice(), output.as_slice());
            match kernel.len() {
                2 => x.f_fractional_max_pool2d_backward(grad, kernel, output, indices),
                _ => x.f_fractional_max_pool3d_backward(grad, kernel, output, indices),
            }
        }
        LibraryOp::MultilabelMarginLossBackward(reduction) => {
            let [grad, x, target, is_target] = inputs else {
                return Err(missing(4));
            };
            x.f_multilabel_margin_loss_backward(grad, target, reduction_of(*reduction), is_target)
        }
        LibraryOp::StandardGammaGrad => {
            input(inputs, 0)?.f_internal_standard_gamma_grad(input(inputs, 1)?)
        }
        LibraryOp::Complex => Tensor::f_complex(input(inputs, 0)?, input(inputs, 1)?),
        LibraryOp::FakeQuantizeLearnable(p) => {
            let [x, scale, zero_point] = inputs else {
                return Err(missing(3));
            };
            let (min, max, factor) = (p.quant_min, p.quant_max, p.grad_factor);
            match p.axis {
                None => x.f_internal_fake_quantize_learnable_per_tensor_affine(
                    scale, zero_point, min, max, factor,
                ),
                Some(axis) => x.f_internal_fake_quantize_learnable_per_channel_affine(
                    scale, zero_point, axis, min, max, factor,
                ),
            }
        }
        LibraryOp::PreluBackward
        | LibraryOp::LstmCell
        | LibraryOp::LstmCellBackward(_)
        | LibraryOp::GruCell
        | LibraryOp::GruCellBackward(_)
        | LibraryOp::LstmLayer(_)
        | LibraryOp::LstmLayerBackward(_)
        | LibraryOp::RnnLayer(_)
        | LibraryOp::RnnLayerBackward(_)
        | LibraryOp::Cummax(_)
        | LibraryOp::Cummin(_)
        | LibraryOp::GridSamplerBackward(_)
        | LibraryOp::EmbeddingBag(_)
        | LibraryOp::EmbeddingBagBackward(_)
        | LibraryOp::EmbeddingBagPerSampleWeightsBackward(_)
        | LibraryOp::MultiHeadAttention(_)
        | LibraryOp::FlashAttention(_)
        | LibraryOp::FlashAttentionBackward(_)
        | LibraryOp::Nms(_)
        | LibraryOp::RoiAlign(_)
        | LibraryOp::RoiAlignBackward(_)
        | LibraryOp::RoiPool(_)
        | LibraryOp::RoiPoolBackward(_)
        | LibraryOp::PsRoiAlign(_)
        | LibraryOp::PsRoiAlignBackward(_)
        | LibraryOp::PsRoiPool(_)
        | LibraryOp::PsRoiPoolBackward(_)
        | LibraryOp::SegmentReduce(_)
        | LibraryOp::SegmentReduceBackward(_)
        | LibraryOp::CooToCsr(_)
        | LibraryOp::CsrToCoo(_)
        | LibraryOp::LfilterCoreLoop
        | LibraryOp::AmpUnscale
        | LibraryOp::FusedAdam(_)
        | LibraryOp::FusedSgd(_)
        | LibraryOp::FusedAdagrad(_)
        | LibraryOp::Frexp
        | LibraryOp::FakeQuantize(_)
        | LibraryOp::FakeQuantizeTensorQparams(_)
        | LibraryOp::FakeQuantizePerChannel(_)
        | LibraryOp::FusedFakeQuantize(_)
        | LibraryOp::FakeQuantizeLearnableBackward(_)
        | LibraryOp::MultilabelMarginLoss(_)
        | LibraryOp::FractionalMaxPool(_)
        | LibraryOp::KaiserWindow(_)
        | LibraryOp::WeightNorm(_)
        | LibraryOp::WeightNormBackward(_)
        | LibraryOp::AmpUpdateScale(_)
        | LibraryOp::CtcLoss(_)
        | LibraryOp::EncoderLayer(_) => Err(TchError::Kind(format!("{op:?} has several results"))),
        LibraryOp::Glu(dim) => input(inputs, 0)?.f_glu(*dim),
        LibraryOp::GluBackward(dim) => input(inputs, 1)?.f_glu_backward(input(inputs, 0)?, *dim),
        LibraryOp::GluJvp(dim) => Tensor::f_glu_jvp(
            input(inputs, 0)?,
            input(inputs, 1)?,
            input(inputs, 2)?,
            *dim,
        ),
        LibraryOp::DirichletGrad => Tensor::f_internal_dirichlet_grad(
            input(inputs, 0)?,
            input(inputs, 1)?,
            input(inputs, 2)?,
        ),
        LibraryOp::Take => input(inputs, 0)?.f_take(input(inputs, 1)?),
        LibraryOp::Dot(false) => input(inputs, 0)?.f_dot(input(inputs, 1)?),
        LibraryOp::Dot(true) => input(inputs, 0)?.f_vdot(input(inputs, 1)?),
        LibraryOp::Trace => input(inputs, 0)?.f_trace(),
        LibraryOp::Addmv((beta, alpha)) => super::numbers::addmv(
            [input(inputs, 0)?, input(inputs, 1)?],
            inputs.get(2),
            beta,
            alpha,
        ),
        LibraryOp::UnfoldBackward((sizes, dim, size, step)) => {
            Tensor::f_unfold_backward(input(inputs, 0)?, sizes.as_slice(), *dim, *size, *step)
        }
        LibraryOp::Put(accumulate) => {
            input(inputs, 0)?.f_put(input(inputs, 1)?, input(inputs, 2)?, *accumulate)
        }
        LibraryOp::MaskedScatter => masked_scatter(inputs),
        LibraryOp::Searchsorted((out_int32, right)) => {
            let side = if *right { "right" } else { "left" };
            let (seq, values) = (input(inputs, 0)?, input(inputs, 1)?);
            values.f_searchsorted(seq, *out_int32, *right, side, inputs.get(2))
        }
        LibraryOp::Bucketize((out_int32, right)) => {
            input(inputs, 0)?.f_bucketize(input(inputs, 1)?, *out_int32, *right)
        }
        LibraryOp::Im2col((kernel, dilation, padding, stride)) => input(inputs, 0)?.f_im2col(
            kernel.as_slice(),
            dilation.as_slice(),
            padding.as_slice(),
            stride.as_slice(),
        ),
        LibraryOp::Col2im((size, kernel, dilation, padding, stride)) => input(inputs, 0)?.f_col2im(
            size.as_slice(),
            kernel.as_slice(),
            dilation.as_slice(),
            padding.as_slice(),
            stride.as_slice(),
        ),
        LibraryOp::TrilIndices((row, col, offset)) => {
            Tensor::f_tril_indices(*row, *col, *offset, options)
        }
        LibraryOp::TriuIndices((row, col, offset)) => {
            Tensor::f_triu_indices(*row, *col, *offset, options)
        }
        LibraryOp::ScatterReduce((dim, reduce, include_self)) => input(inputs, 0)?
            .f_internal_scatter_reduce(
                *dim,
                input(inputs, 1)?,
                input(inputs, 2)?,
                reduction(*reduce),
                *include_self,
            ),
        LibraryOp::IndexReduce((dim, reduce, include_self)) => input(inputs, 0)?.f_index_reduce(
            *dim,
            input(inputs, 1)?,
            input(inputs, 2)?,
            reduction(*reduce),
            *include_self,
        ),
        LibraryOp::Cdist((p, mode)) => {
            Tensor::f_cdist(input(inputs, 0)?, input(inputs, 1)?, *p, *mode)
        }
        LibraryOp::CdistBackward(p) => Tensor::f_internal_cdist_backward(
            input(inputs, 0)?,
            input(inputs, 1)?,
            input(inputs, 2)?,
            *p,
            input(inputs, 3)?,
        ),
        LibraryOp::Cross(dim) => input(inputs, 0)?.f_linalg_cross(input(inputs, 1)?, *dim),
        LibraryOp::GridSampler(params) => {
            grid_sampler(input(inputs, 0)?, input(inputs, 1)?, params)
        }
        LibraryOp::Bincount(minlength) => input(inputs, 0)?.f_bincount(inputs.get(1), *minlength),
        LibraryOp::RepeatInterleave(len) => Tensor::f_repeat_interleave(input(inputs, 0)?, *len),
        LibraryOp::Histc((bins, min, max)) => histc(input(inputs, 0)?, *bins, *min, *max),
        LibraryOp::ChannelShuffle(groups) => input(inputs, 0)?.f_channel_shuffle(*groups),
        LibraryOp::EmbeddingRenorm((max_norm, norm_type)) => input(inputs, 0)?
            .shallow_clone()
            .f_embedding_renorm_(input(inputs, 1)?, *max_norm, *norm_type),
        LibraryOp::Polygamma(n) => input(inputs, 0)?.f_polygamma(*n),
        LibraryOp::NonzeroStatic((size, fill)) => input(inputs, 0)?.f_nonzero_static(*size, *fill),
        // `pdist` is `_pdist_forward` of its contiguous input, which the guest checked.
        LibraryOp::Pdist(p) => input(inputs, 0)?.f_pdist(*p),
        LibraryOp::PdistBackward(p) => {
            let (grad, x, dist) = (input(inputs, 0)?, input(inputs, 1)?, input(inputs, 2)?);
            x.f_internal_pdist_backward(grad, *p, dist)
        }
        LibraryOp::MatrixExp => input(inputs, 0)?.f_linalg_matrix_exp(),
        LibraryOp::CtcLossBackward(p) => {
            let [grad, log_probs, targets, nll, log_alpha] = inputs else {
                return Err(missing(5));
            };
            Tensor::f_internal_ctc_loss_backward(
                grad,
                log_probs,
                targets,
                p.input_lengths.as_slice(),
                p.target_lengths.as_slice(),
                nll,
                log_alpha,
                p.blank,
                p.zero_infinity,
            )
        }
        LibraryOp::RoundDecimals(decimals) => input(inputs, 0)?.f_round_decimals(*decimals),
        LibraryOp::IndexCopy(dim) => {
            input(inputs, 0)?.f_index_copy(*dim, input(inputs, 1)?, input(inputs, 2)?)
        }
        // As a tensor: tch's Scalar would panic when a bad index fails the call.
        LibraryOp::IndexFill((dim, Some(value))) => {
            let x = input(inputs, 0)?;
            let value = super::number(value, (x.kind(), x.device()))?;
            x.f_index_fill_int_tensor(*dim, input(inputs, 1)?, &value)
        }
        LibraryOp::Isin(p) => isin(inputs, p),
        LibraryOp::MaxUnpool((size, stride, padding)) => {
            let (x, indices) = (input(inputs, 0)?, input(inputs, 1)?);
            if stride.is_empty() {
                x.f_max_unpool2d(indices, size.as_slice())
            } else {
                x.f_max_unpool3d(
                    indices,
                    size.as_slice(),
                    stride.as_slice(),
                    padding.as_slice(),
                )
            }
        }
        LibraryOp::IndexFill((dim, None)) => {
            input(inputs, 0)?.f_index_fill_int_tensor(*dim, input(inputs, 1)?, input(inputs, 2)?)
        }
    }
}

/// `isin` with whichever side is a number taken from `p`.
fn isin(inputs: &[Tensor], p: &IsinParams) -> Result<Tensor, TchError> {
    let (unique, invert) = (p.assume_unique, p.invert);
    match (&p.element, &p.test_element) {
        (Some(element), None) => {
            Tensor::f_isin_scalar_tensor(super::scalar(element), input(inputs, 0)?, unique, invert)
        }
        (None, Some(test)) => {
            Tensor::f_isin_tensor_scalar(input(inputs, 0)?, super::scalar(test), unique, invert)
        }
        _ => Tensor::f_isin(input(inputs, 0)?, input(inputs, 1)?, unique, invert),
    }
}

/// `_amp_foreach_non_finite_check_and_unscale_(grads..., found_inf, inv_scale)` in place, as
/// PyTorch's kernel does it: each gradient is checked before it is multiplied.
fn amp_unscale(inputs: &[Tensor]) -> Result<Vec<Tensor>, TchError> {
    let [grads @ .., found_inf, inv_scale] = inputs else {
        return Err(missing(2));
    };
    let mut found = found_inf.shallow_clone();
    let mut results = Vec::with_capacity(inputs.len() - 1);
    for g in grads {
        let bad = g.f_isfinite()?.f_logical_not()?.f_any()?;
        found = found.f_maximum(&bad.f_to_kind(Kind::Float)?)?;
        results.push(g.shallow_clone().f_mul_(inv_scale)?);
    }
    results.push(found);
    Ok(results)
}

/// `masked_scatter(x, mask, source)`, with the length of `source` checked here: CUDA's
/// kernel checks it with a device-side assert, which would break the device for every
/// session of the host.
fn masked_scatter(inputs: &[Tensor]) -> Result<Tensor, TchError> {
    let [x, mask, source] = inputs else {
        return Err(missing(3));
    };
    let ones = mask
        .f_expand_as(x)?
        .f_sum(Kind::Int64)?
        .f_int64_value(&[])?;
    if ones > source.numel() as i64 {
        return Err(TchError::Kind(
            "Number of elements of source < number of ones in mask".into(),
        ));
    }
    x.f_masked_scatter(mask, source)
}

/// `[output(, weights)]` of `_native_multi_head_attention`.
fn multi_head_attention(
    inputs: &[Tensor],
    params: &AttentionParams,
) -> Result<Vec<Tensor>, TchError> {
    let Some([query, key, value, qkv_weight, qkv_bias, proj_weight, proj_bias]) = inputs.get(..7)
    else {
        return Err(missing(7));
    };
    let (out, weights) = Tensor::f_internal_native_multi_head_attention(
        query,
        key,
        value,
        params.embed_dim,
        params.num_heads,
        qkv_weight,
        qkv_bias,
        proj_weight,
        proj_bias,
        inputs.get(7),
        params.need_weights,
        params.average_attn_weights,
        params.mask_type,
    )?;
    Ok(if params.need_weights {
        vec![out, weights]
    } else {
        vec![out]
    })
}

/// `_transformer_encoder_layer_fwd`.
fn encoder_layer(inputs: &[Tensor], params: &EncoderLayerParams) -> Result<Tensor, TchError> {
    let Some(
        [src, qkv_weight, qkv_bias, proj_weight, proj_bias, norm_weight_1, norm_bias_1, norm_weight_2, norm_bias_2, ffn_weight_1, ffn_bias_1, ffn_weight_2, ffn_bias_2],
    ) = inputs.get(..13)
    else {
        return Err(missing(13));
    };
    Tensor::f_internal_transformer_encoder_layer_fwd(
        src,
        params.embed_dim,
        params.num_heads,
        qkv_weight,
        qkv_bias,
        proj_weight,
        proj_bias,
        params.use_gelu,
        params.norm_first,
        params.eps,
        norm_weight_1,
        norm_bias_1,
        norm_weight_2,
        norm_bias_2,
        ffn_weight_1,
        ffn_bias_1,
        ffn_weight_2,
        ffn_bias_2,
        inputs.get(13),
        params.mask_type,
    )
}

fn grid_sampler(x: &Tensor, grid: &Tensor, p: &GridSampleParams) -> Result<Tensor, TchError> {
    let (mode, padding, align) = (p.interpolation, p.padding, p.align_corners);
    if p.volumetric {
        x.f_grid_sampler_3d(grid, mode, padding, align)
    } else {
        x.f_grid_sampler_2d(grid, mode, padding, align)
    }
}

/// The gradients of `grid_sampler(input, grid)` weighted by `grad`, those `wanted`.
fn grid_sampler_backward(
    inputs: &[Tensor],
    p: &GridSampleParams,
    wanted: [bool; 2],
) -> Result<Vec<Tensor>, TchError> {
    let [grad, x, grid] = inputs else {
        return Err(missing(3));
    };
    // libtorch's CPU kernel computes the grid's gradient whether asked for or not.
    let grads = aten::grid_sampler_backward(grad, x, grid, p, wanted)?;
    grads
        .into_iter()
        .zip(wanted)
        .filter(|&(_, want)| want)
        .map(|(g, _)| g.ok_or_else(|| TchError::Torch("grid_sampler: no such gradient".into())))
        .collect()
}

/// `v` as C++'s `ostream` prints it in PyTorch's messages: `%g` with 6 significant digits,
/// and `nan`, `-nan`, `inf` for the others.
fn as_ostream(v: f64) -> String {
    if v.is_nan() {
        return if v.is_sign_negative() { "-nan" } else { "nan" }.to_string();
    }
    if v.is_infinite() || v == 0.0 {
        return format!("{v}");
    }
    let scientific = format!("{v:.5e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let trim = |s: &str| s.trim_end_matches('0').trim_end_matches('.').to_string();
    if !(-4..6).contains(&exponent) {
        let sign = if exponent < 0 { '-' } else { '+' };
        return format!("{}e{sign}{:02}", trim(mantissa), exponent.abs());
    }
    let fixed = format!("{v:.*}", (5 - exponent) as usize);
    if fixed.contains('.') {
        trim(&fixed)
    } else {
        fixed
    }
}

/// `histc` over `[min, max]`, or over the data's range when both are 0, widened by 1 each way
/// when it is a single point. Bins are found as the CPU's kernel finds them, by
/// `(x - lo) * bins / (hi - lo)` in `x`'s dtype, each step rounded to it: in half precision
/// an element near an edge can land in the neighbouring bin, which `histogram` would correct.
fn histc(x: &Tensor, bins: i64, min: f64, max: f64) -> Result<Tensor, TchError> {
    let (mut lo, mut hi) = (min, max);
    if lo == hi && x.numel() > 0 {
        (lo, hi) = (
            x.f_min()?.f_double_value(&[])?,
            x.f_max()?.f_double_value(&[])?,
        );
    }
    if !(lo.is_finite() && hi.is_finite()) {
        return Err(TchError::Kind(format!(
            "torch.histc: range of [{}, {}] is not finite",
            as_ostream(lo),
            as_ostream(hi)
        )));
    }
    if lo == hi {
        (lo, hi) = (lo - 1.0, hi + 1.0);
    }
    let kind = x.kind();
    let edges = Tensor::f_from_slice(&[lo, hi])?
        .f_to_kind(kind)?
        .f_to_device(x.device())?;
    let (lo, hi) = (edges.f_get(0)?, edges.f_get(1)?);
    let flat = x.f_flatten(0, -1)?;
    let inside = flat
        .f_ge_tensor(&lo)?
        .f_logical_and(&flat.f_le_tensor(&hi)?)?;
    // The right edge belongs to the last bin.
    let bin = flat
        .f_sub(&lo)?
        .f_mul_scalar(bins)?
        .f_div(&hi.f_sub(&lo)?)?
        .f_trunc()?
        .f_to_kind(Kind::Int64)?
        .f_clamp_max(bins - 1)?;
    bin.f_masked_select(&inside)?
        .f_bincount(None::<Tensor>, bins)?
        .f_to_kind(kind)
}

fn pair((a, b): (Tensor, Tensor)) -> Result<Vec<Tensor>, TchError> {
    Ok(vec![a, b])
}

fn reduction(r: Reduction) -> &'static str {
    match r {
        Reduction::Sum => "sum",
        Reduction::Prod => "prod",
        Reduction::Mean => "mean",
        Reduction::Amax => "amax",
        Reduction::Amin => "amin",
    }
}

fn missing(count: usize) -> TchError {
    TchError::Kind(format!("library op: expected at least {count} inputs"))
}

/// `_fft_r2c`, `_fft_c2r` or `_fft_c2c` of `x`.
fn fft(x: &Tensor, p: &FftParams) -> Result<Tensor, TchError> {
    let dims = p.dims.as_slice();
    match p.kind {
        FftKind::RealToComplex => x.f_internal_fft_r2c(dims, p.normalization, p.forward),
        FftKind::ComplexToReal => x.f_internal_fft_c2r(dims, p.normalization, p.last_size),
        FftKind::ComplexToComplex => x.f_internal_fft_c2c(dims, p.normalization, p.forward),
    }
}

/// `multi_margin_loss`, which libtorch's C API lacks: per sample, the mean over the other
/// classes of `weight[y] * max(0, margin - x[y] + x[j])^p`.
fn multi_margin_loss(
    inputs: &[Tensor],
    p: i64,
    margin: f64,
    reduction: i64,
) -> Result<Tensor, TchError> {
    let (x, target) = (input(inputs, 0)?, input(inputs, 1)?);
    let classes = x.size().last().copied().unwrap_or(1);
    let rows = x.f_reshape([-1, classes])?;
    let y = target.f_reshape([-1, 1])?;
    let picked = rows.f_gather(1, &y, false)?;
    let z = rows.f_sub(&picked)?.f_add_scalar(margin)?;
    // The CPU's kernel adds only the terms above zero, so a NaN term is skipped; clamping
    // would keep it.
    let mut z = z.f_where_scalarother(&z.f_gt(0.0)?, 0.0)?;
    if p == 2 {
        z = z.f_square()?;
    }
    if let Some(weight) = inputs.get(2) {
        z = z.f_mul(
            &weight
                .f_index_select(0, &y.f_reshape([-1])?)?
                .f_reshape([-1, 1])?,
        )?;
    }
    let z = z.f_scatter_value(1, &y, 0.0)?;
    let per_sample = z
        .f_sum_dim_intlist([1i64].as_slice(), false, x.kind())?
        .f_div_scalar(classes as f64)?;
    match reduction {
        0 if target.dim() > 0 => Ok(per_sample),
        0 => per_sample.f_reshape([0i64; 0]),
        1 => per_sample.f_mean(x.kind()),
        _ => per_sample.f_sum(x.kind()),
    }
}

/// aten's reduction code as tch's.
fn reduction_of(code: i64) -> tch::Reduction {
    match code {
        0 => tch::Reduction::None,
        1 => tch::Reduction::Mean,
        _ => tch::Reduction::Sum,
    }
}

/// `multilabel_margin_loss_forward`: libtorch's C API has only the loss, so `is_target` is
/// rebuilt from `target`: 1 at each class a sample lists before its first -1.
fn multilabel_margin_loss(inputs: &[Tensor], reduction: i64) -> Result<Vec<Tensor>, TchError> {
    let [x, target] = inputs else {
        return Err(missing(2));
    };
    let loss = x.f_multilabel_margin_loss(target, reduction_of(reduction))?;
    let classes = match target.size()[..] {
        [_, c] => c,
        _ => target.numel() as i64,
    };
    let rows = target.f_reshape([-1, classes])?;
    let listed = rows
        .f_ne(-1)?
        .f_cumprod(1, Kind::Int64)?
        .f_to_kind(x.kind())?;
    let is_target = x
        .f_new_zeros(rows.size().as_slice(), (x.kind(), x.device()))?
        .f_scatter_add(1, &rows.f_clamp_min(0)?, &listed)?
        .f_clamp_max(1)?
        .f_reshape(target.size().as_slice())?;
    Ok(vec![loss, is_target])
}

#[cfg(test)]
mod tests {
    use super::as_ostream;

    #[test]
    fn numbers_print_as_cpp_streams_print_them() {
        let cases = [
            (0.1f32 as f64, "0.1"),
            (1e-7, "1e-07"),
            (123_456_789.0, "1.23457e+08"),
            (1.0, "1"),
            (-2.5, "-2.5"),
            (100_000.0, "100000"),
            (1e6, "1e+06"),
            (0.0001, "0.0001"),
            (f64::NAN, "nan"),
            (-f64::NAN, "-nan"),
            (f64::NEG_INFINITY, "-inf"),
        ];
        for (v, printed) in cases {
            assert_eq!(as_ostream(v), printed, "{v:e}");
        }
    }
}
