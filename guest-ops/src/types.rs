//! Short paths to the generated WIT types, and the small helpers every module uses on them.

pub use crate::bindings::exports::torch_remote::ops::dispatch::{
    CpuConvolutions, Determinism, OpSettings, Warning,
};
pub use crate::bindings::torch_remote::ops::kernels::{
    ActivationOp, AdagradParams, AdamParams, AttentionParams, BinaryOp, ConvParams, CtcParams,
    EmbeddingBagParams, EncoderLayerParams, Factorization, FftKind, FftParams,
    FusedFakeQuantizeParams, GatherOp, GridSampleParams, IndexReduceOp, IsinParams,
    LearnableFakeQuantizeParams, LibraryOp, LinalgOp, LossOp, LossOptions, LstmLayerParams,
    LstsqDriver, MomentOp, NmsQuery, Operand, PadMode, PoolOp, PoolParams, RandomOp, ReduceOp,
    Reduction, RnnLayerParams, RnnMode, RoiAlignParams, RoiPoolParams, SampleOp, ScanOp, ScatterOp,
    SegmentReduceParams, SelectOp, SgdParams, SizeQuery, TernaryOp, UnaryOp, UpsampleMode,
};
pub use crate::bindings::torch_remote::ops::types::{
    Arg, ErrorKind, OpError, Output, Scalar, ScalarType, StorageId, TensorMeta,
};

use crate::rules::shape::fmt_shape;

impl Scalar {
    /// The number as a double, as `Scalar::to<double>()` reads it (a complex one's real part).
    pub fn to_f64(self) -> f64 {
        match self {
            Scalar::Integer(v) => v as f64,
            Scalar::Float(v) => v,
            Scalar::Boolean(v) => f64::from(u8::from(v)),
            Scalar::Complex((re, _)) => re,
        }
    }
}

impl TensorMeta {
    pub fn dim(&self) -> usize {
        self.sizes.len()
    }

    /// `[2, 3] Float`: how messages name a tensor.
    pub fn describe(&self) -> String {
        format!("{} {}", fmt_shape(&self.sizes), self.dtype.name())
    }

    /// Another view of the same storage.
    pub fn view(&self, sizes: Vec<i64>, strides: Vec<i64>, storage_offset: i64) -> TensorMeta {
        TensorMeta {
            sizes,
            strides,
            storage_offset,
            dtype: self.dtype,
            storage: self.storage,
        }
    }
}
