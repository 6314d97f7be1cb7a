"""Servers in child processes for the benchmarks: start one, read what it announces, stop it.

A child announces itself with one line on stdout (a port, or JSON) once it listens; the parent
stops it by its PID, killing it if it does not exit in time. Children also watch their
parent's PID and exit on their own if it dies, so nothing outlives a run.
"""

from __future__ import annotations

import select
import subprocess

STOP_TIMEOUT_S = 5.0


def start_child(cmd: list[str], timeout: float) -> tuple[subprocess.Popen[bytes], bytes]:
    """Start ``cmd``; return it and the first line it prints (empty if none in ``timeout``)."""
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        return proc, proc.stdout.readline() if ready else b""
    except BaseException:
        stop_child(proc)
        raise


def stop_child(proc: subprocess.Popen[bytes]) -> None:
    """Terminate the child by its PID; kill it if it does not exit in time."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()
