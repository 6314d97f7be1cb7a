"""The KMS API's types, generated from botocore's model by ``aiokms._typegen``.

Enums are ``Literal`` aliases, structures ``TypedDict``s; ``<Operation>Response`` is
what ``KMSClient.<operation>`` returns (``ResponseMetadata`` included) and
``<Operation>Request`` its keyword arguments. Do not edit: run
``python -m aiokms._typegen``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal, Protocol, TypedDict

if TYPE_CHECKING:
    from aiokms._client import PageIterator

__all__ = [
    "AlgorithmSpec",
    "AliasListEntry",
    "CancelKeyDeletionRequest",
    "CancelKeyDeletionResponse",
    "ConnectCustomKeyStoreRequest",
    "ConnectCustomKeyStoreResponse",
    "ConnectionErrorCodeType",
    "ConnectionStateType",
    "CreateAliasRequest",
    "CreateCustomKeyStoreRequest",
    "CreateCustomKeyStoreResponse",
    "CreateGrantRequest",
    "CreateGrantResponse",
    "CreateKeyRequest",
    "CreateKeyResponse",
    "CustomKeyStoreType",
    "CustomKeyStoresListEntry",
    "CustomerMasterKeySpec",
    "DataKeyPairSpec",
    "DataKeySpec",
    "DecryptRequest",
    "DecryptResponse",
    "DeleteAliasRequest",
    "DeleteCustomKeyStoreRequest",
    "DeleteCustomKeyStoreResponse",
    "DeleteImportedKeyMaterialRequest",
    "DeleteImportedKeyMaterialResponse",
    "DeriveSharedSecretRequest",
    "DeriveSharedSecretResponse",
    "DescribeCustomKeyStoresPaginator",
    "DescribeCustomKeyStoresRequest",
    "DescribeCustomKeyStoresResponse",
    "DescribeKeyRequest",
    "DescribeKeyResponse",
    "DisableKeyRequest",
    "DisableKeyRotationRequest",
    "DisconnectCustomKeyStoreRequest",
    "DisconnectCustomKeyStoreResponse",
    "DryRunModifierType",
    "EmptyResponse",
    "EnableKeyRequest",
    "EnableKeyRotationRequest",
    "EncryptRequest",
    "EncryptResponse",
    "EncryptionAlgorithmSpec",
    "ExpirationModelType",
    "GenerateDataKeyPairRequest",
    "GenerateDataKeyPairResponse",
    "GenerateDataKeyPairWithoutPlaintextRequest",
    "GenerateDataKeyPairWithoutPlaintextResponse",
    "GenerateDataKeyRequest",
    "GenerateDataKeyResponse",
    "GenerateDataKeyWithoutPlaintextRequest",
    "GenerateDataKeyWithoutPlaintextResponse",
    "GenerateMacRequest",
    "GenerateMacResponse",
    "GenerateRandomRequest",
    "GenerateRandomResponse",
    "GetKeyLastUsageRequest",
    "GetKeyLastUsageResponse",
    "GetKeyPolicyRequest",
    "GetKeyPolicyResponse",
    "GetKeyRotationStatusRequest",
    "GetKeyRotationStatusResponse",
    "GetParametersForImportRequest",
    "GetParametersForImportResponse",
    "GetPublicKeyRequest",
    "GetPublicKeyResponse",
    "GrantConstraints",
    "GrantListEntry",
    "GrantOperation",
    "ImportKeyMaterialRequest",
    "ImportKeyMaterialResponse",
    "ImportState",
    "ImportType",
    "IncludeKeyMaterial",
    "KeyAgreementAlgorithmSpec",
    "KeyEncryptionMechanism",
    "KeyLastUsageData",
    "KeyLastUsageTrackingOperation",
    "KeyListEntry",
    "KeyManagerType",
    "KeyMaterialState",
    "KeyMetadata",
    "KeySpec",
    "KeyState",
    "KeyUsageType",
    "ListAliasesPaginator",
    "ListAliasesRequest",
    "ListAliasesResponse",
    "ListGrantsPaginator",
    "ListGrantsRequest",
    "ListGrantsResponse",
    "ListKeyPoliciesPaginator",
    "ListKeyPoliciesRequest",
    "ListKeyPoliciesResponse",
    "ListKeyRotationsPaginator",
    "ListKeyRotationsRequest",
    "ListKeyRotationsResponse",
    "ListKeysPaginator",
    "ListKeysRequest",
    "ListKeysResponse",
    "ListResourceTagsPaginator",
    "ListResourceTagsRequest",
    "ListResourceTagsResponse",
    "ListRetirableGrantsPaginator",
    "ListRetirableGrantsRequest",
    "MacAlgorithmSpec",
    "MessageType",
    "MultiRegionConfiguration",
    "MultiRegionKey",
    "MultiRegionKeyType",
    "OriginType",
    "PaginationConfig",
    "PutKeyPolicyRequest",
    "ReEncryptRequest",
    "ReEncryptResponse",
    "RecipientInfo",
    "ReplicateKeyRequest",
    "ReplicateKeyResponse",
    "ResponseMetadata",
    "RetireGrantRequest",
    "RevokeGrantRequest",
    "RotateKeyOnDemandRequest",
    "RotateKeyOnDemandResponse",
    "RotationType",
    "RotationsListEntry",
    "ScheduleKeyDeletionRequest",
    "ScheduleKeyDeletionResponse",
    "SignRequest",
    "SignResponse",
    "SigningAlgorithmSpec",
    "Tag",
    "TagResourceRequest",
    "UntagResourceRequest",
    "UpdateAliasRequest",
    "UpdateCustomKeyStoreRequest",
    "UpdateCustomKeyStoreResponse",
    "UpdateKeyDescriptionRequest",
    "UpdatePrimaryRegionRequest",
    "VerifyMacRequest",
    "VerifyMacResponse",
    "VerifyRequest",
    "VerifyResponse",
    "WrappingKeySpec",
    "XksKeyConfigurationType",
    "XksProxyAuthenticationCredentialType",
    "XksProxyConfigurationType",
    "XksProxyConnectivityType",
]


AlgorithmSpec = Literal[
    "RSAES_PKCS1_V1_5",
    "RSAES_OAEP_SHA_1",
    "RSAES_OAEP_SHA_256",
    "RSA_AES_KEY_WRAP_SHA_1",
    "RSA_AES_KEY_WRAP_SHA_256",
    "SM2PKE",
]

ConnectionErrorCodeType = Literal[
    "INVALID_CREDENTIALS",
    "CLUSTER_NOT_FOUND",
    "NETWORK_ERRORS",
    "INTERNAL_ERROR",
    "INSUFFICIENT_CLOUDHSM_HSMS",
    "USER_LOCKED_OUT",
    "USER_NOT_FOUND",
    "USER_LOGGED_IN",
    "SUBNET_NOT_FOUND",
    "INSUFFICIENT_FREE_ADDRESSES_IN_SUBNET",
    "XKS_PROXY_ACCESS_DENIED",
    "XKS_PROXY_NOT_REACHABLE",
    "XKS_VPC_ENDPOINT_SERVICE_NOT_FOUND",
    "XKS_PROXY_INVALID_RESPONSE",
    "XKS_PROXY_INVALID_CONFIGURATION",
    "XKS_VPC_ENDPOINT_SERVICE_INVALID_CONFIGURATION",
    "XKS_PROXY_TIMED_OUT",
    "XKS_PROXY_INVALID_TLS_CONFIGURATION",
]

ConnectionStateType = Literal[
    "CONNECTED",
    "CONNECTING",
    "FAILED",
    "DISCONNECTED",
    "DISCONNECTING",
]

CustomKeyStoreType = Literal[
    "AWS_CLOUDHSM",
    "EXTERNAL_KEY_STORE",
]

CustomerMasterKeySpec = Literal[
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "SYMMETRIC_DEFAULT",
    "HMAC_224",
    "HMAC_256",
    "HMAC_384",
    "HMAC_512",
    "SM2",
]

DataKeyPairSpec = Literal[
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "SM2",
    "ECC_NIST_EDWARDS25519",
]

DataKeySpec = Literal[
    "AES_256",
    "AES_128",
]

DryRunModifierType = Literal["IGNORE_CIPHERTEXT"]

EncryptionAlgorithmSpec = Literal[
    "SYMMETRIC_DEFAULT",
    "RSAES_OAEP_SHA_1",
    "RSAES_OAEP_SHA_256",
    "SM2PKE",
]

ExpirationModelType = Literal[
    "KEY_MATERIAL_EXPIRES",
    "KEY_MATERIAL_DOES_NOT_EXPIRE",
]

GrantOperation = Literal[
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
    "Sign",
    "Verify",
    "GetPublicKey",
    "CreateGrant",
    "RetireGrant",
    "DescribeKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateMac",
    "VerifyMac",
    "DeriveSharedSecret",
]

ImportState = Literal[
    "IMPORTED",
    "PENDING_IMPORT",
]

ImportType = Literal[
    "NEW_KEY_MATERIAL",
    "EXISTING_KEY_MATERIAL",
]

IncludeKeyMaterial = Literal[
    "ALL_KEY_MATERIAL",
    "ROTATIONS_ONLY",
]

KeyAgreementAlgorithmSpec = Literal["ECDH"]

KeyEncryptionMechanism = Literal["RSAES_OAEP_SHA_256"]

KeyLastUsageTrackingOperation = Literal[
    "Decrypt",
    "DeriveSharedSecret",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateMac",
    "ReEncrypt",
    "Sign",
    "Verify",
    "VerifyMac",
]

KeyManagerType = Literal[
    "AWS",
    "CUSTOMER",
]

KeyMaterialState = Literal[
    "NON_CURRENT",
    "CURRENT",
    "PENDING_ROTATION",
    "PENDING_MULTI_REGION_IMPORT_AND_ROTATION",
]

KeySpec = Literal[
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "SYMMETRIC_DEFAULT",
    "HMAC_224",
    "HMAC_256",
    "HMAC_384",
    "HMAC_512",
    "SM2",
    "ML_DSA_44",
    "ML_DSA_65",
    "ML_DSA_87",
    "ECC_NIST_EDWARDS25519",
]

KeyState = Literal[
    "Creating",
    "Enabled",
    "Disabled",
    "PendingDeletion",
    "PendingImport",
    "PendingReplicaDeletion",
    "Unavailable",
    "Updating",
]

KeyUsageType = Literal[
    "SIGN_VERIFY",
    "ENCRYPT_DECRYPT",
    "GENERATE_VERIFY_MAC",
    "KEY_AGREEMENT",
]

MacAlgorithmSpec = Literal[
    "HMAC_SHA_224",
    "HMAC_SHA_256",
    "HMAC_SHA_384",
    "HMAC_SHA_512",
]

MessageType = Literal[
    "RAW",
    "DIGEST",
    "EXTERNAL_MU",
]

MultiRegionKeyType = Literal[
    "PRIMARY",
    "REPLICA",
]

OriginType = Literal[
    "AWS_KMS",
    "EXTERNAL",
    "AWS_CLOUDHSM",
    "EXTERNAL_KEY_STORE",
]

RotationType = Literal[
    "AUTOMATIC",
    "ON_DEMAND",
]

SigningAlgorithmSpec = Literal[
    "RSASSA_PSS_SHA_256",
    "RSASSA_PSS_SHA_384",
    "RSASSA_PSS_SHA_512",
    "RSASSA_PKCS1_V1_5_SHA_256",
    "RSASSA_PKCS1_V1_5_SHA_384",
    "RSASSA_PKCS1_V1_5_SHA_512",
    "ECDSA_SHA_256",
    "ECDSA_SHA_384",
    "ECDSA_SHA_512",
    "SM2DSA",
    "ML_DSA_SHAKE_256",
    "ED25519_SHA_512",
    "ED25519_PH_SHA_512",
]

WrappingKeySpec = Literal[
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "SM2",
]

XksProxyConnectivityType = Literal[
    "PUBLIC_ENDPOINT",
    "VPC_ENDPOINT_SERVICE",
]


class _ResponseMetadataRequired(TypedDict):
    HTTPStatusCode: int
    HTTPHeaders: dict[str, str]
    RetryAttempts: int


class ResponseMetadata(_ResponseMetadataRequired, total=False):
    """What every response carries: the HTTP status and headers (names in lower
    case), the retries the call took, and KMS's request id (not in a proxy's reply).
    """

    RequestId: str


class _Response(TypedDict):
    ResponseMetadata: ResponseMetadata


class EmptyResponse(_Response):
    """The response of an operation without output: only ``ResponseMetadata``."""


class PaginationConfig(TypedDict, total=False):
    """``paginate(PaginationConfig=...)``, as botocore takes it."""

    MaxItems: int
    PageSize: int
    StartingToken: str


class AliasListEntry(TypedDict, total=False):
    """Contains information about an alias."""

    AliasName: str
    AliasArn: str
    TargetKeyId: str
    CreationDate: datetime
    LastUpdatedDate: datetime


class CancelKeyDeletionRequest(TypedDict):
    """The keyword arguments of ``cancel_key_deletion``."""

    KeyId: str


class CancelKeyDeletionResponse(_Response):
    """What ``cancel_key_deletion`` returns."""

    KeyId: str


class ConnectCustomKeyStoreRequest(TypedDict):
    """The keyword arguments of ``connect_custom_key_store``."""

    CustomKeyStoreId: str


class ConnectCustomKeyStoreResponse(_Response):
    """What ``connect_custom_key_store`` returns."""


class CreateAliasRequest(TypedDict):
    """The keyword arguments of ``create_alias``."""

    AliasName: str
    TargetKeyId: str


class _CreateCustomKeyStoreRequestRequired(TypedDict):
    CustomKeyStoreName: str


class CreateCustomKeyStoreRequest(_CreateCustomKeyStoreRequestRequired, total=False):
    """The keyword arguments of ``create_custom_key_store``."""

    CloudHsmClusterId: str
    TrustAnchorCertificate: str
    KeyStorePassword: str
    CustomKeyStoreType: CustomKeyStoreType
    XksProxyUriEndpoint: str
    XksProxyUriPath: str
    XksProxyVpcEndpointServiceName: str
    XksProxyVpcEndpointServiceOwner: str
    XksProxyAuthenticationCredential: XksProxyAuthenticationCredentialType
    XksProxyConnectivity: XksProxyConnectivityType


class CreateCustomKeyStoreResponse(_Response):
    """What ``create_custom_key_store`` returns."""

    CustomKeyStoreId: str


class _CreateGrantRequestRequired(TypedDict):
    KeyId: str
    Operations: list[GrantOperation]


class CreateGrantRequest(_CreateGrantRequestRequired, total=False):
    """The keyword arguments of ``create_grant``."""

    GranteePrincipal: str
    RetiringPrincipal: str
    Constraints: GrantConstraints
    GrantTokens: list[str]
    Name: str
    DryRun: bool
    GranteeServicePrincipal: str
    RetiringServicePrincipal: str


class CreateGrantResponse(_Response):
    """What ``create_grant`` returns."""

    GrantToken: str
    GrantId: str


class CreateKeyRequest(TypedDict, total=False):
    """The keyword arguments of ``create_key``."""

    Policy: str
    Description: str
    KeyUsage: KeyUsageType
    CustomerMasterKeySpec: CustomerMasterKeySpec
    KeySpec: KeySpec
    Origin: OriginType
    CustomKeyStoreId: str
    BypassPolicyLockoutSafetyCheck: bool
    Tags: list[Tag]
    MultiRegion: bool
    XksKeyId: str


class CreateKeyResponse(_Response):
    """What ``create_key`` returns."""

    KeyMetadata: KeyMetadata


class CustomKeyStoresListEntry(TypedDict, total=False):
    """Contains information about each custom key store in the custom key store list."""

    CustomKeyStoreId: str
    CustomKeyStoreName: str
    CloudHsmClusterId: str
    TrustAnchorCertificate: str
    ConnectionState: ConnectionStateType
    ConnectionErrorCode: ConnectionErrorCodeType
    CreationDate: datetime
    CustomKeyStoreType: CustomKeyStoreType
    XksProxyConfiguration: XksProxyConfigurationType


class DecryptRequest(TypedDict, total=False):
    """The keyword arguments of ``decrypt``."""

    CiphertextBlob: bytes | bytearray | memoryview
    EncryptionContext: dict[str, str]
    GrantTokens: list[str]
    KeyId: str
    EncryptionAlgorithm: EncryptionAlgorithmSpec
    Recipient: RecipientInfo
    DryRun: bool
    DryRunModifiers: list[DryRunModifierType]


class DecryptResponse(_Response):
    """What ``decrypt`` returns."""

    KeyId: str
    Plaintext: bytes
    EncryptionAlgorithm: EncryptionAlgorithmSpec
    CiphertextForRecipient: bytes
    KeyMaterialId: str


class DeleteAliasRequest(TypedDict):
    """The keyword arguments of ``delete_alias``."""

    AliasName: str


class DeleteCustomKeyStoreRequest(TypedDict):
    """The keyword arguments of ``delete_custom_key_store``."""

    CustomKeyStoreId: str


class DeleteCustomKeyStoreResponse(_Response):
    """What ``delete_custom_key_store`` returns."""


class _DeleteImportedKeyMaterialRequestRequired(TypedDict):
    KeyId: str


class DeleteImportedKeyMaterialRequest(_DeleteImportedKeyMaterialRequestRequired, total=False):
    """The keyword arguments of ``delete_imported_key_material``."""

    KeyMaterialId: str


class DeleteImportedKeyMaterialResponse(_Response):
    """What ``delete_imported_key_material`` returns."""

    KeyId: str
    KeyMaterialId: str


class _DeriveSharedSecretRequestRequired(TypedDict):
    KeyId: str
    KeyAgreementAlgorithm: KeyAgreementAlgorithmSpec
    PublicKey: bytes | bytearray | memoryview


class DeriveSharedSecretRequest(_DeriveSharedSecretRequestRequired, total=False):
    """The keyword arguments of ``derive_shared_secret``."""

    GrantTokens: list[str]
    DryRun: bool
    Recipient: RecipientInfo


class DeriveSharedSecretResponse(_Response):
    """What ``derive_shared_secret`` returns."""

    KeyId: str
    SharedSecret: bytes
    CiphertextForRecipient: bytes
    KeyAgreementAlgorithm: KeyAgreementAlgorithmSpec
    KeyOrigin: OriginType


class DescribeCustomKeyStoresRequest(TypedDict, total=False):
    """The keyword arguments of ``describe_custom_key_stores``."""

    CustomKeyStoreId: str
    CustomKeyStoreName: str
    Limit: int
    Marker: str


class DescribeCustomKeyStoresResponse(_Response):
    """What ``describe_custom_key_stores`` returns."""

    CustomKeyStores: list[CustomKeyStoresListEntry]
    NextMarker: str
    Truncated: bool


class _DescribeKeyRequestRequired(TypedDict):
    KeyId: str


class DescribeKeyRequest(_DescribeKeyRequestRequired, total=False):
    """The keyword arguments of ``describe_key``."""

    GrantTokens: list[str]


class DescribeKeyResponse(_Response):
    """What ``describe_key`` returns."""

    KeyMetadata: KeyMetadata


class DisableKeyRequest(TypedDict):
    """The keyword arguments of ``disable_key``."""

    KeyId: str


class DisableKeyRotationRequest(TypedDict):
    """The keyword arguments of ``disable_key_rotation``."""

    KeyId: str


class DisconnectCustomKeyStoreRequest(TypedDict):
    """The keyword arguments of ``disconnect_custom_key_store``."""

    CustomKeyStoreId: str


class DisconnectCustomKeyStoreResponse(_Response):
    """What ``disconnect_custom_key_store`` returns."""


class EnableKeyRequest(TypedDict):
    """The keyword arguments of ``enable_key``."""

    KeyId: str


class _EnableKeyRotationRequestRequired(TypedDict):
    KeyId: str


class EnableKeyRotationRequest(_EnableKeyRotationRequestRequired, total=False):
    """The keyword arguments of ``enable_key_rotation``."""

    RotationPeriodInDays: int


class _EncryptRequestRequired(TypedDict):
    KeyId: str
    Plaintext: bytes | bytearray | memoryview


class EncryptRequest(_EncryptRequestRequired, total=False):
    """The keyword arguments of ``encrypt``."""

    EncryptionContext: dict[str, str]
    GrantTokens: list[str]
    EncryptionAlgorithm: EncryptionAlgorithmSpec
    DryRun: bool


class EncryptResponse(_Response):
    """What ``encrypt`` returns."""

    CiphertextBlob: bytes
    KeyId: str
    EncryptionAlgorithm: EncryptionAlgorithmSpec


class _GenerateDataKeyPairRequestRequired(TypedDict):
    KeyId: str
    KeyPairSpec: DataKeyPairSpec


class GenerateDataKeyPairRequest(_GenerateDataKeyPairRequestRequired, total=False):
    """The keyword arguments of ``generate_data_key_pair``."""

    EncryptionContext: dict[str, str]
    GrantTokens: list[str]
    Recipient: RecipientInfo
    DryRun: bool


class GenerateDataKeyPairResponse(_Response):
    """What ``generate_data_key_pair`` returns."""

    PrivateKeyCiphertextBlob: bytes
    PrivateKeyPlaintext: bytes
    PublicKey: bytes
    KeyId: str
    KeyPairSpec: DataKeyPairSpec
    CiphertextForRecipient: bytes
    KeyMaterialId: str


class _GenerateDataKeyPairWithoutPlaintextRequestRequired(TypedDict):
    KeyId: str
    KeyPairSpec: DataKeyPairSpec


class GenerateDataKeyPairWithoutPlaintextRequest(
    _GenerateDataKeyPairWithoutPlaintextRequestRequired, total=False
):
    """The keyword arguments of ``generate_data_key_pair_without_plaintext``."""

    EncryptionContext: dict[str, str]
    GrantTokens: list[str]
    DryRun: bool


class GenerateDataKeyPairWithoutPlaintextResponse(_Response):
    """What ``generate_data_key_pair_without_plaintext`` returns."""

    PrivateKeyCiphertextBlob: bytes
    PublicKey: bytes
    KeyId: str
    KeyPairSpec: DataKeyPairSpec
    KeyMaterialId: str


class _GenerateDataKeyRequestRequired(TypedDict):
    KeyId: str


class GenerateDataKeyRequest(_GenerateDataKeyRequestRequired, total=False):
    """The keyword arguments of ``generate_data_key``."""

    EncryptionContext: dict[str, str]
    NumberOfBytes: int
    KeySpec: DataKeySpec
    GrantTokens: list[str]
    Recipient: RecipientInfo
    DryRun: bool


class GenerateDataKeyResponse(_Response):
    """What ``generate_data_key`` returns."""

    CiphertextBlob: bytes
    Plaintext: bytes
    KeyId: str
    CiphertextForRecipient: bytes
    KeyMaterialId: str


class _GenerateDataKeyWithoutPlaintextRequestRequired(TypedDict):
    KeyId: str


class GenerateDataKeyWithoutPlaintextRequest(
    _GenerateDataKeyWithoutPlaintextRequestRequired, total=False
):
    """The keyword arguments of ``generate_data_key_without_plaintext``."""

    EncryptionContext: dict[str, str]
    KeySpec: DataKeySpec
    NumberOfBytes: int
    GrantTokens: list[str]
    DryRun: bool


class GenerateDataKeyWithoutPlaintextResponse(_Response):
    """What ``generate_data_key_without_plaintext`` returns."""

    CiphertextBlob: bytes
    KeyId: str
    KeyMaterialId: str


class _GenerateMacRequestRequired(TypedDict):
    Message: bytes | bytearray | memoryview
    KeyId: str
    MacAlgorithm: MacAlgorithmSpec


class GenerateMacRequest(_GenerateMacRequestRequired, total=False):
    """The keyword arguments of ``generate_mac``."""

    GrantTokens: list[str]
    DryRun: bool


class GenerateMacResponse(_Response):
    """What ``generate_mac`` returns."""

    Mac: bytes
    MacAlgorithm: MacAlgorithmSpec
    KeyId: str


class GenerateRandomRequest(TypedDict, total=False):
    """The keyword arguments of ``generate_random``."""

    NumberOfBytes: int
    CustomKeyStoreId: str
    Recipient: RecipientInfo


class GenerateRandomResponse(_Response):
    """What ``generate_random`` returns."""

    Plaintext: bytes
    CiphertextForRecipient: bytes


class GetKeyLastUsageRequest(TypedDict):
    """The keyword arguments of ``get_key_last_usage``."""

    KeyId: str


class GetKeyLastUsageResponse(_Response):
    """What ``get_key_last_usage`` returns."""

    KeyId: str
    KeyLastUsage: KeyLastUsageData
    TrackingStartDate: datetime
    KeyCreationDate: datetime


class _GetKeyPolicyRequestRequired(TypedDict):
    KeyId: str


class GetKeyPolicyRequest(_GetKeyPolicyRequestRequired, total=False):
    """The keyword arguments of ``get_key_policy``."""

    PolicyName: str


class GetKeyPolicyResponse(_Response):
    """What ``get_key_policy`` returns."""

    Policy: str
    PolicyName: str


class GetKeyRotationStatusRequest(TypedDict):
    """The keyword arguments of ``get_key_rotation_status``."""

    KeyId: str


class GetKeyRotationStatusResponse(_Response):
    """What ``get_key_rotation_status`` returns."""

    KeyRotationEnabled: bool
    KeyId: str
    RotationPeriodInDays: int
    NextRotationDate: datetime
    OnDemandRotationStartDate: datetime


class GetParametersForImportRequest(TypedDict):
    """The keyword arguments of ``get_parameters_for_import``."""

    KeyId: str
    WrappingAlgorithm: AlgorithmSpec
    WrappingKeySpec: WrappingKeySpec


class GetParametersForImportResponse(_Response):
    """What ``get_parameters_for_import`` returns."""

    KeyId: str
    ImportToken: bytes
    PublicKey: bytes
    ParametersValidTo: datetime


class _GetPublicKeyRequestRequired(TypedDict):
    KeyId: str


class GetPublicKeyRequest(_GetPublicKeyRequestRequired, total=False):
    """The keyword arguments of ``get_public_key``."""

    GrantTokens: list[str]


class GetPublicKeyResponse(_Response):
    """What ``get_public_key`` returns."""

    KeyId: str
    PublicKey: bytes
    CustomerMasterKeySpec: CustomerMasterKeySpec
    KeySpec: KeySpec
    KeyUsage: KeyUsageType
    EncryptionAlgorithms: list[EncryptionAlgorithmSpec]
    SigningAlgorithms: list[SigningAlgorithmSpec]
    KeyAgreementAlgorithms: list[KeyAgreementAlgorithmSpec]


class GrantConstraints(TypedDict, total=False):
    """Use this structure to allow cryptographic operations in the grant only when the operation
    request meets the specified constraints.
    """

    EncryptionContextSubset: dict[str, str]
    EncryptionContextEquals: dict[str, str]
    SourceArn: str


class GrantListEntry(TypedDict, total=False):
    """Contains information about a grant."""

    KeyId: str
    GrantId: str
    Name: str
    CreationDate: datetime
    GranteePrincipal: str
    RetiringPrincipal: str
    IssuingAccount: str
    Operations: list[GrantOperation]
    Constraints: GrantConstraints
    GranteeServicePrincipal: str
    RetiringServicePrincipal: str


class _ImportKeyMaterialRequestRequired(TypedDict):
    KeyId: str
    ImportToken: bytes | bytearray | memoryview
    EncryptedKeyMaterial: bytes | bytearray | memoryview


class ImportKeyMaterialRequest(_ImportKeyMaterialRequestRequired, total=False):
    """The keyword arguments of ``import_key_material``."""

    ValidTo: datetime
    ExpirationModel: ExpirationModelType
    ImportType: ImportType
    KeyMaterialDescription: str
    KeyMaterialId: str


class ImportKeyMaterialResponse(_Response):
    """What ``import_key_material`` returns."""

    KeyId: str
    KeyMaterialId: str


class KeyLastUsageData(TypedDict, total=False):
    """Contains usage information about the last time the KMS key was used for a successful
    cryptographic operation.
    """

    Operation: KeyLastUsageTrackingOperation
    Timestamp: datetime
    CloudTrailEventId: str
    KmsRequestId: str


class KeyListEntry(TypedDict, total=False):
    """Contains information about each entry in the key list."""

    KeyId: str
    KeyArn: str


class _KeyMetadataRequired(TypedDict):
    KeyId: str


class KeyMetadata(_KeyMetadataRequired, total=False):
    """Contains metadata about a KMS key."""

    AWSAccountId: str
    Arn: str
    CreationDate: datetime
    Enabled: bool
    Description: str
    KeyUsage: KeyUsageType
    KeyState: KeyState
    DeletionDate: datetime
    ValidTo: datetime
    Origin: OriginType
    CustomKeyStoreId: str
    CloudHsmClusterId: str
    ExpirationModel: ExpirationModelType
    KeyManager: KeyManagerType
    CustomerMasterKeySpec: CustomerMasterKeySpec
    KeySpec: KeySpec
    EncryptionAlgorithms: list[EncryptionAlgorithmSpec]
    SigningAlgorithms: list[SigningAlgorithmSpec]
    KeyAgreementAlgorithms: list[KeyAgreementAlgorithmSpec]
    MultiRegion: bool
    MultiRegionConfiguration: MultiRegionConfiguration
    PendingDeletionWindowInDays: int
    MacAlgorithms: list[MacAlgorithmSpec]
    XksKeyConfiguration: XksKeyConfigurationType
    CurrentKeyMaterialId: str


class ListAliasesRequest(TypedDict, total=False):
    """The keyword arguments of ``list_aliases``."""

    KeyId: str
    Limit: int
    Marker: str


class ListAliasesResponse(_Response):
    """What ``list_aliases`` returns."""

    Aliases: list[AliasListEntry]
    NextMarker: str
    Truncated: bool


class _ListGrantsRequestRequired(TypedDict):
    KeyId: str


class ListGrantsRequest(_ListGrantsRequestRequired, total=False):
    """The keyword arguments of ``list_grants``."""

    Limit: int
    Marker: str
    GrantId: str
    GranteePrincipal: str
    GranteeServicePrincipal: str


class ListGrantsResponse(_Response):
    """What ``list_grants`` returns."""

    Grants: list[GrantListEntry]
    NextMarker: str
    Truncated: bool


class _ListKeyPoliciesRequestRequired(TypedDict):
    KeyId: str


class ListKeyPoliciesRequest(_ListKeyPoliciesRequestRequired, total=False):
    """The keyword arguments of ``list_key_policies``."""

    Limit: int
    Marker: str


class ListKeyPoliciesResponse(_Response):
    """What ``list_key_policies`` returns."""

    PolicyNames: list[str]
    NextMarker: str
    Truncated: bool


class _ListKeyRotationsRequestRequired(TypedDict):
    KeyId: str


class ListKeyRotationsRequest(_ListKeyRotationsRequestRequired, total=False):
    """The keyword arguments of ``list_key_rotations``."""

    IncludeKeyMaterial: IncludeKeyMaterial
    Limit: int
    Marker: str


class ListKeyRotationsResponse(_Response):
    """What ``list_key_rotations`` returns."""

    Rotations: list[RotationsListEntry]
    NextMarker: str
    Truncated: bool


class ListKeysRequest(TypedDict, total=False):
    """The keyword arguments of ``list_keys``."""

    Limit: int
    Marker: str


class ListKeysResponse(_Response):
    """What ``list_keys`` returns."""

    Keys: list[KeyListEntry]
    NextMarker: str
    Truncated: bool


class _ListResourceTagsRequestRequired(TypedDict):
    KeyId: str


class ListResourceTagsRequest(_ListResourceTagsRequestRequired, total=False):
    """The keyword arguments of ``list_resource_tags``."""

    Limit: int
    Marker: str


class ListResourceTagsResponse(_Response):
    """What ``list_resource_tags`` returns."""

    Tags: list[Tag]
    NextMarker: str
    Truncated: bool


class ListRetirableGrantsRequest(TypedDict, total=False):
    """The keyword arguments of ``list_retirable_grants``."""

    Limit: int
    Marker: str
    RetiringPrincipal: str
    RetiringServicePrincipal: str


class MultiRegionConfiguration(TypedDict, total=False):
    """Describes the configuration of this multi-Region key. This field appears only when the KMS
    key is a primary or replica of a multi-Region key.
    """

    MultiRegionKeyType: MultiRegionKeyType
    PrimaryKey: MultiRegionKey
    ReplicaKeys: list[MultiRegionKey]


class MultiRegionKey(TypedDict, total=False):
    """Describes the primary or replica key in a multi-Region key."""

    Arn: str
    Region: str


class _PutKeyPolicyRequestRequired(TypedDict):
    KeyId: str
    Policy: str


class PutKeyPolicyRequest(_PutKeyPolicyRequestRequired, total=False):
    """The keyword arguments of ``put_key_policy``."""

    PolicyName: str
    BypassPolicyLockoutSafetyCheck: bool


class _ReEncryptRequestRequired(TypedDict):
    DestinationKeyId: str


class ReEncryptRequest(_ReEncryptRequestRequired, total=False):
    """The keyword arguments of ``re_encrypt``."""

    CiphertextBlob: bytes | bytearray | memoryview
    SourceEncryptionContext: dict[str, str]
    SourceKeyId: str
    DestinationEncryptionContext: dict[str, str]
    SourceEncryptionAlgorithm: EncryptionAlgorithmSpec
    DestinationEncryptionAlgorithm: EncryptionAlgorithmSpec
    GrantTokens: list[str]
    DryRun: bool
    DryRunModifiers: list[DryRunModifierType]


class ReEncryptResponse(_Response):
    """What ``re_encrypt`` returns."""

    CiphertextBlob: bytes
    SourceKeyId: str
    KeyId: str
    SourceEncryptionAlgorithm: EncryptionAlgorithmSpec
    DestinationEncryptionAlgorithm: EncryptionAlgorithmSpec
    SourceKeyMaterialId: str
    DestinationKeyMaterialId: str


class RecipientInfo(TypedDict, total=False):
    """Contains information about the party that receives the response from the API operation."""

    KeyEncryptionAlgorithm: KeyEncryptionMechanism
    AttestationDocument: bytes | bytearray | memoryview


class _ReplicateKeyRequestRequired(TypedDict):
    KeyId: str
    ReplicaRegion: str


class ReplicateKeyRequest(_ReplicateKeyRequestRequired, total=False):
    """The keyword arguments of ``replicate_key``."""

    Policy: str
    BypassPolicyLockoutSafetyCheck: bool
    Description: str
    Tags: list[Tag]


class ReplicateKeyResponse(_Response):
    """What ``replicate_key`` returns."""

    ReplicaKeyMetadata: KeyMetadata
    ReplicaPolicy: str
    ReplicaTags: list[Tag]


class RetireGrantRequest(TypedDict, total=False):
    """The keyword arguments of ``retire_grant``."""

    GrantToken: str
    KeyId: str
    GrantId: str
    DryRun: bool


class _RevokeGrantRequestRequired(TypedDict):
    KeyId: str
    GrantId: str


class RevokeGrantRequest(_RevokeGrantRequestRequired, total=False):
    """The keyword arguments of ``revoke_grant``."""

    DryRun: bool


class RotateKeyOnDemandRequest(TypedDict):
    """The keyword arguments of ``rotate_key_on_demand``."""

    KeyId: str


class RotateKeyOnDemandResponse(_Response):
    """What ``rotate_key_on_demand`` returns."""

    KeyId: str


class RotationsListEntry(TypedDict, total=False):
    """Each entry contains information about one of the key materials associated with a KMS key."""

    KeyId: str
    KeyMaterialId: str
    KeyMaterialDescription: str
    ImportState: ImportState
    KeyMaterialState: KeyMaterialState
    ExpirationModel: ExpirationModelType
    ValidTo: datetime
    RotationDate: datetime
    RotationType: RotationType


class _ScheduleKeyDeletionRequestRequired(TypedDict):
    KeyId: str


class ScheduleKeyDeletionRequest(_ScheduleKeyDeletionRequestRequired, total=False):
    """The keyword arguments of ``schedule_key_deletion``."""

    PendingWindowInDays: int


class ScheduleKeyDeletionResponse(_Response):
    """What ``schedule_key_deletion`` returns."""

    KeyId: str
    DeletionDate: datetime
    KeyState: KeyState
    PendingWindowInDays: int


class _SignRequestRequired(TypedDict):
    KeyId: str
    Message: bytes | bytearray | memoryview
    SigningAlgorithm: SigningAlgorithmSpec


class SignRequest(_SignRequestRequired, total=False):
    """The keyword arguments of ``sign``."""

    MessageType: MessageType
    GrantTokens: list[str]
    DryRun: bool


class SignResponse(_Response):
    """What ``sign`` returns."""

    KeyId: str
    Signature: bytes
    SigningAlgorithm: SigningAlgorithmSpec


class Tag(TypedDict):
    """A key-value pair. A tag consists of a tag key and a tag value. Tag keys and tag values are
    both required, but tag values can be empty (null) strings.
    """

    TagKey: str
    TagValue: str


class TagResourceRequest(TypedDict):
    """The keyword arguments of ``tag_resource``."""

    KeyId: str
    Tags: list[Tag]


class UntagResourceRequest(TypedDict):
    """The keyword arguments of ``untag_resource``."""

    KeyId: str
    TagKeys: list[str]


class UpdateAliasRequest(TypedDict):
    """The keyword arguments of ``update_alias``."""

    AliasName: str
    TargetKeyId: str


class _UpdateCustomKeyStoreRequestRequired(TypedDict):
    CustomKeyStoreId: str


class UpdateCustomKeyStoreRequest(_UpdateCustomKeyStoreRequestRequired, total=False):
    """The keyword arguments of ``update_custom_key_store``."""

    NewCustomKeyStoreName: str
    KeyStorePassword: str
    CloudHsmClusterId: str
    XksProxyUriEndpoint: str
    XksProxyUriPath: str
    XksProxyVpcEndpointServiceName: str
    XksProxyVpcEndpointServiceOwner: str
    XksProxyAuthenticationCredential: XksProxyAuthenticationCredentialType
    XksProxyConnectivity: XksProxyConnectivityType


class UpdateCustomKeyStoreResponse(_Response):
    """What ``update_custom_key_store`` returns."""


class UpdateKeyDescriptionRequest(TypedDict):
    """The keyword arguments of ``update_key_description``."""

    KeyId: str
    Description: str


class UpdatePrimaryRegionRequest(TypedDict):
    """The keyword arguments of ``update_primary_region``."""

    KeyId: str
    PrimaryRegion: str


class _VerifyMacRequestRequired(TypedDict):
    Message: bytes | bytearray | memoryview
    KeyId: str
    MacAlgorithm: MacAlgorithmSpec
    Mac: bytes | bytearray | memoryview


class VerifyMacRequest(_VerifyMacRequestRequired, total=False):
    """The keyword arguments of ``verify_mac``."""

    GrantTokens: list[str]
    DryRun: bool


class VerifyMacResponse(_Response):
    """What ``verify_mac`` returns."""

    KeyId: str
    MacValid: bool
    MacAlgorithm: MacAlgorithmSpec


class _VerifyRequestRequired(TypedDict):
    KeyId: str
    Message: bytes | bytearray | memoryview
    Signature: bytes | bytearray | memoryview
    SigningAlgorithm: SigningAlgorithmSpec


class VerifyRequest(_VerifyRequestRequired, total=False):
    """The keyword arguments of ``verify``."""

    MessageType: MessageType
    GrantTokens: list[str]
    DryRun: bool


class VerifyResponse(_Response):
    """What ``verify`` returns."""

    KeyId: str
    SignatureValid: bool
    SigningAlgorithm: SigningAlgorithmSpec


class XksKeyConfigurationType(TypedDict, total=False):
    """Information about the external key that is associated with a KMS key in an external key
    store.
    """

    Id: str


class XksProxyAuthenticationCredentialType(TypedDict):
    """KMS uses the authentication credential to sign requests that it sends to the external key
    store proxy (XKS proxy) on your behalf. You establish these credentials on your external key
    store proxy and report them to KMS.
    """

    AccessKeyId: str
    RawSecretAccessKey: str


class XksProxyConfigurationType(TypedDict, total=False):
    """Detailed information about the external key store proxy (XKS proxy). Your external key store
    proxy translates KMS requests into a format that your external key manager can understand. These
    fields appear in a DescribeCustomKeyStores response only when the CustomKeyStoreType is
    EXTERNAL_KEY_STORE.
    """

    Connectivity: XksProxyConnectivityType
    AccessKeyId: str
    UriEndpoint: str
    UriPath: str
    VpcEndpointServiceName: str
    VpcEndpointServiceOwner: str


class ListAliasesPaginator(Protocol):
    """``kms.get_paginator("list_aliases")``: pages of ``list_aliases``, its ``Aliases`` cut to
    ``PaginationConfig``'s ``MaxItems``.
    """

    def paginate(
        self,
        *,
        KeyId: str = ...,
        PaginationConfig: PaginationConfig = ...,
    ) -> PageIterator[ListAliasesResponse]: ...


class ListGrantsPaginator(Protocol):
    """``kms.get_paginator("list_grants")``: pages of ``list_grants``, its ``Grants`` cut to
    ``PaginationConfig``'s ``MaxItems``.
    """

    def paginate(
        self,
        *,
        KeyId: str,
        GrantId: str = ...,
        GranteePrincipal: str = ...,
        GranteeServicePrincipal: str = ...,
        PaginationConfig: PaginationConfig = ...,
    ) -> PageIterator[ListGrantsResponse]: ...


class ListKeyPoliciesPaginator(Protocol):
    """``kms.get_paginator("list_key_policies")``: pages of ``list_key_policies``, its
    ``PolicyNames`` cut to ``PaginationConfig``'s ``MaxItems``.
    """

    def paginate(
        self,
        *,
        KeyId: str,
        PaginationConfig: PaginationConfig = ...,
    ) -> PageIterator[ListKeyPoliciesResponse]: ...


class ListKeysPaginator(Protocol):
    """``kms.get_paginator("list_keys")``: pages of ``list_keys``, its ``Keys`` cut to
    ``PaginationConfig``'s ``MaxItems``.
    """

    def paginate(
        self,
        *,
        PaginationConfig: PaginationConfig = ...,
    ) -> PageIterator[ListKeysResponse]: ...


class DescribeCustomKeyStoresPaginator(Protocol):
    """``kms.get_paginator("describe_custom_key_stores")``: pages of ``describe_custom_key_stores``,
    its ``CustomKeyStores`` cut to ``PaginationConfig``'s ``MaxItems``.
    """

    def paginate(
        self,
        *,
        CustomKeyStoreId: str = ...,
        CustomKeyStoreName: str = ...,
        PaginationConfig: PaginationConfig = ...,
    ) -> PageIterator[DescribeCustomKeyStoresResponse]: ...


class ListResourceTagsPaginator(Protocol):
    """``kms.get_paginator("list_resource_tags")``: pages of ``list_resource_tags``, its ``Tags``
    cut to ``PaginationConfig``'s ``MaxItems``.
    """

    def paginate(
        self,
        *,
        KeyId: str,
        PaginationConfig: PaginationConfig = ...,
    ) -> PageIterator[ListResourceTagsResponse]: ...


class ListRetirableGrantsPaginator(Protocol):
    """``kms.get_paginator("list_retirable_grants")``: pages of ``list_retirable_grants``, its
    ``Grants`` cut to ``PaginationConfig``'s ``MaxItems``.
    """

    def paginate(
        self,
        *,
        RetiringPrincipal: str = ...,
        RetiringServicePrincipal: str = ...,
        PaginationConfig: PaginationConfig = ...,
    ) -> PageIterator[ListGrantsResponse]: ...


class ListKeyRotationsPaginator(Protocol):
    """``kms.get_paginator("list_key_rotations")``: pages of ``list_key_rotations``, its
    ``Rotations`` cut to ``PaginationConfig``'s ``MaxItems``.
    """

    def paginate(
        self,
        *,
        KeyId: str,
        IncludeKeyMaterial: IncludeKeyMaterial = ...,
        PaginationConfig: PaginationConfig = ...,
    ) -> PageIterator[ListKeyRotationsResponse]: ...
