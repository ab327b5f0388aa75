"""Ops whose output sizes depend on values (nonzero, boolean masks, masked_select, unique):
each asks the host for its size once, then matches the CPU in metadata and values."""

import pytest
import torch
import torch_remote
from conftest import assert_refused_like_the_cpu, meta, round_trips

GEN = torch.Generator().manual_seed(0)
X = torch.randn(4, 5, generator=GEN)
INTS = torch.randint(0, 4, (3, 6), generator=GEN)


def agree(remote, cpu):
    remote = remote if isinstance(remote, tuple) else (remote,)
    cpu = cpu if isinstance(cpu, tuple) else (cpu,)
    assert len(remote) == len(cpu)
    for r, c in zip(remote, cpu, strict=True):
        assert meta(r) == meta(c)
        torch.testing.assert_close(r.cpu(), c)


CASES = {
    "nonzero": lambda x: torch.nonzero(x > 0),
    "nonzero_none": lambda x: torch.nonzero(x > 10),
    "nonzero_0d": lambda x: torch.nonzero(x[0, 0] < 10),
    "argwhere_t": lambda x: torch.argwhere(x.t() > 0.5),
    "bool_index": lambda x: x[x > 0],
    "bool_index_rows": lambda x: x[x[:, 0] > 0],
    "bool_index_then_int": lambda x: x[x[:, 0] > 0, 1:3],
    "masked_select_broadcast": lambda x: torch.masked_select(x, x[0] > 0),
    "unique": lambda x: torch.unique(INTS.to(x.device)),
    "unique_flags": lambda x: torch.unique(
        INTS.to(x.device), return_inverse=True, return_counts=True
    ),
    "unique_legacy": lambda x: torch.ops.aten._unique(INTS.to(x.device), False, True),
    "unique_dim1": lambda x: torch.unique(
        INTS.to(x.device), dim=1, return_inverse=True, return_counts=True
    ),
    "unique_consecutive": lambda x: torch.unique_consecutive(
        INTS.to(x.device), return_inverse=True, return_counts=True
    ),
    "unique_consecutive_dim": lambda x: torch.unique_consecutive(INTS.to(x.device), dim=0),
    "bincount": lambda x: torch.bincount(INTS[0].to(x.device)),
    "bincount_minlength_weights": lambda x: torch.bincount(
        INTS[1].to(x.device), weights=x[0, :1].expand(6), minlength=9
    ),
    "bincount_double_weights_empty": lambda x: torch.bincount(
        INTS[0, :0].to(x.device), weights=x[0, :0].double()
    ),
    "repeat_interleave_tensor": lambda x: torch.repeat_interleave(INTS[0].to(x.device)),
    "repeat_interleave_dim": lambda x: x.repeat_interleave(INTS[0, :4].to(x.device), dim=0),
    "repeat_interleave_int32": lambda x: torch.repeat_interleave(INTS[2].to(x.device).int()),
    # The SVD drivers give residuals of a tall system only where every matrix has full rank.
    "lstsq_gelsd_full_rank": lambda x: torch.linalg.lstsq(x, x[:, :2], driver="gelsd"),
    "lstsq_gelss_batched": lambda x: torch.linalg.lstsq(
        x.expand(2, 4, 5).mT, x.mT[:, :1].expand(2, 5, 1), driver="gelss"
    ),
    "lstsq_rank_deficient": lambda x: torch.linalg.lstsq(
        torch.cat([x.mT, x.mT[:, :1]], 1), x.mT[:, :2], driver="gelsd", rcond=1e-5
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_data_dependent_op_matches_cpu(name):
    fn = CASES[name]
    agree(fn(X.to("remote")), fn(X))


def test_index_put_with_mask_writes_through():
    cpu, remote = X.clone(), X.to("remote")
    cpu[cpu < 0] = 0
    remote[remote < 0] = 0
    agree(remote, cpu)
    cpu[cpu > 0.5] += torch.ones(int((cpu > 0.5).sum()))
    remote[remote > 0.5] += torch.ones(int((remote > 0.5).sum().item()), device="remote")
    agree(remote, cpu)


@pytest.mark.parametrize("how", ["masked_select", "bool_index"])
def test_gradients_flow_through_masks(how):
    def loss(x):
        picked = torch.masked_select(x, x > 0) if how == "masked_select" else x[x > 0]
        return (picked * torch.arange(picked.numel(), device=x.device)).sum()

    cpu = X.clone().requires_grad_()
    remote = X.to("remote").requires_grad_()
    loss(cpu).backward()
    loss(remote).backward()
    agree(remote.grad, cpu.grad)


def test_one_round_trip_per_data_dependent_op():
    x = X.to("remote")
    torch.remote.synchronize()
    before = torch.remote.stats()["round_trips"]
    found = torch.nonzero(x > 0)
    assert tuple(found.shape) == tuple(torch.nonzero(X > 0).shape)
    assert torch.remote.stats()["round_trips"] - before == 1
    torch.nonzero(x > 0)
    assert torch.remote.stats()["round_trips"] - before == 2, "sizes are asked again each time"


ONE_ELEMENT_WRITES = {
    # Python makes the value on the tensor's device (on the CPU for CUDA only).
    "python_number": lambda x: x.__setitem__(x > 0, 0.0),
    "after_a_slice": lambda x: x.__setitem__((slice(None), x[0] > 0), float("-inf")),
    "one_element_tensor_of_another_dtype": lambda x: x.index_put_(
        (x > 0,), torch.tensor([2], device=x.device)
    ),
    "integer_tensor_float_value": lambda x: x.long().index_put_(
        (x > 0,), torch.tensor(2.5, device=x.device)
    ),
}


@pytest.mark.parametrize("write", list(ONE_ELEMENT_WRITES), ids=list(ONE_ELEMENT_WRITES))
def test_one_element_written_through_a_mask_is_a_fill_without_a_round_trip(write):
    cpu, remote = X.clone(), X.to("remote")
    ONE_ELEMENT_WRITES[write](cpu)
    torch.remote.synchronize()
    assert round_trips(lambda: ONE_ELEMENT_WRITES[write](remote)) == 0
    agree(remote, cpu)


def test_a_byte_mask_with_one_element_is_refused_as_a_fill_like_the_cpu():
    def write(device):
        x = X.to(device)
        x[torch.tensor([1, 0, 1, 0], dtype=torch.uint8, device=device)] = 7.0

    assert_refused_like_the_cpu(write)


def test_masked_scatter_waits_for_nothing_and_a_short_source_fails_at_the_next_read():
    mask = X > 0
    source = torch.arange(20.0)
    want = X.masked_scatter(mask, source)
    x = X.to("remote")
    got = []
    torch.remote.synchronize()
    assert (
        round_trips(lambda: got.append(x.masked_scatter(mask.to("remote"), source.to("remote"))))
        == 0
    )
    agree(got[0], want)
    with pytest.raises(RuntimeError) as cpu:
        X.masked_scatter(torch.ones_like(mask), source[:3])
    short = x.masked_scatter(torch.ones_like(mask).to("remote"), source[:3].to("remote"))
    with pytest.raises(RuntimeError) as remote:
        short.cpu()
    assert str(cpu.value) in str(remote.value)
    agree(x, X)


def test_dry_run_names_the_data_dependent_op():
    with torch_remote.dry_run():
        x = torch.ones(3, device="remote")
        with pytest.raises(RuntimeError, match="dry run: nonzero"):
            torch.nonzero(x)


def test_mask_shape_mismatch_is_a_clear_error():
    x = X.to("remote")
    with pytest.raises(IndexError, match=r"shape of the mask \[5\] at index 0 does not match"):
        x[torch.ones(5, dtype=torch.bool, device="remote")]
    agree(x, X)


EQUAL_PAIRS = {
    "promoted": (torch.tensor([1.0, 2.0]), torch.tensor([1, 2])),
    "nan": (torch.tensor([float("nan")]), torch.tensor([float("nan")])),
    "empty": (torch.zeros(0, 3), torch.zeros(0, 3)),
    "empty_other_shape": (torch.zeros(0, 3), torch.zeros(3, 0)),
    "broadcastable_only": (torch.zeros(3), torch.zeros(1, 3)),
    "strided": (torch.arange(6.0).view(2, 3), torch.arange(6.0).view(2, 3).t().contiguous().t()),
    "one_differs": (
        torch.arange(6.0).view(2, 3),
        torch.arange(6.0).view(2, 3).index_fill(1, torch.tensor([2]), 0),
    ),
    "scalars": (torch.tensor(True), torch.tensor(1)),
}


@pytest.mark.parametrize("pair", list(EQUAL_PAIRS), ids=list(EQUAL_PAIRS))
def test_equal_returns_the_cpu_bool(pair):
    a, b = EQUAL_PAIRS[pair]
    got = torch.equal(a.to("remote"), b.to("remote"))
    assert type(got) is bool
    assert got == torch.equal(a, b)


def test_equal_is_a_read_in_a_dry_run():
    with torch_remote.dry_run(), pytest.raises(RuntimeError, match="dry run"):
        torch.equal(torch.zeros(2, device="remote"), torch.zeros(2, device="remote"))


@pytest.mark.parametrize(
    "op",
    [
        lambda d: torch.bincount(torch.tensor([1, -1], device=d)),
        lambda d: torch.repeat_interleave(torch.tensor([2, -1], device=d)),
    ],
    ids=["bincount", "repeat_interleave"],
)
def test_negative_counts_fail_like_cpu(op):
    with pytest.raises(RuntimeError) as cpu_error:
        op("cpu")
    with pytest.raises(RuntimeError) as remote_error:
        op("remote")
    assert str(cpu_error.value) in str(remote_error.value)


def test_histc_equals_cpu():
    x = torch.randn(200, generator=GEN)
    for args in [(10,), (7, -1.0, 1.0), (4, 0.5, 0.5)]:
        torch.testing.assert_close(torch.histc(x.to("remote"), *args).cpu(), torch.histc(x, *args))
    single = torch.tensor([1.0, 1.0])
    torch.testing.assert_close(torch.histc(single.to("remote"), 4).cpu(), torch.histc(single, 4))
    empty = torch.tensor([])
    torch.testing.assert_close(torch.histc(empty.to("remote"), 3).cpu(), torch.histc(empty, 3))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_histc_of_half_types_bins_edge_values_as_the_cpu_does(dtype):
    """The CPU finds each bin in the input's precision, without `histogram`'s correction at
    the edges, so in half precision values near an edge land where its rounding puts them."""
    x = (torch.randn(5, 5, 5, generator=GEN) * 5).to(dtype)
    for args in [(100, -10, 0), (10, -10, 10), (100, 0, 0), (7, -3.3, 2.9)]:
        assert torch.equal(torch.histc(x.to("remote"), *args).cpu(), torch.histc(x, *args))


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64])
def test_histc_counts_integers_as_cuda_does(dtype):
    """The CPU refuses integer histc; CUDA counts them in their own dtype, and accelerator code
    relies on that (MoE load balancing: `histc(expert_ids.int(), bins=E, min=0, max=E)`)."""
    ids = torch.randint(0, 8, (300,), generator=GEN).to(dtype)
    for args in [(8, 0, 8), (8, 0, 7), (5, 2, 6), (4,)]:
        got = torch.histc(ids.to("remote"), *args).cpu()
        assert got.dtype == dtype
        torch.testing.assert_close(got, torch.histc(ids.double(), *args).to(dtype))
    counts = torch.histc(ids.to("remote"), bins=8, min=0, max=8).cpu()
    torch.testing.assert_close(counts.long(), torch.bincount(ids.long(), minlength=8))
    with pytest.raises(NotImplementedError, match="histogram_cpu"):
        torch.histc(torch.ones(3, dtype=torch.bool, device="remote"))
