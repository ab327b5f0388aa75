"""The OpInfo cross-check: PyTorch's own op database, run three ways.

For every OpInfo entry whose op is in scope, each sample input runs on the CPU (the
reference), on the remote host and in the dry run. Sizes, strides, storage offset and dtype
must agree across the three; values (and, for differentiable ops, input gradients) must pass
`torch.testing.assert_close`. An op the remote device does not support counts as unsupported,
never as passed.

Full run: `.venv/bin/python tests/opinfo.py` (add `--dtypes float32,float64,...`). With
`--errors` it runs the ops' error inputs instead: remote must raise the CPU's exception type
with a message matching OpInfo's pattern. With `--refusals` it runs samples of the dtypes each
op's CPU kernels refuse: remote must refuse them when the op is issued, with the CPU's
exception type, or compute them (where CUDA takes them), never fail on the host later.
CI runs a fixed subset through tests/test_opinfo.py.
"""

from __future__ import annotations

import argparse
import re
import sys
import warnings
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import torch
import torch_remote
from torch.utils._pytree import tree_flatten, tree_map

FAMILIES: dict[str, list[str]] = {
    "elementwise": (
        "abs neg exp log sqrt rsqrt sigmoid tanh sin cos ceil floor round trunc sign reciprocal "
        "erf log1p expm1 square add sub mul div true_divide remainder pow maximum minimum atan2 "
        "clamp clamp_min clamp_max lerp where eq ne lt le gt ge logical_and logical_or "
        "logical_xor logical_not bitwise_and bitwise_or bitwise_xor bitwise_not isnan isinf "
        "isfinite nan_to_num addcmul addcdiv rsub tan asin acos atan sinh cosh asinh acosh "
        "atanh log2 log10 exp2 erfc erfinv lgamma digamma logit sinc i0 frac "
        "signbit fmod hypot xlogy logaddexp logaddexp2 copysign heaviside fmax fmin floor_divide "
        "bitwise_left_shift bitwise_right_shift"
    ).split(),
    "reduction": (
        "sum mean prod amax amin max min argmax argmin var std norm linalg.vector_norm "
        "logsumexp cumsum cumprod all any trace"
    ).split(),
    "linalg": (
        "mm bmm matmul addmm addbmm baddbmm nn.functional.linear dot outer einsum mv addmv inner"
    ).split(),
    "shape": (
        "view reshape permute transpose expand squeeze unsqueeze flatten narrow select "
        "as_strided unfold chunk split cat stack flip roll repeat tile contiguous t view_as "
        "reshape_as"
    ).split(),
    "indexing": (
        "index_select gather scatter scatter_add masked_fill masked_select take nonzero "
        "index_put __getitem__"
    ).split(),
    "nn": (
        "nn.functional.relu nn.functional.gelu nn.functional.silu softmax log_softmax "
        "nn.functional.layer_norm nn.functional.batch_norm nn.functional.group_norm "
        "nn.functional.embedding nn.functional.conv1d nn.functional.conv2d "
        "nn.functional.conv_transpose2d nn.functional.max_pool2d nn.functional.avg_pool2d "
        "nn.functional.adaptive_avg_pool2d nn.functional.interpolate nn.functional.pad "
        "nn.functional.cross_entropy nn.functional.nll_loss nn.functional.mse_loss "
        "nn.functional.l1_loss nn.functional.binary_cross_entropy_with_logits "
        "nn.functional.smooth_l1_loss nn.functional.huber_loss nn.functional.binary_cross_entropy "
        "nn.functional.scaled_dot_product_attention nn.functional.mish nn.functional.hardswish "
        "nn.functional.hardsigmoid nn.functional.hardshrink nn.functional.softshrink"
    ).split(),
    "sorting": "sort argsort topk kthvalue unique median nanmedian mode".split(),
    "library": (
        "cdist linalg.cross nn.functional.grid_sample nn.functional.embedding_bag bincount histc "
        "repeat_interleave logcumsumexp cummax cummin aminmax nansum nanmean scatter_reduce "
        "index_reduce index_copy index_fill nn.functional.max_pool3d nn.functional.avg_pool3d "
        "nn.functional.adaptive_max_pool2d nn.functional.adaptive_max_pool3d "
        "nn.functional.adaptive_avg_pool3d nn.functional.channel_shuffle linalg.slogdet logdet "
        "linalg.lu_factor linalg.lu_factor_ex linalg.lu_solve special.erfcx special.i0e "
        "special.i1 special.i1e special.ndtr special.ndtri special.log_ndtr angle polygamma equal "
        "nn.functional.multi_head_attention_forward nn.functional.ctc_loss gcd lcm frexp "
        "nonzero_static nn.functional.pdist matrix_exp vdot isin "
        "nn.functional.max_unpool1d nn.functional.max_unpool2d nn.functional.max_unpool3d "
        "nn.functional.threshold cholesky cholesky_inverse cholesky_solve triangular_solve "
        "_upsample_bilinear2d_aa special.entr special.xlog1py special.zeta igamma igammac "
        "nextafter special.bessel_j0 special.bessel_j1 special.bessel_y0 special.bessel_y1 "
        "special.modified_bessel_i0 special.modified_bessel_i1 special.modified_bessel_k0 "
        "special.modified_bessel_k1 special.scaled_modified_bessel_k0 "
        "special.scaled_modified_bessel_k1 special.spherical_bessel_j0 special.airy_ai "
        "special.chebyshev_polynomial_t special.chebyshev_polynomial_u "
        "special.chebyshev_polynomial_v special.chebyshev_polynomial_w "
        "special.shifted_chebyshev_polynomial_t special.shifted_chebyshev_polynomial_u "
        "special.shifted_chebyshev_polynomial_v special.shifted_chebyshev_polynomial_w "
        "special.hermite_polynomial_h special.hermite_polynomial_he "
        "special.laguerre_polynomial_l special.legendre_polynomial_p linalg.lstsq geqrf ormqr "
        "linalg.householder_product linalg.ldl_factor_ex linalg.ldl_solve "
        "nn.functional.multilabel_margin_loss nn.functional.rrelu "
        "nn.functional.fractional_max_pool2d nn.functional.fractional_max_pool3d"
    ).split(),
}

DTYPES = {
    "float32": torch.float32,
    "float64": torch.float64,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "int64": torch.int64,
    "int32": torch.int32,
    "bool": torch.bool,
    "complex64": torch.complex64,
    "complex128": torch.complex128,
}


@dataclass
class Tally:
    passed: int = 0
    failed: int = 0
    unsupported: int = 0
    meta_disagreements: int = 0
    failures: list[str] = field(default_factory=list)
    missing: Counter = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.unsupported


def family_ops(families: list[str]):
    from torch.testing._internal.common_methods_invocations import op_db

    wanted = {name: family for family in families for name in FAMILIES[family]}
    return [(wanted[op.name], op) for op in op_db if op.name in wanted]


def meta(t: torch.Tensor) -> tuple:
    return (tuple(t.shape), t.stride(), t.storage_offset(), t.dtype)


def same_layout(x: torch.Tensor, device: str, storages: dict) -> torch.Tensor:
    """`x` on `device` with its whole storage, strides and offset, so views stay views and
    tensors sharing a storage on the CPU share one on `device` (`storages` keeps them)."""
    x = x.detach()
    if device == "cpu" or x.numel() == 0:
        return x.to(device)
    key = (x.untyped_storage().data_ptr(), x.dtype)
    if key not in storages:
        whole = x.untyped_storage().nbytes() // x.element_size()
        storages[key] = torch.as_strided(x, (whole,), (1,), 0).to(device)
    return storages[key].as_strided(x.size(), x.stride(), x.storage_offset())


def moved(value, device: str, grad: bool):
    storages: dict = {}

    def move(x):
        if not isinstance(x, torch.Tensor):
            return x
        return same_layout(x, device, storages).requires_grad_(grad and x.requires_grad)

    return tree_map(move, value)


def call(op, sample, device: str, grad: bool):
    args = moved((sample.input, sample.args, sample.kwargs), device, grad)
    inputs = [t for t in tree_flatten(args)[0] if isinstance(t, torch.Tensor) and t.requires_grad]
    result = op(args[0], *args[1], **args[2])
    outputs = [t for t in tree_flatten(result)[0] if isinstance(t, torch.Tensor)]
    return inputs, outputs


def gradients(inputs, outputs) -> list[torch.Tensor | None]:
    differentiable = [o for o in outputs if o.requires_grad and o.dtype.is_floating_point]
    if not inputs or not differentiable:
        return []
    total = sum(o.sum() for o in differentiable)
    return list(torch.autograd.grad(total, inputs, allow_unused=True))


def is_random(op, sample) -> bool:
    """Whether the sample's values come from a random generator (attention dropout, rrelu in
    training, fractional pooling without given samples). OpInfo seeds both runs alike, but
    the remote host's generator is not the CPU's: only metadata can agree."""
    training = bool(sample.kwargs.get("training"))
    if op.name == "nn.functional.multi_head_attention_forward":
        return training and sample.args[9] > 0
    if op.name == "nn.functional.scaled_dot_product_attention":
        return sample.kwargs.get("dropout_p", 0.0) > 0
    if op.name == "nn.functional.rrelu":
        return training
    if op.name.startswith("nn.functional.fractional_max_pool"):
        return sample.kwargs.get("_random_samples") is None
    return False


def compare(expected, remote, dry, tally: Tally, values: bool = True) -> None:
    assert len(expected) == len(remote) == len(dry), "output counts differ"
    for cpu_t, remote_t, dry_t in zip(expected, remote, dry, strict=True):
        if meta(dry_t) != meta(remote_t):
            tally.meta_disagreements += 1
            raise AssertionError(f"dry run {meta(dry_t)} != host {meta(remote_t)}")
        assert meta(remote_t) == meta(cpu_t), f"remote {meta(remote_t)} != cpu {meta(cpu_t)}"
        if values:
            torch.testing.assert_close(remote_t.cpu(), cpu_t, equal_nan=True)


def check_sample(op, sample, grad: bool, tally: Tally) -> None:
    cpu_inputs, expected = call(op, sample, "cpu", grad)
    remote_inputs, remote = call(op, sample, "remote", grad)
    try:
        with torch_remote.dry_run():
            _, dry = call(op, sample, "remote", False)
    except RuntimeError as e:
        # An op that reads values (a tensor argument used as a number) has no dry run.
        if "dry run" not in str(e):
            raise
        dry = remote
    random = is_random(op, sample)
    compare(expected, remote, dry, tally, values=not random)
    if grad and not random:
        cpu_grads = gradients(cpu_inputs, expected)
        remote_grads = gradients(remote_inputs, remote)
        for g_cpu, g_remote in zip(cpu_grads, remote_grads, strict=True):
            if g_cpu is not None and g_remote is not None:
                torch.testing.assert_close(g_remote.cpu(), g_cpu, equal_nan=True)


def run_sample(op, sample, grad: bool, tally: Tally) -> None:
    label = f"{op.name}{'.' + op.variant_test_name if op.variant_test_name else ''}"
    try:
        check_sample(op, sample, grad, tally)
        tally.passed += 1
    except NotImplementedError as e:
        tally.unsupported += 1
        tally.missing[str(e).split(":")[0].strip()] += 1
    except Exception as e:  # noqa: BLE001  (any other failure is a failed sample)
        tally.failed += 1
        tally.failures.append(f"{label}: {type(e).__name__}: {str(e).splitlines()[0][:160]}")


def run(families, dtypes, max_samples: int | None, grad: bool) -> dict[str, Tally]:
    # PyTorch's own warnings (deprecations, CPU-kernel notes) say nothing about agreement;
    # under pytest they would raise and skip or fail samples.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run_all(families, dtypes, max_samples, grad)


def run_all(families, dtypes, max_samples: int | None, grad: bool) -> dict[str, Tally]:
    tallies: dict[str, Tally] = defaultdict(Tally)
    for family, op in family_ops(families):
        for dtype in dtypes:
            if dtype not in op.supported_dtypes("cpu"):
                continue
            use_grad = grad and op.supports_autograd and dtype.is_floating_point
            try:
                samples = list(op.sample_inputs("cpu", dtype, requires_grad=use_grad))
            except Exception:  # noqa: BLE001  (OpInfo cannot build samples: not our op)
                continue
            for sample in samples[:max_samples]:
                try:
                    op(sample.input, *sample.args, **sample.kwargs)
                # The CPU rejects this sample too. Not any exception: an AttributeError from
                # `torch.remote` (OpInfo's seeded wrappers reach the accelerator's module) once
                # hid a missing function and skipped every attention sample.
                except (RuntimeError, ValueError, TypeError, IndexError):
                    continue
                run_sample(op, sample, use_grad, tallies[family])
    return tallies


def check_error_input(op, error, tally: Tally) -> None:
    """OpInfo's error input raises the CPU's exception on remote too, its message matching
    OpInfo's pattern. An error only the values show (an index out of range) comes from the
    host at the next wait, as a RuntimeError (as CUDA's device-side asserts do)."""
    label = f"{op.name}{'.' + op.variant_test_name if op.variant_test_name else ''}"
    sample = error.sample_input
    try:
        call(op, sample, "cpu", False)
        return  # The pattern is another device's: the CPU takes this input.
    except error.error_type:
        pass
    except Exception:  # noqa: BLE001  (the CPU raises something else: not this input's case)
        return
    try:
        call(op, sample, "remote", False)
        torch.remote.synchronize()
        problem = "no error"
    except NotImplementedError as e:
        if "not supported on device remote" in str(e):
            tally.unsupported += 1
            tally.missing[str(e).split(":")[0].strip()] += 1
            return
        problem = f"NotImplementedError: {str(e).splitlines()[0][:160]}"
    except Exception as e:  # noqa: BLE001  (compared below)
        deferred = "the remote host reported" in str(e)
        if (isinstance(e, error.error_type) or deferred) and re.search(error.error_regex, str(e)):
            tally.passed += 1
            return
        problem = f"{type(e).__name__}: {str(e).splitlines()[0][:160]}"
    tally.failed += 1
    tally.failures.append(
        f"{label}: expected {error.error_type.__name__} /{error.error_regex}/, got {problem}"
    )


def run_errors(families) -> dict[str, Tally]:
    """Every error input of the ops in `families`, one tally per family."""
    tallies: dict[str, Tally] = defaultdict(Tally)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for family, op in family_ops(families):
            if op.error_inputs_func is None:
                continue
            for error in op.error_inputs("cpu"):
                check_error_input(op, error, tallies[family])
    return tallies


REFUSAL_DTYPES = [
    torch.bool,
    torch.uint8,
    torch.int8,
    torch.int16,
    torch.int32,
    torch.int64,
    torch.float16,
    torch.bfloat16,
    torch.float32,
    torch.float64,
    torch.complex64,
    torch.complex128,
]


def check_refusal(op, sample, tally: Tally) -> None:
    """A sample of a dtype the CPU refuses: remote refuses it when the op is issued, with the
    CPU's exception type, or computes it (where CUDA takes it too), but its host never fails
    on it later: a failure there would surface at an unrelated read."""
    label = f"{op.name}{'.' + op.variant_test_name if op.variant_test_name else ''}"
    try:
        call(op, sample, "cpu", False)
        return  # The CPU takes this sample after all: the full run compares it.
    except Exception as e:  # noqa: BLE001  (its type is compared below)
        expected = type(e)
    try:
        call(op, sample, "remote", False)
        torch.remote.synchronize()
    except Exception as e:  # noqa: BLE001  (classified below)
        if "the remote host reported" in str(e):
            tally.failed += 1
            tally.failures.append(f"{label} {sample.input.dtype}: {str(e).splitlines()[0][:200]}")
            return
        if "not supported on device remote" in str(e):
            tally.unsupported += 1
            return
        if not isinstance(e, expected):
            tally.failed += 1
            tally.failures.append(
                f"{label} {sample.input.dtype}: CPU raises {expected.__name__}, remote "
                f"{type(e).__name__}: {str(e).splitlines()[0][:160]}"
            )
            return
    tally.passed += 1


def run_refusals(families, max_samples: int) -> dict[str, Tally]:
    """The first samples of every dtype each op's CPU kernels refuse, one tally per family."""
    tallies: dict[str, Tally] = defaultdict(Tally)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for family, op in family_ops(families):
            for dtype in set(REFUSAL_DTYPES) - set(op.supported_dtypes("cpu")):
                try:
                    samples = list(op.sample_inputs("cpu", dtype, requires_grad=False))
                except Exception:  # noqa: BLE001  (OpInfo cannot build samples: not our op)
                    continue
                for sample in samples[:max_samples]:
                    check_refusal(op, sample, tallies[family])
    return tallies


def report(tallies: dict[str, Tally], out=sys.stdout) -> Tally:
    total = Tally()
    print(f"{'family':<12}{'samples':>9}{'passed':>9}{'failed':>9}{'unsupported':>13}", file=out)
    for family, t in tallies.items():
        print(f"{family:<12}{t.total:>9}{t.passed:>9}{t.failed:>9}{t.unsupported:>13}", file=out)
        total.passed += t.passed
        total.failed += t.failed
        total.unsupported += t.unsupported
        total.meta_disagreements += t.meta_disagreements
        total.failures += t.failures
        total.missing += t.missing
    share = 100.0 * total.passed / max(total.total, 1)
    print(
        f"opinfo: {total.passed} passed, {total.failed} failed, {total.unsupported} unsupported "
        f"of {total.total} samples ({share:.1f}%)",
        file=out,
    )
    return total


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--dtypes", default="float32")
    parser.add_argument("--max-samples", type=int, default=None)
    parser.add_argument("--no-grad", action="store_true")
    parser.add_argument("--show-failures", action="store_true")
    parser.add_argument(
        "--errors", action="store_true", help="run the ops' error inputs instead of samples"
    )
    parser.add_argument(
        "--refusals",
        action="store_true",
        help="run samples of the dtypes the CPU refuses: remote refuses them when issued",
    )
    args = parser.parse_args()
    families = args.families.split(",")
    if args.errors:
        tallies = run_errors(families)
    elif args.refusals:
        tallies = run_refusals(families, args.max_samples or 2)
    else:
        tallies = run(
            families,
            [DTYPES[d] for d in args.dtypes.split(",")],
            args.max_samples,
            not args.no_grad,
        )
    total = report(tallies)
    if args.show_failures:
        print("\n".join(total.failures))
        if total.missing:
            print("unsupported:", ", ".join(f"{k} ({v})" for k, v in total.missing.most_common()))


if __name__ == "__main__":
    main()
