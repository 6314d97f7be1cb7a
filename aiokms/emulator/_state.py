"""The state file: keys, aliases and credentials of a LocalKMS kept across restarts.

How this works: the file is one JSON document, ``{"format": "aiokms-localkms", "credentials":
{...}, "store": <KeyStore.snapshot()>}``, holding key material and the secret key **in the
clear**: it is for test environments only. It is written whole, to a temporary file created
with mode 0600 in the same directory, flushed to disk and renamed over the old one
(``os.replace``), so a crash leaves either the old or the new state, never a torn file.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["FORMAT", "load_state", "save_state"]

FORMAT = "aiokms-localkms"


def load_state(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The saved state, or ``None`` if the file does not exist yet.

    Raises:
        ValueError: the file exists but is not a LocalKMS state file.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        raise ValueError(f"{os.fspath(path)!r} is not a LocalKMS state file (not JSON)") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{os.fspath(path)!r} is not a LocalKMS state file")
    return data


def save_state(path: str | os.PathLike[str], data: dict[str, Any]) -> None:
    """Replace the file at ``path`` with ``data`` atomically; the file is mode 0600."""
    target = Path(path)
    document = json.dumps({"format": FORMAT, **data}, indent=1, sort_keys=True).encode()
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as file:  # mkstemp creates it 0600
            file.write(document)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    with contextlib.suppress(OSError):  # make the rename durable where directories can be synced
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
