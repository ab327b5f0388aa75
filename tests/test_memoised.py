"""Ops that differ only in which storages they name reuse one lowering on the client and on
the host; these check that the reuse follows the storages, aliasing included."""

import torch
import torch_remote  # noqa: F401


def _both(fn):
    """`fn` on CPU and on remote, from the same inputs."""
    torch.manual_seed(0)
    inputs = [torch.randn(4, 5) for _ in range(3)]
    cpu = fn(*[t.clone() for t in inputs])
    remote = fn(*[t.to("remote") for t in inputs])
    return cpu, [r.cpu() for r in remote]


def test_repeated_ops_follow_their_own_storages():
    def chain(a, b, c):
        outs = []
        for x, y in [(a, b), (b, c), (c, a), (a, a), (b, b)]:
            outs.append(x * 2 + y)
        return outs

    cpu, remote = _both(chain)
    for want, got in zip(cpu, remote, strict=True):
        torch.testing.assert_close(got, want)


def test_in_place_ops_on_aliases_and_views_repeat_correctly():
    def chain(a, b, c):
        for _ in range(3):
            a.add_(a)
            b.add_(c)
            a[1:3].mul_(b[0:2])
            c.t()[0].sub_(a[:, 0])
        return [a, b, c]

    cpu, remote = _both(chain)
    for want, got in zip(cpu, remote, strict=True):
        torch.testing.assert_close(got, want)


def test_repeated_creation_gives_distinct_tensors():
    made = [torch.full((3,), float(i), device="remote") for i in range(4)]
    made += [torch.zeros(3, device="remote") + i for i in range(4)]
    for i, t in enumerate(made):
        assert t.cpu().tolist() == [float(i % 4)] * 3
    assert len({t.untyped_storage().data_ptr() for t in made}) == len(made)


def test_training_steps_reuse_lowerings_and_match_cpu():
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    remote_model = torch.nn.Sequential(
        torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2)
    ).to("remote")
    remote_model.load_state_dict({k: v.to("remote") for k, v in model.state_dict().items()})
    x, y = torch.randn(16, 6), torch.randn(16, 2)
    losses = []
    for net, dev in [(model, "cpu"), (remote_model, "remote")]:
        opt = torch.optim.Adam(net.parameters(), lr=0.05)
        run = []
        for _ in range(5):
            opt.zero_grad()
            loss = ((net(x.to(dev)) - y.to(dev)) ** 2).mean()
            loss.backward()
            opt.step()
            run.append(loss.item())
        losses.append(run)
    torch.testing.assert_close(losses[1], losses[0], rtol=1e-5, atol=1e-6)


def test_results_the_host_keeps_without_a_copy_stay_apart():
    """The host keeps a kernel's result as the new storage when it can; later in-place ops
    on it, on views of it, and on the inputs must not reach any other tensor."""

    def chain(a, b, c):
        d = a + b
        e = d.relu()
        d.add_(1.0)
        values, indices = torch.max(c, dim=0)
        g = a.clone()
        g.mul_(g)
        h = a.float()
        h[0].sub_(c[0])
        p, q = torch.split(a @ b.t(), 2)
        p.lerp_(q, 0.25)
        q.addcmul_(p, p, value=0.5)
        c.addcdiv_(a, b.abs() + 1, value=-2)
        return [a, b, c, d, e, values, indices, g, h, p, q]

    cpu, remote = _both(chain)
    for want, got in zip(cpu, remote, strict=True):
        torch.testing.assert_close(got, want)
