"""HTTPS for LocalKMS: a certificate authority of its own, made at start, and the server
certificate it issues for the addresses LocalKMS answers on.

How this works: :func:`make_certificates` makes a CA (an ECDSA P-256 key, a self-signed
certificate valid a year from a day ago) and a server certificate it signs for the listen
host, ``localhost``, ``127.0.0.1`` and ``::1``, and writes three files in a directory of their
own (mode 0700): ``ca.pem``, the bundle clients trust (``AWS_CA_BUNDLE``, botocore's
``verify=``), and the server's ``cert.pem`` and ``key.pem`` (0600). Nothing outside that
directory trusts the CA: it exists for as long as one LocalKMS runs, and its key is never
written.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["ServerCertificates", "issue", "make_ca", "make_certificates", "server_context"]

_VALIDITY = datetime.timedelta(days=365)
_BACKDATE = datetime.timedelta(days=1)  # tolerates a client clock a little behind


@dataclass(frozen=True)
class ServerCertificates:
    """Where the files are, and the server context that serves them."""

    directory: Path
    ca_bundle: Path
    context: ssl.SSLContext


def _subject(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _alternative_names(hosts: list[str]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys(hosts):  # once each, in order
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def make_ca(
    name: str, now: datetime.datetime
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A CA's key and self-signed certificate, valid a year from a day before ``now``."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = _subject(name)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def issue(
    ca: tuple[ec.EllipticCurvePrivateKey, x509.Certificate],
    hosts: list[str],
    not_before: datetime.datetime,
    not_after: datetime.datetime,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A server key and its certificate for ``hosts`` (names or addresses), signed by ``ca``."""
    ca_key, ca_cert = ca
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_subject(hosts[0]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(_alternative_names(hosts), False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def server_context(
    key: ec.EllipticCurvePrivateKey, cert: x509.Certificate, cert_file: Path, key_file: Path
) -> ssl.SSLContext:
    """Write ``cert`` and ``key`` (mode 0600) to these files; a server context serving them."""
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


def make_certificates(
    host: str, *, now: datetime.datetime | None = None, directory: Path | None = None
) -> ServerCertificates:
    """A new CA and a server certificate for ``host`` (and the loopback names), on disk.

    Args:
        host: the address LocalKMS listens on.
        now: the certificates' reference time (default: the current UTC time).
        directory: where to write them (default: a new temporary directory).
    """
    now = now or datetime.datetime.now(datetime.timezone.utc)
    directory = Path(tempfile.mkdtemp(prefix="localkms-tls-")) if directory is None else directory
    ca = make_ca("LocalKMS test CA (aiokms)", now)
    hosts = [host, "localhost", "127.0.0.1", "::1"]
    key, cert = issue(ca, hosts, now - _BACKDATE, now + _VALIDITY)
    ca_bundle = directory / "ca.pem"
    ca_bundle.write_bytes(ca[1].public_bytes(serialization.Encoding.PEM))
    context = server_context(key, cert, directory / "cert.pem", directory / "key.pem")
    return ServerCertificates(directory=directory, ca_bundle=ca_bundle, context=context)
