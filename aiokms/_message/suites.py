"""The algorithm suites aiokms reads and writes, and the format's fixed sizes and labels."""

from __future__ import annotations

import enum
from typing import Final

__all__ = [
    "Algorithm",
    "BODY_AAD_FINAL",
    "BODY_AAD_FRAME",
    "BODY_AAD_SINGLE",
    "COMMIT_KEY_LEN",
    "DATA_KEY_LEN",
    "IV_LEN",
    "MAX_FRAME_LENGTH",
    "MAX_FRAMES",
    "MAX_NON_FRAMED_LENGTH",
    "MESSAGE_ID_LEN",
    "PUBLIC_KEY_CONTEXT_KEY",
    "RESERVED_CONTEXT_PREFIX",
    "TAG_LEN",
]

DATA_KEY_LEN: Final = 32  # the plaintext data key (HKDF input) and the derived AES-256 key
COMMIT_KEY_LEN: Final = 32
MESSAGE_ID_LEN: Final = 32  # message format v2
IV_LEN: Final = 12
TAG_LEN: Final = 16

# A frame length is a u32 field; readers (the Python ESDK among them) refuse more than 2^31 - 1.
MAX_FRAME_LENGTH: Final = 2**31 - 1
MAX_FRAMES: Final = 2**32 - 1  # sequence numbers are u32 and start at 1
MAX_NON_FRAMED_LENGTH: Final = 2**36 - 32  # AES-GCM's limit for one invocation

BODY_AAD_FRAME: Final = b"AWSKMSEncryptionClient Frame"
BODY_AAD_FINAL: Final = b"AWSKMSEncryptionClient Final Frame"
BODY_AAD_SINGLE: Final = b"AWSKMSEncryptionClient Single Block"

# The signed suite keeps its verification key in the encryption context under this key; the
# whole ``aws-crypto-`` prefix is reserved for the format, so callers may not use it.
PUBLIC_KEY_CONTEXT_KEY: Final = "aws-crypto-public-key"
RESERVED_CONTEXT_PREFIX: Final = "aws-crypto-"


class Algorithm(enum.IntEnum):
    """An algorithm suite of the AWS Encryption SDK message format, version 2.

    Both suites encrypt with AES-256-GCM under a key derived per message with HKDF-SHA512 and
    commit to the data key (the header carries a commitment that only the right data key
    reproduces). Members compare equal to their suite ids; :meth:`coerce` also takes a name.
    """

    AES_256_GCM_HKDF_SHA512_COMMIT_KEY = 0x0478
    """No signature: anyone who can decrypt the data key could also have written the message."""

    AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384 = 0x0578
    """Adds an ECDSA P-384 signature over the whole message, made with a key pair of the
    writer's (its public half in the encryption context), so that principals allowed only to
    decrypt the data key cannot forge messages. The ESDK's default suite."""

    @property
    def signed(self) -> bool:
        """Whether messages of this suite end with an ECDSA P-384 signature."""
        return self is Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384

    @property
    def suite_id(self) -> bytes:
        """The two bytes that name this suite in a message header."""
        return self.value.to_bytes(2, "big")

    @classmethod
    def coerce(cls, value: object, name: str = "algorithm") -> Algorithm:
        """The member for ``value``: a member, its name, or its suite id (``0x0478``).

        Raises:
            ValueError: ``value`` names no supported suite; the message names ``name``.
            TypeError: ``value`` is not a member, a string or an int.
        """
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            member = cls.__members__.get(value.upper().removeprefix("ALG_"))
            if member is not None:
                return member
        elif isinstance(value, int) and not isinstance(value, bool):
            try:
                return cls(value)
            except ValueError:
                pass
        else:
            raise TypeError(
                f"{name}: expected an aiokms.Algorithm, a suite name or a suite id, "
                f"got {type(value).__name__}"
            )
        choices = ", ".join(f"{m.name} (0x{m.value:04X})" for m in cls)
        raise ValueError(
            f"{name}: {value!r} is not a supported algorithm suite; use one of {choices}"
        )
