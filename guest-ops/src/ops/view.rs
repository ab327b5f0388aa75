//! View ops: new sizes, strides and offset on the input's storage, with no kernel call.

use crate::error::ensure;
use crate::ops::args::Args;
use crate::ops::ctx::Ctx;
use crate::ops::Outputs;
use crate::rules::shape::dim_mask;
use crate::rules::{dims, view};
use crate::types::{Output, TensorMeta};

fn one(t: TensorMeta) -> Outputs {
    Ok(vec![Output::Tensor(t)])
}

/// `view(self, size)` and `_unsafe_view(self, size)`.
pub fn view(args: &Args) -> Outputs {
    args.at_most(2)?;
    one(view::view(args.tensor(0)?, args.int_list(1)?)?)
}

/// `view.dtype(self, dtype)`
pub fn view_dtype(args: &Args) -> Outputs {
    args.at_most(2)?;
    one(view::view_dtype(args.tensor(0)?, args.dtype(1)?)?)
}

/// `as_strided(self, size, stride, storage_offset=None)`
pub fn as_strided(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(4)?;
    let t = args.tensor(0)?;
    let offset = args.opt_int(3)?.unwrap_or(t.storage_offset);
    let out = view::as_strided(t, args.int_list(1)?, args.int_list(2)?, offset)?;
    cx.check_in_storage(t, &out)?;
    one(out)
}

/// `_reshape_alias(self, size, stride)`
pub fn reshape_alias(args: &Args) -> Outputs {
    args.at_most(3)?;
    let t = args.tensor(0)?;
    one(view::as_strided(
        t,
        args.int_list(1)?,
        args.int_list(2)?,
        t.storage_offset,
    )?)
}

/// `alias(self)` and `detach(self)`.
pub fn alias(args: &Args) -> Outputs {
    args.at_most(1)?;
    one(args.tensor(0)?.clone())
}

/// `t(self)`
pub fn t(args: &Args) -> Outputs {
    args.at_most(1)?;
    let x = args.tensor(0)?;
    ensure!(
        x.dim() <= 2,
        "t() expects a tensor with <= 2 dimensions, but self is {}D",
        x.dim()
    );
    one(dims::transpose(x, 0, -1)?)
}

/// `transpose.int(self, dim0, dim1)`
pub fn transpose(args: &Args) -> Outputs {
    args.at_most(3)?;
    one(dims::transpose(
        args.tensor(0)?,
        args.int(1)?,
        args.int(2)?,
    )?)
}

/// `select.int(self, dim, index)`
pub fn select(args: &Args) -> Outputs {
    args.at_most(3)?;
    one(dims::select(args.tensor(0)?, args.int(1)?, args.int(2)?)?)
}

/// `slice.Tensor(self, dim=0, start=None, end=None, step=1)`
pub fn slice(args: &Args) -> Outputs {
    args.at_most(5)?;
    let t = args.tensor(0)?;
    let dim = args.int_or(1, 0)?;
    one(dims::slice(
        t,
        dim,
        args.opt_int(2)?,
        args.opt_int(3)?,
        args.int_or(4, 1)?,
    )?)
}

/// `expand(self, size, *, implicit=False)`
pub fn expand(args: &Args) -> Outputs {
    args.at_most(3)?;
    one(dims::expand(args.tensor(0)?, args.int_list(1)?)?)
}

/// `squeeze(self)`, `squeeze.dim(self, dim)` and `squeeze.dims(self, dim)`.
pub fn squeeze(args: &Args) -> Outputs {
    args.at_most(2)?;
    let t = args.tensor(0)?;
    let mask = match args.opt_int_list(1)? {
        None => vec![true; t.dim()],
        Some(dims) => dim_mask(dims, t.dim())?,
    };
    one(dims::squeeze(t, &mask))
}

/// `unsqueeze(self, dim)`
pub fn unsqueeze(args: &Args) -> Outputs {
    args.at_most(2)?;
    one(dims::unsqueeze(args.tensor(0)?, args.int(1)?)?)
}

/// `permute(self, dims)`
pub fn permute(args: &Args) -> Outputs {
    args.at_most(2)?;
    one(dims::permute(args.tensor(0)?, args.int_list(1)?)?)
}

/// `unfold(self, dimension, size, step)`
pub fn unfold(args: &Args) -> Outputs {
    args.at_most(4)?;
    one(dims::unfold(
        args.tensor(0)?,
        args.int(1)?,
        args.int(2)?,
        args.int(3)?,
    )?)
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{arg, f32s, geometry, meta, run};
    use crate::types::{Arg, ScalarType};

    fn view_of(
        name: &str,
        overload: &str,
        args: Vec<Arg>,
    ) -> (Vec<i64>, Vec<i64>, i64, ScalarType) {
        let (res, fake) = run(name, overload, args);
        assert!(
            fake.calls.is_empty() && fake.allocated.is_empty(),
            "views make no kernel calls"
        );
        let t = meta(&res.unwrap(), 0);
        assert_eq!(t.storage, 1, "views share their input's storage");
        geometry(&t)
    }

    #[test]
    fn view_ops_return_metadata_on_the_same_storage() {
        let x = f32s(&[3, 4, 5], 1);
        let f = ScalarType::Float32;
        assert_eq!(
            view_of("view", "", vec![arg(&x), Arg::IntList(vec![12, -1])]),
            (vec![12, 5], vec![5, 1], 0, f)
        );
        assert_eq!(
            view_of("t", "", vec![arg(&f32s(&[3, 4], 1))]),
            (vec![4, 3], vec![1, 4], 0, f)
        );
        assert_eq!(
            view_of(
                "select",
                "int",
                vec![arg(&x), Arg::Integer(1), Arg::Integer(-1)]
            ),
            (vec![3, 5], vec![20, 1], 15, f)
        );
        let slice = vec![
            arg(&x),
            Arg::Integer(1),
            Arg::Integer(1),
            Arg::Integer(4),
            Arg::Integer(2),
        ];
        assert_eq!(
            view_of("slice", "Tensor", slice),
            (vec![3, 2, 5], vec![20, 10, 1], 5, f)
        );
        let open = vec![
            arg(&x),
            Arg::Integer(0),
            Arg::None,
            Arg::None,
            Arg::Integer(1),
        ];
        assert_eq!(view_of("slice", "Tensor", open).0, vec![3, 4, 5]);
        assert_eq!(
            view_of("permute", "", vec![arg(&x), Arg::IntList(vec![2, 0, 1])]).1,
            vec![1, 20, 5]
        );
        assert_eq!(
            view_of(
                "expand",
                "",
                vec![arg(&f32s(&[4, 1], 1)), Arg::IntList(vec![2, -1, 3])]
            )
            .1,
            vec![0, 1, 0]
        );
        assert_eq!(
            view_of("unsqueeze", "", vec![arg(&x), Arg::Integer(-1)]).1,
            vec![20, 5, 1, 1]
        );
        let y = f32s(&[1, 3, 1], 1);
        assert_eq!(view_of("squeeze", "", vec![arg(&y)]).0, vec![3]);
        assert_eq!(
            view_of("squeeze", "dim", vec![arg(&y), Arg::Integer(1)]).0,
            vec![1, 3, 1]
        );
        assert_eq!(
            view_of("squeeze", "dims", vec![arg(&y), Arg::IntList(vec![0, 2])]).0,
            vec![3]
        );
        let strided = vec![
            arg(&x),
            Arg::IntList(vec![2, 2]),
            Arg::IntList(vec![1, 2]),
            Arg::Integer(3),
        ];
        assert_eq!(
            view_of("as_strided", "", strided),
            (vec![2, 2], vec![1, 2], 3, f)
        );
        let alias = vec![arg(&x), Arg::IntList(vec![60]), Arg::IntList(vec![1])];
        assert_eq!(view_of("_reshape_alias", "", alias).0, vec![60]);
        assert_eq!(
            view_of(
                "view",
                "dtype",
                vec![arg(&x), Arg::Dtype(ScalarType::Int16)]
            )
            .0,
            vec![3, 4, 10]
        );
        assert_eq!(view_of("detach", "", vec![arg(&x)]), geometry(&x));
        let windows = vec![arg(&x), Arg::Integer(1), Arg::Integer(2), Arg::Integer(1)];
        assert_eq!(
            view_of("unfold", "", windows),
            (vec![3, 3, 5, 2], vec![20, 5, 1, 5], 0, f)
        );
        let scalar = vec![
            arg(&f32s(&[], 1)),
            Arg::Integer(0),
            Arg::Integer(1),
            Arg::Integer(1),
        ];
        assert_eq!(view_of("unfold", "", scalar).0, vec![1]);
    }

    #[test]
    fn view_errors() {
        let (res, _) = run("t", "", vec![arg(&f32s(&[2, 3, 4], 1))]);
        assert!(res
            .unwrap_err()
            .message
            .contains("t() expects a tensor with <= 2 dimensions, but self is 3D"));
        let (res, _) = run(
            "transpose",
            "int",
            vec![arg(&f32s(&[3, 4], 1)), Arg::Integer(0), Arg::Integer(2)],
        );
        assert!(res
            .unwrap_err()
            .message
            .contains("Dimension out of range (expected to be in range of [-2, 1], but got 2)"));
        let (res, _) = run("view", "", vec![arg(&f32s(&[6], 1))]);
        assert!(res
            .unwrap_err()
            .message
            .contains("argument 1 must be a list of ints, but got none"));
        let (res, _) = run(
            "view",
            "",
            vec![arg(&f32s(&[6], 1)), Arg::IntList(vec![6]), Arg::None],
        );
        assert!(res
            .unwrap_err()
            .message
            .contains("expected at most 2 arguments, got 3"));
    }
}
