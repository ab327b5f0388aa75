"""Segment reductions and sparse index conversions on remote, as graph libraries call them on
dense tensors (PyTorch Geometric's `segment` and `index2ptr` take CUDA's path on remote):
`segment_reduce` with its gradient, `_convert_indices_from_coo_to_csr` and
`_convert_indices_from_csr_to_coo`, against the CPU's kernels, which the host runs once it
has checked that the lengths, offsets and indices stay inside their tensors."""

import pytest
import torch
import torch_remote  # noqa: F401
from conftest import assert_refused_like_the_cpu, round_trips

BOUNDS = {
    "lengths": dict(lengths=torch.tensor([2, 0, 5])),
    "int32 lengths from 1.5": dict(lengths=torch.tensor([3, 0, 4], dtype=torch.int32), initial=1.5),
    "offsets": dict(offsets=torch.tensor([0, 2, 2, 7])),
    "offsets from 2": dict(offsets=torch.tensor([0, 3, 3, 7]), initial=2),
}


def on(device: str, kwargs: dict) -> dict:
    return {k: v.to(device) if torch.is_tensor(v) else v for k, v in kwargs.items()}


@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "amin", "prod"])
@pytest.mark.parametrize("bounds", BOUNDS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_segment_reduce_and_its_gradient_are_the_cpus(reduce, bounds, dtype):
    data = torch.randn(7, 3, generator=torch.Generator().manual_seed(1)).to(dtype)
    data[2, 1] = float("nan")
    data[4, 0] = data[5, 0]  # a tie: max and min split their gradient
    grad = torch.linspace(-1, 2, 9).view(3, 3).to(dtype)
    results = {}
    for device in ["cpu", "remote"]:
        x = data.to(device, copy=True).requires_grad_()
        out = torch.segment_reduce(x, reduce, **on(device, BOUNDS[bounds]))
        out.backward(grad.to(device))
        results[device] = (out.detach().cpu(), x.grad.cpu())
    for found, expected in zip(results["remote"], results["cpu"], strict=True):
        assert found.dtype == expected.dtype and found.stride() == expected.stride()
        assert torch.equal(found.nan_to_num(7.0), expected.nan_to_num(7.0))


def test_segments_along_a_later_axis_take_no_round_trip():
    x = torch.randn(3, 6)
    lengths = torch.tensor([[1, 2, 3], [3, 3, 0], [0, 0, 6]])
    offsets = torch.tensor([[0, 1, 3], [0, 3, 3], [0, 0, 6]])
    remote = x.to("remote"), lengths.to("remote"), offsets.to("remote")
    found = {}
    trips = round_trips(
        lambda: found.update(
            lengths=torch.segment_reduce(remote[0], "sum", lengths=remote[1], axis=1),
            offsets=torch.segment_reduce(remote[0], "mean", offsets=remote[2], axis=-1),
        )
    )
    assert trips == 0
    assert torch.equal(
        found["lengths"].cpu(), torch.segment_reduce(x, "sum", lengths=lengths, axis=1)
    )
    expected = torch.segment_reduce(x, "mean", offsets=offsets, axis=-1)  # NaN for no elements
    torch.testing.assert_close(found["offsets"].cpu(), expected, rtol=0, atol=0, equal_nan=True)


def test_an_edge_softmax_over_sorted_segments():
    """PyTorch Geometric's softmax given row pointers: segment max, exp, segment sum."""
    src, ptr = torch.randn(9, 2), torch.tensor([0, 4, 4, 9])

    def softmax(src, ptr):
        counts = ptr.diff()
        top = torch.segment_reduce(src, "amax", offsets=ptr).repeat_interleave(
            counts, 0, output_size=9
        )
        e = (src - top).exp()
        total = torch.segment_reduce(e, "sum", offsets=ptr).repeat_interleave(
            counts, 0, output_size=9
        )
        return e / total

    found = softmax(src.to("remote"), ptr.to("remote"))
    assert torch.equal(found.cpu(), softmax(src, ptr))


@pytest.mark.parametrize("out_int32", [False, True])
def test_sparse_index_conversions_are_the_cpus(out_int32):
    rows = torch.tensor([0, 0, 1, 3, 3])
    expected = torch._convert_indices_from_coo_to_csr(rows, 5, out_int32=out_int32)
    found = torch._convert_indices_from_coo_to_csr(rows.to("remote"), 5, out_int32=out_int32)
    assert found.dtype == expected.dtype and torch.equal(found.cpu(), expected)
    crow, col = torch.tensor([0, 2, 3, 3, 5]), torch.tensor([1, 2, 0, 1, 3], dtype=torch.int32)
    for transpose in [False, True]:
        expected = torch._convert_indices_from_csr_to_coo(
            crow, col, out_int32=out_int32, transpose=transpose
        )
        found = torch._convert_indices_from_csr_to_coo(
            crow.to("remote"), col.to("remote"), out_int32=out_int32, transpose=transpose
        )
        assert found.dtype == expected.dtype and torch.equal(found.cpu(), expected)


def test_refusals_are_the_cpus():
    data, lengths = torch.randn(6, 3), torch.tensor([2, 0, 4])
    rows, crow = torch.tensor([0, 1]), torch.tensor([0, 1, 2])
    for call in [
        lambda d: torch.segment_reduce(data.to(d), "foo", lengths=lengths.to(d)),
        lambda d: torch.segment_reduce(data.to(d), "sum"),
        lambda d: torch.segment_reduce(
            data.to(d), "sum", lengths=lengths.to(d), indices=lengths.to(d)
        ),
        lambda d: torch.segment_reduce(data.to(d), "sum", lengths=lengths.to(d), axis=1),
        lambda d: torch.segment_reduce(data.long().to(d), "sum", lengths=lengths.to(d)),
        lambda d: torch.segment_reduce(data.to(d), "sum", offsets=lengths.float().to(d)),
        lambda d: torch.segment_reduce(
            data.to(torch.complex64).to(d), "sum", lengths=lengths.to(d)
        ),
        lambda d: torch._convert_indices_from_coo_to_csr(rows.view(1, 2).to(d), 3),
        lambda d: torch._convert_indices_from_coo_to_csr(rows.float().to(d), 3),
        lambda d: torch._convert_indices_from_csr_to_coo(crow.view(1, 3).to(d), rows.to(d)),
        lambda d: torch._convert_indices_from_csr_to_coo(crow.bool().to(d), rows.to(d)),
    ]:
        assert_refused_like_the_cpu(call)


@pytest.mark.parametrize(
    ("bounds", "message"),
    [
        (dict(lengths=torch.tensor([2, -1, 5])), "lengths contains negative value!"),
        (dict(lengths=torch.tensor([2, 1, 5])), "Expected all rows of lengths along axis to sum"),
        (dict(lengths=torch.tensor([2, 1, 5]), unsafe=True), r"lengths \[2, 1, 5\] run past"),
        (dict(offsets=torch.tensor([0, 3, 9])), "offset 9 is outside the axis of 6 elements"),
    ],
)
def test_bounds_outside_the_data_are_refused_and_the_host_goes_on(bounds, message):
    data = torch.randn(6, 3)
    kept = data.to("remote")
    out = torch.segment_reduce(kept, "sum", **on("remote", bounds))
    with pytest.raises(RuntimeError, match=message):
        out.cpu()
    assert torch.equal(kept.cpu(), data)


def test_indices_outside_the_result_are_refused_and_the_host_goes_on():
    coo = torch._convert_indices_from_coo_to_csr(torch.tensor([0, 7], device="remote"), 3)
    with pytest.raises(RuntimeError, match=r"index 7 is outside \[0, 3\]"):
        coo.cpu()
    csr = torch._convert_indices_from_csr_to_coo(
        torch.tensor([0, 2, 5], device="remote"), torch.tensor([0, 1, 2], device="remote")
    )
    with pytest.raises(RuntimeError, match=r"row pointer 5 is outside \[0, 3\]"):
        csr.cpu()
    down = torch._convert_indices_from_csr_to_coo(
        torch.tensor([0, 3, 0, 3], device="remote"), torch.tensor([0, 1, 2], device="remote")
    )
    with pytest.raises(RuntimeError, match="row pointers 3 then 0 go down"):
        down.cpu()
    rows = torch.tensor([0, 0, 2])
    assert torch.equal(
        torch._convert_indices_from_coo_to_csr(rows.to("remote"), 3).cpu(),
        torch._convert_indices_from_coo_to_csr(rows, 3),
    )
