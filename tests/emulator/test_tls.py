"""LocalKMS over HTTPS (``tls=True``, ``--tls``): a certificate from a CA made at start, which
aiokms, aiobotocore and boto3 trust through the CA bundle LocalKMS hands out, and nobody else."""

from __future__ import annotations

import asyncio
import datetime
import os
import stat
from pathlib import Path

import aiobotocore.session
import boto3
import botocore.config
import botocore.exceptions
import pytest
from cryptography import x509

import aiokms
from aiokms.emulator import LocalKMS
from aiokms.emulator._tls import make_certificates
from tests.emulator.helpers import ALIAS, REGION


def test_the_certificate_names_the_host_and_the_loopback_addresses(tmp_path: Path) -> None:
    now = datetime.datetime(2026, 12, 7, tzinfo=datetime.timezone.utc)
    made = make_certificates("kms.local.test", now=now, directory=tmp_path)
    cert = x509.load_pem_x509_certificate((tmp_path / "cert.pem").read_bytes())
    ca = x509.load_pem_x509_certificate(made.ca_bundle.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["kms.local.test", "localhost"]
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1", "::1"]
    assert cert.issuer == ca.subject
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert cert.not_valid_before_utc == now - datetime.timedelta(days=1)
    assert cert.not_valid_after_utc == now + datetime.timedelta(days=365)
    assert stat.S_IMODE(os.stat(tmp_path / "key.pem").st_mode) == 0o600
    assert b"PRIVATE KEY" not in made.ca_bundle.read_bytes()  # the CA's key is never written


def test_each_start_makes_a_new_ca(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = make_certificates("127.0.0.1", directory=tmp_path / "a")
    second = make_certificates("127.0.0.1", directory=tmp_path / "b")
    assert first.ca_bundle.read_bytes() != second.ca_bundle.read_bytes()


async def test_aiokms_over_https_with_the_ca_bundle() -> None:
    async with LocalKMS(tls=True, aliases=[ALIAS]) as local:
        assert local.endpoint_url.startswith("https://127.0.0.1:")
        bundle = local.ca_bundle
        assert bundle is not None and await asyncio.to_thread(Path(bundle).is_file)
        async with aiokms.KMSClient(
            region_name=local.region,
            endpoint_url=local.endpoint_url,
            credentials=local.credentials,
            verify=bundle,
        ) as kms:
            data_key = await kms.generate_data_key(KeyId=ALIAS, KeySpec="AES_256")
            opened = await kms.decrypt(CiphertextBlob=data_key["CiphertextBlob"])
            assert opened["Plaintext"] == data_key["Plaintext"]
    # removed on close, with the server's key
    assert not await asyncio.to_thread(Path(bundle).exists)


async def test_aiokms_refuses_it_without_the_bundle() -> None:
    async with (
        LocalKMS(tls=True) as local,
        aiokms.KMSClient(
            region_name=local.region,
            endpoint_url=local.endpoint_url,
            credentials=local.credentials,
            max_attempts=1,
        ) as kms,
    ):
        with pytest.raises(aiokms.CertificateError, match="unable to get local issuer"):
            await kms.list_keys()


async def test_aiobotocore_over_https_through_aws_ca_bundle(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with LocalKMS(tls=True, aliases=[ALIAS]) as local:
        assert local.ca_bundle is not None
        monkeypatch.setenv("AWS_CA_BUNDLE", local.ca_bundle)  # as the export lines say
        creds = local.credentials
        async with aiobotocore.session.get_session().create_client(
            "kms",
            region_name=REGION,
            endpoint_url=local.endpoint_url,
            aws_access_key_id=creds.access_key,
            aws_secret_access_key=creds.secret_key,
        ) as kms:
            encrypted = await kms.encrypt(KeyId=ALIAS, Plaintext=b"over tls")
            decrypted = await kms.decrypt(CiphertextBlob=encrypted["CiphertextBlob"])
            assert decrypted["Plaintext"] == b"over tls"


async def test_boto3_over_https_with_verify() -> None:
    async with LocalKMS(tls=True, aliases=[ALIAS]) as local:
        creds = local.credentials

        def round_trip(verify: str | bool | None) -> bytes:
            kms = boto3.client(
                "kms",
                region_name=REGION,
                endpoint_url=local.endpoint_url,
                aws_access_key_id=creds.access_key,
                aws_secret_access_key=creds.secret_key,
                verify=verify,
                config=botocore.config.Config(retries={"total_max_attempts": 1}),
            )
            try:
                encrypted = kms.encrypt(KeyId=ALIAS, Plaintext=b"boto3")
                return bytes(kms.decrypt(CiphertextBlob=encrypted["CiphertextBlob"])["Plaintext"])
            finally:
                kms.close()

        # boto3 blocks: it runs in a thread while LocalKMS serves on this loop
        assert await asyncio.to_thread(round_trip, local.ca_bundle) == b"boto3"
        with pytest.raises(botocore.exceptions.SSLError):
            await asyncio.to_thread(round_trip, None)


async def test_without_tls_there_is_no_bundle() -> None:
    async with LocalKMS() as local:
        assert local.endpoint_url.startswith("http://")
        assert local.ca_bundle is None
