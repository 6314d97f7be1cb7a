"""Settings resolution: arguments, environment and shared-config profile, in the AWS SDKs' order."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import botocore.config
import botocore.session
import pytest
from botocore.exceptions import NoRegionError, ProfileNotFound

from aiokms._config import Proxy, ResolvedConfig, default_endpoint, partition_of, resolve

AWS_VARIABLES = (
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
    "AWS_CA_BUNDLE",
    "REQUESTS_CA_BUNDLE",
)


class FakeProfile:
    """An injectable ``load_profile`` that records every read."""

    def __init__(
        self,
        settings: Mapping[str, Any] | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        self.settings: Mapping[str, Any] = settings or {}
        self.config: Mapping[str, Any] = config or {}
        self.calls: list[str | None] = []

    def __call__(self, name: str | None) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
        self.calls.append(name)
        return self.settings, self.config


def unreadable_profile(name: str | None) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    raise AssertionError(f"the profile ({name!r}) was read although nothing needed it")


# Every argument that the profile could otherwise supply.
SETTLED: dict[str, Any] = {
    "region_name": "eu-west-1",
    "endpoint_url": "https://kms.example.test",
    "use_fips_endpoint": False,
    "retry_mode": "standard",
    "max_attempts": 5,
    "verify": True,
}


def test_resolved_config_is_frozen() -> None:
    config = resolve(environ={}, load_profile=FakeProfile({"region": "eu-west-1"}))
    assert isinstance(config, ResolvedConfig)
    with pytest.raises(AttributeError):
        config.region = "us-east-1"  # type: ignore[misc]


def test_defaults_with_only_a_region() -> None:
    config = resolve(region_name="eu-west-1", environ={}, load_profile=FakeProfile())
    assert config == ResolvedConfig(
        region="eu-west-1",
        endpoint_url="https://kms.eu-west-1.amazonaws.com",
        use_fips=False,
        retry_mode="adaptive",
        max_attempts=3,
    )


# --- region ---------------------------------------------------------------------------------


def test_region_argument_wins_over_everything() -> None:
    environ = {"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-2"}
    profile = FakeProfile({"region": "us-west-2"})
    config = resolve(region_name="eu-west-1", environ=environ, load_profile=profile)
    assert config.region == "eu-west-1"
    assert config.endpoint_url == "https://kms.eu-west-1.amazonaws.com"


def test_aws_region_wins_over_aws_default_region_and_profile() -> None:
    environ = {"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-2"}
    config = resolve(environ=environ, load_profile=FakeProfile({"region": "us-west-2"}))
    assert config.region == "us-east-1"


def test_aws_default_region_wins_over_profile() -> None:
    environ = {"AWS_DEFAULT_REGION": "us-east-2"}
    config = resolve(environ=environ, load_profile=FakeProfile({"region": "us-west-2"}))
    assert config.region == "us-east-2"


def test_empty_region_variables_are_unset() -> None:
    environ = {"AWS_REGION": "", "AWS_DEFAULT_REGION": ""}
    config = resolve(environ=environ, load_profile=FakeProfile({"region": "us-west-2"}))
    assert config.region == "us-west-2"


def test_region_from_profile() -> None:
    profile = FakeProfile({"region": "ap-southeast-2"})
    config = resolve(environ={}, load_profile=profile)
    assert config.region == "ap-southeast-2"
    assert config.endpoint_url == "https://kms.ap-southeast-2.amazonaws.com"


def test_profile_name_is_passed_to_the_loader() -> None:
    profile = FakeProfile({"region": "eu-north-1"})
    resolve(profile_name="staging", environ={}, load_profile=profile)
    assert profile.calls == ["staging"]


def test_no_region_anywhere_raises_no_region_error() -> None:
    with pytest.raises(NoRegionError):
        resolve(environ={}, load_profile=FakeProfile())


@pytest.mark.parametrize(
    "region",
    [
        "eu west 1",
        "eu/west/1",
        "EU-WEST-1",
        "Eu-west-1",
        " ",
        "\t",
        " eu-west-1",
        "eu-west-1 ",
        "eu-west-1\n",
        "-eu-west-1",
        "eu-west-1-",
        "eu--west-1",
        "eu_west_1",
        "eu-west-1.evil.example",
        "eu-west-1/../x",
    ],
)
def test_invalid_region_argument(region: str) -> None:
    with pytest.raises(ValueError, match="region_name"):
        resolve(region_name=region, environ={}, load_profile=FakeProfile())


def test_invalid_region_from_environment() -> None:
    with pytest.raises(ValueError, match="region_name"):
        resolve(environ={"AWS_REGION": "Not A Region"}, load_profile=FakeProfile())


def test_invalid_region_from_profile() -> None:
    with pytest.raises(ValueError, match="region_name"):
        resolve(environ={}, load_profile=FakeProfile({"region": "eu-west-1/x"}))


# --- endpoint -------------------------------------------------------------------------------

ALL_ENDPOINTS_ENV = {
    "AWS_ENDPOINT_URL_KMS": "http://kms-env.test:1",
    "AWS_ENDPOINT_URL": "http://global-env.test:2",
}
ALL_ENDPOINTS_SETTINGS = {
    "region": "eu-west-1",
    "services": "local",
    "endpoint_url": "http://profile.test:4",
}
ALL_ENDPOINTS_CONFIG = {
    "services": {
        "local": {
            "kms": {"endpoint_url": "http://profile-kms.test:3"},
            "s3": {"endpoint_url": "http://profile-s3.test:9"},
        }
    }
}


def endpoint_for(
    *,
    endpoint_url: str | None = None,
    environ: Mapping[str, str],
    settings: Mapping[str, Any],
    config: Mapping[str, Any] | None = None,
) -> str:
    profile = FakeProfile(settings, config or {})
    return resolve(endpoint_url=endpoint_url, environ=environ, load_profile=profile).endpoint_url


def test_endpoint_argument_wins_over_everything() -> None:
    url = endpoint_for(
        endpoint_url="http://argument.test:0",
        environ=ALL_ENDPOINTS_ENV,
        settings=ALL_ENDPOINTS_SETTINGS,
        config=ALL_ENDPOINTS_CONFIG,
    )
    assert url == "http://argument.test:0"


def test_endpoint_from_aws_endpoint_url_kms() -> None:
    url = endpoint_for(
        environ=ALL_ENDPOINTS_ENV, settings=ALL_ENDPOINTS_SETTINGS, config=ALL_ENDPOINTS_CONFIG
    )
    assert url == "http://kms-env.test:1"


def test_endpoint_from_aws_endpoint_url() -> None:
    url = endpoint_for(
        environ={"AWS_ENDPOINT_URL": "http://global-env.test:2"},
        settings=ALL_ENDPOINTS_SETTINGS,
        config=ALL_ENDPOINTS_CONFIG,
    )
    assert url == "http://global-env.test:2"


def test_endpoint_from_profile_services_section() -> None:
    url = endpoint_for(environ={}, settings=ALL_ENDPOINTS_SETTINGS, config=ALL_ENDPOINTS_CONFIG)
    assert url == "http://profile-kms.test:3"


def test_services_section_without_kms_falls_back_to_profile_endpoint() -> None:
    config = {"services": {"local": {"s3": {"endpoint_url": "http://profile-s3.test:9"}}}}
    url = endpoint_for(environ={}, settings=ALL_ENDPOINTS_SETTINGS, config=config)
    assert url == "http://profile.test:4"


def test_missing_services_section_falls_back_to_profile_endpoint() -> None:
    url = endpoint_for(environ={}, settings=ALL_ENDPOINTS_SETTINGS, config={})
    assert url == "http://profile.test:4"


def test_endpoint_from_profile_endpoint_url() -> None:
    settings = {"region": "eu-west-1", "endpoint_url": "http://profile.test:4"}
    assert endpoint_for(environ={}, settings=settings) == "http://profile.test:4"


def test_default_endpoint_when_none_is_configured() -> None:
    url = endpoint_for(environ={}, settings={"region": "eu-west-1"})
    assert url == "https://kms.eu-west-1.amazonaws.com"


def test_empty_endpoint_variables_are_unset() -> None:
    environ = {"AWS_ENDPOINT_URL_KMS": "", "AWS_ENDPOINT_URL": ""}
    url = endpoint_for(environ=environ, settings={"region": "eu-west-1"})
    assert url == "https://kms.eu-west-1.amazonaws.com"


@pytest.mark.parametrize("value", ["true", "TRUE", "True"])
def test_ignore_configured_endpoint_urls_variable(value: str) -> None:
    environ = {**ALL_ENDPOINTS_ENV, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": value}
    url = endpoint_for(
        environ=environ, settings=ALL_ENDPOINTS_SETTINGS, config=ALL_ENDPOINTS_CONFIG
    )
    assert url == "https://kms.eu-west-1.amazonaws.com"


def test_ignore_configured_endpoint_urls_in_profile() -> None:
    settings = {**ALL_ENDPOINTS_SETTINGS, "ignore_configured_endpoint_urls": "true"}
    url = endpoint_for(environ=ALL_ENDPOINTS_ENV, settings=settings, config=ALL_ENDPOINTS_CONFIG)
    assert url == "https://kms.eu-west-1.amazonaws.com"


def test_ignore_variable_false_overrides_profile_true() -> None:
    settings = {**ALL_ENDPOINTS_SETTINGS, "ignore_configured_endpoint_urls": "true"}
    environ = {**ALL_ENDPOINTS_ENV, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "false"}
    url = endpoint_for(environ=environ, settings=settings, config=ALL_ENDPOINTS_CONFIG)
    assert url == "http://kms-env.test:1"


def test_ignore_configured_endpoint_urls_keeps_the_argument() -> None:
    settings = {**ALL_ENDPOINTS_SETTINGS, "ignore_configured_endpoint_urls": "true"}
    environ = {**ALL_ENDPOINTS_ENV, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}
    url = endpoint_for(
        endpoint_url="http://argument.test:0",
        environ=environ,
        settings=settings,
        config=ALL_ENDPOINTS_CONFIG,
    )
    assert url == "http://argument.test:0"


def test_ignored_endpoints_still_honour_fips() -> None:
    environ = {**ALL_ENDPOINTS_ENV, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}
    profile = FakeProfile({"region": "us-gov-west-1", "use_fips_endpoint": "true"})
    config = resolve(environ=environ, load_profile=profile)
    assert config.endpoint_url == "https://kms-fips.us-gov-west-1.amazonaws.com"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://kms.example.test/", "https://kms.example.test"),
        ("http://127.0.0.1:4566/", "http://127.0.0.1:4566"),
        ("http://127.0.0.1:4566", "http://127.0.0.1:4566"),
        ("http://localhost:8080", "http://localhost:8080"),
        ("http://[::1]:8080/", "http://[::1]:8080"),
    ],
)
def test_valid_endpoint_argument(given: str, expected: str) -> None:
    assert endpoint_for(endpoint_url=given, environ={}, settings={"region": "eu-west-1"}) == (
        expected
    )


def test_trailing_slash_is_stripped_from_configured_endpoints() -> None:
    environ = {"AWS_ENDPOINT_URL_KMS": "http://127.0.0.1:4566/"}
    assert endpoint_for(environ=environ, settings={"region": "eu-west-1"}) == (
        "http://127.0.0.1:4566"
    )
    config = {"services": {"local": {"kms": {"endpoint_url": "http://127.0.0.1:4567/"}}}}
    settings = {"region": "eu-west-1", "services": "local"}
    assert endpoint_for(environ={}, settings=settings, config=config) == "http://127.0.0.1:4567"


@pytest.mark.parametrize(
    "url",
    [
        "",
        "kms.example.test",
        "//kms.example.test",
        "ftp://kms.example.test",
        "file:///etc/passwd",
        "HTTPS//kms.example.test",
        "https://",
        "https:///",
        "https://kms.example.test/path",
        "https://kms.example.test/kms/",
        "https://kms.example.test//",
        "https://kms.example.test?x=1",
        "https://kms.example.test/?x=1",
        "https://kms.example.test#frag",
        "https://kms example.test",
        "https://kms.example.test\n",
        "https://kms.example.test\r\nX-Injected: 1",
    ],
)
def test_invalid_endpoint_argument(url: str) -> None:
    with pytest.raises(ValueError, match="endpoint_url"):
        resolve(region_name="eu-west-1", endpoint_url=url, environ={}, load_profile=FakeProfile())


@pytest.mark.parametrize("variable", ["AWS_ENDPOINT_URL_KMS", "AWS_ENDPOINT_URL"])
def test_invalid_endpoint_from_environment(variable: str) -> None:
    with pytest.raises(ValueError, match="endpoint_url"):
        resolve(
            region_name="eu-west-1",
            environ={variable: "ftp://kms.example.test"},
            load_profile=FakeProfile(),
        )


def test_invalid_endpoint_from_profile() -> None:
    with pytest.raises(ValueError, match="endpoint_url"):
        resolve(
            environ={},
            load_profile=FakeProfile({"region": "eu-west-1", "endpoint_url": "kms.local"}),
        )


# --- FIPS and partitions --------------------------------------------------------------------


def test_fips_argument() -> None:
    config = resolve(
        region_name="us-east-1", use_fips_endpoint=True, environ={}, load_profile=FakeProfile()
    )
    assert config.use_fips is True
    assert config.endpoint_url == "https://kms-fips.us-east-1.amazonaws.com"


def test_fips_argument_false_wins_over_variable_and_profile() -> None:
    config = resolve(
        region_name="us-east-1",
        use_fips_endpoint=False,
        environ={"AWS_USE_FIPS_ENDPOINT": "true"},
        load_profile=FakeProfile({"use_fips_endpoint": "true"}),
    )
    assert config.use_fips is False
    assert config.endpoint_url == "https://kms.us-east-1.amazonaws.com"


@pytest.mark.parametrize("value", ["true", "True", "TRUE"])
def test_fips_from_variable(value: str) -> None:
    config = resolve(
        region_name="us-east-1",
        environ={"AWS_USE_FIPS_ENDPOINT": value},
        load_profile=FakeProfile(),
    )
    assert config.use_fips is True
    assert config.endpoint_url == "https://kms-fips.us-east-1.amazonaws.com"


def test_fips_variable_false_wins_over_profile() -> None:
    config = resolve(
        region_name="us-east-1",
        environ={"AWS_USE_FIPS_ENDPOINT": "false"},
        load_profile=FakeProfile({"use_fips_endpoint": "true"}),
    )
    assert config.use_fips is False


def test_fips_from_profile() -> None:
    config = resolve(
        environ={}, load_profile=FakeProfile({"region": "us-west-2", "use_fips_endpoint": "true"})
    )
    assert config.use_fips is True
    assert config.endpoint_url == "https://kms-fips.us-west-2.amazonaws.com"


def test_fips_profile_false() -> None:
    profile = FakeProfile({"region": "us-west-2", "use_fips_endpoint": "false"})
    assert resolve(environ={}, load_profile=profile).use_fips is False


def test_fips_does_not_override_a_configured_endpoint() -> None:
    config = resolve(
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:4566",
        use_fips_endpoint=True,
        environ={},
        load_profile=FakeProfile(),
    )
    assert config.endpoint_url == "http://127.0.0.1:4566"
    assert config.use_fips is True


@pytest.mark.parametrize("value", ["true", "yes", 1, "False"])
def test_fips_argument_must_be_bool(value: Any) -> None:
    with pytest.raises(ValueError, match="use_fips_endpoint"):
        resolve(
            region_name="us-east-1", use_fips_endpoint=value, environ={}, load_profile=FakeProfile()
        )


@pytest.mark.parametrize(
    ("region", "fips", "expected"),
    [
        ("eu-west-1", False, "https://kms.eu-west-1.amazonaws.com"),
        ("eu-west-1", True, "https://kms-fips.eu-west-1.amazonaws.com"),
        ("us-east-1", True, "https://kms-fips.us-east-1.amazonaws.com"),
        ("cn-north-1", False, "https://kms.cn-north-1.amazonaws.com.cn"),
        ("cn-northwest-1", False, "https://kms.cn-northwest-1.amazonaws.com.cn"),
        ("us-gov-west-1", False, "https://kms.us-gov-west-1.amazonaws.com"),
        ("us-gov-west-1", True, "https://kms-fips.us-gov-west-1.amazonaws.com"),
        ("us-iso-east-1", False, "https://kms.us-iso-east-1.c2s.ic.gov"),
        ("us-isob-east-1", False, "https://kms.us-isob-east-1.sc2s.sgov.gov"),
    ],
)
def test_default_endpoint_partitions(region: str, fips: bool, expected: str) -> None:
    assert default_endpoint(region, fips=fips) == expected
    config = resolve(
        region_name=region, use_fips_endpoint=fips, environ={}, load_profile=FakeProfile()
    )
    assert config.endpoint_url == expected


def test_default_endpoint_for_a_region_matching_a_partition_pattern_only() -> None:
    # Not (yet) listed by name in botocore's data, but the partition's region pattern matches.
    assert default_endpoint("cn-south-9", fips=False) == "https://kms.cn-south-9.amazonaws.com.cn"
    assert default_endpoint("eu-central-9", fips=False) == "https://kms.eu-central-9.amazonaws.com"


def test_default_endpoint_for_an_unknown_region_uses_amazonaws_com() -> None:
    assert default_endpoint("mars-1", fips=True) == "https://kms-fips.mars-1.amazonaws.com"


@pytest.mark.parametrize(
    ("region", "partition"),
    [
        ("us-east-1", "aws"),
        ("eu-west-1", "aws"),
        ("cn-north-1", "aws-cn"),
        ("cn-northwest-1", "aws-cn"),
        ("cn-south-9", "aws-cn"),  # by the partition's Region pattern only
        ("us-gov-west-1", "aws-us-gov"),
        ("us-gov-east-1", "aws-us-gov"),
        ("us-iso-east-1", "aws-iso"),
        ("mars-1", "aws"),  # unknown: the aws partition
    ],
)
def test_partition_of(region: str, partition: str) -> None:
    # General Reference, "Amazon Resource Names (ARNs)": aws (AWS Regions), aws-cn (China
    # Regions), aws-us-gov (AWS GovCloud (US) Regions)
    assert partition_of(region) == partition


# --- retries --------------------------------------------------------------------------------


def retry_settings(
    *,
    retry_mode: str | None = None,
    max_attempts: Any = None,
    environ: Mapping[str, str] | None = None,
    settings: Mapping[str, Any] | None = None,
) -> tuple[str, int]:
    config = resolve(
        region_name="eu-west-1",
        retry_mode=retry_mode,
        max_attempts=max_attempts,
        environ=environ or {},
        load_profile=FakeProfile(settings),
    )
    return config.retry_mode, config.max_attempts


def test_retry_defaults() -> None:
    assert retry_settings() == ("adaptive", 3)


def test_retry_arguments_win() -> None:
    environ = {"AWS_RETRY_MODE": "adaptive", "AWS_MAX_ATTEMPTS": "9"}
    settings = {"retry_mode": "adaptive", "max_attempts": "8"}
    assert retry_settings(
        retry_mode="standard", max_attempts=1, environ=environ, settings=settings
    ) == ("standard", 1)


def test_retry_variables_win_over_profile() -> None:
    environ = {"AWS_RETRY_MODE": "standard", "AWS_MAX_ATTEMPTS": "9"}
    settings = {"retry_mode": "adaptive", "max_attempts": "8"}
    assert retry_settings(environ=environ, settings=settings) == ("standard", 9)


def test_retry_settings_from_profile() -> None:
    assert retry_settings(settings={"retry_mode": "standard", "max_attempts": "8"}) == (
        "standard",
        8,
    )


def test_empty_retry_variables_are_unset() -> None:
    environ = {"AWS_RETRY_MODE": "", "AWS_MAX_ATTEMPTS": ""}
    assert retry_settings(environ=environ, settings={"max_attempts": "4"}) == ("adaptive", 4)


@pytest.mark.parametrize("mode", ["Standard", "ADAPTIVE", "fast", " standard"])
def test_invalid_retry_mode(mode: str) -> None:
    with pytest.raises(ValueError, match="retry_mode"):
        retry_settings(retry_mode=mode)
    with pytest.raises(ValueError, match="retry_mode"):
        retry_settings(environ={"AWS_RETRY_MODE": mode})
    with pytest.raises(ValueError, match="retry_mode"):
        retry_settings(settings={"retry_mode": mode})


def test_a_legacy_retry_mode_set_for_every_sdk_is_read_as_standard() -> None:
    """``legacy`` (botocore's default mode, which aiokms does not implement) in the environment
    or a profile, set for every SDK of the process, does not stop a client being made; asked
    for by name, it is refused."""
    assert retry_settings(environ={"AWS_RETRY_MODE": "legacy"}) == ("standard", 3)
    assert retry_settings(settings={"retry_mode": "legacy"}) == ("standard", 3)
    with pytest.raises(ValueError, match="retry_mode: 'legacy' is not one of standard, adaptive"):
        retry_settings(retry_mode="legacy")


@pytest.mark.parametrize("attempts", [0, -1, True, False, 2.0, 2.5, "3"])
def test_invalid_max_attempts_argument(attempts: Any) -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        retry_settings(max_attempts=attempts)


@pytest.mark.parametrize("attempts", ["0", "-2", "abc", "2.5", "1e3", "three"])
def test_invalid_max_attempts_setting(attempts: str) -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        retry_settings(environ={"AWS_MAX_ATTEMPTS": attempts})
    with pytest.raises(ValueError, match="max_attempts"):
        retry_settings(settings={"max_attempts": attempts})


def test_max_attempts_variable_tolerates_surrounding_spaces() -> None:
    assert retry_settings(environ={"AWS_MAX_ATTEMPTS": " 6 "}) == ("adaptive", 6)


# --- reading the profile only when needed ---------------------------------------------------


def test_profile_not_read_when_arguments_settle_everything() -> None:
    environ = {
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_KMS": "http://env.test:1",
        "AWS_USE_FIPS_ENDPOINT": "true",
        "AWS_RETRY_MODE": "adaptive",
        "AWS_MAX_ATTEMPTS": "9",
    }
    config = resolve(**SETTLED, environ=environ, load_profile=unreadable_profile)
    assert config == ResolvedConfig(
        region="eu-west-1",
        endpoint_url="https://kms.example.test",
        use_fips=False,
        retry_mode="standard",
        max_attempts=5,
    )


def test_profile_not_read_when_environment_settles_everything() -> None:
    environ = {
        "AWS_REGION": "us-east-1",
        "AWS_USE_FIPS_ENDPOINT": "true",
        "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true",
        "AWS_RETRY_MODE": "standard",
        "AWS_MAX_ATTEMPTS": "2",
        "AWS_CA_BUNDLE": "/etc/corp/ca.pem",
    }
    config = resolve(environ=environ, load_profile=unreadable_profile)
    assert config == ResolvedConfig(
        region="us-east-1",
        endpoint_url="https://kms-fips.us-east-1.amazonaws.com",
        use_fips=True,
        retry_mode="standard",
        max_attempts=2,
        ca_bundle="/etc/corp/ca.pem",
        ca_bundle_from="AWS_CA_BUNDLE",
    )


def test_a_missing_profile_is_harmless_when_not_needed() -> None:
    def missing(name: str | None) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
        raise ProfileNotFound(profile=name)

    config = resolve(**SETTLED, profile_name="missing", environ={}, load_profile=missing)
    assert config.region == "eu-west-1"


@pytest.mark.parametrize("left_open", sorted(SETTLED))
def test_profile_read_once_when_one_setting_is_left_open(left_open: str) -> None:
    arguments = {name: value for name, value in SETTLED.items() if name != left_open}
    profile = FakeProfile({"region": "eu-west-1"})
    resolve(**arguments, environ={}, load_profile=profile)
    assert len(profile.calls) == 1


def test_profile_read_once_when_it_supplies_everything() -> None:
    profile = FakeProfile(
        {
            "region": "us-gov-west-1",
            "use_fips_endpoint": "true",
            "retry_mode": "standard",
            "max_attempts": "6",
            "services": "local",
        },
        {"services": {"local": {"s3": {"endpoint_url": "http://s3.test"}}}},
    )
    config = resolve(environ={}, load_profile=profile)
    assert profile.calls == [None]
    assert config == ResolvedConfig(
        region="us-gov-west-1",
        endpoint_url="https://kms-fips.us-gov-west-1.amazonaws.com",
        use_fips=True,
        retry_mode="standard",
        max_attempts=6,
    )


def test_environment_endpoint_still_consults_profile_ignore_setting() -> None:
    # ignore_configured_endpoint_urls in the profile also disables the variables, so an
    # endpoint from the environment alone does not let the profile go unread.
    profile = FakeProfile({"ignore_configured_endpoint_urls": "true"})
    config = resolve(
        region_name="eu-west-1",
        use_fips_endpoint=False,
        retry_mode="standard",
        max_attempts=3,
        verify=True,
        environ={"AWS_ENDPOINT_URL_KMS": "http://env.test:1"},
        load_profile=profile,
    )
    assert profile.calls == [None]
    assert config.endpoint_url == "https://kms.eu-west-1.amazonaws.com"


# --- certificate verification, in botocore's order --------------------------------------------


def verification(
    environ: Mapping[str, str] | None = None,
    profile: Mapping[str, Any] | None = None,
    **arguments: Any,
) -> tuple[bool, str | None, str]:
    config = resolve(
        region_name="eu-west-1",
        environ=environ or {},
        load_profile=FakeProfile(profile),
        **arguments,
    )
    return config.verify, config.ca_bundle, config.ca_bundle_from


def test_certificates_are_verified_against_the_default_store_by_default() -> None:
    assert verification() == (True, None, "")


EVERY_BUNDLE_SETTING = {
    "environ": {"AWS_CA_BUNDLE": "/env/aws.pem", "REQUESTS_CA_BUNDLE": "/env/requests.pem"},
    "profile": {"ca_bundle": "/profile/ca.pem"},
}


def test_verify_path_wins_over_everything() -> None:
    assert verification(**EVERY_BUNDLE_SETTING, verify="/arg/ca.pem") == (
        True,
        "/arg/ca.pem",
        "verify",
    )


def test_verify_accepts_a_path_object(tmp_path: Path) -> None:
    assert verification(verify=tmp_path / "ca.pem")[1] == str(tmp_path / "ca.pem")


def test_verify_false_wins_over_every_bundle() -> None:
    assert verification(**EVERY_BUNDLE_SETTING, verify=False) == (False, None, "")


def test_verify_true_means_the_default_store_whatever_is_configured() -> None:
    # as botocore: an explicit verify wins, and True names no bundle
    assert verification(**EVERY_BUNDLE_SETTING, verify=True) == (True, None, "")


def test_aws_ca_bundle_wins_over_profile_and_requests_ca_bundle() -> None:
    assert verification(**EVERY_BUNDLE_SETTING) == (True, "/env/aws.pem", "AWS_CA_BUNDLE")


def test_profile_ca_bundle_wins_over_requests_ca_bundle() -> None:
    assert verification(
        environ={"REQUESTS_CA_BUNDLE": "/env/requests.pem"},
        profile={"ca_bundle": "/profile/ca.pem"},
    ) == (True, "/profile/ca.pem", "ca_bundle of profile 'default'")


def test_profile_ca_bundle_names_the_profile() -> None:
    config = resolve(
        region_name="eu-west-1",
        profile_name="corp",
        environ={},
        load_profile=FakeProfile({"ca_bundle": "/corp/ca.pem"}),
    )
    assert config.ca_bundle_from == "ca_bundle of profile 'corp'"
    environ = {"AWS_PROFILE": "team"}
    config = resolve(
        region_name="eu-west-1",
        environ=environ,
        load_profile=FakeProfile({"ca_bundle": "/team/ca.pem"}),
    )
    assert config.ca_bundle_from == "ca_bundle of profile 'team'"


def test_requests_ca_bundle_is_the_last_resort() -> None:
    assert verification(environ={"REQUESTS_CA_BUNDLE": "/env/requests.pem"}) == (
        True,
        "/env/requests.pem",
        "REQUESTS_CA_BUNDLE",
    )


@pytest.mark.parametrize("value", ["", "  "])
@pytest.mark.parametrize("where", ["verify", "AWS_CA_BUNDLE", "profile", "REQUESTS_CA_BUNDLE"])
def test_a_blank_bundle_setting_is_an_error_naming_it(where: str, value: str) -> None:
    # as botocore (InvalidConfigError): a blank setting is a mistake, not "the default"
    arguments: dict[str, Any] = {}
    if where == "verify":
        arguments["verify"] = value
    elif where == "profile":
        arguments["profile"] = {"ca_bundle": value}
    else:
        arguments["environ"] = {where: value}
    named = "ca_bundle of profile 'default'" if where == "profile" else where
    with pytest.raises(ValueError, match=f"^{named}: .* is not a path to a CA bundle"):
        verification(**arguments)


@pytest.mark.parametrize("value", [1, 0, b"/ca.pem", ["/ca.pem"]])
def test_verify_of_another_type_is_an_error(value: Any) -> None:
    with pytest.raises(ValueError, match=r"^verify: "):
        verification(verify=value)


# --- the proxy, as botocore finds it ---------------------------------------------------------


def proxy_for(
    endpoint_url: str = "https://kms.eu-west-1.amazonaws.com",
    environ: Mapping[str, str] | None = None,
    proxies: Mapping[str, str] | None = None,
) -> Proxy | None:
    return resolve(
        region_name="eu-west-1",
        endpoint_url=endpoint_url,
        proxies=proxies,
        environ=environ or {},
        load_profile=FakeProfile(),
    ).proxy


def test_no_proxy_by_default() -> None:
    assert proxy_for() is None


def test_https_proxy_serves_https_endpoints_and_http_proxy_http_ones() -> None:
    environ = {"HTTPS_PROXY": "http://tls-proxy:3128", "HTTP_PROXY": "http://plain-proxy:8080"}
    assert proxy_for(environ=environ) == Proxy("http://tls-proxy:3128", "HTTPS_PROXY")
    assert proxy_for("http://127.0.0.1:4599", environ) == Proxy(
        "http://plain-proxy:8080", "HTTP_PROXY"
    )


def test_lower_case_proxy_variables_win() -> None:
    environ = {"HTTPS_PROXY": "http://upper:1", "https_proxy": "http://lower:2"}
    assert proxy_for(environ=environ) == Proxy("http://lower:2", "https_proxy")


def test_an_empty_lower_case_variable_unsets_the_upper_case_one() -> None:
    assert proxy_for(environ={"HTTPS_PROXY": "http://upper:1", "https_proxy": ""}) is None


def test_http_proxy_is_ignored_in_a_cgi_script() -> None:
    # HTTP_PROXY there may come from a request's Proxy header (httpoxy)
    environ = {"HTTP_PROXY": "http://evil:1", "REQUEST_METHOD": "GET"}
    assert proxy_for("http://127.0.0.1:1", environ) is None


@pytest.mark.parametrize(
    "no_proxy",
    [
        "*",
        "kms.eu-west-1.amazonaws.com",
        "amazonaws.com",
        ".amazonaws.com",
        "a.test, AMAZONAWS.COM",
    ],
)
def test_no_proxy_bypasses_matching_hosts(no_proxy: str) -> None:
    environ = {"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": no_proxy}
    assert proxy_for(environ=environ) is None
    assert proxy_for(environ={**environ, "no_proxy": no_proxy, "NO_PROXY": ""}) is None


@pytest.mark.parametrize("no_proxy", ["example.com", "ws.amazonaws.com", "kms"])
def test_no_proxy_keeps_the_proxy_for_other_hosts(no_proxy: str) -> None:
    environ = {"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": no_proxy}
    assert proxy_for(environ=environ) == Proxy("http://proxy:3128", "HTTPS_PROXY")


def test_the_proxies_argument_wins_and_ignores_no_proxy() -> None:
    environ = {"HTTPS_PROXY": "http://env:1", "NO_PROXY": "*"}
    assert proxy_for(environ=environ, proxies={"https": "http://arg:2"}) == Proxy(
        "http://arg:2", "proxies['https']"
    )
    assert proxy_for(environ=environ, proxies={}) is None
    assert proxy_for(environ=environ, proxies={"http": "http://arg:2"}) is None


@pytest.mark.parametrize(
    ("given", "url"),
    [
        ("proxy:3128", "http://proxy:3128"),  # as botocore: a bare host means http://
        ("//proxy:3128", "http://proxy:3128"),
        ("https://proxy", "https://proxy"),
        ("http://proxy:3128/some/path", "http://proxy:3128"),
        ("http://[::1]:3128", "http://[::1]:3128"),
    ],
)
def test_proxy_urls_are_completed_as_botocore_does(given: str, url: str) -> None:
    proxy = proxy_for(proxies={"https": given})
    assert proxy is not None
    assert proxy.url == url
    assert proxy.authorization is None


def test_proxy_credentials_become_a_header_and_leave_the_url() -> None:
    proxy = proxy_for(environ={"HTTPS_PROXY": "http://al%40ice:p%3Ass@proxy:3128"})
    assert proxy is not None
    assert proxy.url == "http://proxy:3128"
    assert proxy.authorization == "Basic " + base64.b64encode(b"al@ice:p:ss").decode()
    for shown in (repr(proxy), str(proxy), repr(resolve_with_proxy(proxy))):
        assert "p%3Ass" not in shown
        assert proxy.authorization not in shown
        assert "al%40ice" not in shown


def resolve_with_proxy(proxy: Proxy) -> ResolvedConfig:
    return ResolvedConfig("eu-west-1", "https://kms.test", False, "standard", 3, proxy=proxy)


def test_a_user_without_a_password_sends_no_credentials() -> None:
    # as botocore: the header needs both
    proxy = proxy_for(proxies={"https": "http://alice@proxy:3128"})
    assert proxy is not None
    assert proxy.authorization is None


@pytest.mark.parametrize(
    "given",
    ["socks5://alice:hunter2@proxy:1080", "http://alice:hunter2@", "http://al:hun/ter2@proxy:x"],
)
def test_a_proxy_url_that_is_not_one_is_an_error_naming_the_setting_not_the_password(
    given: str,
) -> None:
    with pytest.raises(ValueError, match=r"^proxies\['https'\]: .* is not an http") as caught:
        proxy_for(proxies={"https": given})
    assert "ter2" not in str(caught.value)
    with pytest.raises(ValueError, match=r"^HTTPS_PROXY: ") as caught:
        proxy_for(environ={"HTTPS_PROXY": given})
    assert "ter2" not in str(caught.value)


@pytest.mark.parametrize("proxies", [["http://proxy:1"], "http://proxy:1"])
def test_proxies_must_be_a_mapping(proxies: Any) -> None:
    with pytest.raises(ValueError, match=r"^proxies: "):
        proxy_for(proxies=proxies)


def test_a_proxy_url_must_be_a_string() -> None:
    with pytest.raises(ValueError, match=r"^proxies\['https'\]: "):
        proxy_for(proxies={"https": 3128})  # type: ignore[dict-item]


# --- the default loader, with real files ----------------------------------------------------

CONFIG_FILE = """\
[default]
region = eu-west-1

[profile other]
region = ap-southeast-2
use_fips_endpoint = true
retry_mode = standard
max_attempts = 7

[profile local]
region = us-east-1
services = local-kms

[services local-kms]
kms =
  endpoint_url = http://127.0.0.1:4566/
"""


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "config"
    path.write_text(CONFIG_FILE)
    credentials = tmp_path / "credentials"
    credentials.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(path))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    return path


@pytest.mark.usefixtures("config_file")
def test_default_loader_reads_the_default_profile() -> None:
    config = resolve()
    assert config.region == "eu-west-1"
    assert config.endpoint_url == "https://kms.eu-west-1.amazonaws.com"
    assert (config.retry_mode, config.max_attempts) == ("adaptive", 3)


@pytest.mark.usefixtures("config_file")
def test_default_loader_reads_a_named_profile() -> None:
    config = resolve(profile_name="other")
    assert config == ResolvedConfig(
        region="ap-southeast-2",
        endpoint_url="https://kms-fips.ap-southeast-2.amazonaws.com",
        use_fips=True,
        retry_mode="standard",
        max_attempts=7,
    )


def test_default_loader_follows_aws_profile(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "other")
    assert resolve().region == "ap-southeast-2"


@pytest.mark.usefixtures("config_file")
def test_default_loader_reads_the_services_section() -> None:
    config = resolve(profile_name="local")
    assert config.region == "us-east-1"
    assert config.endpoint_url == "http://127.0.0.1:4566"


@pytest.mark.usefixtures("config_file")
def test_default_loader_environment_wins_over_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "sa-east-1")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    config = resolve(profile_name="other")
    assert (config.region, config.max_attempts, config.retry_mode) == ("sa-east-1", 2, "standard")


@pytest.mark.usefixtures("config_file")
def test_default_loader_missing_profile() -> None:
    with pytest.raises(ProfileNotFound):
        resolve(profile_name="does-not-exist")


def test_default_loader_without_any_region(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    empty = tmp_path / "empty"
    empty.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    with pytest.raises(NoRegionError):
        resolve()


@pytest.mark.parametrize("profile_variable", [None, "AWS_PROFILE", "AWS_DEFAULT_PROFILE"])
def test_default_loader_reads_no_profile_where_there_is_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, profile_variable: str | None
) -> None:
    # no shared files and no profile named: what botocore would find is nothing, and a cold
    # start (AWS Lambda) need not pay for a botocore session to learn it
    import botocore.session

    for name in AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    sessions = []
    real_init = botocore.session.Session.__init__

    def counting(self: Any, *args: Any, **kwargs: Any) -> None:
        sessions.append(kwargs)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(botocore.session.Session, "__init__", counting)
    if profile_variable is None:
        with pytest.raises(NoRegionError):
            resolve()
        assert sessions == []
        assert resolve(region_name="eu-west-1").endpoint_url == (
            "https://kms.eu-west-1.amazonaws.com"
        )
        assert sessions == []
    else:  # a profile named but nowhere: botocore's error, as before
        monkeypatch.setenv(profile_variable, "named")
        with pytest.raises(ProfileNotFound):
            resolve(region_name="eu-west-1")
        assert len(sessions) == 1


@pytest.mark.parametrize(
    "region", ["cn-north-1", "cn-northwest-1", "us-gov-west-1", "us-gov-east-1"]
)
@pytest.mark.parametrize("fips", [False, True])
def test_default_endpoint_is_botocores_in_other_partitions(region: str, fips: bool) -> None:
    # botocore is the behaviour reference: its KMS client for the Region (made offline, never
    # called) resolves the same endpoint (amazonaws.com.cn in the China Regions)
    client = botocore.session.get_session().create_client(
        "kms",
        region_name=region,
        aws_access_key_id="AKID",
        aws_secret_access_key="secret",
        config=botocore.config.Config(use_fips_endpoint=fips),
    )
    assert default_endpoint(region, fips=fips) == client.meta.endpoint_url
