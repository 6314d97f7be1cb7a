"""Client settings from arguments, environment and the shared config profile, in the SDKs' order.

How this works: each setting is looked up argument first, then its environment variables, then
the profile (``~/.aws/config`` or ``AWS_CONFIG_FILE``, profile from ``profile_name``,
``AWS_PROFILE`` or ``default``). The profile file is read only when an argument or variable left
something open. The default endpoint comes from botocore's partition data, so ``cn-north-1``
gets ``amazonaws.com.cn`` and FIPS gets ``kms-fips.``.

Certificate verification follows botocore: ``verify`` (``False``, or a CA bundle's path; an
explicit ``True`` means the default trust store and nothing else), then ``AWS_CA_BUNDLE``, the
profile's ``ca_bundle``, ``REQUESTS_CA_BUNDLE``, else the default trust store. Only the path is
resolved here; the transport loads it (and says which of these named it when it cannot).

The proxy also follows botocore: a ``proxies`` argument (``{"https": URL, "http": URL}``) is
used as given, else ``HTTPS_PROXY`` / ``HTTP_PROXY`` (the lower-case names win) unless
``NO_PROXY`` names the endpoint's host, with the standard library's rules. Only the entry for
the endpoint's scheme matters. Proxy credentials (``http://user:password@host:port``) become a
``Proxy-Authorization`` header and leave the URL: no repr or message shows them.
"""

from __future__ import annotations

import base64
import functools
import os
import re
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import botocore.loaders
from botocore.exceptions import NoRegionError

__all__ = ["Proxy", "ResolvedConfig", "resolve"]

_REGION = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_RETRY_MODES = ("standard", "adaptive")


@dataclass(frozen=True, slots=True)
class Proxy:
    """The proxy a client's requests go through (HTTPS endpoints tunnel with ``CONNECT``).

    Attributes:
        url: ``scheme://host:port``, without credentials.
        source: the setting that named it (``HTTPS_PROXY``, ``proxies['https']``, ...).
        authorization: the ``Proxy-Authorization`` header's value, if the URL had credentials.
    """

    url: str
    source: str
    authorization: str | None = field(default=None, repr=False, compare=False)

    def __str__(self) -> str:
        return f"the proxy {self.url} (from {self.source})"


@dataclass(frozen=True, slots=True)
class ResolvedConfig:
    """Where and how a client talks to KMS."""

    region: str
    endpoint_url: str
    use_fips: bool
    retry_mode: str
    max_attempts: int
    verify: bool = True  # False: certificates are not checked at all
    ca_bundle: str | None = None  # the CAs to trust instead of the default store
    ca_bundle_from: str = ""  # the setting that named ca_bundle, for error messages
    proxy: Proxy | None = None


def resolve(
    *,
    region_name: str | None = None,
    endpoint_url: str | None = None,
    use_fips_endpoint: bool | None = None,
    profile_name: str | None = None,
    retry_mode: str | None = None,
    max_attempts: int | None = None,
    verify: bool | str | os.PathLike[str] | None = None,
    proxies: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    load_profile: Callable[[str | None], tuple[Mapping[str, Any], Mapping[str, Any]]] | None = None,
) -> ResolvedConfig:
    """Resolve the client's settings.

    Args:
        verify: ``False``, ``True`` or a CA bundle's path, as botocore's ``verify``; ``None``:
            from the environment and the profile.
        proxies: proxy URLs by the scheme of the endpoints they serve, as botocore's
            ``Config(proxies=...)``; ``None``: from the environment.
        environ: the environment (``os.environ`` by default).
        load_profile: returns ``(profile settings, whole config file)`` for a profile name;
            botocore's shared-config reader by default. Injected by tests.

    Raises:
        botocore.exceptions.NoRegionError: no region anywhere.
        ValueError: a setting has an invalid value; the message names it.
    """
    env = os.environ if environ is None else environ
    profile = _LazyProfile(profile_name, load_profile or _load_profile)

    region = region_name or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if not region:
        region = profile.get("region")
    if not region:
        raise NoRegionError()
    if not isinstance(region, str) or not _REGION.fullmatch(region):
        raise ValueError(f"region_name: {region!r} is not a valid AWS region name")

    fips = _flag(
        "use_fips_endpoint",
        use_fips_endpoint,
        env.get("AWS_USE_FIPS_ENDPOINT"),
        lambda: profile.get("use_fips_endpoint"),
    )

    url = endpoint_url
    if url is None and not _flag(
        "ignore_configured_endpoint_urls",
        None,
        env.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"),
        lambda: profile.get("ignore_configured_endpoint_urls"),
    ):
        url = (
            env.get("AWS_ENDPOINT_URL_KMS")
            or env.get("AWS_ENDPOINT_URL")
            or profile.service_setting("kms", "endpoint_url")
            or profile.get("endpoint_url")
        )
    if url is None:
        url = default_endpoint(region, fips=fips)
    elif not isinstance(url, str) or not re.fullmatch(r"https?://[^/?#\s]+/?", url):
        raise ValueError(
            f"endpoint_url: {url!r} must be an http:// or https:// URL with a host and no path"
        )

    mode = retry_mode
    if not mode:
        mode = env.get("AWS_RETRY_MODE") or profile.get("retry_mode") or "adaptive"
        if mode == "legacy":  # botocore's default, set for every SDK of the process: the
            mode = "standard"  # AWS SDKs' successor to it (aiokms has no legacy mode)
    if mode not in _RETRY_MODES:
        raise ValueError(f"retry_mode: {mode!r} is not one of {', '.join(_RETRY_MODES)}")

    attempts: Any = max_attempts
    if attempts is None:
        attempts = env.get("AWS_MAX_ATTEMPTS") or profile.get("max_attempts") or 3
        try:
            attempts = int(attempts)
        except ValueError:
            raise ValueError(f"max_attempts: {attempts!r} is not a whole number") from None
    if not isinstance(attempts, int) or isinstance(attempts, bool) or attempts < 1:
        raise ValueError(f"max_attempts: {attempts!r} must be a whole number of at least 1")

    check, ca_bundle, ca_bundle_from = _verification(verify, env, profile)
    return ResolvedConfig(
        region=region,
        endpoint_url=url.rstrip("/"),
        use_fips=fips,
        retry_mode=mode,
        max_attempts=attempts,
        verify=check,
        ca_bundle=ca_bundle,
        ca_bundle_from=ca_bundle_from,
        proxy=_proxy(url, proxies, env),
    )


def _proxy(
    endpoint_url: str, proxies: Mapping[str, str] | None, env: Mapping[str, str]
) -> Proxy | None:
    """The proxy for ``endpoint_url``, from ``proxies`` or the environment, as botocore finds it."""
    scheme, _, netloc = endpoint_url.partition("://")
    netloc = netloc.rstrip("/")
    if proxies is not None:
        if not isinstance(proxies, Mapping):
            raise ValueError(
                f"proxies: a {type(proxies).__name__} is not a mapping of schemes to URLs"
            )
        url = proxies.get(scheme)
        source = f"proxies[{scheme!r}]"
    else:
        found = _environment_proxies(env)
        # NO_PROXY as the standard library reads it (botocore asks it): host suffixes, or "*"
        if urllib.request.proxy_bypass_environment(netloc, found):  # type: ignore[attr-defined]
            return None
        url = found.get(scheme)
        names = (f"{scheme}_proxy", f"{scheme.upper()}_PROXY")
        source = next((name for name in names if env.get(name)), names[1])
    if url is None or url == "":
        return None
    if not isinstance(url, str):
        raise ValueError(f"{source}: a {type(url).__name__} is not a proxy URL")
    return _parse_proxy(url, source)


def _environment_proxies(env: Mapping[str, str]) -> dict[str, str]:
    """``{scheme: URL}`` from ``<scheme>_proxy`` variables: lower-case names win, as urllib's."""
    found: dict[str, str] = {}
    for name, value in env.items():
        if value and name.lower().endswith("_proxy"):
            found[name[:-6].lower()] = value
    if "REQUEST_METHOD" in env:  # a CGI script: HTTP_PROXY may come from a request's header
        found.pop("http", None)
    for name, value in env.items():
        if name.endswith("_proxy"):  # lower case: an empty one unsets the scheme
            if value:
                found[name[:-6]] = value
            else:
                found.pop(name[:-6], None)
    return found


def _parse_proxy(given: str, source: str) -> Proxy:
    url = given
    other_scheme = re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*://", url) and not url.startswith(
        ("http:", "https:")
    )
    if not url.startswith(("http:", "https:")):  # as botocore: a bare host:port means http
        url = "http:" + url if url.startswith("//") else "http://" + url
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        parts, port = None, None
    if other_scheme or parts is None or not parts.hostname or parts.scheme not in ("http", "https"):
        shown = given  # never the credentials, whatever characters they hold
        if "@" in given:
            head, _, tail = given.rpartition("@")
            shown = (head.partition("//")[0] + "//" if "//" in head else "") + "***@" + tail
        raise ValueError(f"{source}: {shown!r} is not an http:// or https:// proxy URL")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    authorization = None
    if parts.username and parts.password:  # as botocore: both, or no header
        pair = f"{unquote(parts.username)}:{unquote(parts.password)}".encode()
        authorization = "Basic " + base64.b64encode(pair).decode()
    return Proxy(
        url=f"{parts.scheme}://{host}" + (f":{port}" if port is not None else ""),
        source=source,
        authorization=authorization,
    )


def _verification(
    verify: bool | str | os.PathLike[str] | None, env: Mapping[str, str], profile: _LazyProfile
) -> tuple[bool, str | None, str]:
    """``(verify, ca_bundle, the setting that named it)`` in botocore's order."""
    if isinstance(verify, bool):
        return verify, None, ""
    if verify is not None:
        if not isinstance(verify, (str, os.PathLike)):
            raise ValueError(f"verify: {verify!r} must be True, False or a CA bundle's path")
        return True, _bundle_path("verify", os.fspath(verify)), "verify"
    path = env.get("AWS_CA_BUNDLE")
    if path is not None:
        return True, _bundle_path("AWS_CA_BUNDLE", path), "AWS_CA_BUNDLE"
    path = profile.get("ca_bundle")
    if path is not None:
        name = f"ca_bundle of profile {profile.name(env)!r}"
        return True, _bundle_path(name, path), name
    path = env.get("REQUESTS_CA_BUNDLE")
    if path is not None:
        return True, _bundle_path("REQUESTS_CA_BUNDLE", path), "REQUESTS_CA_BUNDLE"
    return True, None, ""


def _bundle_path(name: str, path: object) -> str:
    # as botocore: a setting that is there but blank is an error, not "the default"
    if not isinstance(path, str) or not path.strip():
        raise ValueError(f"{name}: {path!r} is not a path to a CA bundle")
    return path


def default_endpoint(region: str, *, fips: bool) -> str:
    """``https://kms[-fips].{region}.{partition's DNS suffix}``."""
    partition = _partition_data(region)
    suffix = partition["outputs"]["dnsSuffix"] if partition else "amazonaws.com"
    return f"https://kms{'-fips' if fips else ''}.{region}.{suffix}"


def partition_of(region: str) -> str:
    """The partition of ``region`` in ARNs (``aws``, ``aws-cn`` for the China Regions,
    ``aws-us-gov`` for AWS GovCloud (US), ...), by botocore's partition data: a Region it lists,
    or one its partitions' Region patterns match; ``aws`` for any other name."""
    partition = _partition_data(region)
    return str(partition["id"]) if partition else "aws"


def _partition_data(region: str) -> dict[str, Any] | None:
    for partition in _partitions():
        if region in partition["regions"] or re.match(partition["regionRegex"], region):
            return partition
    return None


@functools.cache
def _partitions() -> list[dict[str, Any]]:
    data: dict[str, Any] = botocore.loaders.Loader().load_data("partitions")
    return list(data["partitions"])


def _flag(
    name: str, argument: bool | None, variable: str | None, setting: Callable[[], Any]
) -> bool:
    if argument is not None:
        if not isinstance(argument, bool):
            raise ValueError(f"{name}: {argument!r} must be True, False or None")
        return argument
    value = variable if variable is not None else setting()
    # as botocore's ensure_boolean: only "true" (any case) is true
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _load_profile(name: str | None) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    if name is None and not _profile_to_read(os.environ):
        return {}, {}  # as botocore would find: nothing (and a cold start pays no session)
    import botocore.session

    session = botocore.session.Session(profile=name)
    return session.get_scoped_config(), session.full_config


def _profile_to_read(environ: Mapping[str, str]) -> bool:
    """Whether botocore could find any profile setting: a profile named in the environment
    (missing, it is an error), or a shared config or credentials file."""
    if environ.get("AWS_PROFILE") or environ.get("AWS_DEFAULT_PROFILE"):
        return True
    files = (
        environ.get("AWS_CONFIG_FILE") or "~/.aws/config",
        environ.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials",
    )
    return any(os.path.isfile(os.path.expanduser(path)) for path in files)


class _LazyProfile:
    """The shared-config profile, read on first use only."""

    __slots__ = ("_config", "_loader", "_name", "_settings")

    def __init__(
        self,
        name: str | None,
        loader: Callable[[str | None], tuple[Mapping[str, Any], Mapping[str, Any]]],
    ) -> None:
        self._name = name
        self._loader = loader
        self._settings: Mapping[str, Any] | None = None
        self._config: Mapping[str, Any] = {}

    def name(self, env: Mapping[str, str]) -> str:
        """The profile's name, as botocore chooses it (for messages)."""
        return self._name or env.get("AWS_PROFILE") or env.get("AWS_DEFAULT_PROFILE") or "default"

    def _load(self) -> Mapping[str, Any]:
        if self._settings is None:
            self._settings, self._config = self._loader(self._name)
        return self._settings

    def get(self, key: str) -> Any:
        return self._load().get(key)

    def service_setting(self, service: str, key: str) -> Any:
        section = self._load().get("services")
        if not section:
            return None
        return self._config.get("services", {}).get(section, {}).get(service, {}).get(key)
