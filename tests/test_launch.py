"""mxfair.launch: a local ps-lite cluster (scheduler, servers, workers) from one command.

Every test starts real processes on 127.0.0.1, bounded by a timeout, and checks that nothing
started for the cluster is left running afterwards (:func:`_helpers.leftovers`).
"""
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import _dist_worker as worker
import pytest
from _helpers import leftovers

from mxfair.launch import free_port, launch

ROOT = Path(__file__).resolve().parents[1]
WORKER = Path(worker.__file__).resolve()

# Prints the variables the launcher sets; no MXNet, so every role runs it to the end.
SHOW_ENV = ("import os; print(os.environ['DMLC_ROLE'], os.environ['DMLC_TASK_ID'], "
            "os.environ['DMLC_NUM_WORKER'], os.environ['DMLC_NUM_SERVER'], "
            "os.environ['DMLC_PS_ROOT_PORT'], os.environ.get('PORT', '-'), "
            "os.environ['EXTRA'])")


def test_successful_run_reports_every_process():
    port = free_port()
    log = io.StringIO()
    result = launch([sys.executable, "-c", SHOW_ENV], num_workers=2, num_servers=1,
                    timeout=60, port=port, out=log, env={"EXTRA": "x"})
    assert result.returncode == 0 and result.reason == "ok" and result.failed is None
    assert result.returncodes == {"scheduler": 0, "server 0": 0, "worker 0": 0, "worker 1": 0}
    assert result.port == port and len(result.pids) == 4
    assert leftovers(port) == []
    lines = dict(line.split("] ", 1) for line in log.getvalue().splitlines())
    assert lines["[scheduler"] == f"scheduler 0 2 1 {port} - x"
    assert lines["[server 0"] == f"server 1 2 1 {port} - x"
    ports = [int(lines[f"[worker {i}"].split()[5]) for i in (0, 1)]
    assert ports[0] < ports[1]  # increasing worker ports: ps-lite ranks workers by port
    assert lines["[worker 1"].startswith(f"worker 3 2 1 {port} ")


def test_cli_ends_the_cluster_when_a_worker_fails(tmp_path):
    port = free_port()
    cmd = [sys.executable, "-m", "mxfair.launch", "-n", "2", "-s", "1", "--port", str(port),
           "--timeout", "100", "--", sys.executable, str(WORKER), "--out", str(tmp_path),
           "--mode", "fail"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=140)
    # worker 1 exits with 3 while worker 0 waits for it in an MXNet barrier: the launcher ends
    # the rest and passes the 3 on
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "[launch] failed (worker 1 first)" in proc.stdout
    assert leftovers(port) == []
    for rank in (0, 1):  # the output prefix is the kvstore rank
        assert f"[worker {rank}] rank {rank} of 2" in proc.stdout


def test_timeout_ends_every_process():
    port = free_port()
    log = io.StringIO()
    start = time.monotonic()
    result = launch([sys.executable, "-c", "import time; print('up', flush=True); "
                     "time.sleep(60)"], num_workers=2, timeout=1.5, port=port, out=log)
    assert time.monotonic() - start < 15
    assert result.returncode == 124 and result.reason == "timeout"
    assert all(code is not None and code < 0 for code in result.returncodes.values())
    assert leftovers(port) == []
    assert "[worker 1] up" in log.getvalue() and "[scheduler] up" in log.getvalue()


def test_ctrl_c_ends_every_process():
    port = free_port()
    cmd = [sys.executable, "-m", "mxfair.launch", "-n", "2", "--port", str(port), "--",
           sys.executable, "-c", "import time; print('up', flush=True); time.sleep(60)"]
    # PYTHONFAULTHANDLER: if the launcher hangs, SIGABRT makes it print every thread's stack.
    env = dict(os.environ, PYTHONFAULTHANDLER="1")
    # A shell starts a background job with SIGINT ignored, and the launcher inherits that (as it
    # should: a background job ignores Ctrl-C). The launcher is started here as a terminal's
    # foreground job would be, with SIGINT's default, whatever way pytest itself was started.
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        seen = 0
        while seen < 4:  # scheduler, server, two workers
            line = proc.stdout.readline()
            assert line, "launcher ended early"
            seen += line.rstrip().endswith("] up")
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=60)  # about 4 s on an idle machine
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)
            pytest.fail("the launcher did not end within 60 s of SIGINT; its stacks:\n"
                        + proc.communicate(timeout=30)[1])
        assert code == 130
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
        proc.stderr.close()
    assert leftovers(port) == []


def test_launcher_rejects_bad_arguments():
    with pytest.raises(ValueError, match="num_workers must be a positive integer, got 0"):
        launch(["true"], num_workers=0)
    with pytest.raises(ValueError, match="command must not be empty"):
        launch([], num_workers=1)
    with pytest.raises(ValueError, match="timeout must be a finite number > 0"):
        launch(["true"], num_workers=1, timeout=0)
