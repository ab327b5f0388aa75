"""`torch.save` and `torch.load` of remote tensors and models: bytes come back through the
client, and loading onto `remote` rebuilds each tensor on its own storage, views included."""

import io
import pickle
from multiprocessing.reduction import ForkingPickler

import pytest
import torch
import torch_remote  # noqa: F401
from torch import nn
from torch.utils.dlpack import from_dlpack, to_dlpack


def round_trip(obj, **load_options):
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    buffer.seek(0)
    return torch.load(buffer, **load_options)


def test_state_dict_round_trip_stays_on_remote():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)).to("remote")
    loaded = round_trip(model.state_dict())
    for name, tensor in model.state_dict().items():
        assert loaded[name].device == tensor.device, name
        torch.testing.assert_close(loaded[name].cpu(), tensor.cpu())
    fresh = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)).to("remote")
    fresh.load_state_dict(loaded)
    x = torch.randn(5, 3)
    torch.testing.assert_close(fresh(x.to("remote")).cpu(), model(x.to("remote")).cpu())


def test_views_keep_sharing_their_storage():
    base = torch.arange(12.0).view(3, 4)
    remote = base.to("remote")
    loaded = round_trip({"base": remote, "row": remote[1], "t": remote.t()})
    loaded["row"].fill_(-1.0)
    expected = base.clone()
    expected[1] = -1.0
    torch.testing.assert_close(loaded["base"].cpu(), expected)
    torch.testing.assert_close(loaded["t"].cpu(), expected.t())
    assert loaded["t"].stride() == (1, 4)


@pytest.mark.parametrize("where", ["cpu", "remote"])
def test_map_location_moves_every_tensor(where):
    tensors = {"a": torch.randn(3, 2), "b": torch.arange(5)}
    source = {k: v.to("remote" if where == "cpu" else "cpu") for k, v in tensors.items()}
    loaded = round_trip(source, map_location=where)
    for k, v in tensors.items():
        assert loaded[k].device.type == where
        torch.testing.assert_close(loaded[k].cpu(), v)


def test_set_storage_checks_bounds():
    storage = torch.zeros(4, device="remote").untyped_storage()
    t = torch.empty(0, device="remote")
    with pytest.raises(RuntimeError, match="out of bounds for storage of size 16"):
        t.set_(storage, 1, (4,), (1,))
    t.set_(storage, 1, (3,), (1,))
    t.fill_(2.0)
    assert t.cpu().tolist() == [2.0, 2.0, 2.0]


def test_pickle_round_trips_tensors_views_and_modules():
    x = torch.arange(6.0).reshape(2, 3)
    remote = x.to("remote")
    for original, expected in [(remote, x), (remote[:, 1:], x[:, 1:])]:
        copy = pickle.loads(pickle.dumps(original))
        assert copy.device == original.device
        assert torch.equal(copy.cpu(), expected)
    model = nn.Linear(3, 2).to("remote")
    copy = pickle.loads(pickle.dumps(model))
    assert copy.weight.device.type == "remote"
    assert torch.equal(copy.weight.cpu(), model.weight.cpu())


def forked_pickle_round_trip(obj):
    """What a `multiprocessing` queue does to `obj`, received in this same process."""
    return pickle.loads(ForkingPickler.dumps(obj))


def test_queues_carry_remote_tensors_by_value():
    x = torch.arange(12.0).reshape(3, 4)
    remote = x.to("remote")
    for original, expected in [(remote, x), (remote.t()[1:], x.t()[1:])]:
        copy = forked_pickle_round_trip(original)
        assert copy.device == original.device
        # A view arrives as a tensor of its own, laid out as `clone()` lays it out.
        assert copy.stride() == expected.clone().stride()
        torch.testing.assert_close(copy.cpu(), expected)
    weight = nn.Parameter(x.to("remote"))
    copy = forked_pickle_round_trip(weight)
    assert isinstance(copy, nn.Parameter) and copy.requires_grad
    torch.testing.assert_close(copy.cpu(), x)
    frozen = forked_pickle_round_trip(nn.Parameter(remote, requires_grad=False))
    assert not frozen.requires_grad


class Tagged(torch.Tensor):
    pass


def test_queues_carry_remote_storages_and_tensor_subclasses_by_value():
    x = torch.arange(6.0)
    remote = x.to("remote")
    tagged = forked_pickle_round_trip(remote.as_subclass(Tagged))
    assert type(tagged) is Tagged and tagged.device == remote.device
    torch.testing.assert_close(tagged.cpu().as_subclass(torch.Tensor), x)
    storage = forked_pickle_round_trip(remote.untyped_storage())
    assert storage.device == remote.device
    assert bytes(storage.cpu()) == bytes(x.untyped_storage())


def test_queues_refuse_non_leaf_tensors_as_on_the_cpu():
    def refusal(device):
        y = torch.ones(2, device=device, requires_grad=True) * 2
        with pytest.raises(RuntimeError) as e:
            ForkingPickler.dumps(y)
        return str(e.value)

    assert refusal("remote") == refusal("cpu")


def test_spawned_data_loader_workers_send_remote_batches():
    x = torch.arange(8.0).reshape(4, 2)
    # The dataset's tensors go to the worker by value, its batches come back the same way.
    dataset = torch.utils.data.TensorDataset(x.to("remote"))
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=2, num_workers=1, multiprocessing_context="spawn", timeout=120
    )
    batches = [batch for (batch,) in loader]
    assert [b.device.type for b in batches] == ["remote", "remote"]
    torch.testing.assert_close(torch.cat([b.cpu() for b in batches]), x)


def test_legacy_save_reads_the_remote_bytes():
    buffer = io.BytesIO()
    torch.save(torch.arange(4.0, device="remote"), buffer, _use_new_zipfile_serialization=False)
    buffer.seek(0)
    assert torch.equal(torch.load(buffer, weights_only=False).cpu(), torch.arange(4.0))


def test_dlpack_round_trip_shares_the_remote_storage():
    x = torch.arange(5.0, device="remote")
    for view, expected in [(x, torch.arange(5.0)), (x[2:], torch.arange(2.0, 5.0))]:
        back = from_dlpack(to_dlpack(view))
        assert back.device == x.device
        assert torch.equal(back.cpu(), expected)
    from_dlpack(to_dlpack(x[1:])).mul_(10)
    assert x.cpu().tolist() == [0.0, 10.0, 20.0, 30.0, 40.0]
    # The protocol form, as array libraries call it: the tensor itself, not a capsule.
    assert x.__dlpack_device__()[1] == 0
    torch.from_dlpack(x[3:]).add_(1)
    assert x.cpu().tolist() == [0.0, 10.0, 20.0, 31.0, 41.0]
    # Its storage is borrowed: growing it is refused, as on the CPU.
    with pytest.raises(RuntimeError, match="not resizable"):
        torch.from_dlpack(x).resize_(100)


def storage_slice_story(device):
    """Reads, writes and views through slices of a float tensor's untyped storage."""
    x = torch.arange(10, dtype=torch.float32, device=device)
    storage = x.untyped_storage()
    piece = storage[8:24]
    seen = [list(piece)]
    piece[4] = 7
    seen.append(x.cpu().tolist())
    t = torch.tensor([], device=device).set_(storage[16:40], 1, (2, 2), (1, 2))
    seen.append((t.cpu().tolist(), t.storage_offset(), t.stride()))
    row = t[1]
    row.mul_(3)
    seen.append((row.cpu().tolist(), row.storage_offset(), x.cpu().tolist()))
    whole = torch.tensor([], device=device).set_(storage[4:40])
    seen.append(whole.view(torch.int32)[2:4].cpu().tolist())
    storage[8:24].copy_(torch.arange(16, dtype=torch.uint8, device=device).untyped_storage())
    seen.append(x.cpu().view(torch.uint8).tolist())
    return seen


def test_untyped_storage_slices_address_their_own_bytes():
    assert storage_slice_story("remote") == storage_slice_story("cpu")
