"""Certificates for the HTTPS tests: a private CA of the test's own and the server certificates
it issues (for the names a test wants, valid or expired), served by ``ssl.SSLContext``s.
They are made with cryptography's x509 by LocalKMS's certificate module; nothing here trusts
the system's CAs, nor they it.
"""

from __future__ import annotations

import datetime
import ssl
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from aiokms.emulator._tls import issue, make_ca, server_context

DAY = datetime.timedelta(days=1)


class TestCA:
    """A CA of the test's own; ``bundle`` is its certificate as a PEM file under ``directory``."""

    __test__ = False  # not a test class, whatever its name

    def __init__(self, directory: Path, name: str = "aiokms test CA") -> None:
        self.directory = directory
        self.ca = make_ca(name, datetime.datetime.now(datetime.timezone.utc))
        safe = "".join(c if c.isalnum() else "-" for c in name)
        self.bundle = directory / f"{safe}.pem"
        self.bundle.write_bytes(self.ca[1].public_bytes(serialization.Encoding.PEM))

    def server_context(self, *names: str, expired: bool = False) -> ssl.SSLContext:
        """A server context with a certificate for ``names`` (default ``127.0.0.1``)."""
        now = datetime.datetime.now(datetime.timezone.utc)
        start, end = (now - 10 * DAY, now - DAY) if expired else (now - DAY, now + 10 * DAY)
        key, cert = issue(self.ca, list(names or ("127.0.0.1",)), start, end)
        stem = self.directory / f"server-{cert.serial_number:x}"
        return server_context(key, cert, stem.with_suffix(".crt"), stem.with_suffix(".key"))
