//! Matrix products: `mm`, `addmm`, `bmm`, `baddbmm`, `mv`, `addmv`, `dot`, lowered to the
//! `matmul` kernel (vectors as one-column or one-row views).

use crate::error::{ensure, Error, Result};
use crate::kernels::failed;
use crate::ops::args::Args;
use crate::ops::ctx::Ctx;
use crate::ops::library;
use crate::ops::out::output;
use crate::ops::{Dest, Form, Outputs};
use crate::rules::dims::{expand, select};
use crate::rules::dtype::{check_not_bool, check_scalar_type, number_for};
use crate::rules::shape::{numel, wrap_dim};
use crate::types::{BinaryOp, LibraryOp, Operand, Scalar, ScalarType, TensorMeta};

fn check_multipliable(a: &TensorMeta, b: &TensorMeta) -> Result<()> {
    ensure!(
        a.sizes[1] == b.sizes[0],
        "mat1 and mat2 shapes cannot be multiplied ({}x{} and {}x{})",
        a.sizes[0],
        a.sizes[1],
        b.sizes[0],
        b.sizes[1]
    );
    Ok(())
}

/// The shape checks of `bmm` and `baddbmm`: two 3-d batches that multiply.
fn check_batches(a: &TensorMeta, b: &TensorMeta) -> Result<()> {
    ensure!(a.dim() == 3, "batch1 must be a 3D tensor");
    ensure!(b.dim() == 3, "batch2 must be a 3D tensor");
    ensure!(
        b.sizes[0] == a.sizes[0] && b.sizes[1] == a.sizes[2],
        "Expected size for first two dimensions of batch2 tensor to be: [{}, {}] but got: [{}, {}].",
        a.sizes[0],
        a.sizes[2],
        b.sizes[0],
        b.sizes[1]
    );
    Ok(())
}

/// Whether a plain product of `dtype` into `result` summing `k` terms is bools that the CPU
/// leaves all false: its kernels return before their dtype dispatch when the result is empty
/// or nothing is summed. Any other bool product is refused as `kernel`.
fn false_bool_product(dtype: ScalarType, result: &[i64], k: i64, kernel: &str) -> Result<bool> {
    if dtype == ScalarType::Bool && (numel(result)? == 0 || k == 0) {
        return Ok(true);
    }
    check_not_bool(dtype, kernel)?;
    Ok(false)
}

/// Writes the product into `out`: all false when `all_false`, by `matmul` otherwise.
fn product(
    cx: &mut Ctx,
    a: &TensorMeta,
    b: &TensorMeta,
    out: &TensorMeta,
    all_false: bool,
) -> Result<()> {
    if all_false {
        return cx
            .k
            .fill(out, Scalar::Boolean(false))
            .map_err(failed("fill"));
    }
    cx.k.matmul(a, b, None, Scalar::Integer(0), Scalar::Integer(1), out)
        .map_err(failed("matmul"))
}

/// `mm(self, mat2)` and `mm.out`.
pub fn mm(args: &Args, cx: &mut Ctx, form: Form) -> Outputs {
    args.at_most(2 + form.out_len())?;
    let (a, b) = (args.tensor(0)?, args.tensor(1)?);
    ensure!(a.dim() == 2, "self must be a matrix");
    ensure!(b.dim() == 2, "mat2 must be a matrix");
    check_multipliable(a, b)?;
    ensure!(
        a.dtype == b.dtype,
        "expected m1 and m2 to have the same dtype, but got: {} != {}",
        a.dtype.type_meta_name(),
        b.dtype.type_meta_name()
    );
    let shape = [a.sizes[0], b.sizes[1]];
    let all_false = false_bool_product(a.dtype, &shape, a.sizes[1], "addmm_impl_cpu_")?;
    let (out, outputs) = output(cx, form.dest(args)?, &shape, a.dtype)?;
    product(cx, a, b, &out, all_false)?;
    Ok(vec![outputs])
}

/// `beta` and `alpha` (arguments 3 and 4) of a product of `dtype`: integer products take
/// them as integers, as the CPU's kernels do, and complex ones only complex products.
fn scales(args: &Args, dtype: ScalarType) -> Result<(Scalar, Scalar)> {
    let scale = |i| match number_for(args.scalar_or(i, Scalar::Integer(1))?, dtype)? {
        Scalar::Float(v) if dtype.is_integral(true) => Ok(Scalar::Integer(v as i64)),
        other => Ok(other),
    };
    Ok((scale(3)?, scale(4)?))
}

/// `addmm(self, mat1, mat2, *, beta=1, alpha=1)`, `addmm.out` and `addmm_`.
pub fn addmm(args: &Args, cx: &mut Ctx, form: Form) -> Outputs {
    args.at_most(5 + form.out_len())?;
    let (bias, a, b) = (args.tensor(0)?, args.tensor(1)?, args.tensor(2)?);
    let (beta, alpha) = scales(args, b.dtype)?;
    ensure!(
        a.dim() == 2,
        "mat1 must be a matrix, got {}-D tensor",
        a.dim()
    );
    ensure!(
        b.dim() == 2,
        "mat2 must be a matrix, got {}-D tensor",
        b.dim()
    );
    check_multipliable(a, b)?;
    for (what, t) in [("self", bias), ("mat1", a)] {
        ensure!(
            t.dtype == b.dtype,
            "{what} and mat2 must have the same dtype, but got {} and {}",
            t.dtype.name(),
            b.dtype.name()
        );
    }
    let shape = [a.sizes[0], b.sizes[1]];
    let bias = expand(bias, &shape)?;
    check_not_bool(b.dtype, "addmm_impl_cpu_")?;
    let (out, outputs) = output(cx, form.dest(args)?, &shape, b.dtype)?;
    cx.k.matmul(a, b, Some(&bias), beta, alpha, &out)
        .map_err(failed("matmul"))?;
    Ok(vec![outputs])
}

/// `bmm(self, mat2)` and `bmm.out`.
pub fn bmm(args: &Args, cx: &mut Ctx, form: Form) -> Outputs {
    args.at_most(2 + form.out_len())?;
    let (a, b) = (args.tensor(0)?, args.tensor(1)?);
    check_batches(a, b)?;
    check_scalar_type(a.dtype, b.dtype)?;
    let shape = [a.sizes[0], a.sizes[1], b.sizes[2]];
    let all_false = false_bool_product(a.dtype, &shape, a.sizes[2], "bmm")?;
    let (out, outputs) = output(cx, form.dest(args)?, &shape, a.dtype)?;
    product(cx, a, b, &out, all_false)?;
    Ok(vec![outputs])
}

/// `addmv(self, mat, vec, *, beta=1, alpha=1)`, `addmv.out` and `addmv_`; with `plain`,
/// `mv(self, vec)` and `mv.out`, which are `addmv` with beta 0.
pub fn addmv(args: &Args, cx: &mut Ctx, form: Form, plain: bool) -> Outputs {
    let (at, len) = if plain { (0, 2) } else { (1, 5) };
    args.at_most(len + form.out_len())?;
    let (mat, vec) = (args.tensor(at)?, args.tensor(at + 1)?);
    let bias = if plain { None } else { Some(args.tensor(0)?) };
    let (beta, alpha) = if plain {
        (Scalar::Integer(0), Scalar::Integer(1))
    } else {
        scales(args, mat.dtype)?
    };
    let bias_dim = bias.map_or(1, TensorMeta::dim);
    ensure!(
        mat.dim() == 2 && vec.dim() == 1 && bias_dim <= 1,
        "vector + matrix @ vector expected, got {bias_dim}, {}, {}",
        mat.dim(),
        vec.dim()
    );
    let n = mat.sizes[0];
    let numel = |t: &TensorMeta| t.sizes.iter().product::<i64>();
    let bias_ok = bias.is_none_or(|b| numel(b) == n || numel(b) == 1);
    ensure!(
        mat.sizes[1] == vec.sizes[0] && bias_ok,
        "size mismatch, got input ({}), mat ({}x{}), vec ({})",
        bias.map_or(n, |b| b.sizes.first().copied().unwrap_or(1)),
        n,
        mat.sizes[1],
        vec.sizes[0]
    );
    let dest = form.dest(args)?;
    // `mv` is `addmv` into its result: the `out=` tensor, or a new one of `vec`'s dtype.
    let first = match (bias, &dest) {
        (Some(b), _) => b.dtype,
        (None, Dest::Out(_, out)) => out.dtype,
        (None, _) => vec.dtype,
    };
    ensure!(
        first == mat.dtype && mat.dtype == vec.dtype,
        "addmv input tensors must have the same dtype, but got {}, {}, and {}",
        first.name(),
        mat.dtype.name(),
        vec.dtype.name()
    );
    let all_false = if plain {
        false_bool_product(vec.dtype, &[n], vec.sizes[0], "addmv_impl_cpu")?
    } else {
        check_not_bool(vec.dtype, "addmv_impl_cpu")?;
        false
    };
    let (out, outputs) = output(cx, dest, &[n], vec.dtype)?;
    if all_false {
        cx.k.fill(&out, Scalar::Boolean(false))
            .map_err(failed("fill"))?;
        return Ok(vec![outputs]);
    }
    let mut inputs = vec![mat.clone(), vec.clone()];
    inputs.extend(bias.map(|b| expand(b, &[n])).transpose()?);
    library::run(cx, LibraryOp::Addmv((beta, alpha)), &inputs, out, outputs)
}

/// `dot(self, tensor)` and `dot.out`: a 0-dim product of two vectors.
pub fn dot(args: &Args, cx: &mut Ctx, form: Form, conjugated: bool) -> Outputs {
    args.at_most(2 + form.out_len())?;
    let (a, b) = (args.tensor(0)?, args.tensor(1)?);
    let name = if conjugated { "vdot" } else { "dot" };
    let dest = form.dest(args)?;
    if let Dest::Out(_, out) = dest {
        // `dot_out` checks its result's dtype before the product's own checks.
        ensure!(
            out.dtype == a.dtype,
            "result dtype {} does not match input dtype {}",
            out.dtype.name(),
            a.dtype.name()
        );
    }
    ensure!(
        a.dim() == 1 && b.dim() == 1,
        "1D tensors expected, but got {}D and {}D tensors",
        a.dim(),
        b.dim()
    );
    ensure!(
        a.dtype == b.dtype,
        "{name} : expected both vectors to have same dtype, but found {} and {}",
        a.dtype.name(),
        b.dtype.name()
    );
    ensure!(
        a.sizes[0] == b.sizes[0],
        "inconsistent tensor size, expected tensor [{}] and src [{}] to have the same number of \
         elements, but got {} and {} elements respectively",
        a.sizes[0],
        b.sizes[0],
        a.sizes[0],
        b.sizes[0]
    );
    check_not_bool(a.dtype, "dot")?;
    let (out, outputs) = output(cx, dest, &[], a.dtype)?;
    library::run(
        cx,
        LibraryOp::Dot(conjugated),
        &[a.clone(), b.clone()],
        out,
        outputs,
    )
}

/// `baddbmm(self, batch1, batch2, *, beta=1, alpha=1)`, `baddbmm.out` and `baddbmm_`.
pub fn baddbmm(args: &Args, cx: &mut Ctx, form: Form) -> Outputs {
    args.at_most(5 + form.out_len())?;
    let (bias, a, b) = (args.tensor(0)?, args.tensor(1)?, args.tensor(2)?);
    let (beta, alpha) = scales(args, b.dtype)?;
    // As on the CPU, `self` expands to the result's shape before any other check.
    let size = |t: &TensorMeta, d: i64| -> Result<i64> {
        if t.dim() == 0 {
            return Err(Error::index(format!(
                "Dimension specified as {d} but tensor has no dimensions"
            )));
        }
        Ok(t.sizes[wrap_dim(d, t.dim())?])
    };
    let shape = [size(a, 0)?, size(a, 1)?, size(b, 2)?];
    let bias = expand(bias, &shape)?;
    ensure!(
        bias.dtype == a.dtype,
        "Input dtypes must be the same, got: input {}, batch1: {}, batch2: {}",
        bias.dtype.type_meta_name(),
        a.dtype.type_meta_name(),
        b.dtype.type_meta_name()
    );
    check_batches(a, b)?;
    // The result takes batch2's dtype; the kernel then refuses batch1's if it differs.
    let (out, outputs) = output(cx, form.dest(args)?, &shape, b.dtype)?;
    check_scalar_type(a.dtype, b.dtype)?;
    check_not_bool(b.dtype, "baddbmm")?;
    cx.k.matmul(a, b, Some(&bias), beta, alpha, &out)
        .map_err(failed("matmul"))?;
    Ok(vec![outputs])
}

/// `addbmm(self, batch1, batch2, *, beta=1, alpha=1)`, `addbmm.out` and `addbmm_`:
/// `beta * self + alpha * sum_i batch1[i] @ batch2[i]`, as one `[n, b*m] @ [b*m, p]`
/// product of the batches laid side by side.
pub fn addbmm(args: &Args, cx: &mut Ctx, form: Form) -> Outputs {
    args.at_most(5 + form.out_len())?;
    let (bias, a, b) = (args.tensor(0)?, args.tensor(1)?, args.tensor(2)?);
    let (beta, alpha) = scales(args, b.dtype)?;
    ensure!(a.dim() == 3, "batch1 must be a 3D tensor");
    ensure!(b.dim() == 3, "batch2 must be a 3D tensor");
    ensure!(
        a.sizes[0] == b.sizes[0],
        "batch1 and batch2 must have same number of batches, got {} and {}",
        a.sizes[0],
        b.sizes[0]
    );
    ensure!(
        a.sizes[2] == b.sizes[1],
        "Incompatible matrix sizes for bmm ({}x{} and {}x{})",
        a.sizes[1],
        a.sizes[2],
        b.sizes[1],
        b.sizes[2]
    );
    for (what, t) in [("mat1", a), ("self", bias)] {
        ensure!(
            t.dtype == b.dtype,
            "{what} and mat2 must have the same dtype, but got {} and {}",
            t.dtype.name(),
            b.dtype.name()
        );
    }
    let (batches, n, p) = (a.sizes[0], a.sizes[1], b.sizes[2]);
    let shape = [n, p];
    let bias = expand(bias, &shape)?;
    check_not_bool(b.dtype, "addmm_impl_cpu_")?;
    let (out, outputs) = output(cx, form.dest(args)?, &shape, b.dtype)?;
    // PyTorch's `addbmm_impl_`: `self` into the result, then one `addmm_` per batch, which
    // sums in the CPU's and CUDA's order; `beta` scales only the first.
    let zero_beta = beta.to_f64() == 0.0 && !matches!(beta, Scalar::Complex((_, im)) if im != 0.0);
    if !zero_beta {
        cx.k.copy(&bias, &out).map_err(failed("copy"))?;
    }
    if batches == 0 {
        let scaled = if zero_beta {
            cx.k.fill(&out, Scalar::Integer(0))
        } else {
            let (x, factor) = (Operand::Tensor(out.clone()), Operand::Number(beta));
            cx.k.binary(BinaryOp::Mul, &x, &factor, None, out.dtype, &out)
        };
        scaled.map_err(failed("addbmm"))?;
        return Ok(vec![outputs]);
    }
    for i in 0..batches {
        let (left, right) = (select(a, 0, i)?, select(b, 0, i)?);
        let beta = if i == 0 { beta } else { Scalar::Integer(1) };
        cx.k.matmul(&left, &right, Some(&out), beta, alpha, &out)
            .map_err(failed("matmul"))?;
    }
    Ok(vec![outputs])
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{arg, f32s, geometry, meta, run, tensor};
    use crate::types::{Arg, Output, Scalar, ScalarType};

    #[test]
    fn addbmm_accumulates_one_batch_at_a_time() {
        let (bias, a, b) = (f32s(&[5], 1), f32s(&[3, 4, 6], 2), f32s(&[3, 6, 5], 3));
        let (res, fake) = run("addbmm", "", vec![arg(&bias), arg(&a), arg(&b)]);
        assert_eq!(
            geometry(&meta(&res.unwrap(), 0)),
            (vec![4, 5], vec![5, 1], 0, ScalarType::Float32)
        );
        assert_eq!(fake.kernels(), vec!["copy", "matmul", "matmul", "matmul"]);
        // The bias, broadcast, into the result; then batch 2 of each factor, into it.
        assert_eq!(fake.calls[0].tensors[0].strides, vec![0, 1]);
        assert_eq!(fake.calls[3].tensors[0].storage_offset, 48);
        assert_eq!(fake.calls[3].tensors[1].sizes, vec![6, 5]);
        let (res, fake) = run(
            "addbmm",
            "",
            vec![
                arg(&bias),
                arg(&f32s(&[0, 4, 6], 2)),
                arg(&f32s(&[0, 6, 5], 3)),
            ],
        );
        assert!(res.is_ok());
        assert_eq!(fake.kernels(), vec!["copy", "binary"]);
        let (res, _) = run(
            "addbmm",
            "",
            vec![arg(&bias), arg(&a), arg(&f32s(&[2, 6, 5], 4))],
        );
        assert!(res
            .unwrap_err()
            .message
            .contains("batch1 and batch2 must have same number of batches, got 3 and 2"));
    }

    #[test]
    fn mm_shapes_and_errors() {
        let (a, b) = (f32s(&[2, 3], 1), f32s(&[3, 5], 2));
        let (res, fake) = run("mm", "", vec![arg(&a), arg(&b)]);
        assert_eq!(
            geometry(&meta(&res.unwrap(), 0)),
            (vec![2, 5], vec![5, 1], 0, ScalarType::Float32)
        );
        assert_eq!(fake.kernels(), vec!["matmul"]);
        let (res, _) = run("mm", "", vec![arg(&a), arg(&f32s(&[4, 5], 3))]);
        assert!(res
            .unwrap_err()
            .message
            .contains("mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)"));
        let (res, _) = run("mm", "", vec![arg(&f32s(&[2], 3)), arg(&b)]);
        assert!(res.unwrap_err().message.contains("self must be a matrix"));
        let (res, _) = run(
            "mm",
            "",
            vec![arg(&a), arg(&tensor(&[3, 5], ScalarType::Float64, 3))],
        );
        assert!(res
            .unwrap_err()
            .message
            .contains("expected m1 and m2 to have the same dtype, but got: float != double"));
        let (res, _) = run(
            "mm",
            "out",
            vec![
                arg(&a),
                arg(&b),
                arg(&tensor(&[2, 5], ScalarType::Float64, 4)),
            ],
        );
        assert!(res
            .unwrap_err()
            .message
            .contains("Expected out tensor to have dtype float, but got double instead"));
        let (res, fake) = run("mm", "out", vec![arg(&a), arg(&b), arg(&f32s(&[5], 4))]);
        assert_eq!(
            geometry(&meta(&res.unwrap(), 0)),
            (vec![2, 5], vec![5, 1], 0, ScalarType::Float32)
        );
        assert_eq!(fake.allocated, vec![(100, 40)]);
    }

    #[test]
    fn addmm_expands_its_bias() {
        let (bias, a, b) = (f32s(&[3], 1), f32s(&[2, 4], 2), f32s(&[4, 3], 3));
        let args = vec![
            arg(&bias),
            arg(&a),
            arg(&b),
            Arg::Scalar(Scalar::Float(0.5)),
            Arg::Scalar(Scalar::Integer(2)),
        ];
        let (res, fake) = run("addmm", "", args);
        assert_eq!(meta(&res.unwrap(), 0).sizes, vec![2, 3]);
        assert_eq!(fake.calls[0].tensors[2].strides, vec![0, 1]);
        assert_eq!(
            fake.calls[0].detail,
            "Scalar::Float(0.5) Scalar::Integer(2)"
        );
        let (res, _) = run("addmm", "", vec![arg(&f32s(&[5], 1)), arg(&a), arg(&b)]);
        assert!(res
            .unwrap_err()
            .message
            .contains("The expanded size of the tensor (3) must match the existing size (5)"));
        let (res, _) = run("addmm_", "", vec![arg(&bias), arg(&a), arg(&b)]);
        assert!(res.unwrap_err().message.contains(
            "Bad in-place call: input tensor size [3] and output tensor size [2, 3] should match"
        ));
        let (res, _) = run(
            "addmm",
            "",
            vec![arg(&tensor(&[3], ScalarType::Float64, 1)), arg(&a), arg(&b)],
        );
        assert!(res
            .unwrap_err()
            .message
            .contains("self and mat2 must have the same dtype, but got Double and Float"));
        let own = f32s(&[2, 3], 4);
        let (res, _) = run("addmm_", "", vec![arg(&own), arg(&a), arg(&b)]);
        assert_eq!(res.unwrap(), vec![Output::Argument(0)]);
    }

    #[test]
    fn bmm_checks_batches() {
        let a = f32s(&[2, 2, 3], 1);
        let (res, _) = run("bmm", "", vec![arg(&a), arg(&f32s(&[2, 3, 4], 2))]);
        assert_eq!(meta(&res.unwrap(), 0).sizes, vec![2, 2, 4]);
        let (res, _) = run("bmm", "", vec![arg(&a), arg(&f32s(&[3, 3, 5], 2))]);
        assert!(res.unwrap_err().message.contains(
            "Expected size for first two dimensions of batch2 tensor to be: [2, 3] but got: [3, 3]."
        ));
        let (res, _) = run("bmm", "", vec![arg(&f32s(&[2, 3], 1)), arg(&a)]);
        assert!(res
            .unwrap_err()
            .message
            .contains("batch1 must be a 3D tensor"));
    }

    #[test]
    fn vector_products_lower_to_the_cpus_kernels() {
        let (m, v) = (f32s(&[2, 3], 1), f32s(&[3], 2));
        let (res, fake) = run("mv", "", vec![arg(&m), arg(&v)]);
        assert_eq!(
            geometry(&meta(&res.unwrap(), 0)),
            (vec![2], vec![1], 0, ScalarType::Float32)
        );
        assert_eq!(fake.kernels(), vec!["library"]);
        let (res, _) = run("dot", "", vec![arg(&v), arg(&v)]);
        assert!(meta(&res.unwrap(), 0).sizes.is_empty());
        let err = run("dot", "", vec![arg(&v), arg(&f32s(&[4], 3))])
            .0
            .unwrap_err();
        assert!(
            err.message.contains("inconsistent tensor size"),
            "{}",
            err.message
        );
        let err = run("mv", "", vec![arg(&m), arg(&f32s(&[4], 3))])
            .0
            .unwrap_err();
        assert!(err
            .message
            .contains("size mismatch, got input (2), mat (2x3), vec (4)"));
        let bias = f32s(&[1], 4);
        let args = vec![
            arg(&bias),
            arg(&m),
            arg(&v),
            Arg::Scalar(Scalar::Float(0.5)),
        ];
        let (res, _) = run("addmv", "", args);
        assert_eq!(meta(&res.unwrap(), 0).sizes, vec![2]);
    }
}
