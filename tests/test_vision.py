"""torchvision's compiled ops (`nms`, and `roi_align`, `roi_pool`, `ps_roi_align`, `ps_roi_pool`
with their backwards) on remote, against torchvision's CPU kernels: the host computes them in
the CPU kernels' order, so float32 and float64 results are the CPU's bit for bit; and a
detection model that calls them."""

import copy

import pytest
import torch
import torch_remote  # noqa: F401
import torchvision.ops as ops
from conftest import assert_refused_like_the_cpu, with_round_trips
from torchvision.models import detection


def boxes_and_scores(n: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(n)
    corners = torch.rand(n, 2, generator=g) * 60
    boxes = torch.cat([corners, corners + 1 + torch.rand(n, 2, generator=g) * 30], 1)
    scores = torch.rand(n, generator=g)
    scores[3] = scores[7]  # a tie: the stable order keeps the lower index first
    return boxes.to(dtype), scores.to(dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("iou", [0.0, 0.3, 0.7])
def test_nms_keeps_the_cpus_boxes_in_one_round_trip(dtype, iou):
    boxes, scores = boxes_and_scores(300, dtype)
    on_cpu = ops.nms(boxes, scores, iou)
    kept, trips = with_round_trips(lambda: ops.nms(boxes.to("remote"), scores.to("remote"), iou))
    assert trips == 1
    assert kept.dtype == torch.int64 and kept.device.type == "remote"
    assert torch.equal(kept.cpu(), on_cpu)


def test_batched_nms_and_strided_scores():
    boxes, scores = boxes_and_scores(120, torch.float32)
    classes = torch.arange(120) % 4
    expected = ops.batched_nms(boxes, scores, classes, 0.5)
    kept = ops.batched_nms(boxes.to("remote"), scores.to("remote"), classes.to("remote"), 0.5)
    assert torch.equal(kept.cpu(), expected)
    table = torch.stack([scores, scores * 2], 1)  # scores as a strided column
    assert torch.equal(
        ops.nms(boxes.to("remote"), table.to("remote")[:, 1], 0.4).cpu(),
        ops.nms(boxes, table[:, 1], 0.4),
    )


def test_nms_with_nan_scores_or_threshold():
    boxes, scores = boxes_and_scores(60, torch.float32)
    scores[[4, 9]] = float("nan")  # a NaN scores highest, as the CPU's sort has it
    for iou in [0.5, float("nan")]:
        on_cpu = ops.nms(boxes, scores, iou)
        assert torch.equal(ops.nms(boxes.to("remote"), scores.to("remote"), iou).cpu(), on_cpu)


def test_nms_of_no_boxes_and_refusals():
    empty = ops.nms(torch.zeros(0, 4, device="remote"), torch.zeros(0, device="remote"), 0.5)
    assert empty.shape == (0,) and empty.dtype == torch.int64
    boxes, scores = boxes_and_scores(40, torch.float32)
    nms = torch.ops.torchvision.nms
    assert_refused_like_the_cpu(lambda d: nms(boxes.to(d), scores[:5].to(d), 0.5))
    assert_refused_like_the_cpu(lambda d: nms(boxes[:, :3].to(d), scores.to(d), 0.5))
    assert_refused_like_the_cpu(lambda d: nms(boxes.to(d), scores.double().to(d), 0.5))
    assert_refused_like_the_cpu(lambda d: nms(boxes.half().to(d), scores.half().to(d), 0.5))
    assert_refused_like_the_cpu(lambda d: nms(boxes.half().to(d), scores.to(d), 0.5))


ROIS = torch.tensor(
    [
        [0, 1.3, 2.2, 15.7, 12.1],
        [1, -3.0, -2.0, 30.0, 25.0],  # past every edge
        [1, 5.0, 5.0, 5.0, 5.0],  # no area
        [0, 10.5, 3.0, 22.9, 19.4],
        [1, 40.0, 40.0, 60.0, 50.0],  # outside the map
    ]
)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("aligned", [False, True])
@pytest.mark.parametrize("sampling_ratio", [-1, 2])
def test_roi_align_and_its_gradient_are_the_cpus(dtype, aligned, sampling_ratio):
    x = torch.randn(2, 5, 20, 24, dtype=dtype)
    rois = ROIS.to(dtype)
    grad = torch.randn(len(rois), 5, 3, 4, dtype=dtype)
    results = {}
    for device in ["cpu", "remote"]:
        xd = x.to(device, copy=True).requires_grad_()
        out = ops.roi_align(xd, rois.to(device), (3, 4), 0.5, sampling_ratio, aligned)
        out.backward(grad.to(device))
        results[device] = (out.cpu(), xd.grad.cpu())
    assert torch.equal(results["remote"][0], results["cpu"][0])
    assert torch.equal(results["remote"][1], results["cpu"][1])


def test_roi_align_of_a_box_outside_the_batch_is_refused():
    x = torch.randn(2, 3, 8, 8, device="remote")
    rois = torch.tensor([[2.0, 0, 0, 4, 4]], device="remote")
    out = ops.roi_align(x, rois, 2)
    with pytest.raises(RuntimeError, match="box 0 names image 2 of a batch of 2"):
        out.cpu()
    assert torch.equal(x.cpu()[0], x[0].cpu())


def test_roi_align_of_nan_or_endless_boxes_is_the_cpus():
    rois = torch.tensor(
        [[0, float("nan"), 0, 2, 2], [0, 1, 1, float("inf"), 3], [0, -float("inf"), 0, 2, 2]],
        dtype=torch.float64,
    )
    grad = torch.ones(3, 2, 2, 2, dtype=torch.float64)
    backward = torch.ops.torchvision._roi_align_backward
    for sampling_ratio in [2, -1]:
        args = (1.0, 2, 2, 1, 2, 6, 6, sampling_ratio, False)
        on_cpu = backward(grad, rois, *args)
        on_remote = backward(grad.to("remote"), rois.to("remote"), *args)
        assert torch.equal(on_remote.cpu(), on_cpu)


def test_roi_align_beyond_memory_or_pixels_is_refused_and_the_host_goes_on():
    x = torch.randn(1, 1, 4, 4, device="remote")
    rois = torch.tensor([[0.0, 0, 0, 2, 2]], device="remote")
    huge = torch.ops.torchvision._roi_align_backward(
        torch.ones(1, 1, 1, 1, device="remote"), rois, 1.0, 1, 1, 1, 1, 1 << 20, 1 << 20, 0, False
    )
    with pytest.raises(torch.OutOfMemoryError, match=r"out of memory for a result of \[1, 1, "):
        huge[0, 0, 0, 0].item()
    with pytest.raises(RuntimeError, match=r"has no pixels to pool 1 boxes from"):
        ops.roi_align(torch.randn(1, 1, 0, 4, device="remote"), rois, 2, aligned=True)
    assert torch.equal(ops.roi_align(x, rois, 1).cpu(), ops.roi_align(x.cpu(), rois.cpu(), 1))


def test_roi_align_takes_its_sampling_ratio_as_an_int():
    x, rois = torch.randn(1, 2, 8, 8), torch.tensor([[0.0, 0.5, 0.5, 6, 7]])
    for ratio in [(1 << 32) - 1, -(1 << 32) + 2]:
        on_cpu = torch.ops.torchvision.roi_align(x, rois, 1.0, 2, 2, ratio, False)
        on_remote = torch.ops.torchvision.roi_align(
            x.to("remote"), rois.to("remote"), 1.0, 2, 2, ratio, False
        )
        assert torch.equal(on_remote.cpu(), on_cpu)


def test_roi_align_of_a_nan_batch_index_is_refused():
    x = torch.randn(2, 1, 4, 4, device="remote")
    out = ops.roi_align(x, torch.tensor([[float("nan"), 0, 0, 2, 2]], device="remote"), 1)
    with pytest.raises(RuntimeError, match="box 0 names image -2147483648 of a batch of 2"):
        out.cpu()


def test_roi_align_refusals_are_the_cpus():
    x, rois = torch.randn(1, 2, 8, 8), torch.tensor([[0.0, 0, 0, 4, 4]])
    roi_align = torch.ops.torchvision.roi_align
    assert_refused_like_the_cpu(
        lambda d: roi_align(
            torch.zeros(1, 1, 0, 3, dtype=torch.long, device=d), rois.to(d), 1.0, 2, 2, 2, False
        )
    )
    assert_refused_like_the_cpu(
        lambda d: roi_align(x.to(d), rois[:, :4].to(d), 1.0, 2, 2, 2, False)
    )
    assert_refused_like_the_cpu(
        lambda d: roi_align(x.to(d), rois.double().to(d), 1.0, 2, 2, 2, False)
    )


def test_autocast_runs_them_in_float32():
    x = torch.randn(1, 4, 16, 16)
    rois = torch.tensor([[0, 1.0, 1.0, 9.0, 9.0]])
    boxes, scores = boxes_and_scores(50, torch.float32)
    with torch.autocast("remote", dtype=torch.float16):
        pooled = ops.roi_align(x.half().to("remote"), rois.to("remote"), 2, 1.0, 2)
        kept = ops.nms(boxes.half().to("remote"), scores.to("remote"), 0.5)
        wide = ops.roi_align(x.double().to("remote"), rois.double().to("remote"), 2, 1.0, 2)
    assert wide.dtype == torch.float64
    assert torch.equal(wide.cpu(), ops.roi_align(x.double(), rois.double(), 2, 1.0, 2))
    assert pooled.dtype == torch.float16
    expected = ops.roi_align(x.half().float(), rois, 2, 1.0, 2).half()
    assert torch.equal(pooled.cpu(), expected)
    assert torch.equal(kept.cpu(), ops.nms(boxes.half().float(), scores, 0.5))
    with torch.autocast("remote", dtype=torch.float16):
        pooled = ops.ps_roi_align(x.half().to("remote"), rois.to("remote"), 2, 1.0, 2)
    assert pooled.dtype == torch.float16
    expected = ops.ps_roi_align(x.half().float(), rois, 2, 1.0, 2).half()
    assert torch.equal(pooled.cpu(), expected)


def test_a_detection_model_detects_and_trains_as_on_the_cpu():
    torch.manual_seed(0)
    model = detection.fasterrcnn_mobilenet_v3_large_320_fpn(
        weights=None,
        weights_backbone=None,
        num_classes=5,
        box_score_thresh=0.0,
        min_size=96,
        max_size=128,
        rpn_pre_nms_top_n_train=300,
        rpn_post_nms_top_n_train=100,
        # Training samples anchors and proposals in a random order on each device's own
        # generator; sampling all of them leaves only the order of the losses' sums.
        rpn_batch_size_per_image=1 << 20,
        box_batch_size_per_image=1 << 20,
    )
    images = [torch.rand(3, 96, 128)]
    targets = [
        {
            "boxes": torch.tensor([[5.0, 5, 40, 90], [50, 10, 90, 60]]),
            "labels": torch.tensor([2, 3]),
        }
    ]
    on_remote = copy.deepcopy(model).to("remote")
    model.eval(), on_remote.eval()
    with torch.no_grad():
        expected = model(images)
        found = on_remote([i.to("remote") for i in images])
    for e, f in zip(expected, found, strict=True):
        assert len(e["boxes"]) > 0
        for key in ["boxes", "scores", "labels"]:
            assert torch.equal(f[key].cpu(), e[key]), key
    model.train(), on_remote.train()
    expected = model(images, targets)
    found = on_remote(
        [i.to("remote") for i in images],
        [{k: v.to("remote") for k, v in t.items()} for t in targets],
    )
    for key, loss in expected.items():
        torch.testing.assert_close(found[key].cpu(), loss.detach(), rtol=1e-5, atol=0, msg=key)
    sum(expected.values()).backward()
    sum(found.values()).backward()
    for (name, p), q in zip(model.named_parameters(), on_remote.parameters(), strict=True):
        if p.grad is not None:
            torch.testing.assert_close(q.grad.cpu(), p.grad, rtol=1e-5, atol=1e-6, msg=name)


def test_a_torchvision_op_remote_lacks_is_refused_by_name():
    x, offset = torch.randn(1, 2, 8, 8, device="remote"), torch.zeros(1, 18, 6, 6)
    with pytest.raises(NotImplementedError, match="torchvision::deform_conv2d is not supported"):
        ops.deform_conv2d(x, offset.to("remote"), torch.randn(3, 2, 3, 3, device="remote"))


POOLS = {
    "roi_pool": lambda x, rois: torch.ops.torchvision.roi_pool(x, rois, 0.5, 3, 2),
    "ps_roi_pool": lambda x, rois: torch.ops.torchvision.ps_roi_pool(x, rois, 0.5, 3, 2),
    "ps_roi_align": lambda x, rois: torch.ops.torchvision.ps_roi_align(x, rois, 0.5, 3, 2, -1),
    "ps_roi_align, 2 points": lambda x, rois: torch.ops.torchvision.ps_roi_align(
        x, rois, 0.5, 3, 2, 2
    ),
}
# A box with no height: ps_roi_align samples no points and divides by none (NaN bins).
FLAT = torch.tensor([[0, 3.2, 3.3, 3.4, 3.1]])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("op", POOLS)
def test_box_pooling_its_indices_and_its_gradient_are_the_cpus(dtype, op):
    x = torch.randn(2, 12, 20, 24, dtype=dtype)
    rois = torch.cat([ROIS, FLAT]).to(dtype)
    results = {}
    for device in ["cpu", "remote"]:
        xd = x.to(device, copy=True).requires_grad_()
        out, indices = POOLS[op](xd, rois.to(device))
        out.backward(torch.arange(out.numel(), dtype=dtype).view_as(out).to(device))
        results[device] = (out.cpu(), indices.cpu(), xd.grad.cpu())
    for found, expected in zip(results["remote"], results["cpu"], strict=True):
        assert found.dtype == expected.dtype and found.shape == expected.shape
        assert torch.equal(found.nan_to_num(7.0), expected.nan_to_num(7.0))
    assert results["cpu"][0].isnan().any() == (op == "ps_roi_align")


def test_roi_pool_module_and_half_precision():
    x, rois = torch.randn(1, 3, 10, 10), torch.tensor([[0, 1.0, 1.0, 8.0, 7.0]])
    pool = ops.RoIPool((2, 3), 1.0)
    assert torch.equal(pool(x.to("remote"), rois.to("remote")).cpu(), pool(x, rois))
    half = ops.roi_pool(x.half().to("remote"), rois.half().to("remote"), 2)
    assert half.dtype == torch.float16
    assert torch.equal(half.cpu(), ops.roi_pool(x.half(), rois.half(), 2))


def test_box_pooling_backwards_refuse_indices_outside_the_input_and_the_host_goes_on():
    rois = torch.tensor([[0.0, 0, 0, 4, 4]], device="remote")
    grad = torch.ones(1, 2, 2, 2, device="remote")
    far = torch.full((1, 2, 2, 2), 64, dtype=torch.int32, device="remote")
    backward = torch.ops.torchvision._roi_pool_backward(grad, rois, far, 1.0, 2, 2, 1, 2, 8, 8)
    with pytest.raises(
        RuntimeError, match=r"index 64 of bin 0 is outside the input \[1, 2, 8, 8\]"
    ):
        backward.cpu()
    channel = torch.ops.torchvision._ps_roi_align_backward(
        grad, rois, far, 1.0, 2, 2, 2, 1, 8, 8, 8
    )
    with pytest.raises(RuntimeError, match=r"channel 64 of bin 0 is outside the input"):
        channel.cpu()
    outside = ops.ps_roi_pool(
        torch.randn(1, 8, 8, 8, device="remote"),
        torch.tensor([[3.0, 0, 0, 4, 4]], device="remote"),
        2,
    )
    with pytest.raises(RuntimeError, match="box 0 names image 3 of a batch of 1"):
        outside.cpu()
    x = torch.randn(1, 8, 8, 8)
    assert torch.equal(
        ops.ps_roi_pool(x.to("remote"), rois, 2).cpu(), ops.ps_roi_pool(x, rois.cpu(), 2)
    )


def test_box_pooling_refusals_are_the_cpus():
    x, rois = torch.randn(1, 5, 8, 8), torch.tensor([[0.0, 0, 0, 4, 4]])
    tv = torch.ops.torchvision
    for call in [
        lambda d: tv.roi_pool(x.int().to(d), rois.int().to(d), 1.0, 2, 2),
        lambda d: tv.roi_pool(x.to(d), rois.double().to(d), 1.0, 2, 2),
        lambda d: tv.ps_roi_pool(x.to(d), rois.to(d), 1.0, 2, 2),
        lambda d: tv.ps_roi_align(x[:, :4].to(d), rois[:, :4].to(d), 1.0, 2, 2, 2),
        lambda d: tv.ps_roi_align(x[:, :4].int().to(d), rois.int().to(d), 1.0, 2, 2, 2),
        lambda d: tv._roi_pool_backward(
            torch.ones(1, 5, 2, 2, device=d),
            rois.to(d),
            torch.zeros(1, 5, 2, 2, dtype=torch.long, device=d),
            *(1.0, 2, 2, 1, 5, 8, 8),
        ),
    ]:
        assert_refused_like_the_cpu(call)
