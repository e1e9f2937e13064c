"""A local launcher for MXNet's parameter-server kvstore: one machine, one command, N workers.

``python -m mxfair.launch -n 2 -s 1 [--timeout SEC] -- python train.py ...`` starts, on
127.0.0.1, one ps-lite scheduler, ``-s`` servers and ``-n`` workers, all running the same command
with the ``DMLC_*`` variables MXNet reads (as ``tools/launch.py --launcher local`` and
dmlc-tracker do): ``DMLC_ROLE``, ``DMLC_PS_ROOT_URI``, ``DMLC_PS_ROOT_PORT``,
``DMLC_NUM_SERVER``, ``DMLC_NUM_WORKER``. The scheduler and server processes never run the
user's code past ``import mxnet``: MXNet starts the kvstore server inside that import when
``DMLC_ROLE`` is ``server`` or ``scheduler`` and exits when the workers are done.

The launcher waits for every process, prefixes each output line with the process's role and
index (``[worker 0]``), returns the first non-zero exit code (0 when all succeed), and ends every
process group it started when a process fails, on Ctrl-C (exit code 130) or after ``timeout``
seconds (exit code 124), so a crashed worker never leaves servers or peers hanging.

Workers are given increasing ports (``PORT``, which ps-lite reads); ps-lite's scheduler orders
the nodes of one host by port, so worker ``i`` gets ``kv.rank == i`` and the ``[worker i]``
prefix is the rank (unless a port was taken in between and ps-lite picked another).

Across machines, use MXNet's ``tools/launch.py`` with a hosts file (see
``docs/distributed.md``).
"""
import argparse
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Dict, List, Optional, Sequence, TextIO

from ._validation import check_number, check_positive_int

__all__ = ["free_port", "launch", "main", "LaunchResult"]

TIMEOUT_EXIT = 124
INTERRUPT_EXIT = 130
_GRACE = 3.0  # seconds between SIGTERM and SIGKILL when ending process groups


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that is free right now (the OS picks it: bind to port 0).

    Another program could take it before the scheduler binds it; the window is a few
    milliseconds and the launcher reports a failure rather than hanging if that happens.

    Examples
    --------
    >>> 0 < free_port() < 65536
    True
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class LaunchResult:
    """What :func:`launch` did.

    Attributes
    ----------
    returncode : int
        0 when every process exited with 0; otherwise the exit code of the process that failed
        first (128 + N for a process ended by signal N), 124 on timeout, 130 on interrupt.
    returncodes : dict
        Exit code of every process by name (``"scheduler"``, ``"server 0"``, ``"worker 1"``);
        negative for a process ended by a signal.
    port : int
        ``DMLC_PS_ROOT_PORT`` used.
    pids : list of int
        Process ids started (each the leader of its own process group).
    reason : str
        ``"ok"``, ``"failed"``, ``"timeout"`` or ``"interrupted"``.
    failed : str or None
        Name of the process that failed first (``"worker 1"``), when ``reason == "failed"``.
    """

    def __init__(self, returncode, returncodes, port, pids, reason, failed=None):
        self.failed = failed
        self.returncode = returncode
        self.returncodes = returncodes
        self.port = port
        self.pids = pids
        self.reason = reason

    def __repr__(self) -> str:
        return (f"LaunchResult(returncode={self.returncode}, reason={self.reason!r}, "
                f"returncodes={self.returncodes})")


def _pump(stream, prefix: str, out: TextIO, lock: threading.Lock) -> None:
    """Copy a child's output to ``out`` line by line, each line prefixed."""
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", errors="replace").rstrip("\n")
        with lock:
            out.write(f"{prefix}{line}\n")
            out.flush()
    stream.close()


def _end_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _end_all(procs: Dict[str, subprocess.Popen]) -> None:
    """SIGTERM every process group, then SIGKILL what is left after a grace period."""
    for proc in procs.values():
        if proc.poll() is None:
            _end_group(proc, signal.SIGTERM)
    deadline = time.monotonic() + _GRACE
    for proc in procs.values():
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for proc in procs.values():
        # The leader may be gone while children of its group live on: kill the group anyway.
        _end_group(proc, signal.SIGKILL)
        proc.wait()


def launch(
    command: Sequence[str],
    num_workers: int,
    num_servers: int = 1,
    timeout: Optional[float] = None,
    env: Optional[Dict[str, str]] = None,
    host: str = "127.0.0.1",
    port: Optional[int] = None,
    out: Optional[TextIO] = None,
) -> LaunchResult:
    """Run ``command`` as a local ps-lite cluster: a scheduler, servers and workers.

    Parameters
    ----------
    command : sequence of str
        The program and its arguments (no shell), e.g. ``[sys.executable, "train.py"]``.
    num_workers : int
        Number of workers (``DMLC_NUM_WORKER``), at least 1.
    num_servers : int, default 1
        Number of kvstore servers (``DMLC_NUM_SERVER``), at least 1.
    timeout : float, optional
        Seconds after which every process is ended and the result is 124.
    env : dict, optional
        Extra environment variables for every process (on top of ``os.environ``).
        ``OMP_NUM_THREADS`` defaults to 1 (several MXNet processes share the cores) and
        ``PYTHONUNBUFFERED`` to 1 (output appears as it is written).
    host : str, default "127.0.0.1"
        Address of the scheduler and of every node (``DMLC_PS_ROOT_URI``, ``DMLC_NODE_HOST``).
    port : int, optional
        Scheduler port (``DMLC_PS_ROOT_PORT``); a free one by default.
    out : text stream, optional
        Where the prefixed output goes; ``sys.stdout`` by default.

    Returns
    -------
    LaunchResult
        ``.returncode`` is 0 when all processes succeeded.

    Examples
    --------
    >>> import sys
    >>> launch([sys.executable, "-c", "print('hi')"], num_workers=1).returncode  # doctest: +SKIP
    0
    """
    command = [str(c) for c in command]
    if not command:
        raise ValueError("command must not be empty: give the program to run after '--'")
    check_positive_int("num_workers", num_workers)
    check_positive_int("num_servers", num_servers)
    if timeout is not None:
        check_number("timeout", timeout, low=0, low_inclusive=False)
    out = sys.stdout if out is None else out
    port = free_port(host) if port is None else int(port)

    base = dict(os.environ)
    base.setdefault("OMP_NUM_THREADS", "1")
    base.setdefault("PYTHONUNBUFFERED", "1")
    base.update({str(k): str(v) for k, v in (env or {}).items()})
    base.update({
        "DMLC_PS_ROOT_URI": host,
        "DMLC_PS_ROOT_PORT": str(port),
        "DMLC_NUM_SERVER": str(num_servers),
        "DMLC_NUM_WORKER": str(num_workers),
        "DMLC_NODE_HOST": host,
        "DMLC_JOB_CLUSTER": "local",
    })
    roles = [("scheduler", "scheduler", None)]
    roles += [(f"server {i}", "server", None) for i in range(num_servers)]
    # Increasing worker ports: ps-lite ranks the nodes of one host by port.
    worker_ports = _free_ports(host, num_workers)
    roles += [(f"worker {i}", "worker", worker_ports[i]) for i in range(num_workers)]

    lock = threading.Lock()
    procs: Dict[str, subprocess.Popen] = {}
    pumps: List[threading.Thread] = []
    reason, culprit = "ok", None
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        for task_id, (name, role, node_port) in enumerate(roles):
            penv = dict(base, DMLC_ROLE=role, DMLC_TASK_ID=str(task_id))
            if node_port is not None:
                penv["PORT"] = str(node_port)  # ps-lite reads PORT for a node's own port
            proc = subprocess.Popen(
                command, env=penv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,  # own process group
            )
            procs[name] = proc
            pump = threading.Thread(target=_pump, args=(proc.stdout, f"[{name}] ", out, lock),
                                    daemon=True)
            pump.start()
            pumps.append(pump)
        reason, culprit = _wait(procs, deadline)
    except KeyboardInterrupt:
        reason = "interrupted"
    finally:
        if reason != "ok":
            _end_all(procs)
        else:
            for proc in procs.values():
                proc.wait()
            _end_all(procs)  # reap stray children left in the groups, if any
        for pump in pumps:
            pump.join(timeout=_GRACE)

    codes = {name: proc.returncode for name, proc in procs.items()}
    if reason == "timeout":
        code = TIMEOUT_EXIT
    elif reason == "interrupted":
        code = INTERRUPT_EXIT
    else:  # the code of the process that failed first, not of those ended because of it
        code = 0 if culprit is None else codes[culprit]
        if code < 0:  # ended by a signal from elsewhere: report it as a shell does
            code = 128 - code
    if reason != "ok":
        with lock:
            first = f" ({culprit} first)" if culprit and reason == "failed" else ""
            out.write(f"[launch] {reason}{first}: exit codes {codes}\n")
            out.flush()
    return LaunchResult(code, codes, port, [p.pid for p in procs.values()], reason,
                        culprit if reason == "failed" else None)


def _free_ports(host: str, count: int) -> List[int]:
    """``count`` distinct free ports in increasing order (all sockets held until all are found)."""
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((host, 0))
            socks.append(sock)
        return sorted(int(s.getsockname()[1]) for s in socks)
    finally:
        for sock in socks:
            sock.close()


def _wait(procs: Dict[str, subprocess.Popen], deadline: Optional[float]):
    """Poll until every process exited ("ok"), one failed ("failed", its name) or time is up."""
    while True:
        alive = False
        for name, proc in procs.items():
            code = proc.poll()
            if code is None:
                alive = True
            elif code != 0:
                return "failed", name
        if not alive:
            return "ok", None
        if deadline is not None and time.monotonic() > deadline:
            return "timeout", None
        time.sleep(0.05)


def _parse(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m mxfair.launch",
        description="Run a command as a local MXNet parameter-server cluster on one machine.",
        epilog="example: python -m mxfair.launch -n 2 -s 1 --timeout 120 -- "
               "python examples/distributed_adult.py --epochs 2",
    )
    parser.add_argument("-n", "--num-workers", type=int, required=True,
                        help="number of workers")
    parser.add_argument("-s", "--num-servers", type=int, default=1,
                        help="number of kvstore servers (default 1)")
    parser.add_argument("--timeout", type=float, default=None,
                        help="end everything after this many seconds (exit code 124)")
    parser.add_argument("--host", default="127.0.0.1", help="address of every node")
    parser.add_argument("--port", type=int, default=None,
                        help="scheduler port (default: a free one)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment variable for every process (repeatable)")
    parser.add_argument("command", nargs=argparse.REMAINDER,
                        help="the command, after '--'")
    args = parser.parse_args(argv)
    if args.command and args.command[0] == "--":
        args.command = args.command[1:]
    if not args.command:
        parser.error("give the command to run after '--'")
    extra = {}
    for item in args.env:
        name, sep, value = item.partition("=")
        if not sep or not name:
            parser.error(f"--env expects NAME=VALUE, got {item!r}")
        extra[name] = value
    args.env = extra
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry point; returns the exit code (see :func:`launch`)."""
    args = _parse(argv)

    def _terminate(signum, frame):  # a SIGTERM to the launcher ends the cluster too
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        result = launch(args.command, args.num_workers, args.num_servers, timeout=args.timeout,
                        env=args.env, host=args.host, port=args.port)
    except ValueError as err:
        print(f"python -m mxfair.launch: error: {err}", file=sys.stderr)
        return 2
    finally:
        signal.signal(signal.SIGTERM, previous)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
