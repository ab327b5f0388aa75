//! The table's entries for making, copying, viewing and indexing tensors: factories,
//! copies and casts, views, complex views, indexing and scatter, sorting and arranging,
//! data-dependent ops and random sampling.

use super::*;

pub(super) const FACTORY: &[Entry] = &[
    e("empty", &["memory_format"], factory::empty),
    e("empty_strided", &[""], factory::empty_strided),
    e("_efficientzerotensor", &[""], factory::zero_tensor),
    e("arange", &["start_out"], |a, c| factory::arange(a, c, true)),
    e("arange", &["out"], |a, c| factory::arange(a, c, false)),
    e("eye", &["out"], |a, c| factory::eye(a, c, false)),
    e("linspace", &["out"], |a, c| factory::spaced(a, c, false)),
    e("logspace", &["out"], |a, c| factory::spaced(a, c, true)),
    e("eye", &["m_out"], |a, c| factory::eye(a, c, true)),
    e("fill_", &["Scalar", "Tensor"], factory::fill),
    e("zero_", &[""], factory::zero),
    e(
        "normal",
        &["Tensor_Tensor", "Tensor_float", "float_Tensor"],
        |a, c| factory::normal_tensors(a, c, F),
    ),
    e(
        "normal",
        &["Tensor_Tensor_out", "Tensor_float_out", "float_Tensor_out"],
        |a, c| factory::normal_tensors(a, c, Out(3)),
    ),
    e("normal_", &[""], |a, c| {
        factory::random(a, c, RandomOp::Normal)
    }),
    e("uniform_", &[""], |a, c| {
        factory::random(a, c, RandomOp::Uniform)
    }),
    e("exponential_", &[""], |a, c| {
        factory::random(a, c, RandomOp::Exponential)
    }),
    e("log_normal_", &[""], |a, c| {
        factory::random(a, c, RandomOp::LogNormal)
    }),
    e("cauchy_", &[""], |a, c| {
        factory::random(a, c, RandomOp::Cauchy)
    }),
    e("geometric_", &[""], |a, c| {
        factory::random(a, c, RandomOp::Geometric)
    }),
];

pub(super) const COPY: &[Entry] = &[
    e("copy_", &[""], copy::copy_),
    e("_copy_from", &[""], copy::copy_from),
    e("_copy_from_and_resize", &[""], copy::copy_from_and_resize),
    e("_to_copy", &[""], copy::to_copy),
    e("dequantize", &["self"], copy::dequantize),
    e("clone", &[""], copy::clone),
    e("resize_", &[""], copy::resize_),
    e("set_", &[""], copy::set_empty),
    e("set_", &["source_Tensor"], |a, _| copy::set_tensor(a)),
    e("set_", &["source_Storage"], |a, _| {
        copy::set_storage(a, false)
    }),
    e("set_", &["source_Storage_storage_offset"], |a, _| {
        copy::set_storage(a, true)
    }),
    e("record_stream", &[""], |a, _| copy::record_stream(a)),
];

pub(super) const VIEW: &[Entry] = &[
    e("view", &[""], |a, _| view::view(a)),
    e("_unsafe_view", &[""], |a, _| view::view(a)),
    e("view", &["dtype"], |a, _| view::view_dtype(a)),
    e("as_strided", &[""], view::as_strided),
    e("_reshape_alias", &[""], |a, _| view::reshape_alias(a)),
    e("alias", &[""], |a, _| view::alias(a)),
    e("detach", &[""], |a, _| view::alias(a)),
    e("t", &[""], |a, _| view::t(a)),
    e("transpose", &["int"], |a, _| view::transpose(a)),
    e("select", &["int"], |a, _| view::select(a)),
    e("slice", &["Tensor"], |a, _| view::slice(a)),
    e("expand", &[""], |a, _| view::expand(a)),
    e("squeeze", &["", "dim", "dims"], |a, _| view::squeeze(a)),
    e("unsqueeze", &[""], |a, _| view::unsqueeze(a)),
    e("permute", &[""], |a, _| view::permute(a)),
    e("unfold", &[""], |a, _| view::unfold(a)),
];

pub(super) const COMPLEX: &[Entry] = &[
    e("view_as_real", &[""], |a, _| complex::view_as_real(a)),
    e("view_as_complex", &[""], |a, _| complex::view_as_complex(a)),
    e("polar", &[""], |a, c| {
        complex::combine(a, c, F, LibraryOp::Polar)
    }),
    e("polar", &["out"], |a, c| {
        complex::combine(a, c, Out(2), LibraryOp::Polar)
    }),
    e("complex", &[""], |a, c| {
        complex::combine(a, c, F, LibraryOp::Complex)
    }),
    e("complex", &["out"], |a, c| {
        complex::combine(a, c, Out(2), LibraryOp::Complex)
    }),
    e("conj_physical", &["out"], |a, c| {
        complex::conj_physical(a, c, Out(1))
    }),
    e("conj_physical_", &[""], |a, c| {
        complex::conj_physical(a, c, I)
    }),
    e("_conj_physical", &[""], |a, c| {
        complex::conj_physical(a, c, F)
    }),
    e("_fft_r2c", &[""], |a, c| {
        complex::fft(a, c, FftKind::RealToComplex)
    }),
    e("_fft_c2r", &[""], |a, c| {
        complex::fft(a, c, FftKind::ComplexToReal)
    }),
    e("_fft_c2c", &[""], |a, c| {
        complex::fft(a, c, FftKind::ComplexToComplex)
    }),
    e("_fft_r2c", &["out"], |a, c| {
        copied_out::castable(a, c, "_fft_r2c", false, |a, c| {
            complex::fft(a, c, FftKind::RealToComplex)
        })
    }),
    e("_fft_c2r", &["out"], |a, c| {
        copied_out::castable(a, c, "_fft_c2r", false, |a, c| {
            complex::fft(a, c, FftKind::ComplexToReal)
        })
    }),
    e("_fft_c2c", &["out"], |a, c| {
        copied_out::castable(a, c, "_fft_c2c", false, |a, c| {
            complex::fft(a, c, FftKind::ComplexToComplex)
        })
    }),
];

pub(super) const INDEX: &[Entry] = &[
    e("index_select", &[""], |a, c| index::index_select(a, c, F)),
    e("index_select", &["out"], |a, c| {
        index::index_select(a, c, Out(3))
    }),
    e("gather", &[""], |a, c| index::gather(a, c, F)),
    e("gather", &["out"], |a, c| index::gather(a, c, Out(4))),
    e("scatter", &["src", "value"], |a, c| {
        index::scatter(a, c, F, ScatterOp::Assign)
    }),
    e("scatter_", &["src", "value"], |a, c| {
        index::scatter(a, c, I, ScatterOp::Assign)
    }),
    e("scatter", &["src_out", "value_out"], |a, c| {
        index::scatter(a, c, Out(4), ScatterOp::Assign)
    }),
    e("scatter", &["reduce", "value_reduce"], |a, c| {
        index::scatter_reduce_named(a, c, F)
    }),
    e("scatter_", &["reduce", "value_reduce"], |a, c| {
        index::scatter_reduce_named(a, c, I)
    }),
    e("scatter", &["reduce_out", "value_reduce_out"], |a, c| {
        index::scatter_reduce_named(a, c, Out(5))
    }),
    e("scatter_add", &[""], |a, c| {
        index::scatter(a, c, F, ScatterOp::Add)
    }),
    e("scatter_add_", &[""], |a, c| {
        index::scatter(a, c, I, ScatterOp::Add)
    }),
    e("scatter_add", &["out"], |a, c| {
        index::scatter(a, c, Out(4), ScatterOp::Add)
    }),
    e("scatter_reduce", &["two"], |a, c| {
        indexed_write::scatter_reduce(a, c, F)
    }),
    e("scatter_reduce_", &["two"], |a, c| {
        indexed_write::scatter_reduce(a, c, I)
    }),
    e("scatter_reduce", &["two_out"], |a, c| {
        indexed_write::scatter_reduce(a, c, Out(6))
    }),
    e("index_reduce", &[""], |a, c| {
        indexed_write::index_reduce(a, c, F)
    }),
    e("index_reduce_", &[""], |a, c| {
        indexed_write::index_reduce(a, c, I)
    }),
    e("index_reduce", &["out"], |a, c| {
        indexed_write::index_reduce(a, c, Out(6))
    }),
    e("index_copy", &[""], |a, c| {
        indexed_write::index_copy(a, c, F)
    }),
    e("index_copy_", &[""], |a, c| {
        indexed_write::index_copy(a, c, I)
    }),
    e("index_copy", &["out"], |a, c| {
        indexed_write::index_copy(a, c, Out(4))
    }),
    e("embedding_renorm_", &[""], indexed_write::embedding_renorm),
    e(
        "index_fill_",
        &["int_Scalar", "int_Tensor"],
        indexed_write::index_fill,
    ),
    e("index_add", &[""], |a, c| index::index_add(a, c, F)),
    e("index_add_", &[""], |a, c| index::index_add(a, c, I)),
    e("index_add", &["out"], |a, c| index::index_add(a, c, Out(5))),
    e("masked_fill", &["Scalar", "Tensor"], |a, c| {
        index::masked_fill(a, c, F)
    }),
    e("masked_fill_", &["Scalar", "Tensor"], |a, c| {
        index::masked_fill(a, c, I)
    }),
    e(
        "embedding_dense_backward",
        &[""],
        index::embedding_dense_backward,
    ),
    e("index", &["Tensor"], advanced::index),
    e("index_put_", &[""], |a, c| advanced::index_put(a, c, 4)),
    e("_index_put_impl_", &[""], |a, c| {
        advanced::index_put(a, c, 5)
    }),
];

pub(super) const ARRANGE: &[Entry] = &[
    e("cat", &[""], |a, c| arrange::cat(a, c, F)),
    e("cat", &["out"], |a, c| arrange::cat(a, c, Out(2))),
    e("flip", &[""], arrange::flip),
    e("triu", &[""], |a, c| arrange::triangle(a, c, F, true)),
    e("triu_", &[""], |a, c| arrange::triangle(a, c, I, true)),
    e("triu", &["out"], |a, c| {
        arrange::triangle(a, c, Out(2), true)
    }),
    e("tril", &[""], |a, c| arrange::triangle(a, c, F, false)),
    e("tril_", &[""], |a, c| arrange::triangle(a, c, I, false)),
    e("tril", &["out"], |a, c| {
        arrange::triangle(a, c, Out(2), false)
    }),
    e("roll", &[""], arrange::roll),
    e("unfold_backward", &[""], arrange::unfold_backward),
    e("_logcumsumexp", &[""], |a, c| {
        arrange::logcumsumexp(a, c, F)
    }),
    e("_logcumsumexp", &["out"], |a, c| {
        arrange::logcumsumexp(a, c, Out(2))
    }),
    e("_cummax_helper", &[""], |a, c| {
        arrange::cumulative_extreme(a, c, true)
    }),
    e("_cummin_helper", &[""], |a, c| {
        arrange::cumulative_extreme(a, c, false)
    }),
    e("cumsum", &[""], |a, c| {
        arrange::scan(a, c, F, ScanOp::Cumsum)
    }),
    e("cumsum_", &[""], |a, c| {
        arrange::scan(a, c, I, ScanOp::Cumsum)
    }),
    e("cumsum", &["out"], |a, c| {
        arrange::scan(a, c, Out(3), ScanOp::Cumsum)
    }),
    e("cumprod", &[""], |a, c| {
        arrange::scan(a, c, F, ScanOp::Cumprod)
    }),
    e("cumprod_", &[""], |a, c| {
        arrange::scan(a, c, I, ScanOp::Cumprod)
    }),
    e("cumprod", &["out"], |a, c| {
        arrange::scan(a, c, Out(3), ScanOp::Cumprod)
    }),
    e("sort", &[""], |a, c| arrange::sort(a, c, false, None)),
    e("sort", &["values"], |a, c| {
        arrange::sort(a, c, false, Some(3))
    }),
    e("sort", &["stable"], |a, c| arrange::sort(a, c, true, None)),
    e("sort", &["values_stable"], |a, c| {
        arrange::sort(a, c, true, Some(4))
    }),
    e("topk", &[""], |a, c| arrange::topk(a, c, false)),
    e("topk", &["values"], |a, c| arrange::topk(a, c, true)),
];

pub(super) const DATA: &[Entry] = &[
    e("nonzero", &[""], data::nonzero),
    e("nonzero", &["out"], data::nonzero_out),
    e("masked_select", &[""], |a, c| data::masked_select(a, c, F)),
    e("masked_select", &["out"], |a, c| {
        data::masked_select(a, c, Out(2))
    }),
    e("masked_scatter_", &[""], data::masked_scatter_),
    e("_unique", &[""], data::unique),
    e("_unique2", &[""], data::unique2),
    e("unique_dim", &[""], data::unique_dim),
    e("unique_consecutive", &[""], data::unique_consecutive),
];

pub(super) const RANDOM: &[Entry] = &[
    e("bernoulli_", &["float"], random::bernoulli),
    e("bernoulli", &["out"], random::bernoulli_out),
    e("bernoulli_", &["Tensor"], |a, c| {
        random::bernoulli_tensor(a, c)
    }),
    e("poisson", &[""], |a, c| {
        random::sample(a, c, SampleOp::Poisson)
    }),
    e("_standard_gamma", &[""], |a, c| {
        random::sample(a, c, SampleOp::StandardGamma)
    }),
    e("_standard_gamma_grad", &[""], |a, c| {
        random::standard_gamma_grad(a, c)
    }),
    e("binomial", &[""], random::binomial),
    e("_sample_dirichlet", &[""], |a, c| {
        random::sample(a, c, SampleOp::Dirichlet)
    }),
    e("random_", &[""], |a, c| {
        random::random(a, c, Range::Default)
    }),
    e("random_", &["to"], |a, c| random::random(a, c, Range::To)),
    e("random_", &["from"], |a, c| {
        random::random(a, c, Range::From)
    }),
    e("multinomial", &[""], |a, c| random::multinomial(a, c, F)),
    e("multinomial", &["out"], |a, c| {
        random::multinomial(a, c, Out(4))
    }),
    e("randperm", &["out"], |a, c| random::randperm(a, c, false)),
    e("randperm", &["generator_out"], |a, c| {
        random::randperm(a, c, true)
    }),
    e("native_dropout", &[""], random::dropout),
    e("kthvalue", &[""], |a, c| {
        arrange::select(a, c, SelectOp::Kthvalue, false)
    }),
    e("kthvalue", &["values"], |a, c| {
        arrange::select(a, c, SelectOp::Kthvalue, true)
    }),
    e("median", &["dim"], |a, c| {
        arrange::select(a, c, SelectOp::Median, false)
    }),
    e("median", &["dim_values"], |a, c| {
        arrange::select(a, c, SelectOp::Median, true)
    }),
    e("nanmedian", &["dim"], |a, c| {
        arrange::select(a, c, SelectOp::Nanmedian, false)
    }),
    e("nanmedian", &["dim_values"], |a, c| {
        arrange::select(a, c, SelectOp::Nanmedian, true)
    }),
    e("mode", &[""], |a, c| {
        arrange::select(a, c, SelectOp::Mode, false)
    }),
    e("mode", &["values"], |a, c| {
        arrange::select(a, c, SelectOp::Mode, true)
    }),
    e("median", &[""], |a, c| {
        arrange::median_all(a, c, SelectOp::Median)
    }),
    e("nanmedian", &[""], |a, c| {
        arrange::median_all(a, c, SelectOp::Nanmedian)
    }),
    e("native_dropout_backward", &[""], |a, c| {
        random::dropout_backward(a, c, F)
    }),
    e("native_dropout_backward", &["out"], |a, c| {
        random::dropout_backward(a, c, Out(3))
    }),
];
