"""The AWS Encryption SDK's own command-line tool, for interop tests, in a virtualenv of its own.

``aws-encryption-sdk-cli`` pins ``aws-encryption-sdk`` 3.x while the tests use 4.x, so the tool
cannot live in the test environment. :func:`esdk_cli` builds a virtualenv from the lock file
beside this module (``requirements-esdk-cli.lock``) on first use and reuses it while the lock
and the Python version stay the same. ``AIOKMS_ESDK_CLI`` names an installed tool instead.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

LOCK = Path(__file__).resolve().parent / "requirements-esdk-cli.lock"
_COMPLETE = ".complete"  # written last: a folder without it is a build that did not finish


def esdk_cli(cache: Path) -> Path:
    """The path of ``aws-encryption-cli``, installed under ``cache`` if need be.

    Raises:
        subprocess.CalledProcessError: the virtualenv or the install failed (its output is in
            the exception).
    """
    named = os.environ.get("AIOKMS_ESDK_CLI")
    if named:
        return Path(named)
    digest = hashlib.sha256(LOCK.read_bytes() + sys.version.encode()).hexdigest()[:16]
    venv = cache / f"esdk-cli-{digest}"
    tool = venv / "bin" / "aws-encryption-cli"
    if (venv / _COMPLETE).exists():
        return tool
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run(
        [sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300
    )
    subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--requirement",
            str(LOCK),
        ],
        check=True,
        capture_output=True,
        timeout=900,
    )
    (venv / _COMPLETE).touch()
    return tool
