"""Bad input: exit status 2, one line on stderr that names what was wrong, and nothing started."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from conftest import processes_mentioning


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
        (["job-script", "--system", "pbs", "--job-cores", "4", "--job-mem-gb", "8", "--jobfs-gb", "1e-12"], "--jobfs-gb"),
        (["job-script", "--system", "slurm", "--job-cores", "4", "--job-mem-gb", "8", "--name", "a b; rm -rf /"], "name"),
        (
            ["up", "--system", "slurm", "--job-cores", "4", "--job-mem-gb", "8", "--max-queued", "0"],
            "--max-queued must be a whole number above 0",
        ),
        (
            ["up", "--system", "pbs", "--job-cores", "4", "--job-mem-gb", "8", "--max-queued", "2.5"],
            "--max-queued must be a whole number above 0",
        ),
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
    assert not dask_hpc.local_root.exists()
    assert list(dask_hpc.state_dir.glob("*.json")) == []


def _dangling_state_directory(tmp_path):
    link = tmp_path / "state-link"
    link.symlink_to(tmp_path / "gone")
    return {"DASK_HPC_STATE_DIR": str(link)}, str(link)


def _a_file_in_place_of_a_socket(tmp_path):
    precious = tmp_path / "notes.txt"
    precious.write_text("mine")
    return str(precious), str(precious)


@pytest.mark.parametrize(
    "case",
    [
        # (args, extra environment, the path the line must name); a callable builds them in tmp_path.
        lambda tmp: (["detect", "--root", "/nonexistent"], {}, "/nonexistent"),
        lambda tmp: (["plan", "--root", "/etc/passwd"], {}, "/etc/passwd"),
        lambda tmp: (["serve", "--socket", "/nonexistent/dir/x.sock", "--python", sys.executable], {}, "/nonexistent/dir"),
        lambda tmp: (["serve", "--socket", _a_file_in_place_of_a_socket(tmp)[0], "--python", sys.executable], {}, str(tmp / "notes.txt")),
        lambda tmp: (["ls"], {"DASK_HPC_STATE_DIR": "/etc/passwd"}, "/etc/passwd"),
        lambda tmp: (["ls"], {"DASK_HPC_STATE_DIR": "/etc/passwd/state"}, "/etc/passwd/state"),
        lambda tmp: (["ls"], *_dangling_state_directory(tmp)),
        lambda tmp: (["ls"], {"DASK_HPC_STATE_DIR": "/proc/nope"}, "/proc/nope"),
        lambda tmp: (["down", "--all"], {"DASK_HPC_STATE_DIR": "/proc/nope/deeper"}, "/proc/nope/deeper"),
        lambda tmp: (["up", "--python", "/nonexistent"], {}, "/nonexistent"),
        lambda tmp: (["up", "--python", "/etc/passwd"], {}, "/etc/passwd"),
        lambda tmp: (["run", "--python", "no-such-python3", "--", "true"], {}, "no-such-python3"),
        lambda tmp: (["up", "--python", sys.executable], {"PBS_JOBFS": "/etc/passwd"}, "/etc/passwd"),
    ],
    ids=[
        "detect-root-missing",
        "plan-root-file",
        "serve-socket-dir-missing",
        "serve-socket-is-a-file",
        "state-dir-is-a-file",
        "state-dir-under-a-file",
        "state-dir-dangling-link",
        "state-dir-in-proc",
        "state-dir-deep-in-proc",
        "up-python-missing",
        "up-python-not-executable",
        "run-python-not-on-path",
        "jobfs-is-a-file",
    ],
)
def test_a_path_that_cannot_be_used_is_one_clear_line_and_exit_2(dask_hpc, tmp_path, case):
    args, env, named = case(tmp_path)
    started = time.monotonic()
    result = dask_hpc(*args, env=env, timeout=30)
    assert time.monotonic() - started < 10, "answered at once, never a hang"
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dask-hpc: "), result.stderr
    assert named in lines[0], (named, lines[0])
    assert "    at " not in result.stderr and "exit status null" not in result.stderr
    assert result.stdout == ""
    # Nothing made: no record, no cluster directory, no socket, the user's file untouched.
    assert not dask_hpc.state_dir.exists() or list(dask_hpc.state_dir.iterdir()) == []
    assert not dask_hpc.local_root.exists()
    if (tmp_path / "notes.txt").exists():
        assert (tmp_path / "notes.txt").read_text() == "mine"
    assert processes_mentioning(str(tmp_path)) == []


def test_an_unexpected_error_is_one_line_with_a_hint_and_the_trace_on_request(dask_hpc, tmp_path):
    """A failure nobody foresaw (here: a node with no /proc/meminfo) is still one line."""
    empty_node = tmp_path / "node"
    empty_node.mkdir()
    result = dask_hpc("detect", "--root", str(empty_node), env={"PBS_VMEM": ""})
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "cannot read the node's memory" in result.stderr
    assert "DASK_HPC_DEBUG=1" in result.stderr and "    at " not in result.stderr
    debug = dask_hpc("detect", "--root", str(empty_node), env={"PBS_VMEM": "", "DASK_HPC_DEBUG": "1"})
    assert "    at " in debug.stderr


def test_slurm_mem_per_node_zero_is_a_warning_and_the_nodes_own_memory_is_used(dask_hpc):
    """Slurm's --mem=0 (all of the node's memory) may reach the job as SLURM_MEM_PER_NODE=0."""
    result = dask_hpc("plan", "--workload", "cpu", "--json", env={"SLURM_JOB_ID": "5", "SLURM_MEM_PER_NODE": "0", "PBS_VMEM": ""})
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["memory_limit_bytes"] > 0
    assert any('SLURM_MEM_PER_NODE="0"' in w and "--mem=0" in w for w in plan["warnings"]), plan["warnings"]


def test_garbage_pbs_vmem_is_a_warning_naming_it(dask_hpc):
    result = dask_hpc("plan", "--workload", "cpu", env={"PBS_VMEM": "lots"})
    assert result.returncode == 0
    assert 'warning: PBS_VMEM="lots" is not a PBS size' in result.stdout


def test_a_python_without_distributed_fails_clearly_and_leaves_nothing(dask_hpc, tmp_path):
    bare = tmp_path / "bare-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    result = dask_hpc("up", "--workload", "cpu", "--python", str(bare / "bin" / "python"))
    # Found before anything starts: one line, exit 2, no cluster directory at all.
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == f"dask-hpc: --python {bare / 'bin' / 'python'}: has no module named 'distributed'; install dask[distributed] into it, or give a Python that has it"
    )
    assert dask_hpc.ls() == []
    assert not dask_hpc.local_root.exists()


def python_shim(tmp_path, worker_behaviour: str):
    """A `--python` that runs the real Python for the scheduler but misbehaves as a worker."""
    shim = tmp_path / "python-shim"
    shim.write_text('#!/bin/sh\ncase "$*" in *dask_worker*) ' + worker_behaviour + f' ;; esac\nexec "{sys.executable}" "$@"\n')
    shim.chmod(0o755)
    return str(shim)


def test_a_worker_that_fails_is_named_with_its_log_and_nothing_is_left(dask_hpc, tmp_path):
    shim = python_shim(tmp_path, 'echo "ImportError: this worker cannot start" >&2; exit 1')
    result = dask_hpc("up", "--workload", "cpu", "--name", "broken", "--python", shim)
    assert result.returncode == 1
    assert "worker broken-" in result.stderr and "did not start" in result.stderr
    assert "ImportError: this worker cannot start" in result.stderr
    assert dask_hpc.ls() == []
    assert list(dask_hpc.local_root.iterdir()) == []


def test_workers_that_never_register_time_out_and_nothing_is_left(dask_hpc, tmp_path):
    shim = python_shim(tmp_path, 'echo "waiting for a licence server" >&2; exec sleep 600')
    result = dask_hpc("up", "--workload", "cpu", "--name", "slow", "--timeout", "5", "--python", shim)
    assert result.returncode == 1
    assert "workers not ready after 5 s" in result.stderr
    assert "worker slow-0 is not registered yet" in result.stderr and "waiting for a licence server" in result.stderr
    assert dask_hpc.ls() == []


PLAN_FLAGS = [
    "--workload",
    "--max-workers",
    "--reserve-mem-gb",
    "--max-mem-gb",
    "--memory-target",
    "--memory-spill",
    "--memory-pause",
    "--memory-terminate",
]
JOB_FLAGS = [
    "--system",
    "--dialect",
    "--job-cores",
    "--job-mem-gb",
    "--walltime",
    "--queue",
    "--account",
    "--jobfs-gb",
    "--storage",
    "--prologue",
    "--interface",
    "--jobs",
]
CLI_FUZZ_RESULTS: list[int] = []


def _flag_values():
    from hypothesis import strategies as st

    value = st.one_of(
        st.text(min_size=0, max_size=40),
        st.integers(-(10**12), 10**12).map(str),
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
    print(
        f"\n{len(CLI_FUZZ_RESULTS)} fuzzed command lines: {CLI_FUZZ_RESULTS.count(2)} refused with exit 2, {CLI_FUZZ_RESULTS.count(0)} accepted"
    )


@pytest.mark.parametrize("value", ["\x85x", "a\u2028b", "a\nb"])
def test_a_value_with_a_line_break_is_quoted_on_the_one_error_line(dask_hpc, value):
    """Python's splitlines (and terminals) break at \\x85 and \\u2028 too: the error stays one line."""
    result = dask_hpc("plan", f"--workload={value}")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dask-hpc: --workload"), result.stderr
