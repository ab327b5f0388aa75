"""`torch.use_deterministic_algorithms` on remote as on the CPU: uninitialised memory is
filled, and ops without a deterministic implementation fail or warn."""

import warnings

import pytest
import torch
import torch.nn.functional as F
import torch_remote  # noqa: F401
from conftest import assert_refused_like_the_cpu


@pytest.fixture
def deterministic(request):
    warn_only = getattr(request, "param", False)
    torch.use_deterministic_algorithms(True, warn_only=warn_only)
    yield
    torch.use_deterministic_algorithms(False)


DTYPES = [
    torch.float32,
    torch.float16,
    torch.float64,
    torch.bfloat16,
    torch.complex64,
    torch.int64,
    torch.int32,
    torch.int16,
    torch.int8,
    torch.uint8,
    torch.bool,
]

UNINITIALISED = {
    "empty": lambda d, dtype: torch.empty(2, 3, dtype=dtype, device=d),
    "empty_strided": lambda d, dtype: torch.empty_strided((2, 2), (4, 1), dtype=dtype, device=d),
    "empty_like": lambda d, dtype: torch.empty_like(torch.zeros(3, dtype=dtype, device=d)),
    "new_empty": lambda d, dtype: torch.zeros(1, dtype=dtype, device=d).new_empty(4),
    "channels_last": lambda d, dtype: torch.empty(
        1, 2, 2, 2, dtype=dtype, device=d, memory_format=torch.channels_last
    ),
    "resize_grows": lambda d, dtype: torch.zeros(2, dtype=dtype, device=d).resize_(5),
    "resize_of_a_slice": lambda d, dtype: torch.zeros(3, dtype=dtype, device=d)[:1].resize_(5),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("make", list(UNINITIALISED.values()), ids=list(UNINITIALISED))
def test_uninitialised_memory_is_filled_as_on_the_cpu(deterministic, make, dtype):
    # NaN for floating and complex types, the largest value for integers, true for bool.
    expected = make("cpu", dtype)
    got = make("remote", dtype)
    assert got.stride() == expected.stride()
    torch.testing.assert_close(got.cpu(), expected, equal_nan=True, rtol=0, atol=0)


def test_without_fill_uninitialized_memory_nothing_is_filled(deterministic):
    # The memory holds what it held (here sevens, or a fresh page's zeros): never NaN.
    import torch.utils.deterministic as settings

    settings.fill_uninitialized_memory = False
    try:
        for _ in range(3):
            torch.full((1 << 20,), 7.0, device="remote")
            assert not torch.empty(1 << 20, device="remote").isnan().any()
            grown = torch.full((4,), 7.0, device="remote").resize_(1 << 20)
            assert not grown.isnan().any()
    finally:
        settings.fill_uninitialized_memory = True


NONDETERMINISTIC = {
    "put_": lambda d: torch.zeros(3, device=d).put_(
        torch.tensor([0, 2], device=d), torch.tensor([1.0, 2.0], device=d)
    ),
    "put": lambda d: torch.zeros(3, device=d).put(
        torch.tensor([0], device=d), torch.tensor([1.0], device=d)
    ),
    "max_unpool1d": lambda d: F.max_unpool1d(
        torch.ones(1, 1, 2, device=d), torch.zeros(1, 1, 2, dtype=torch.long, device=d), 2
    ),
    "max_unpool2d": lambda d: F.max_unpool2d(
        torch.ones(1, 1, 2, 2, device=d), torch.zeros(1, 1, 2, 2, dtype=torch.long, device=d), 2
    ),
    "max_unpool3d": lambda d: F.max_unpool3d(
        torch.ones(1, 1, 1, 1, 2, device=d),
        torch.zeros(1, 1, 1, 1, 2, dtype=torch.long, device=d),
        (1, 1, 2),
    ),
    "max_unpool2d_bad_indices": lambda d: F.max_unpool2d(
        torch.ones(1, 1, 2, 2, device=d), torch.zeros(1, 1, 2, 2, device=d).int(), 2
    ),
}


@pytest.mark.parametrize("call", list(NONDETERMINISTIC.values()), ids=list(NONDETERMINISTIC))
def test_ops_without_a_deterministic_kernel_fail_as_on_the_cpu(deterministic, call):
    assert_refused_like_the_cpu(call)


WARNED = list(NONDETERMINISTIC)[:5]


def _warnings_and_result(call, device):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = call(device).cpu()
    return [str(w.message).split(" (Triggered internally")[0] for w in caught], result


@pytest.mark.parametrize("deterministic", [True], indirect=True)
@pytest.mark.parametrize("name", WARNED)
def test_with_warn_only_they_warn_as_on_the_cpu(deterministic, name):
    cpu_warnings, expected = _warnings_and_result(NONDETERMINISTIC[name], "cpu")
    remote_warnings, got = _warnings_and_result(NONDETERMINISTIC[name], "remote")
    assert "does not have a deterministic implementation" in cpu_warnings[0]
    assert remote_warnings == cpu_warnings
    torch.testing.assert_close(got, expected)


def test_accumulating_put_runs_as_on_the_cpu(deterministic):
    got = {
        d: torch.zeros(3, device=d).put_(
            torch.tensor([0, 0], device=d), torch.tensor([1.0, 2.0], device=d), accumulate=True
        )
        for d in ("cpu", "remote")
    }
    torch.testing.assert_close(got["remote"].cpu(), got["cpu"])


def test_the_setting_is_read_with_each_op():
    # The same call lowered before, under other settings, follows the current ones.
    def put(x):
        return x.put_(torch.tensor([0], device="remote"), torch.tensor([5.0], device="remote"))

    x = torch.zeros(2, device="remote")
    put(x)
    torch.use_deterministic_algorithms(True)
    try:
        with pytest.raises(RuntimeError, match="put_ does not have a deterministic"):
            put(x)
    finally:
        torch.use_deterministic_algorithms(False)
    torch.testing.assert_close(put(x).cpu(), torch.tensor([5.0, 0.0]))
