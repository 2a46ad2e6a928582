"""Stopping a child process the same way everywhere: SIGTERM, then SIGKILL if it does not go."""

from __future__ import annotations

import subprocess


def terminate(process: subprocess.Popen | None, timeout: float = 10.0) -> int | None:
    """Stop ``process`` (SIGTERM, and SIGKILL after ``timeout`` seconds); its exit code, or None without one."""
    if process is None:
        return None
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
    return process.returncode
