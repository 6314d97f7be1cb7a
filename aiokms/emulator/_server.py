"""LocalKMS: the aiohttp shell around the pure emulator.

How one request is served::

    read body                                   (aiohttp's low-level server: no router, no
    -> fault draw                                access log; connections are kept alive)
    -> drop? close the connection, no reply     (drop_rate)
    -> SigV4 check                              (_auth: signature, scope, clock skew)
    -> X-Amz-Target -> operation                (_operations: unknown / unsupported errors)
    -> quota token                              (_quota: ThrottlingException, HTTP 400;
                                                 rate_limit: the cryptographic operations,
                                                 quotas: each operation's KMS quota)
    -> injected KMSInternalException?           (error_rate, HTTP 500)
    -> validate params, authorize, run it       (_validate; _access and _policy: the key
                                                 policies; _operations, _keys, _crypto)
       (RSA key generation in a worker thread)
    -> wait latency + jitter, send              (slow bodies trickle after the headers)

Everything but the waiting and the sending is synchronous and pure; this module owns the
clocks, the socket, the optional state file (written 0.1 s after a change and on close) and the
counters behind :meth:`LocalKMS.stats`.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import re
import secrets
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Any

from aiohttp import http_exceptions, web

from aiokms._credentials import Credentials
from aiokms._protocol import CONTENT_TYPE, encode_json
from aiokms.emulator._auth import Identity, SigV4Verifier
from aiokms.emulator._errors import KMSError, internal_error, throttled
from aiokms.emulator._faults import FaultInjector
from aiokms.emulator._keys import CONNECTION_ERROR_CODES, KeyStore
from aiokms.emulator._operations import Backend, Operation
from aiokms.emulator._policy import Caller, IamPolicy
from aiokms.emulator._quota import QuotaMeter, TokenBucket, quota_rates
from aiokms.emulator._state import load_state, save_state
from aiokms.emulator._tls import ServerCertificates, make_certificates

__all__ = ["DEFAULT_ACCOUNT_ID", "DEFAULT_REGION", "RESET_PATH", "EmulatorStats", "LocalKMS"]

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "111122223333"
_SAVE_DELAY = 0.1  # seconds: changes made together are written together
_SHUTDOWN_TIMEOUT = 1.0  # seconds to let in-flight replies finish on close
_SLOW_CHUNKS = 8
_ACCESS_KEY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
RESET_PATH = "/_localkms/reset"
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]+")

log = logging.getLogger("aiokms.emulator")
# one INFO line per request, "Operation status [code] latency" (``--verbose``)
requests_log = logging.getLogger("aiokms.emulator.requests")


class _ConnectionLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """aiohttp's log of a connection's errors, with the client's mistakes on one line.

    aiohttp logs a request it cannot parse (bad framing, a header it refuses) at ERROR with a
    traceback; for a KMS emulator that is the client's error, answered 400: one WARNING line,
    saying what was wrong but not quoting the line it was found in (aiohttp's description
    does), which may be a signature or a session token.
    """

    def exception(self, msg: object, *args: object, **kwargs: Any) -> None:
        error = kwargs.get("exc_info")
        if isinstance(error, http_exceptions.HttpProcessingError):
            what = str(error.message).split("\n", 1)[0].split("'", 1)[0].split('"', 1)[0]
            log.warning(
                "LocalKMS refused a request it could not parse (%s: %s)",
                type(error).__name__,
                what.rstrip(" :"),
            )
            return
        self.logger.exception(msg, *args, **kwargs)


@dataclass(frozen=True, slots=True)
class EmulatorStats:
    """A snapshot of a LocalKMS's counters.

    Attributes:
        requests: HTTP requests received.
        operations: successful replies by operation name.
        errors: error replies by error code (``ThrottlingException``,
            ``InvalidSignatureException``, ``NotFoundException``, ...).
        throttled: requests refused by a quota (``rate_limit`` or ``quotas``).
        quota_throttles: requests refused by ``quotas``, by quota name.
        injected_errors: ``KMSInternalException`` replies injected by ``error_rate``.
        dropped: connections closed without a reply by ``drop_rate``.
        slow_replies: replies whose body was trickled by ``slow_body``.
        keys: keys in the store now.
    """

    requests: int = 0
    operations: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    errors: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    throttled: int = 0
    quota_throttles: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    injected_errors: int = 0
    dropped: int = 0
    slow_replies: int = 0
    keys: int = 0


def _generated_credentials() -> tuple[str, str]:
    access_key = "AKIA" + "".join(secrets.choice(_ACCESS_KEY_ALPHABET) for _ in range(16))
    return access_key, secrets.token_urlsafe(30)


class LocalKMS:
    """A local KMS for tests and load tests: the KMS JSON protocol over HTTP(S) on 127.0.0.1.

    Checks SigV4 signatures against its own credentials, keeps keys in memory (or in
    ``state_file``), answers with KMS's error codes, statuses and body shape, and can throttle
    and inject faults. Use ``async with LocalKMS(...) as local:`` (or :meth:`start` and
    :meth:`close`), then point a client at ``local.endpoint_url`` with ``local.credentials``
    and ``local.region``.

    Args:
        host: the address to listen on.
        port: the port; 0 picks a free one.
        region: the Region in ARNs and the one signatures must be scoped to. ARNs are in its
            partition: ``arn:aws-cn:`` in the China Regions, ``arn:aws-us-gov:`` in AWS
            GovCloud (US), ``arn:aws:`` elsewhere (and for a Region botocore does not know).
        account_id: the account in ARNs.
        access_key: the access key id clients must sign with; generated when not given.
        secret_key: its secret; generated when not given.
        session_token: when set, requests must also carry it (``X-Amz-Security-Token``).
        rate_limit: requests per second shared by the cryptographic operations; beyond it,
            ``ThrottlingException``. ``None``: unlimited.
        burst: requests ``rate_limit`` admits at once (default: one second's worth).
        quotas: meter every request against its KMS quota, as KMS does (each operation's own
            quota, the cryptographic ones by key type; the table in ``aiokms._quotas``), each
            admitting a second's worth at once. A number: KMS's default quotas in ``region``
            times that number (``1``: KMS's own; ``0.01`` for a load test on one machine). A
            mapping of quota names to requests/s: those quotas only. Not with ``rate_limit``.
        latency: seconds added to every reply.
        jitter: up to this many more seconds, uniformly random, added to every reply.
        error_rate: share (0 to 1) of requests answered ``KMSInternalException`` (HTTP 500)
            without running the operation.
        drop_rate: share (0 to 1) of requests whose connection is closed without a reply.
        slow_body: seconds over which reply bodies are trickled after their headers.
        slow_body_rate: share (0 to 1) of replies that are slow when ``slow_body`` is set.
        seed: seed for the fault draws, for reproducible runs.
        state_file: keep keys, aliases and (unless given) credentials in this JSON file across
            restarts. It holds key material and the secret key in the clear: tests only.
        aliases: symmetric encryption keys to have ready, by alias name (``"alias/app"``);
            each is created at start (and by :meth:`reset`) unless the alias exists.
        identities: more principals that may sign requests, by access key: ``(secret key,
            principal ARN)``, the ARN an IAM user, role or assumed-role session of any account
            (``arn:aws:iam::111122223333:user/alice``; ``arn:aws-cn:...`` for a principal the
            key policies of the China Regions name), or ``(secret key, principal ARN, IAM
            policies)``, a list of the principal's identity-based policy documents (JSON text
            or dicts) evaluated with the key policies as KMS does. A principal given without
            IAM policies is taken to be allowed everything by IAM. The ``access_key``
            credentials are the account's root user, in the partition of the Region called.
        authorize: authorize every request by the key policies of the keys it uses, as KMS
            does (``AccessDeniedException``; with the lockout safety check on CreateKey and
            PutKeyPolicy). ``False`` serves every correctly signed request, for load tests.
        regions: more Regions served at the same endpoint, each with its own keys: a request
            goes to the Region its signature is scoped to. Multi-Region keys replicate into
            them (ReplicateKey, UpdatePrimaryRegion). ``quotas=`` and ``rate_limit`` meter the
            requests of every Region together.
        reset_endpoint: also serve ``POST /_localkms/reset``, which does what :meth:`reset`
            does, unsigned, for an emulator run in another process (the command's
            ``--reset-endpoint``).
        tls: serve HTTPS, with a certificate from a CA made at start (a new one each
            time); clients trust it through :attr:`ca_bundle` (``AWS_CA_BUNDLE``).
        custom_key_store_delay: seconds (on ``clock``) a simulated custom key store takes to
            connect or disconnect: it is ``CONNECTING`` or ``DISCONNECTING`` meanwhile.
        custom_key_store_errors: the ``ConnectionErrorCode`` connecting fails with, by
            CloudHSM cluster id or external key store proxy endpoint
            (``{"https://xks.example.com": "XKS_PROXY_NOT_REACHABLE"}``): a store using it
            ends ``FAILED``. Every other cluster and proxy is taken to answer.
        key_state_delay: seconds (on ``clock``) a key stays in a transient key state:
            ``Creating`` (a replica after ReplicateKey, a key made in a custom key store) or
            ``Updating`` (both keys of an UpdatePrimaryRegion). 0 (the default): until the
            next request that uses the key.
        clock: wall-clock epoch seconds (signature times and key dates).
        monotonic: monotonic seconds (the quota).

    Raises:
        ValueError: an argument is out of range.
    """

    __slots__ = (
        "_authorize_requests",
        "_backend",
        "_backends",
        "_bucket",
        "_callers",
        "_clock",
        "_counters",
        "_errors",
        "_faults",
        "_flush",
        "_id_prefix",
        "_identity",
        "_initial_aliases",
        "_loop",
        "_meter",
        "_monotonic",
        "_operations",
        "_quota_throttles",
        "_request_count",
        "_reset_endpoint",
        "_runner",
        "_saved_changes",
        "_state_file",
        "_store",
        "_stores",
        "_tls",
        "_verifier",
        "account_id",
        "host",
        "port",
        "region",
        "tls",
    )

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        region: str = DEFAULT_REGION,
        account_id: str = DEFAULT_ACCOUNT_ID,
        access_key: str | None = None,
        secret_key: str | None = None,
        session_token: str | None = None,
        rate_limit: float | None = None,
        burst: float | None = None,
        quotas: float | Mapping[str, float] | None = None,
        latency: float = 0.0,
        jitter: float = 0.0,
        error_rate: float = 0.0,
        drop_rate: float = 0.0,
        slow_body: float = 0.0,
        slow_body_rate: float = 1.0,
        seed: int | None = None,
        state_file: str | os.PathLike[str] | None = None,
        aliases: Iterable[str] = (),
        identities: Mapping[str, tuple[str, str] | tuple[str, str, Sequence[IamPolicy]]]
        | None = None,
        authorize: bool = True,
        regions: Iterable[str] = (),
        reset_endpoint: bool = False,
        tls: bool = False,
        custom_key_store_delay: float = 0.0,
        custom_key_store_errors: Mapping[str, str] | None = None,
        key_state_delay: float = 0.0,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 <= port <= 65535:
            raise ValueError("port must be between 0 and 65535")
        if not (account_id.isdigit() and len(account_id) == 12):
            raise ValueError("account_id must be 12 digits")
        if (access_key is None) != (secret_key is None):
            raise ValueError("give both access_key and secret_key, or neither")
        self.host = host
        self.port = port
        self.region = region
        self.account_id = account_id
        self.tls = tls
        self._tls: ServerCertificates | None = None
        self._clock = clock
        self._monotonic = monotonic
        self._faults = FaultInjector(
            latency=latency,
            jitter=jitter,
            error_rate=error_rate,
            drop_rate=drop_rate,
            slow_body=slow_body,
            slow_body_rate=slow_body_rate,
            seed=seed,
        )
        if quotas is not None and (rate_limit is not None or burst is not None):
            raise ValueError("quotas: give quotas, or rate_limit and burst, not both")
        self._bucket = (
            None if rate_limit is None else TokenBucket(rate_limit, burst, clock=monotonic)
        )
        self._meter = (
            None if quotas is None else QuotaMeter(quota_rates(quotas, region), clock=monotonic)
        )
        self._state_file = Path(state_file) if state_file is not None else None
        self._identity: Identity | None = (
            None
            if access_key is None or secret_key is None
            else Identity(access_key, secret_key, session_token)
        )
        if self._identity is None and session_token is not None:
            self._identity = Identity(*_generated_credentials(), session_token)
        for name in aliases:
            if not name.startswith("alias/") or name.startswith("alias/aws/"):
                raise ValueError(f"not a customer alias name: {name!r}")
        self._initial_aliases = tuple(aliases)
        self._authorize_requests = authorize
        self._callers: dict[str, tuple[Identity, Caller]] = {}
        for key_id, (secret, arn, *policies) in (identities or {}).items():
            try:
                caller = Caller.of(arn, policies[0] if policies else None)
            except ValueError as exc:
                raise ValueError(f"identities[{key_id!r}]: {exc}") from None
            self._callers[key_id] = (Identity(key_id, secret), caller)
        if access_key is not None and access_key in self._callers:
            raise ValueError(f"identities: {access_key!r} is also access_key")
        self._reset_endpoint = reset_endpoint
        self._store = KeyStore(region=region, account_id=account_id, clock=clock)
        self._stores = {region: self._store}
        for other in regions:
            if not _REGION.fullmatch(other) or other in self._stores:
                raise ValueError(f"regions: {other!r} is not another AWS Region name")
            self._stores[other] = KeyStore(region=other, account_id=account_id, clock=clock)
        if not 0.0 <= custom_key_store_delay < math.inf:
            raise ValueError("custom_key_store_delay must be a finite number of seconds, 0 or more")
        if not 0.0 <= key_state_delay < math.inf:
            raise ValueError("key_state_delay must be a finite number of seconds, 0 or more")
        errors = dict(custom_key_store_errors or {})
        for target, code in errors.items():
            if code not in CONNECTION_ERROR_CODES:
                raise ValueError(
                    f"custom_key_store_errors[{target!r}]: {code!r} is not a ConnectionErrorCode"
                )
        for store in self._stores.values():
            store.peers = self._stores  # one registry: multi-Region keys find their peers
            store.connect_seconds = float(custom_key_store_delay)
            store.connection_errors = errors
            store.transition_seconds = float(key_state_delay)
        self._backend: Backend | None = None
        self._backends: dict[str, Backend] = {}
        self._verifier: SigV4Verifier | None = None
        self._runner: web.ServerRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._flush: asyncio.TimerHandle | None = None
        self._saved_changes = 0
        self._request_count = 0
        self._operations: Counter[str] = Counter()
        self._errors: Counter[str] = Counter()
        self._counters = {"throttled": 0, "injected_errors": 0, "dropped": 0, "slow_replies": 0}
        self._quota_throttles: Counter[str] = Counter()
        self._id_prefix = ""

    def __repr__(self) -> str:
        where = self.endpoint_url if self._runner is not None else "stopped"
        return f"<LocalKMS {where} region={self.region} keys={len(self._store)}>"

    # --- lifecycle --------------------------------------------------------------------------

    async def __aenter__(self) -> LocalKMS:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        """Load the state file (if any), then listen.

        Raises:
            ValueError: the state file is not a LocalKMS state file.
            OSError: the address cannot be bound.
        """
        if self._runner is not None:
            return
        self._load()
        assert self._identity is not None
        if self._identity.access_key in self._callers:
            raise ValueError(f"identities: {self._identity.access_key!r} is also access_key")
        accepted = [self._identity, *(identity for identity, _ in self._callers.values())]
        self._verifier = SigV4Verifier(accepted, region=self.region, regions=self._stores)
        self._backends = {
            region: Backend(store, authorize=self._authorize_requests)
            for region, store in self._stores.items()
        }
        self._backend = self._backends[self.region]
        self._ensure_aliases()
        self._loop = asyncio.get_running_loop()
        p = secrets.token_hex(10)  # request ids: UUID-shaped, this prefix and a count
        self._id_prefix = f"{p[:8]}-{p[8:12]}-{p[12:16]}-{p[16:20]}-"
        server = web.Server(
            self._handle,
            access_log=None,
            logger=_ConnectionLog(logging.getLogger("aiohttp.server"), {}),
        )
        runner = web.ServerRunner(server, shutdown_timeout=_SHUTDOWN_TIMEOUT)
        await runner.setup()
        try:
            if self.tls:
                self._tls = await asyncio.to_thread(make_certificates, self.host)
            context = self._tls.context if self._tls is not None else None
            site = web.TCPSite(runner, self.host, self.port, ssl_context=context)
            await site.start()
        except BaseException:
            await runner.cleanup()
            self._forget_certificates()
            raise
        self._runner = runner
        self.port = runner.addresses[0][1]
        self._save_if_changed()
        log.info("LocalKMS listening on %s (%d keys)", self.endpoint_url, len(self._store))

    async def close(self) -> None:
        """Stop listening, close every connection and write the state file."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        self._forget_certificates()
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        self._save_if_changed()

    def reset(self) -> None:
        """Forget every key and alias: an empty KMS again, at the same endpoint with the same
        credentials, settings and counters; the keys of ``aliases=`` are created afresh.

        The state file, if any, is rewritten as the empty store.
        """
        for store in self._stores.values():
            store.clear()
        if self._backend is not None:
            self._ensure_aliases()
        if self._runner is not None:
            self._schedule_save()

    def _forget_certificates(self) -> None:
        certificates, self._tls = self._tls, None
        if certificates is not None:
            shutil.rmtree(certificates.directory, ignore_errors=True)

    # --- what clients need ------------------------------------------------------------------

    @property
    def endpoint_url(self) -> str:
        """``http://host:port`` (``https://`` with ``tls``) to give a client as its endpoint."""
        if self._runner is None:
            raise RuntimeError("LocalKMS is not running; use 'async with' or start()")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    @property
    def ca_bundle(self) -> str | None:
        """With ``tls``: the path of the PEM file of the CA that signed the server's
        certificate, for a client's ``verify=`` or ``AWS_CA_BUNDLE`` (removed on close).
        Without: ``None``."""
        if self._runner is None:
            raise RuntimeError("LocalKMS is not running; use 'async with' or start()")
        return str(self._tls.ca_bundle) if self._tls is not None else None

    @property
    def quota_rates(self) -> Mapping[str, float]:
        """The rate, requests/s, of each quota ``quotas=`` meters, by name (empty without)."""
        return self._meter.rates if self._meter is not None else MappingProxyType({})

    @property
    def credentials(self) -> Credentials:
        """The credentials requests must be signed with."""
        if self._identity is None:
            raise RuntimeError("LocalKMS credentials are generated when it starts")
        return Credentials(
            self._identity.access_key, self._identity.secret_key, self._identity.token
        )

    def stats(self) -> EmulatorStats:
        """A snapshot of the request counters."""
        return EmulatorStats(
            requests=self._request_count,
            operations=MappingProxyType(dict(self._operations)),
            errors=MappingProxyType(dict(self._errors)),
            quota_throttles=MappingProxyType(dict(self._quota_throttles)),
            keys=sum(len(store) for store in self._stores.values()),
            **self._counters,
        )

    # --- requests ---------------------------------------------------------------------------

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        started = self._monotonic() if requests_log.isEnabledFor(logging.INFO) else None
        body = await request.read()
        if self._reset_endpoint and request.path == RESET_PATH and request.method == "POST":
            self.reset()
            return web.Response(body=b"{}", headers={"Content-Type": CONTENT_TYPE})
        self._request_count += 1
        request_id = self._request_id(self._request_count)
        fault = self._faults.draw()
        if fault.drop:
            self._counters["dropped"] += 1
            if request.transport is not None:
                request.transport.close()
            if started is not None:
                self._log_request(request, None, "dropped", started)
            return web.Response(status=500)  # never sent: the connection is gone
        status = 200
        code = ""
        try:
            op, caller, backend = self._admit(request, body)
            if fault.error:
                self._counters["injected_errors"] += 1
                raise internal_error()
            payload = encode_json(await self._run(op, body, caller, request_id, backend))
            self._operations[op.name] += 1
        except KMSError as exc:
            status, payload, code = exc.status, self._error_body(exc), exc.code
        except Exception:  # a bug: answer as KMS would, and say so in the log
            log.exception(
                "LocalKMS failed to serve a %s request", request.headers.get("X-Amz-Target")
            )
            status, payload = 500, self._error_body(internal_error())
            code = "KMSInternalException"
        if self._state_file is not None and self._changes() != self._saved_changes:
            self._schedule_save()
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if started is not None:
            self._log_request(request, status, code, started)
        headers = {"Content-Type": CONTENT_TYPE, "x-amzn-RequestId": request_id}
        if fault.slow_body:
            self._counters["slow_replies"] += 1
            return await self._trickle(request, status, headers, payload, fault.slow_body)
        return web.Response(status=status, body=payload, headers=headers)

    def _log_request(
        self, request: web.BaseRequest, status: int | None, code: str, started: float
    ) -> None:
        """One line: the operation (from its target header), the status and error code, and
        the time from the request's arrival to its reply (injected delays included)."""
        target = request.headers.get("X-Amz-Target", "")
        operation = target.rpartition(".")[2] or "-"
        outcome = "dropped" if status is None else f"{status} {code}".rstrip()
        ms = (self._monotonic() - started) * 1000
        requests_log.info("%s %s %.1f ms", operation[:64], outcome, ms)

    def _admit(
        self, request: web.BaseRequest, body: bytes
    ) -> tuple[Operation, Caller | None, Backend]:
        """The operation, the caller and the Region's backend of a correctly signed request
        within its quota."""
        assert self._verifier is not None
        url = request.rel_url
        identity, region = self._verifier.verify_scoped(
            method=request.method,
            path=url.raw_path,
            query=url.raw_query_string,
            headers=request.headers.items(),
            body=body,
            now=self._clock(),
        )
        backend = self._backends[region]
        op = backend.operation(request.headers.get("X-Amz-Target"))
        if op.quota and self._bucket is not None and not self._bucket.acquire():
            self._counters["throttled"] += 1
            raise throttled()
        if self._meter is not None:
            refused = self._meter.admit(op.name, body)
            if refused is not None:
                self._counters["throttled"] += 1
                self._quota_throttles[refused] += 1
                raise throttled()
        known = self._callers.get(identity.access_key)
        return op, known[1] if known is not None else None, backend

    async def _run(
        self, op: Operation, body: bytes, caller: Caller | None, request_id: str, backend: Backend
    ) -> dict[str, Any]:
        params = op.parse(body)
        prepared = None
        if op.prepare is not None:
            job = op.prepare(params)
            if job is not None:  # slow key generation: keep serving other requests meanwhile
                loop = asyncio.get_running_loop()
                prepared = await loop.run_in_executor(None, job)
        return backend.call(op, params, prepared, caller, request_id)

    def _error_body(self, exc: KMSError) -> bytes:
        self._errors[exc.code] += 1
        if not exc.message:  # KMS sends no message member for these (InvalidCiphertextException)
            return encode_json({"__type": exc.code})
        return encode_json({"__type": exc.code, "message": exc.message})

    def _request_id(self, n: int) -> str:
        # UUID-shaped and unique per server, without a urandom call per reply
        return f"{self._id_prefix}{n:012x}"

    async def _trickle(
        self,
        request: web.BaseRequest,
        status: int,
        headers: dict[str, str],
        payload: bytes,
        seconds: float,
    ) -> web.StreamResponse:
        response = web.StreamResponse(status=status, headers=headers)
        response.content_length = len(payload)
        step = max(1, -(-len(payload) // _SLOW_CHUNKS))
        pieces = [payload[i : i + step] for i in range(0, len(payload), step)] or [b""]
        try:
            await response.prepare(request)
            for piece in pieces:
                await asyncio.sleep(seconds / len(pieces))
                await response.write(piece)
            await response.write_eof()
        except ConnectionError:  # the client gave up waiting
            pass
        return response

    # --- state --------------------------------------------------------------------------------

    def _load(self) -> None:
        if self._state_file is None:
            if self._identity is None:
                self._identity = Identity(*_generated_credentials())
            return
        data = load_state(self._state_file)
        if data is not None and not len(self._store):
            self._store.restore(data["store"])
            for region, snapshot in (data.get("regions") or {}).items():
                if region in self._stores:  # a Region no longer served is left out
                    self._stores[region].restore(snapshot)
            for store in self._stores.values():
                store.link_replicas()
            self._saved_changes = self._changes()
        if self._identity is None:
            saved = (data or {}).get("credentials") or {}
            if saved.get("access_key") and saved.get("secret_key"):
                self._identity = Identity(
                    saved["access_key"], saved["secret_key"], saved.get("token")
                )
            else:
                self._identity = Identity(*_generated_credentials())
        if data is None or (data.get("credentials") or {}).get("access_key") != (
            self._identity.access_key
        ):
            self._saved_changes = -1  # write the file at start

    def _ensure_aliases(self) -> None:
        assert self._backend is not None
        create_key = self._backend.operations["TrentService.CreateKey"]
        create_alias = self._backend.operations["TrentService.CreateAlias"]
        for name in self._initial_aliases:
            if name in self._store.aliases:
                continue
            key = self._backend.call(create_key, {"Description": f"LocalKMS key for {name}"})
            target = key["KeyMetadata"]["KeyId"]
            self._backend.call(create_alias, {"AliasName": name, "TargetKeyId": target})

    def _changes(self) -> int:
        return sum(store.changes for store in self._stores.values())

    def _schedule_save(self) -> None:
        if self._state_file is None or self._flush is not None or self._loop is None:
            return
        self._flush = self._loop.call_later(_SAVE_DELAY, self._save_now)

    def _save_now(self) -> None:
        self._flush = None
        try:
            self._save_if_changed()
        except OSError:
            log.exception("LocalKMS could not write its state file %s", self._state_file)

    def _save_if_changed(self) -> None:
        if self._state_file is None or self._identity is None:
            return
        changes = self._changes()
        if changes == self._saved_changes:
            return
        identity = self._identity
        credentials = {"access_key": identity.access_key, "secret_key": identity.secret_key}
        if identity.token:
            credentials["token"] = identity.token
        regions = {r: store.snapshot() for r, store in self._stores.items() if r != self.region}
        save_state(
            self._state_file,
            {"credentials": credentials, "store": self._store.snapshot(), "regions": regions},
        )
        self._saved_changes = changes
