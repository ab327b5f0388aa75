"""The OpInfo cross-check in CI: a fixed subset (float32, the first two samples of each op in
scope, with gradients; complex64 without), and every error input of those ops. The full run
is `.venv/bin/python tests/opinfo.py` (`--errors` for the error inputs)."""

import io

import opinfo

FAMILIES = list(opinfo.FAMILIES)


def test_opinfo_subset_agrees_with_cpu(record_property):
    tallies = opinfo.run(FAMILIES, [opinfo.DTYPES["float32"]], max_samples=2, grad=True)
    table = io.StringIO()
    total = opinfo.report(tallies, out=table)
    print(table.getvalue())
    record_property("opinfo", table.getvalue().splitlines()[-1])
    assert total.meta_disagreements == 0, "dry-run and host metadata differ"
    assert total.failed == 0, "\n".join(total.failures)
    # Unsupported ops raise NotImplementedError (never a wrong answer); coverage must not drop.
    assert total.passed >= 600, table.getvalue()


def test_opinfo_complex_subset_agrees_with_cpu():
    tallies = opinfo.run(FAMILIES, [opinfo.DTYPES["complex64"]], max_samples=2, grad=False)
    table = io.StringIO()
    total = opinfo.report(tallies, out=table)
    print(table.getvalue())
    assert total.meta_disagreements == 0, "dry-run and host metadata differ"
    assert total.failed == 0, "\n".join(total.failures)
    # Ops that do not take complex tensors refuse them; the ones that do must keep passing.
    assert total.passed >= 285, table.getvalue()


def test_opinfo_error_inputs_raise_the_cpus_errors():
    """OpInfo's error inputs: remote raises the CPU's exception type with a message matching
    OpInfo's pattern (a values-dependent one from the host at the next wait)."""
    tallies = opinfo.run_errors(FAMILIES)
    table = io.StringIO()
    total = opinfo.report(tallies, out=table)
    print(table.getvalue())
    print("\n".join(total.failures))
    assert total.failed == 0, table.getvalue() + "\n".join(total.failures)
    assert total.passed >= 291, table.getvalue()


def test_opinfo_dtypes_the_cpu_refuses_are_refused_when_issued():
    """Samples of the dtypes each op's CPU kernels refuse: remote refuses them as the op is
    issued, with the CPU's exception type, or computes them where CUDA does, and its host
    never fails on one later."""
    tallies = opinfo.run_refusals(FAMILIES, max_samples=2)
    table = io.StringIO()
    total = opinfo.report(tallies, out=table)
    print(table.getvalue())
    assert total.failed == 0, "\n".join(total.failures)
    assert total.passed >= 1800, table.getvalue()
