"""Certificates for the HTTPS tests: a private CA of the test's own and the server certificates
it issues (for the names a test wants, valid or expired), served by ``ssl.SSLContext``s.
They are made with cryptography's x509 by LocalKMS's certificate module; nothing here trusts
the system's CAs, nor they it.
"""

from __future__ import annotations

import datetime
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

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

    def client_certificate(self, name: str = "aiokms test client") -> tuple[Path, Path]:
        """A client certificate (TLS client authentication) and its key, as PEM files."""
        ca_key, ca_cert = self.ca
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - DAY)
            .not_valid_after(now + 10 * DAY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
            .add_extension(  # Python 3.13's servers check X.509 strictly: this one is required
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
            )
            .sign(ca_key, hashes.SHA256())
        )
        cert_file = self.directory / f"client-{cert.serial_number:x}.crt"
        key_file = cert_file.with_suffix(".key")
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return cert_file, key_file

    def server_context_wanting_clients(self, client_ca: TestCA) -> ssl.SSLContext:
        """As :meth:`server_context`, asking for a client certificate from ``client_ca``."""
        context = self.server_context()
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cafile=client_ca.bundle)
        return context
