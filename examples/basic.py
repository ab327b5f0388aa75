"""The seed snippets: random tensors on `remote`, arithmetic there, values read back."""

import torch
import torch_remote  # noqa: F401  (registers the "remote" device)

torch.manual_seed(0)
x = torch.randn(3, 3, device="remote")
y = torch.randn(3, 3, device="remote")
result = x + y
print(result)
print(f"Remote available: {torch.remote.is_available()}")
print(f"Device count: {torch.remote.device_count()}")
x = torch.randn(3, 3, dtype=torch.float32)
y = x.to("remote", dtype=torch.float64, copy=True)

# The same computation on the CPU gives the same values.
a, b = torch.randn(4, 5), torch.randn(5, 3)
expected = (a @ b).relu() * 2 - 1
got = ((a.to("remote") @ b.to("remote")).relu() * 2 - 1).cpu()
torch.testing.assert_close(got, expected)
torch.testing.assert_close(y.cpu(), x.double())
print(f"remote (a @ b).relu() * 2 - 1 equals CPU: {got.tolist()}")
print(f"host computes on: {torch.remote.get_device_name()}")
