"""The operation -> KMS quota table: complete for botocore's model, as the Developer Guide says."""

from __future__ import annotations

import botocore.session
import pytest

from aiokms import _model
from aiokms._quotas import (
    CONTROL_PLANE_RATES,
    ECC,
    ML_DSA,
    QUOTAS,
    RSA,
    RULES,
    SYMMETRIC,
    default_rates,
    quota_for,
)

SERVICE = botocore.session.get_session().get_service_model("kms")


def enum(shape: str) -> list[str]:
    return list(SERVICE.shape_for(shape).enum)


def test_every_operation_of_botocores_model_has_a_rule() -> None:
    operations = set(_model.load().operations)
    assert len(operations) == 54
    assert set(RULES) == operations


def test_every_rule_names_known_quotas_and_parameters_of_its_operation() -> None:
    for name, rule in RULES.items():
        assert rule.default in QUOTAS, name
        members = SERVICE.operation_model(name).input_shape.members
        assert set(rule.parameters) <= set(members), name


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-2", "sa-east-1", "cn-north-1"])
def test_every_quota_has_a_positive_default_rate_in_every_region(region: str) -> None:
    rates = default_rates(region)
    assert set(rates) == QUOTAS
    assert all(rate > 0 for rate in rates.values())


@pytest.mark.parametrize(
    ("region", "rate"),
    [
        ("us-east-1", 100_000),
        ("us-west-2", 100_000),
        ("eu-west-1", 100_000),
        ("us-east-2", 20_000),
        ("ap-southeast-1", 20_000),
        ("ap-southeast-2", 20_000),
        ("ap-northeast-1", 20_000),
        ("eu-central-1", 20_000),
        ("eu-west-2", 20_000),
        ("ca-central-1", 10_000),
        ("cn-north-1", 10_000),
    ],
)
def test_the_symmetric_quota_by_region(region: str, rate: float) -> None:
    assert default_rates(region)[SYMMETRIC] == rate


def test_the_asymmetric_and_key_pair_quotas() -> None:
    rates, china = default_rates("us-east-1"), default_rates("cn-northwest-1")
    assert rates[RSA] == rates[ECC] == rates[ML_DSA] == 1_000
    pairs = {"RSA_2048": (20, 1), "RSA_3072": (4, 0.5), "RSA_4096": (1, 0.1), "SM2": (25, 25)}
    pairs |= {spec: (100, 100) for spec in enum("DataKeyPairSpec") if spec.startswith("ECC_")}
    assert set(pairs) == set(enum("DataKeyPairSpec"))
    for spec, (rate, china_rate) in pairs.items():
        assert rates[f"GenerateDataKeyPair ({spec})"] == rate
        assert china[f"GenerateDataKeyPair ({spec})"] == china_rate


def test_control_plane_quotas_as_the_table_gives_them() -> None:
    rates = default_rates("us-east-1")
    assert len(CONTROL_PLANE_RATES) == 41
    assert {name: rates[name] for name in ("DescribeKey", "CreateKey", "CreateGrant")} == {
        "DescribeKey": 2000,
        "CreateKey": 5,
        "CreateGrant": 50,
    }
    assert rates["GetParametersForImport"] == 1
    assert rates["ListKeys"] == rates["ListAliases"] == 500
    assert rates["GetPublicKey"] == rates["ListResourceTags"] == 2000
    assert rates["RetireGrant"] == rates["RevokeGrant"] == 50
    assert {quota_for(name, {}) for name in CONTROL_PLANE_RATES} == set(CONTROL_PLANE_RATES)


@pytest.mark.parametrize(
    "operation",
    [
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateRandom",
        "GenerateMac",
        "VerifyMac",
    ],
)
def test_symmetric_operations(operation: str) -> None:
    assert quota_for(operation, {"KeyId": "alias/x"}) == SYMMETRIC


ENCRYPTION = {"SYMMETRIC_DEFAULT": SYMMETRIC, "RSAES_OAEP_SHA_1": RSA, "RSAES_OAEP_SHA_256": RSA}
ENCRYPTION |= {"SM2PKE": ECC}
SIGNING = {name: RSA for name in enum("SigningAlgorithmSpec") if name.startswith("RSASSA_")}
SIGNING |= {"ECDSA_SHA_256": ECC, "ECDSA_SHA_384": ECC, "ECDSA_SHA_512": ECC, "SM2DSA": ECC}
SIGNING |= {"ED25519_SHA_512": ECC, "ED25519_PH_SHA_512": ECC, "ML_DSA_SHAKE_256": ML_DSA}


@pytest.mark.parametrize("operation", ["Encrypt", "Decrypt"])
def test_encryption_goes_by_its_algorithm(operation: str) -> None:
    assert set(ENCRYPTION) == set(enum("EncryptionAlgorithmSpec"))
    for algorithm, quota in ENCRYPTION.items():
        assert quota_for(operation, {"EncryptionAlgorithm": algorithm}) == quota
    assert quota_for(operation, {}) == SYMMETRIC  # SYMMETRIC_DEFAULT when left out


@pytest.mark.parametrize("operation", ["Sign", "Verify"])
def test_signing_goes_by_its_algorithm(operation: str) -> None:
    assert set(SIGNING) == set(enum("SigningAlgorithmSpec"))
    for algorithm, quota in SIGNING.items():
        assert quota_for(operation, {"SigningAlgorithm": algorithm}) == quota
    assert quota_for(operation, {}) == RSA  # required: an invalid request, paced as RSA


def test_re_encrypt_goes_by_its_asymmetric_side() -> None:
    def quota(source: str | None, destination: str | None) -> str:
        params = {
            "SourceEncryptionAlgorithm": source,
            "DestinationEncryptionAlgorithm": destination,
        }
        return quota_for("ReEncrypt", {k: v for k, v in params.items() if v is not None})

    assert quota(None, None) == quota("SYMMETRIC_DEFAULT", "SYMMETRIC_DEFAULT") == SYMMETRIC
    assert quota("RSAES_OAEP_SHA_256", None) == quota(None, "RSAES_OAEP_SHA_1") == RSA
    assert quota("SYMMETRIC_DEFAULT", "SM2PKE") == ECC
    assert quota("SM2PKE", "RSAES_OAEP_SHA_256") == ECC  # both asymmetric: the source's


@pytest.mark.parametrize(
    "operation", ["GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext"]
)
def test_key_pairs_go_by_the_spec_asked_for(operation: str) -> None:
    for spec in enum("DataKeyPairSpec"):
        assert quota_for(operation, {"KeyPairSpec": spec}) == f"GenerateDataKeyPair ({spec})"
    assert quota_for(operation, {}) == "GenerateDataKeyPair (RSA_2048)"


def test_derive_shared_secret_is_ecc() -> None:
    assert quota_for("DeriveSharedSecret", {"KeyAgreementAlgorithm": "ECDH"}) == ECC


def test_values_newer_than_the_table_and_junk_fall_back_to_the_default() -> None:
    assert quota_for("Sign", {"SigningAlgorithm": "NEW_ALGORITHM"}) == RSA
    assert quota_for("Encrypt", {"EncryptionAlgorithm": 7}) == SYMMETRIC
    assert quota_for("GenerateDataKeyPair", {"KeyPairSpec": "RSA_8192"}) == (
        "GenerateDataKeyPair (RSA_2048)"
    )


def test_an_operation_newer_than_the_table_has_a_quota_of_its_own() -> None:
    assert quota_for("SomeNewOperation", {}) == "SomeNewOperation"
