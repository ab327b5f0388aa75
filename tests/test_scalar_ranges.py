"""Python numbers out of a tensor dtype's range: arithmetic wraps them around as PyTorch's
CPU does, and the ops that convert them with a range check refuse them at the call, with
the CPU's message; data-dependent failures of value-taking kernels stay clean errors."""

import pytest
import torch
import torch.nn.functional as F
import torch_remote  # noqa: F401


def _uint8(device):
    return torch.arange(3, dtype=torch.uint8, device=device)


WRAPPING = {
    "mul": lambda d: _uint8(d) * 300,
    "add": lambda d: _uint8(d) + 256,
    "rsub": lambda d: 300 - _uint8(d),
    "lt": lambda d: _uint8(d) < 300,
    "eq_int32": lambda d: torch.arange(3, dtype=torch.int32, device=d) == 2**40,
    "gt_int8": lambda d: torch.arange(3, dtype=torch.int8, device=d) > 1000,
    "floor_divide": lambda d: _uint8(d) // 1000,
    "remainder": lambda d: _uint8(d) % 1000,
    "bitwise_and": lambda d: _uint8(d) & 257,
    "mul_": lambda d: _uint8(d).mul_(300),
    "negative_alpha": lambda d: torch.zeros(2, dtype=torch.uint8, device=d).add(1, alpha=-1),
    "pow_of_number": lambda d: 300 ** torch.ones(2, dtype=torch.uint8, device=d),
    "fill_negative": lambda d: torch.zeros(2, dtype=torch.uint8, device=d).fill_(-255),
    "fill_bool": lambda d: torch.zeros(2, dtype=torch.bool, device=d).fill_(2),
}


@pytest.mark.parametrize("case", sorted(WRAPPING))
def test_wrapped_numbers_wrap_as_on_the_cpu(case):
    expected = WRAPPING[case]("cpu")
    result = WRAPPING[case]("remote")
    assert result.dtype == expected.dtype
    assert torch.equal(result.cpu(), expected)


CHECKED = {
    "alpha": lambda d: _uint8(d).add(1, alpha=300),
    "tensor_alpha": lambda d: _uint8(d).sub(_uint8(d), alpha=-300),
    "half_alpha": lambda d: torch.ones(2, dtype=torch.half, device=d).add(
        torch.ones(2, dtype=torch.half, device=d), alpha=1e6
    ),
    "int_alpha": lambda d: torch.arange(3, dtype=torch.int32, device=d).add(
        torch.arange(3, dtype=torch.int32, device=d), alpha=2**40
    ),
    "where": lambda d: torch.where(torch.tensor([True, False, True], device=d), _uint8(d), 300),
    "clamp": lambda d: _uint8(d).clamp(max=300),
    "clamp_min": lambda d: _uint8(d).clamp_min(300),
    "fill": lambda d: _uint8(d).fill_(300),
    "fill_nan": lambda d: torch.zeros(2, dtype=torch.int32, device=d).fill_(float("nan")),
    "fill_float": lambda d: torch.zeros(2, device=d).fill_(1e300),
    "fill_imaginary": lambda d: torch.zeros(2, device=d).fill_(1j),
    "full": lambda d: torch.full((2,), 300, dtype=torch.uint8, device=d),
    "slice_assign": lambda d: _uint8(d).__setitem__(slice(0, 1), 300),
    "masked_fill": lambda d: _uint8(d).masked_fill_(
        torch.tensor([True, False, True], device=d), 300
    ),
    "index_fill": lambda d: _uint8(d).index_fill_(0, torch.tensor([0, 2], device=d), 300),
    "scatter": lambda d: _uint8(d).scatter_(0, torch.tensor([0, 2], device=d), 300),
    "pow": lambda d: _uint8(d) ** 300,
    "threshold": lambda d: F.threshold(_uint8(d), 300, 1),
    "hardtanh": lambda d: F.hardtanh(torch.ones(2, dtype=torch.half, device=d), -1e6, 1e6),
    "addcmul": lambda d: _uint8(d).addcmul(_uint8(d), _uint8(d), value=300),
}


@pytest.mark.parametrize("case", sorted(CHECKED))
def test_range_checked_numbers_are_refused_at_the_call(case):
    with pytest.raises(RuntimeError, match="without overflow") as on_cpu:
        CHECKED[case]("cpu")
    cpu_message = str(on_cpu.value).splitlines()[0]
    with pytest.raises(RuntimeError) as on_remote:
        CHECKED[case]("remote")
    assert cpu_message in str(on_remote.value)


def test_values_in_range_still_fill():
    for device in ["cpu", "remote"]:
        x = torch.zeros(3, dtype=torch.uint8, device=device)
        x.masked_fill_(torch.tensor([True, False, True], device=device), 255)
        x.index_fill_(0, torch.tensor([1], device=device), -1)
        assert x.cpu().tolist() == [255, 255, 255]


@pytest.mark.parametrize(
    "write",
    [
        lambda x, i: x.scatter_(0, i, 1.0),
        lambda x, i: x.scatter_(0, i, 2.0, reduce="add"),
        lambda x, i: x.index_fill_(0, i, 1.0),
    ],
)
def test_a_bad_index_with_a_value_is_a_clean_error(write):
    x = torch.arange(3.0, device="remote")
    with pytest.raises(RuntimeError, match="index 5 is out of bounds") as failure:
        write(x, torch.tensor([5], device="remote")).cpu()
    assert "panicked" not in str(failure.value)
    assert "Exception raised from" not in str(failure.value)
    assert x.cpu().tolist() == [0.0, 1.0, 2.0]


def test_scatter_of_a_value_reduces_as_on_the_cpu():
    index = torch.tensor([0, 0, 2])
    for reduce in ["add", "multiply"]:
        expected = torch.ones(3).scatter_(0, index, 2.0, reduce=reduce)
        result = torch.ones(3, device="remote").scatter_(0, index.to("remote"), 2.0, reduce=reduce)
        assert torch.equal(result.cpu(), expected)
    expected = F.one_hot(torch.tensor([0, 2, 1]), 3)
    assert torch.equal(F.one_hot(torch.tensor([0, 2, 1], device="remote"), 3).cpu(), expected)
