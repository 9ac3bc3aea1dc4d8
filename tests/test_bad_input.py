"""Bad input: exit status 2, one line on stderr that names what was wrong, and nothing started."""
from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["plan", "--workload", "gpu"], "--workload"),
        (["plan", "--max-workers", "many"], "--max-workers"),
        (["plan", "--max-workers", "0"], "--max-workers"),
        (["plan", "--reserve-mem-gb", "-1"], "--reserve-mem-gb"),
        (["plan", "--memory-spill", "1.5"], "spill"),
        (["plan", "--memory-pause", "0.5"], "pause"),
        (["plan", "--colour", "blue"], "--colour"),
        (["up", "--reserve-mem-gb", "50"], "--reserve-mem-gb"),
        (["up", "--workload", "cpu", "--max-workers", "12", "--max-mem-gb", "0.5"], "--max-workers"),
        (["up", "--name", "a b; rm -rf /"], "name"),
        (["up", "--timeout", "soon"], "--timeout"),
        (["run", "python3"], "--"),
        (["down"], "down"),
        (["scale", "deadbeef"], "scale"),
        (["frobnicate"], "frobnicate"),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_2(dask_hpc, args, named):
    result = dask_hpc(*args, "--python", sys.executable) if args[0] == "up" else dask_hpc(*args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("dask-hpc: ") and named in lines[0]
    assert result.stdout == ""
    # Nothing half-started: no cluster directory, no record.
    assert not (dask_hpc.jobfs / "dask-hpc").exists()
    assert list(dask_hpc.state_dir.glob("*.json")) == []


def test_garbage_pbs_vmem_is_a_warning_naming_it(dask_hpc):
    result = dask_hpc("plan", "--workload", "cpu", env={"PBS_VMEM": "lots"})
    assert result.returncode == 0
    assert 'warning: PBS_VMEM="lots" is not a PBS size' in result.stdout


def test_a_python_without_distributed_fails_clearly_and_leaves_nothing(dask_hpc, tmp_path):
    bare = tmp_path / "bare-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    result = dask_hpc("up", "--workload", "cpu", "--python", str(bare / "bin" / "python"))
    assert result.returncode == 1
    assert "the scheduler did not start" in result.stderr
    assert "No module named 'distributed'" in result.stderr
    assert dask_hpc.ls() == []
    assert list((dask_hpc.jobfs / "dask-hpc").iterdir()) == []


def python_shim(tmp_path, worker_behaviour: str):
    """A `--python` that runs the real Python for the scheduler but misbehaves as a worker."""
    shim = tmp_path / "python-shim"
    shim.write_text(
        "#!/bin/sh\n"
        'case "$*" in *dask_worker*) ' + worker_behaviour + " ;; esac\n"
        f'exec "{sys.executable}" "$@"\n'
    )
    shim.chmod(0o755)
    return str(shim)


def test_a_worker_that_fails_is_named_with_its_log_and_nothing_is_left(dask_hpc, tmp_path):
    shim = python_shim(tmp_path, 'echo "ImportError: this worker cannot start" >&2; exit 1')
    result = dask_hpc("up", "--workload", "cpu", "--name", "broken", "--python", shim)
    assert result.returncode == 1
    assert "worker broken-" in result.stderr and "did not start" in result.stderr
    assert "ImportError: this worker cannot start" in result.stderr
    assert dask_hpc.ls() == []
    assert list((dask_hpc.jobfs / "dask-hpc").iterdir()) == []


def test_workers_that_never_register_time_out_and_nothing_is_left(dask_hpc, tmp_path):
    shim = python_shim(tmp_path, 'echo "waiting for a licence server" >&2; exec sleep 600')
    result = dask_hpc("up", "--workload", "cpu", "--name", "slow", "--timeout", "5", "--python", shim)
    assert result.returncode == 1
    assert "workers not ready after 5 s" in result.stderr
    assert "worker slow-0 is not registered yet" in result.stderr and "waiting for a licence server" in result.stderr
    assert dask_hpc.ls() == []


PLAN_FLAGS = ["--workload", "--max-workers", "--reserve-mem-gb", "--max-mem-gb", "--memory-target", "--memory-spill", "--memory-pause", "--memory-terminate"]
JOB_FLAGS = ["--system", "--dialect", "--job-cores", "--job-mem-gb", "--walltime", "--queue", "--account", "--jobfs-gb", "--storage", "--prologue", "--interface", "--jobs"]
CLI_FUZZ_RESULTS: list[int] = []


def _flag_values():
    from hypothesis import strategies as st

    value = st.one_of(
        st.text(min_size=0, max_size=40),
        st.integers(-10**12, 10**12).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.sampled_from(["cpu", "io", "mixed", "pbs", "slurm", "gadi", "pbspro", "01:00:00", "gdata/ab12", "module load x"]),
    ).filter(lambda text: "\0" not in text)
    return st.lists(st.tuples(st.sampled_from(PLAN_FLAGS + JOB_FLAGS), value), min_size=1, max_size=4)


def test_fuzzed_flags_get_a_clear_answer_never_a_crash(dask_hpc):
    """plan and job-script with random values for their flags: exit 0, or exit 2 with one line
    that starts with `dask-hpc:`; never a stack trace, never anything started."""
    from hypothesis import HealthCheck, given, settings

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(_flag_values())
    def check(pairs):
        job = any(flag in JOB_FLAGS for flag, _ in pairs)
        args = ["job-script" if job else "plan", *[part for flag, value in pairs for part in (f"{flag}={value}",)]]
        result = dask_hpc(*args, timeout=60)
        CLI_FUZZ_RESULTS.append(result.returncode)
        assert result.returncode in (0, 2), (args, result.returncode, result.stderr)
        if result.returncode == 2:
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("dask-hpc: "), (args, result.stderr)
        assert "    at " not in result.stderr, result.stderr

    check()
    assert dask_hpc.ls() == []
    print(f"\n{len(CLI_FUZZ_RESULTS)} fuzzed command lines: {CLI_FUZZ_RESULTS.count(2)} refused with exit 2, {CLI_FUZZ_RESULTS.count(0)} accepted")
