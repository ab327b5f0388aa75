"""`out=` forms of the factorizations, FFTs, nonzero, histc and sequences: the CPU's values, sizes,
strides and dtypes in the given tensors (a resized tensor takes LAPACK's column-major strides
where the CPU's kernel writes into it, else it is contiguous), and the CPU's refusals of an
out= dtype."""

import pytest
import torch
from conftest import assert_refused_like_the_cpu

torch.manual_seed(0)
A = torch.randn(3, 3) + 3 * torch.eye(3)
SPD = A @ A.T
B = torch.randn(3, 2)
TAUS = torch.ones(2)


def empty(d, dtype=torch.float32):
    return torch.empty(0, dtype=dtype, device=d)


def lu(d):
    return torch.linalg.lu_factor(A.to(d))


CASES = {
    "inv": lambda d: torch.linalg.inv(A.to(d), out=empty(d)),
    "inv into a transposed out": lambda d: torch.linalg.inv(
        A.to(d), out=torch.empty(3, 3, device=d).t()
    ),
    "inverse": lambda d: torch.inverse(A.to(d), out=empty(d)),
    "frexp": lambda d: torch.frexp(A.to(d) * 1e3, out=(empty(d), empty(d, torch.int32))),
    "inv_ex": lambda d: torch.linalg.inv_ex(A.to(d), out=(empty(d), empty(d, torch.int32))),
    "cholesky_ex": lambda d: torch.linalg.cholesky_ex(
        SPD.to(d), out=(empty(d), empty(d, torch.int32))
    ),
    "linalg.cholesky": lambda d: torch.linalg.cholesky(SPD.to(d), out=empty(d)),
    "solve": lambda d: torch.linalg.solve(A.to(d), B.to(d), out=empty(d)),
    "det": lambda d: torch.linalg.det(A.to(d), out=empty(d)),
    "slogdet": lambda d: torch.linalg.slogdet(A.to(d), out=(empty(d), empty(d))),
    "lu_factor": lambda d: torch.linalg.lu_factor(A.to(d), out=(empty(d), empty(d, torch.int32))),
    "lu": lambda d: torch.linalg.lu(A.to(d), out=(empty(d), empty(d), empty(d))),
    "lu_solve": lambda d: torch.linalg.lu_solve(*lu(d), B.to(d), out=empty(d)),
    "lu_unpack": lambda d: torch.lu_unpack(*lu(d), out=(empty(d), empty(d), empty(d))),
    "ldl_factor": lambda d: torch.linalg.ldl_factor(
        SPD.to(d), out=(empty(d), empty(d, torch.int32))
    ),
    "ldl_solve": lambda d: torch.linalg.ldl_solve(
        *torch.linalg.ldl_factor(SPD.to(d)), B.to(d), out=empty(d)
    ),
    "eigvalsh": lambda d: torch.linalg.eigvalsh(SPD.to(d), out=empty(d)),
    "svdvals": lambda d: torch.linalg.svdvals(A.to(d), out=empty(d)),
    "torch.svd values": lambda d: torch.svd(A.to(d), out=(empty(d), empty(d), empty(d)))[1],
    "qr": lambda d: torch.linalg.qr(A.to(d), out=(empty(d), empty(d))),
    "solve_triangular": lambda d: torch.linalg.solve_triangular(
        A.to(d), B.to(d), upper=True, out=empty(d)
    ),
    "triangular_solve": lambda d: torch.triangular_solve(
        B.to(d), A.to(d), out=(empty(d), empty(d))
    ),
    "geqrf": lambda d: torch.geqrf(A.to(d), out=(empty(d), empty(d))),
    "ormqr": lambda d: torch.ormqr(*torch.geqrf(A.to(d)), B.to(d), out=empty(d)),
    "cholesky_inverse": lambda d: torch.cholesky_inverse(A.to(d), out=empty(d)),
    "cholesky_inverse into float64": lambda d: torch.cholesky_inverse(
        A.to(d), out=empty(d, torch.float64)
    ),
    "cholesky": lambda d: torch.cholesky(SPD.to(d), out=empty(d)),
    "householder_product": lambda d: torch.linalg.householder_product(
        A.to(d), TAUS.to(d), out=empty(d)
    ),
    "matrix_power": lambda d: torch.linalg.matrix_power(A.to(d), -2, out=empty(d)),
    "fft": lambda d: torch.fft.fft(A.to(d), dim=0, out=empty(d, torch.complex64)),
    "rfft": lambda d: torch.fft.rfft(B.to(d), dim=0, out=empty(d, torch.complex64)),
    "irfft": lambda d: torch.fft.irfft(
        torch.fft.rfft(A.to(d), dim=0), dim=0, out=empty(d, torch.float32)
    ),
    "fft2 of a complex tensor": lambda d: torch.fft.fft2(
        A.to(d).to(torch.complex64), out=empty(d, torch.complex64)
    ),
    "fftn into a transposed out": lambda d: torch.fft.fftn(
        A.to(d), dim=(0,), out=torch.empty(3, 3, dtype=torch.complex64, device=d).t()
    ),
    "hfft": lambda d: torch.fft.hfft(A.to(d).to(torch.complex64), out=empty(d)),
    "nonzero": lambda d: torch.nonzero(A.to(d) > 0, out=empty(d, torch.int64)),
    "nonzero into a transposed out": lambda d: torch.nonzero(
        A.to(d) > 0, out=torch.empty(2, int((A > 0).sum()), dtype=torch.int64, device=d).t()
    ),
    "histc": lambda d: torch.histc(A.to(d), bins=4, out=empty(d)),
    "arange into a 2-d out of as many elements": lambda d: torch.arange(
        4, out=torch.empty(4, device=d).view(2, 2).t()
    ),
    "arange into a strided out": lambda d: torch.arange(4, out=torch.empty(8, device=d)[::2]),
    "linspace into an out of another size": lambda d: torch.linspace(
        0, 1, 4, out=torch.empty(2, device=d)
    ),
    "logspace into a 2-d out": lambda d: torch.logspace(0, 1, 4, out=torch.empty(2, 2, device=d)),
    "mse_loss mean into a double": lambda d: torch._C._nn.mse_loss(
        A.to(d), B[:, :1].to(d), 1, out=empty(d, torch.float64)
    ),
    "mse_loss sum into a half": lambda d: torch._C._nn.mse_loss(
        A.to(d), A.t().to(d), 2, out=empty(d, torch.half)
    ),
    "mse_loss of doubles into a float": lambda d: torch._C._nn.mse_loss(
        A.double().to(d), A.t().to(d), 1, out=torch.empty(3, 3, device=d)
    ),
    "smooth_l1_loss into a double": lambda d: torch._C._nn.smooth_l1_loss(
        A.to(d), A.t().to(d), 1, 0.5, out=empty(d, torch.float64)
    ),
    "huber_loss into a double": lambda d: torch._C._nn.huber_loss(
        A.to(d), A.t().to(d), 2, 0.5, out=empty(d, torch.float64)
    ),
    "mse_loss_backward into a double": lambda d: torch.ops.aten.mse_loss_backward.grad_input(
        A.to(d), A.to(d), A.t().to(d), 1, grad_input=empty(d, torch.float64)
    ),
    "smooth_l1_loss_backward into a double": lambda d: (
        torch.ops.aten.smooth_l1_loss_backward.grad_input(
            A.to(d), A.to(d), A.t().to(d), 0, 0.5, grad_input=empty(d, torch.float64)
        )
    ),
}


def _outputs(result):
    return list(result) if isinstance(result, (tuple, list)) else [result]


@pytest.mark.filterwarnings("ignore:torch.cholesky is deprecated")
@pytest.mark.filterwarnings("ignore:torch.triangular_solve is deprecated")
@pytest.mark.parametrize("case", CASES)
def test_out_form_gives_the_cpus_tensors(case):
    cpu = _outputs(CASES[case]("cpu"))
    remote = _outputs(CASES[case]("remote"))
    assert len(remote) == len(cpu)
    for r, c in zip(remote, cpu, strict=True):
        assert (r.shape, r.stride(), r.dtype) == (c.shape, c.stride(), c.dtype)
        torch.testing.assert_close(r.cpu(), c, atol=1e-4, rtol=1e-4)


def test_out_form_writes_into_the_given_tensor():
    out = torch.empty(3, 3, device="remote")
    result = torch.linalg.inv(A.to("remote"), out=out)
    assert result.data_ptr() == out.data_ptr()
    torch.testing.assert_close(out.cpu(), torch.linalg.inv(A))


@pytest.mark.parametrize("device", ["cpu", "remote"])
def test_a_tensor_resized_to_nothing_keeps_its_storage(device):
    # `t.resize_(0)` is how PyTorch's resize warning says to reuse an out= tensor: the
    # storage stays, and so do its values and the views of it.
    t = torch.arange(10.0, device=device)
    view = t.view(10)
    t.resize_(0).resize_(10)
    torch.testing.assert_close(t.cpu(), torch.arange(10.0), rtol=0, atol=0)
    t.fill_(5)
    torch.testing.assert_close(view.cpu(), torch.full((10,), 5.0), rtol=0, atol=0)
    base = torch.zeros(20, device=device)
    torch.add(torch.ones(4, device=device), 1, out=base[:0])
    torch.testing.assert_close(base.cpu()[:4], torch.full((4,), 2.0), rtol=0, atol=0)


def _grown_past_their_storage(d) -> list:
    """What views and aliases see after tensors grow past the end of their storage."""
    seen = []
    a = torch.arange(4.0, device=d)
    head, alias = a[:2], a.detach()
    a.resize_(100)
    a[0] = 7
    seen += [head.tolist(), alias[:4].tolist(), head.untyped_storage().nbytes()]
    base = torch.zeros(4, device=d)
    middle = base[1:3]
    middle.resize_(50).fill_(1)
    seen.append(base.tolist())
    base = torch.zeros(6, device=d)
    tail = base[4:]
    with pytest.warns(UserWarning, match="was resized"):
        torch.add(torch.ones(4, device=d), 1, out=tail)
    base[5] = 9
    seen.append(tail.tolist())
    return seen


def test_a_tensor_grown_past_its_storage_grows_the_storage_its_views_share():
    # PyTorch grows a storage in place: its old bytes stay, and every tensor sharing it
    # sees the grown tensor's writes.
    assert _grown_past_their_storage("remote") == _grown_past_their_storage("cpu")


@pytest.mark.parametrize(
    "call",
    [
        lambda d: torch.linalg.inv(A.to(d), out=empty(d, torch.float64)),
        lambda d: torch.frexp(A.to(d), out=(empty(d), empty(d, torch.int64))),
        lambda d: torch.linalg.qr(A.to(d), out=(empty(d, torch.float64), empty(d))),
        lambda d: torch.cholesky_inverse(A.to(d), out=empty(d, torch.int64)),
        lambda d: torch.nonzero(A.to(d), out=empty(d)),
        lambda d: torch.histc(A.to(d), out=empty(d, torch.float64)),
        lambda d: torch.linalg.householder_product(A.to(d), TAUS.to(d), out=empty(d, torch.int64)),
        lambda d: torch._C._nn.mse_loss(A.to(d), A.t().to(d), 1, out=empty(d, torch.int64)),
        lambda d: torch._C._nn.huber_loss(A.to(d), A.to(d), 0, 1.0, out=empty(d, torch.bool)),
        lambda d: torch.ops.aten.smooth_l1_loss_backward.grad_input(
            A.to(d), A.to(d), A.t().to(d), 0, 0.5, grad_input=empty(d, torch.int64)
        ),
        lambda d: torch.ops.aten.huber_loss_backward.out(
            A.to(d), A.to(d), A.t().to(d), 0, 0.5, grad_input=empty(d, torch.float64)
        ),
        lambda d: torch._C._nn.binary_cross_entropy(
            A.sigmoid().to(d), A.t().sigmoid().to(d), None, 0, out=empty(d, torch.float64)
        ),
        lambda d: torch._C._nn.binary_cross_entropy(
            A.sigmoid().to(d), A.t().sigmoid().to(d), None, 1, out=empty(d, torch.float64)
        ),
        lambda d: torch.ops.aten.binary_cross_entropy_backward.grad_input(
            A.to(d),
            A.sigmoid().to(d),
            A.t().sigmoid().to(d),
            None,
            0,
            grad_input=empty(d, torch.half),
        ),
    ],
)
def test_an_out_dtype_the_cpu_refuses_is_refused(call):
    assert_refused_like_the_cpu(call)


def _rows(d):
    return torch.arange(8.0, device=d).reshape(2, 4)


def _indices(d, *shape):
    return torch.empty(*shape, dtype=torch.long, device=d)


@pytest.mark.parametrize(
    "call",
    [
        lambda d: (lambda x: torch.max(x, 0, out=(x[0], _indices(d, 4))))(_rows(d)),
        lambda d: (lambda x: torch.min(x, 0, out=(x[1], _indices(d, 4))))(_rows(d)),
        lambda d: (lambda x: torch.aminmax(x, dim=0, out=(x[0], x[1])))(_rows(d)),
        lambda d: (lambda x: torch.mode(x, 0, out=(x[1], _indices(d, 4))))(_rows(d)),
        lambda d: (lambda x: torch.kthvalue(x, 1, 0, out=(x[1], _indices(d, 4))))(_rows(d)),
        lambda d: (lambda x: torch.kthvalue(x, 1, 0, True, out=(x, _indices(d, 1, 4))))(
            _rows(d)[:1]
        ),
    ],
)
def test_an_out_sharing_part_of_the_input_is_refused_like_the_cpu(call):
    assert_refused_like_the_cpu(call)


@pytest.mark.parametrize(
    "call",
    [
        lambda d: (lambda x: torch.max(x, 0, True, out=(x, _indices(d, 1, 4))))(_rows(d)[:1]),
        lambda d: (lambda x: torch.mode(x, 0, True, out=(x, _indices(d, 1, 4))))(_rows(d)[:1]),
        lambda d: (lambda x: torch.median(x, 0, out=(x[1], _indices(d, 4))))(_rows(d)),
        lambda d: (lambda x: torch.aminmax(x.flatten(), out=(x[0, 0], x[0, 1])))(_rows(d)),
        lambda d: (lambda x: torch.kthvalue(x, 1, 0, out=(_indices(d, 4), x[1])))(
            torch.arange(8, device=d).view(2, 4)
        ),
    ],
)
def test_an_out_the_cpu_lets_share_the_input_gives_its_values(call):
    cpu, remote = call("cpu"), call("remote")
    for r, c in zip(remote, cpu, strict=True):
        torch.testing.assert_close(r.cpu(), c, rtol=0, atol=0)


@pytest.mark.parametrize("reduction", [1, 2])
@pytest.mark.parametrize("dtype", [torch.float64, torch.half, torch.bfloat16])
@pytest.mark.parametrize("loss", ["mse_loss", "smooth_l1_loss", "huber_loss"])
def test_a_reduced_loss_into_another_dtype_reduces_as_the_cpu(loss, dtype, reduction):
    """The CPU reduces the elementwise loss into the out= as `sum_out`/`mean_out` do: a sum in
    the out='s dtype, a mean into half or bfloat16 in float, then cast."""
    torch.manual_seed(6)
    a, b = torch.randn(8, 9) * 3, torch.randn(8, 9) * 3
    extra = () if loss == "mse_loss" else (0.5,)

    def run(d):
        out = torch.empty(0, dtype=dtype, device=d)
        return getattr(torch._C._nn, loss)(a.to(d), b.to(d), reduction, *extra, out=out)

    remote, cpu = run("remote"), run("cpu")
    assert (remote.shape, remote.dtype) == (cpu.shape, cpu.dtype)
    assert torch.equal(remote.cpu(), cpu)
