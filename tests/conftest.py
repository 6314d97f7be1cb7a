from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator

import pytest
from moto.server import ThreadedMotoServer

import aiokms
from tests import moto_scenario
from tests.fake_kms import ACCESS_KEY, FakeKMS, start
from tests.fault_server import FaultServer


@pytest.fixture(autouse=True)
def _isolated_aws_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """No test reads the developer's AWS settings or reaches the network for credentials."""
    empty = tmp_path_factory.mktemp("aws") / "empty"
    empty.write_text("")
    for name in (
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_KMS",
        "AWS_USE_FIPS_ENDPOINT",
        "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
        "AWS_RETRY_MODE",
        "AWS_MAX_ATTEMPTS",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CA_BUNDLE",
        "REQUESTS_CA_BUNDLE",
        *(f"{scheme}_proxy" for scheme in ("http", "https", "all", "no")),
        *(f"{scheme}_PROXY" for scheme in ("HTTP", "HTTPS", "ALL", "NO")),
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
async def fake() -> AsyncIterator[FakeKMS]:
    """An in-process KMS on 127.0.0.1."""
    server = FakeKMS()
    runner = await start(server)
    try:
        yield server
    finally:
        await runner.cleanup()


@pytest.fixture
async def faults() -> AsyncIterator[FaultServer]:
    """A raw HTTP/1.1 server on 127.0.0.1 that misbehaves on cue (``tests/fault_server.py``)."""
    server = FaultServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def kms(fake: FakeKMS) -> AsyncIterator[aiokms.KMSClient]:
    """A client of ``fake`` with its credentials."""
    async with aiokms.KMSClient(
        region_name=fake.region,
        endpoint_url=fake.url,
        credentials=aiokms.Credentials(ACCESS_KEY, fake.secret_key),
        max_attempts=1,
    ) as client:
        yield client


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """moto's KMS (a third-party implementation) on an OS-chosen port of 127.0.0.1."""
    access_log = logging.getLogger("werkzeug")  # one INFO line per request otherwise
    level = access_log.level
    access_log.setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        access_log.setLevel(level)


@pytest.fixture(params=["aiobotocore", "aiokms"])
def client_factory(request: pytest.FixtureRequest) -> moto_scenario.ClientFactory:
    """Opens a KMS client of the kind under test: ``factory(url[, access_key, secret_key])``."""
    if request.param == "aiobotocore":
        return moto_scenario.aiobotocore_client
    return moto_scenario.aiokms_client
