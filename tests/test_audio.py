"""torchaudio's compiled filter recursion (`_lfilter_core_loop`, under `lfilter`, the biquads and
`filtfilt`) on remote: one op on the host, not torchaudio's composite loop of three ops a
sample. torchaudio is not a test dependency (no release pins torch 2.13): where it is missing,
the op's schema is defined here with a CPU kernel that runs torchaudio's CPU loop, element by
element in its order."""

import numpy as np
import pytest
import torch
import torch_remote  # noqa: F401
from conftest import round_trips

SCHEMA = (
    "_lfilter_core_loop(Tensor input_signal_windows, Tensor a_coeff_flipped, "
    "Tensor(a!) padded_output_waveform) -> Tensor(a!)"
)


def cpu_loop(x: torch.Tensor, a: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """torchaudio's CPU kernel: each sample less the previous outputs times the flipped
    coefficients, subtracted one by one in the tensors' dtype."""
    xs, taps, ys = x.numpy(), a.numpy(), out.numpy()
    order = taps.shape[1]
    for b, c in np.ndindex(xs.shape[0], xs.shape[1]):
        row = ys[b, c]
        for i, sample in enumerate(xs[b, c]):
            a0 = sample
            for k in range(order):
                a0 = a0 - row[i + k] * taps[c, k]
            row[i + order - 1] = a0
    return out


try:
    import torchaudio  # noqa: F401
except ImportError:
    LIBRARY = torch.library.Library("torchaudio", "FRAGMENT")
    LIBRARY.define(SCHEMA)
    LIBRARY.impl("_lfilter_core_loop", cpu_loop, "CPU")

loop = torch.ops.torchaudio._lfilter_core_loop


def iir(x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """torchaudio's `DifferentiableIIR.forward`: the recursion into a zero-padded output."""
    order = a.shape[1]
    padded = x.new_zeros(x.shape[0], x.shape[1], x.shape[2] + order - 1)
    loop(x, a.flip(1).contiguous(), padded)
    return padded[:, :, order - 1 :]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_the_recursion_is_the_cpus_in_one_op_and_no_round_trip(dtype):
    g = torch.Generator().manual_seed(0)
    x = (torch.randn(2, 3, 400, generator=g) * 0.3).to(dtype)
    # A resonant biquad per channel, normalised by a[0] as lfilter does.
    a = torch.tensor([[1.0, -1.8, 0.81], [1.0, -0.5, 0.06], [1.0, 0.3, -0.2]], dtype=dtype)
    expected = iir(x, a)
    remote_x, remote_a = x.to("remote"), a.to("remote")
    before = torch.remote.stats()["ops"]
    found = {}
    trips = round_trips(lambda: found.update(y=iir(remote_x, remote_a)))
    assert trips == 0
    assert torch.remote.stats()["ops"] - before < 10
    assert torch.equal(found["y"].cpu(), expected)


def test_the_op_gives_back_its_output_written_in_place():
    x, a = torch.randn(1, 1, 20), torch.tensor([[0.25, -0.5, 1.0]])
    out = torch.zeros(1, 1, 22, device="remote")
    returned = loop(x.to("remote"), a.to("remote"), out)
    assert returned.data_ptr() == out.data_ptr()
    assert torch.equal(out.cpu(), loop(x, a, torch.zeros(1, 1, 22)))


@pytest.mark.parametrize(
    ("shapes", "message"),
    [
        (((1, 2, 8), (1, 3), (1, 2, 10)), "do not fit"),  # one row of coefficients, 2 channels
        (((1, 1, 8), (1, 3), (1, 1, 9)), "do not fit"),  # output one sample short
        (((1, 1, 8), (1, 0), (1, 1, 7)), "do not fit"),  # no coefficients
        (((1, 8), (1, 3), (1, 10)), r"expected input_signal_windows \[batch, channels"),
    ],
)
def test_mismatched_tensors_are_refused_at_the_call(shapes, message):
    x, a, out = (torch.zeros(s, device="remote") for s in shapes)
    with pytest.raises(RuntimeError, match=message):
        loop(x, a, out)


def test_coefficients_of_another_dtype_are_refused_at_the_call():
    x, out = torch.zeros(1, 1, 4, device="remote"), torch.zeros(1, 1, 4, device="remote")
    with pytest.raises(RuntimeError, match="a_coeff_flipped must be float32 or float64"):
        loop(x, torch.ones(1, 1, dtype=torch.long, device="remote"), out)
    with pytest.raises(RuntimeError, match=r"a_coeff_flipped must be .* \(Float\), got Double"):
        loop(x, torch.ones(1, 1, dtype=torch.float64, device="remote"), out)
