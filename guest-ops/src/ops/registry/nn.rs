//! The table's entries for neural-network layers: softmax, losses, normalizations,
//! pooling, convolution, resampling and padding.

use super::*;

pub(super) const SOFTMAX: &[Entry] = &[
    e("_softmax", &[""], |a, c| softmax::softmax(a, c, F, false)),
    e("_softmax", &["out"], |a, c| {
        softmax::softmax(a, c, Out(3), false)
    }),
    e("_log_softmax", &[""], |a, c| {
        softmax::softmax(a, c, F, true)
    }),
    e("_log_softmax", &["out"], |a, c| {
        softmax::softmax(a, c, Out(3), true)
    }),
    e("_softmax_backward_data", &[""], |a, c| {
        softmax::softmax_backward(a, c, F, false)
    }),
    e("_softmax_backward_data", &["out"], |a, c| {
        softmax::softmax_backward(a, c, Out(4), false)
    }),
    e("_log_softmax_backward_data", &[""], |a, c| {
        softmax::softmax_backward(a, c, F, true)
    }),
    e("_log_softmax_backward_data", &["out"], |a, c| {
        softmax::softmax_backward(a, c, Out(4), true)
    }),
];

pub(super) const LOSS: &[Entry] = &[
    e("nll_loss_forward", &[""], |a, c| {
        loss::forward(a, c, F, false)
    }),
    e("nll_loss_forward", &["output"], |a, c| {
        loss::forward(a, c, Out(5), false)
    }),
    e("nll_loss_backward", &[""], |a, c| {
        loss::backward(a, c, F, false)
    }),
    e("nll_loss_backward", &["grad_input"], |a, c| {
        loss::backward(a, c, Out(7), false)
    }),
    e("nll_loss2d_forward", &[""], |a, c| {
        loss::forward(a, c, F, true)
    }),
    e("nll_loss2d_forward", &["output"], |a, c| {
        loss::forward(a, c, Out(5), true)
    }),
    e("nll_loss2d_backward", &[""], |a, c| {
        loss::backward(a, c, F, true)
    }),
    e("nll_loss2d_backward", &["grad_input"], |a, c| {
        loss::backward(a, c, Out(7), true)
    }),
];

pub(super) const NORM: &[Entry] = &[
    e("native_layer_norm", &[""], norm::layer_norm),
    e(
        "native_layer_norm_backward",
        &[""],
        norm::layer_norm_backward,
    ),
    e("native_batch_norm", &[""], norm::batch_norm),
    e("_native_batch_norm_legit", &[""], norm::batch_norm),
    e(
        "_native_batch_norm_legit",
        &["no_stats"],
        norm::batch_norm_without_stats,
    ),
    e(
        "_native_batch_norm_legit_no_training",
        &[""],
        norm::batch_norm_eval,
    ),
    e(
        "_native_batch_norm_legit_functional",
        &[""],
        norm::batch_norm_functional,
    ),
    e("_batch_norm_with_update", &[""], |a, c| {
        norm::batch_norm_update(a, c, true)
    }),
    e("_batch_norm_no_update", &[""], |a, c| {
        norm::batch_norm_update(a, c, false)
    }),
    e("batch_norm_backward", &[""], norm::batch_norm_backward),
    e(
        "native_batch_norm_backward",
        &[""],
        norm::batch_norm_backward,
    ),
    e("native_group_norm", &[""], norm::group_norm),
    e(
        "native_group_norm_backward",
        &[""],
        norm::group_norm_backward,
    ),
];

/// Whole layers that `torch.nn` calls as one op on an accelerator.
pub(super) const LAYER: &[Entry] = &[
    e("_thnn_fused_lstm_cell", &[""], recurrent::lstm_cell),
    e(
        "_thnn_fused_lstm_cell_backward_impl",
        &[""],
        recurrent::lstm_cell_backward,
    ),
    e("mkldnn_rnn_layer", &[""], recurrent_layer::lstm),
    e(
        "mkldnn_rnn_layer_backward",
        &[""],
        recurrent_layer::lstm_backward,
    ),
    e("torch_remote::rnn_layer", &[""], recurrent_layer::rnn),
    e(
        "torch_remote::rnn_layer_backward",
        &[""],
        recurrent_layer::rnn_backward,
    ),
    e("_thnn_fused_gru_cell", &[""], recurrent::gru_cell),
    e(
        "_thnn_fused_gru_cell_backward",
        &[""],
        recurrent::gru_cell_backward,
    ),
    e("_embedding_bag", &[""], |a, c| {
        embedding_bag::embedding_bag(a, c, false)
    }),
    e("_embedding_bag_forward_only", &[""], |a, c| {
        embedding_bag::embedding_bag(a, c, true)
    }),
    e(
        "_embedding_bag_backward",
        &[""],
        embedding_bag::embedding_bag_backward,
    ),
    e(
        "_embedding_bag_per_sample_weights_backward",
        &[""],
        embedding_bag::per_sample_weights_backward,
    ),
    e("bincount", &[""], counting::bincount),
    e(
        "torchaudio::_lfilter_core_loop",
        &[""],
        audio::lfilter_core_loop,
    ),
    e("segment_reduce", &[""], segment::segment_reduce),
    e(
        "_segment_reduce_backward",
        &[""],
        segment::segment_reduce_backward,
    ),
    e(
        "_convert_indices_from_coo_to_csr",
        &[""],
        segment::coo_to_csr,
    ),
    e(
        "_convert_indices_from_csr_to_coo",
        &[""],
        segment::csr_to_coo,
    ),
    e("torchvision::nms", &[""], vision::nms),
    e("torchvision::roi_align", &[""], vision::roi_align),
    e(
        "torchvision::_roi_align_backward",
        &[""],
        vision::roi_align_backward,
    ),
    e("torchvision::roi_pool", &[""], vision::roi_pool),
    e(
        "torchvision::_roi_pool_backward",
        &[""],
        vision::roi_pool_backward,
    ),
    e("torchvision::ps_roi_align", &[""], vision::ps_roi_align),
    e(
        "torchvision::_ps_roi_align_backward",
        &[""],
        vision::ps_roi_align_backward,
    ),
    e("torchvision::ps_roi_pool", &[""], vision::ps_roi_pool),
    e(
        "torchvision::_ps_roi_pool_backward",
        &[""],
        vision::ps_roi_pool_backward,
    ),
    e("histc", &[""], counting::histc),
    e("histc", &["out"], counting::histc_out),
    e(
        "repeat_interleave",
        &["Tensor"],
        counting::repeat_interleave,
    ),
    e("_cdist_forward", &[""], spatial::cdist),
    e("_cdist_backward", &[""], spatial::cdist_backward),
    e("linalg_cross", &[""], |a, c| spatial::cross(a, c, F)),
    e("linalg_cross", &["out"], |a, c| {
        spatial::cross(a, c, Out(3))
    }),
    e("grid_sampler_2d", &[""], |a, c| {
        spatial::grid_sampler(a, c, 2)
    }),
    e("grid_sampler_3d", &[""], |a, c| {
        spatial::grid_sampler(a, c, 3)
    }),
    e("grid_sampler_2d_backward", &[""], |a, c| {
        spatial::grid_sampler_backward(a, c, 2)
    }),
    e("grid_sampler_3d_backward", &[""], |a, c| {
        spatial::grid_sampler_backward(a, c, 3)
    }),
    e("channel_shuffle", &[""], spatial::channel_shuffle),
    e(
        "_scaled_dot_product_flash_attention_for_cpu",
        &[""],
        flash_attention::forward,
    ),
    e(
        "_scaled_dot_product_flash_attention_for_cpu_backward",
        &[""],
        flash_attention::backward,
    ),
    e(
        "_native_multi_head_attention",
        &[""],
        transformer::multi_head_attention,
    ),
    e(
        "_transformer_encoder_layer_fwd",
        &[""],
        transformer::encoder_layer,
    ),
];

/// The entries of max and average pooling over `$dims` spatial dims.
macro_rules! window_pools {
    ($dims:literal, $max:literal, $max_backward:literal, $avg:literal, $avg_backward:literal) => {
        [
            e($max, &[""], |a, c| pool::max_pool(a, c, $dims, false)),
            e($max, &["out"], |a, c| pool::max_pool(a, c, $dims, true)),
            e($max_backward, &[""], |a, c| {
                pool::max_pool_backward(a, c, $dims, F)
            }),
            e($max_backward, &["grad_input"], |a, c| {
                pool::max_pool_backward(a, c, $dims, Out(8))
            }),
            e($avg, &[""], |a, c| pool::avg_pool(a, c, $dims, F)),
            e($avg, &["out"], |a, c| pool::avg_pool(a, c, $dims, Out(7))),
            e($avg_backward, &[""], |a, c| {
                pool::avg_pool_backward(a, c, $dims, F)
            }),
            e($avg_backward, &["grad_input"], |a, c| {
                pool::avg_pool_backward(a, c, $dims, Out(8))
            }),
        ]
    };
}

/// The entries of adaptive average and max pooling over `$dims` spatial dims.
macro_rules! adaptive_pools {
    ($dims:literal, $avg:literal, $avg_backward:literal, $max:literal, $max_backward:literal) => {{
        const AVG: Pooling = Pooling {
            op: PoolOp::AdaptiveAvg,
            dims: $dims,
        };
        const MAX: Pooling = Pooling {
            op: PoolOp::AdaptiveMax,
            dims: $dims,
        };
        [
            e($avg, &[""], |a, c| pool::adaptive_pool(a, c, AVG, false)),
            e($avg_backward, &[""], |a, c| {
                pool::adaptive_pool_backward(a, c, AVG, F)
            }),
            e($max, &[""], |a, c| pool::adaptive_pool(a, c, MAX, false)),
            e($max, &["out"], |a, c| pool::adaptive_pool(a, c, MAX, true)),
            e($max_backward, &[""], |a, c| {
                pool::adaptive_pool_backward(a, c, MAX, F)
            }),
            e($max_backward, &["grad_input"], |a, c| {
                pool::adaptive_pool_backward(a, c, MAX, Out(3))
            }),
        ]
    }};
}

pub(super) const POOL: [[Entry; 8]; 2] = [
    window_pools!(
        2,
        "max_pool2d_with_indices",
        "max_pool2d_with_indices_backward",
        "avg_pool2d",
        "avg_pool2d_backward"
    ),
    window_pools!(
        3,
        "max_pool3d_with_indices",
        "max_pool3d_with_indices_backward",
        "avg_pool3d",
        "avg_pool3d_backward"
    ),
];

pub(super) const ADAPTIVE_POOL: [[Entry; 6]; 2] = [
    adaptive_pools!(
        2,
        "_adaptive_avg_pool2d",
        "_adaptive_avg_pool2d_backward",
        "adaptive_max_pool2d",
        "adaptive_max_pool2d_backward"
    ),
    adaptive_pools!(
        3,
        "_adaptive_avg_pool3d",
        "_adaptive_avg_pool3d_backward",
        "adaptive_max_pool3d",
        "adaptive_max_pool3d_backward"
    ),
];

pub(super) const CONV: &[Entry] = &[
    e("_convolution", &[""], conv::convolution),
    e("convolution_backward", &[""], conv::convolution_backward),
];

/// An op, its `.out`, its backward and the backward's `.grad_input`, each run by
/// `$forward`/`$backward(args, cx, out, OP)` with `OP` the given constant.
macro_rules! with_backward {
    ($name:literal, $forward:path, $backward:path, $ty:ty, $op:expr) => {{
        const OP: $ty = $op;
        [
            e($name, &[""], |a, c| $forward(a, c, false, OP)),
            e($name, &["out"], |a, c| $forward(a, c, true, OP)),
            e(concat!($name, "_backward"), &[""], |a, c| {
                $backward(a, c, false, OP)
            }),
            e(concat!($name, "_backward"), &["grad_input"], |a, c| {
                $backward(a, c, true, OP)
            }),
        ]
    }};
}

macro_rules! elementwise_loss {
    ($name:literal, $op:ident) => {
        with_backward!(
            $name,
            elementwise_loss::forward,
            elementwise_loss::backward,
            LossOp,
            LossOp::$op
        )
    };
}

pub(super) const ELEMENTWISE_LOSS: &[[Entry; 4]] = &[
    elementwise_loss!("mse_loss", Mse),
    elementwise_loss!("smooth_l1_loss", SmoothL1),
    elementwise_loss!("binary_cross_entropy", BinaryCrossEntropy),
    // Huber's backward names its `out=` form `out`.
    [
        e("huber_loss", &[""], |a, c| {
            elementwise_loss::forward(a, c, false, LossOp::Huber)
        }),
        e("huber_loss", &["out"], |a, c| {
            elementwise_loss::forward(a, c, true, LossOp::Huber)
        }),
        e("huber_loss_backward", &[""], |a, c| {
            elementwise_loss::backward(a, c, false, LossOp::Huber)
        }),
        e("huber_loss_backward", &["out"], |a, c| {
            elementwise_loss::backward(a, c, true, LossOp::Huber)
        }),
    ],
];

macro_rules! upsample {
    ($name:literal, $mode:ident, $dims:literal) => {
        with_backward!(
            $name,
            upsample::upsample,
            upsample::upsample_backward,
            Resample,
            Resample {
                mode: UpsampleMode::$mode,
                dims: $dims,
            }
        )
    };
}

pub(super) const UPSAMPLE: &[[Entry; 4]] = &[
    upsample!("upsample_nearest1d", Nearest, 1),
    upsample!("upsample_nearest2d", Nearest, 2),
    upsample!("upsample_nearest3d", Nearest, 3),
    upsample!("_upsample_nearest_exact1d", NearestExact, 1),
    upsample!("_upsample_nearest_exact2d", NearestExact, 2),
    upsample!("_upsample_nearest_exact3d", NearestExact, 3),
    upsample!("upsample_linear1d", Linear, 1),
    upsample!("upsample_bilinear2d", Linear, 2),
    upsample!("upsample_trilinear3d", Linear, 3),
    upsample!("upsample_bicubic2d", Cubic, 2),
    upsample!("_upsample_bilinear2d_aa", LinearAntialias, 2),
    upsample!("_upsample_bicubic2d_aa", CubicAntialias, 2),
];

macro_rules! padding {
    ($name:literal, $mode:ident, $dims:literal) => {
        with_backward!(
            $name,
            pad::pad,
            pad::pad_backward,
            Padding,
            Padding {
                mode: PadMode::$mode,
                dims: $dims,
            }
        )
    };
}

pub(super) const PAD: &[[Entry; 4]] = &[
    padding!("reflection_pad1d", Reflect, 1),
    padding!("reflection_pad2d", Reflect, 2),
    padding!("reflection_pad3d", Reflect, 3),
    padding!("replication_pad1d", Replicate, 1),
    padding!("replication_pad2d", Replicate, 2),
    padding!("replication_pad3d", Replicate, 3),
];
