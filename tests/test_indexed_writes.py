"""Indexed writes and `out=` forms refuse what the CPU refuses, at the call and with its
exception and message: memory shared between what an op reads and what it writes, shapes
that do not fit, views past their storage. Each case computed (or failed only at the next
wait) on remote before."""

import pytest
import torch
import torch_remote  # noqa: F401
from conftest import assert_refused_like_the_cpu


def _arange(device, n=4, dtype=torch.float32):
    return torch.arange(n, dtype=dtype, device=device)


def _index(device, values=(1, 2, 3, 0)):
    return torch.tensor(values, device=device)


REFUSED = {
    "index_add_ of itself": lambda d: (x := _arange(d)).index_add_(0, _index(d), x),
    "index_add_ of an overlapping view": lambda d: (x := _arange(d))[:3].index_add_(
        0, _index(d, (1, 2, 0)), x[1:]
    ),
    "index_add_ at itself": lambda d: (x := _arange(d, dtype=torch.int64)).index_add_(
        0, x, torch.ones(4, dtype=torch.int64, device=d)
    ),
    "index_add out= overlapping self": lambda d: torch.index_add(
        (x := _arange(d))[:3], 0, _index(d, (0,)), x[:1].clone(), out=x[1:]
    ),
    "scatter_ of itself": lambda d: (x := _arange(d)).scatter_(0, _index(d), x),
    "scatter_add_ of itself": lambda d: (x := _arange(d)).scatter_add_(0, _index(d), x),
    "scatter_reduce_ of itself": lambda d: (x := _arange(d)).scatter_reduce_(
        0, _index(d), x, "sum"
    ),
    "scatter_ at itself": lambda d: (x := _arange(d, dtype=torch.int64)).scatter_(0, x, 1),
    "index_copy_ of itself": lambda d: (x := _arange(d)).index_copy_(0, _index(d), x),
    "index_reduce_ of itself": lambda d: (x := _arange(d)).index_reduce_(0, _index(d), x, "amax"),
    "index_fill_ at itself": lambda d: (x := _arange(d, dtype=torch.int64)).index_fill_(
        0, x[:2], 7
    ),
    "put_ of itself": lambda d: (x := _arange(d)).put_(_index(d), x),
    "index_put_ of itself": lambda d: (x := _arange(d)).index_put_((_index(d),), x),
    "index_put_ accumulating itself": lambda d: (x := _arange(d)).index_put_(
        (_index(d),), x, accumulate=True
    ),
    "cumsum out= overlapping its input": lambda d: torch.cumsum(
        (x := _arange(d))[:3], 0, out=x[1:]
    ),
    "cumprod out= overlapping its input": lambda d: torch.cumprod(
        (x := _arange(d))[:3], 0, out=x[1:]
    ),
    "logcumsumexp out= overlapping its input": lambda d: torch.logcumsumexp(
        (x := _arange(d))[:3], 0, out=x[1:]
    ),
    "cat out= growing over an input": lambda d: torch.cat([x := _arange(d), x], out=x),
    "index_add_ of a source of another shape": lambda d: torch.zeros(3, 2, device=d).index_add_(
        0, _index(d, (0,)), torch.ones(1, 3, device=d)
    ),
    "index_add_ of a 0-dim source": lambda d: torch.zeros(3, device=d).index_add_(
        0, _index(d, (0,)), torch.tensor(1.0, device=d)
    ),
    "index_add_ along a dim the source lacks": lambda d: torch.zeros(3, 2, device=d).index_add_(
        1, _index(d, (0,)), torch.ones(3, device=d)
    ),
    "index_add_ with a matrix of indices": lambda d: torch.zeros(3, device=d).index_add_(
        0, torch.tensor([[0]], device=d), torch.ones(1, device=d)
    ),
    "index_reduce_ of a source of another shape": lambda d: torch.zeros(
        3, 2, device=d
    ).index_reduce_(0, _index(d, (0,)), torch.ones(1, 3, device=d), "amax"),
    "index_reduce_ with reduce max": lambda d: torch.zeros(3, device=d).index_reduce_(
        0, _index(d, (0,)), torch.ones(1, device=d), "max"
    ),
    "index_copy_ of another slice shape": lambda d: torch.zeros(3, 2, 5, device=d).index_copy_(
        0, _index(d, (0,)), torch.ones(1, 3, 4, device=d)
    ),
    "index_copy_ of another dimensionality": lambda d: torch.zeros(3, 2, device=d).index_copy_(
        0, _index(d, (0,)), torch.ones(2, device=d)
    ),
    "index_copy_ of too few rows": lambda d: torch.zeros(3, 2, device=d).index_copy_(
        0, _index(d, (0, 1)), torch.ones(1, 2, device=d)
    ),
    "scatter_add_ of a source with fewer dims": lambda d: torch.zeros(3, 4, device=d).scatter_add_(
        1, torch.tensor([[0, 1]], device=d), torch.ones(2, device=d)
    ),
    "scatter_ of a source with more dims": lambda d: torch.zeros(3, 4, device=d).scatter_(
        1, torch.tensor([[0, 1]], device=d), torch.ones(2, 2, 2, device=d)
    ),
    "scatter_reduce with an unknown reduce": lambda d: torch.zeros(3, device=d).scatter_reduce(
        0, _index(d, (0,)), torch.ones(1, device=d), "foo"
    ),
    "masked_scatter_ into an expanded tensor": lambda d: (
        torch.zeros(4, device=d)
        .expand(3, 4)
        .masked_scatter_(torch.ones(3, 4, dtype=torch.bool, device=d), torch.ones(12, device=d))
    ),
    "indices that do not broadcast": lambda d: torch.zeros(3, 4, device=d)[[0, 1, 2], [0, 1]],
    "index_put_ of indices that do not broadcast": lambda d: torch.zeros(3, 4, device=d).index_put_(
        (_index(d, (0, 1, 2)), _index(d, (0, 1))), torch.tensor(1.0, device=d)
    ),
    "as_strided past the storage": lambda d: torch.ones(3, device=d).as_strided((6,), (1,)),
    "as_strided past the storage from an offset": lambda d: torch.ones(3, device=d)[1:].as_strided(
        (3,), (1,)
    ),
    "as_strided at an offset past the storage": lambda d: torch.ones(3, device=d).as_strided(
        (2,), (1,), 2
    ),
}


@pytest.mark.parametrize("case", REFUSED)
def test_refused_at_the_call_as_on_the_cpu(case):
    assert_refused_like_the_cpu(REFUSED[case])
    torch.testing.assert_close((_arange("remote") * 2).cpu(), _arange("cpu") * 2)


TAKEN = {
    "scatter_reduce with reduce max": lambda d: torch.zeros(3, device=d).scatter_reduce(
        0, _index(d, (0,)), torch.tensor([5.0], device=d), "max"
    ),
    "scatter_reduce with reduce min": lambda d: torch.ones(3, device=d).scatter_reduce(
        0, _index(d, (0,)), torch.tensor([-5.0], device=d), "min"
    ),
    "as_strided within a larger storage": lambda d: torch.arange(6.0, device=d)[:2].as_strided(
        (3,), (2,)
    ),
    "as_strided of nothing past the storage": lambda d: torch.ones(3, device=d).as_strided(
        (0,), (1,), 5
    ),
    "cumsum_ in place": lambda d: _arange(d).cumsum_(0),
    "cumsum out= its own input": lambda d: torch.cumsum(x := _arange(d), 0, out=x),
    "index_add_ from a clone": lambda d: (x := _arange(d)).index_add_(0, _index(d), x.clone()),
}


@pytest.mark.parametrize("case", TAKEN)
def test_taken_as_on_the_cpu(case):
    torch.testing.assert_close(TAKEN[case]("remote").cpu(), TAKEN[case]("cpu"))


@pytest.mark.parametrize("accumulate", [False, True])
def test_index_put_into_an_expanded_tensor_warns_and_writes_as_the_cpu(accumulate):
    def run(device):
        e = torch.zeros(3, device=device).expand(2, 3)
        index = (torch.tensor([0, 1], device=device), torch.tensor([1, 2], device=device))
        with pytest.warns(UserWarning, match="Use of index_put_ on expanded tensors"):
            e.index_put_(index, torch.tensor([5.0, 6.0], device=device), accumulate=accumulate)
        return e

    torch.testing.assert_close(run("remote").cpu(), run("cpu"))


@pytest.mark.parametrize(
    "value",
    [
        torch.tensor(0),
        torch.tensor(0.5, dtype=torch.float64),
        torch.tensor([7]),
        torch.tensor(True),
    ],
    ids=["int64", "float64", "one_element", "bool"],
)
@pytest.mark.parametrize("leading", [0, 1])
def test_a_cpu_value_through_a_mask_fills_whatever_its_dtype(value, leading):
    def run(device):
        x = torch.arange(-6.0, 6.0, device=device).reshape(3, 4)
        mask = (x < 0) if leading == 0 else (x[0] < -4)
        if leading == 0:
            x[mask] = value
        else:
            x[:, mask] = value
        return x

    torch.testing.assert_close(run("remote").cpu(), run("cpu"))


def test_a_cpu_value_through_a_mask_of_the_wrong_shape_is_refused_like_the_cpu():
    assert_refused_like_the_cpu(
        lambda d: torch.zeros(3, 4, device=d).index_put_(
            (torch.ones(4, dtype=torch.bool, device=d),), torch.tensor(1)
        )
    )
