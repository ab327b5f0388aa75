"""PyTorch's warnings for an op (`TORCH_WARN`) reach Python where the op was called, as on
the CPU, and libtorch's own copies on the host stay off the user's terminal."""

import textwrap
import warnings

import pytest
import torch
import torch_remote  # noqa: F401
from conftest import run_python


def _messages(f) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        f()
    # The CPU's end with where libtorch raised them; remote's with where the shim did.
    return [str(w.message).split(" (Triggered internally")[0] for w in caught]


CASES = {
    "std of one element": lambda d: torch.ones(1, device=d).std(),
    "var of nothing": lambda d: torch.ones(0, device=d).var(),
    "var_mean with a large correction": lambda d: torch.var_mean(
        torch.ones(2, 3, device=d), 1, correction=3
    ),
    "std_mean of one element": lambda d: torch.std_mean(torch.ones(1, device=d)),
    "cumsum into an out= of another shape": lambda d: torch.cumsum(
        torch.ones(3, device=d), 0, out=torch.empty(2, device=d)
    ),
    "add into an out= of another shape": lambda d: torch.add(
        torch.ones(3, device=d), 1, out=torch.empty(2, device=d)
    ),
    "cat into an out= of another shape": lambda d: torch.cat(
        [torch.ones(2, device=d)] * 2, out=torch.empty(3, device=d)
    ),
    "indexing with a uint8 mask": lambda d: torch.ones(3, device=d)[
        torch.tensor([1, 0, 1], dtype=torch.uint8, device=d)
    ],
    "arange into an out= of another element count": lambda d: torch.arange(
        0, 10, 3, out=torch.empty(2, dtype=torch.int32, device=d)
    ),
    "fftfreq into an out= of another element count": lambda d: torch.fft.fftfreq(
        6, out=torch.empty(2, device=d)
    ),
    # The CPU computes the elementwise loss in the out= first, then reduces it there.
    "mean squared error into a 0-d out=": lambda d: torch._C._nn.mse_loss(
        torch.ones(2, 3, device=d), torch.zeros(3, device=d), 1, out=torch.empty((), device=d)
    ),
    "huber loss into a 1-d out=": lambda d: torch._C._nn.huber_loss(
        torch.ones(2, 3, device=d), torch.zeros(2, 3, device=d), 2, 1.0, out=torch.ones(2, device=d)
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_warns_as_the_cpu(case):
    cpu = _messages(lambda: CASES[case]("cpu"))
    assert cpu, "the CPU warns here"
    assert _messages(lambda: CASES[case]("remote")) == cpu


def test_no_warning_where_the_cpu_gives_none():
    def quiet(d):
        torch.ones(3, device=d).std()
        torch.add(torch.ones(3, device=d), 1, out=torch.empty(0, device=d))
        torch.searchsorted(torch.arange(5.0, device=d), torch.ones(3, device=d))
        torch.randperm(5, out=torch.empty(2, dtype=torch.long, device=d))
        torch.eye(3, out=torch.empty(1, device=d))
        torch.eye(3, 2, out=torch.empty(2, 2, device=d))
        torch._C._nn.mse_loss(
            torch.ones(2, 3, device=d), torch.zeros(3, device=d), 1, out=torch.empty(2, 3, device=d)
        )
        for samples, replacement in [(2, False), (1, True), (5, True)]:
            out = torch.empty(3, dtype=torch.long, device=d)
            torch.multinomial(torch.ones(2, 4, device=d), samples, replacement, out=out)
            assert out.shape == (2, samples)

    assert _messages(lambda: quiet("remote")) == _messages(lambda: quiet("cpu")) == []


def test_a_memoised_op_warns_each_time():
    """The second call takes the client's memoised lowering, which keeps the warnings."""
    x = torch.ones(1, device="remote")
    assert len(_messages(lambda: [x.std() for _ in range(3)])) == 3


def run_on_cpu_and_remote(script: str):
    """`script` (with `{device}`) run in a fresh interpreter on each device; both succeed."""
    cpu = run_python(textwrap.dedent(script.format(device="cpu")))
    remote = run_python(textwrap.dedent(script.format(device="remote")))
    assert cpu.returncode == 0 and remote.returncode == 0, remote.stderr
    return cpu, remote


ONCE = """
import warnings
import torch, torch_remote
d = "{device}"
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    for _ in range(2):
        x, i, one = torch.zeros(3, device=d), torch.tensor([0], device=d), torch.ones(1, device=d)
        x.index_reduce_(0, i, one, "amax")
        x.scatter(0, i, one, reduce="add")
        seq = torch.arange(10.0, device=d).view(5, 2).t()[0]
        torch.searchsorted(seq, torch.ones(4, 2, device=d).t())
        torch.tensor([1 + 2j], device=d).to(torch.float32)
        torch.eye(2, device=d).cholesky()
        torch.triangular_solve(torch.ones(2, 1, device=d), torch.eye(2, device=d))
        torch.where(torch.tensor([1, 0], dtype=torch.uint8, device=d), 1.0, 0.0)
    torch.ones(1, device=d).std().item()
for w in caught:
    print(repr(str(w.message).split(" (Triggered internally")[0]))
"""


def test_once_only_warnings_come_once_and_the_host_prints_none():
    """`TORCH_WARN_ONCE` warnings come once per process; the host's session thread drops
    libtorch's copies, which printed on the terminal of whoever started it."""
    cpu, remote = run_on_cpu_and_remote(ONCE)
    lines = cpu.stdout.splitlines()
    assert len(lines) == 9 and remote.stdout.splitlines() == lines
    assert "Warning:" not in remote.stderr


BUCKETIZE = """
import warnings
import torch, torch_remote
d = "{device}"
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    values, boundaries = torch.rand(2, 3, device=d), torch.tensor([0.1, 0.5, 0.7, 0.9], device=d)
    # No values to search: no warning, so the boundary's comes after the input value's.
    print(torch.bucketize(values[:, :0], boundaries[::2]).cpu().tolist())
    print(torch.bucketize(values.t(), boundaries).cpu().tolist())
    print(torch.bucketize(values, boundaries[::2]).cpu().tolist())
for w in caught:
    print(repr(str(w.message).split(" (Triggered internally")[0]))
"""


def test_bucketize_of_non_contiguous_tensors_warns_as_the_cpu():
    cpu, remote = run_on_cpu_and_remote(BUCKETIZE)
    cpu_warnings = [line for line in cpu.stdout.splitlines() if "non-contiguous" in line]
    assert len(cpu_warnings) == 2
    assert [line for line in remote.stdout.splitlines() if "non-contiguous" in line] == cpu_warnings


UPLOAD = """
import warnings
import torch, torch_remote
x = torch.tensor([1 + 2j, 3 - 1j])
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    print(x.to("{device}", dtype=torch.float32).cpu().tolist())
    print(torch.empty(2, device="{device}").copy_(x).cpu().tolist())
for w in caught:
    print(repr(str(w.message).split(" (Triggered internally")[0]))
"""


def test_a_complex_cpu_tensor_copied_into_a_real_remote_one_warns_once():
    cpu, remote = run_on_cpu_and_remote(UPLOAD)
    assert len(cpu.stdout.splitlines()) == 3
    assert remote.stdout.splitlines() == cpu.stdout.splitlines()


def test_a_complex_tensor_cast_to_bool_gives_no_warning():
    # `Casting complex values to real ...` is once per process: a fresh one shows it would.
    done = run_python(
        """
        import warnings
        import torch, torch_remote
        warnings.simplefilter("always")
        with warnings.catch_warnings(record=True) as caught:
            z = torch.tensor([1j, 0], device="remote")
            into = torch.zeros(2, dtype=torch.bool, device="remote").copy_(z)
            print(z.bool().cpu().tolist(), into.cpu().tolist())
            z.float()
        print([str(w.message).split(" (")[0] for w in caught])
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "[True, False] [True, False]",
        "['Casting complex values to real discards the imaginary part']",
    ]


REDUCED_TO_REAL = """
import warnings
import torch, torch_remote
warnings.simplefilter("always")
c = torch.tensor([1 + 2j, 3 - 1j], device="{device}")
with warnings.catch_warnings(record=True) as caught:
    print(c.{reduction}.cpu().tolist())
print([str(w.message).split(" (Triggered internally")[0] for w in caught])
"""


@pytest.mark.parametrize(
    "reduction",
    ["sum(dtype=torch.float32)", "prod(dtype=torch.float64)", "cumsum(0, dtype=torch.float32)"],
)
def test_a_complex_reduction_into_a_real_dtype_warns_as_the_cpu(reduction):
    cpu, remote = run_on_cpu_and_remote(REDUCED_TO_REAL.replace("{reduction}", reduction))
    assert "discards the imaginary part" in cpu.stdout
    assert remote.stdout.splitlines() == cpu.stdout.splitlines()
