"""What botocore itself makes of KMS requests and replies: the truth aiokms's protocol is held to.

Each helper runs botocore's own code on the same input aiokms gets: its JSON serializer and
``ParamValidator`` for requests, its ``JSONParser`` (plus the modeled error members its endpoint
adds) for replies. Nothing here reimplements botocore.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import botocore.parsers
import botocore.serialize
import botocore.session
import botocore.validate

KMS_MODEL = botocore.session.get_session().get_service_model("kms")

# validation apart, as the client runs it: the serializer alone takes memoryview blobs too
_SERIALIZER = botocore.serialize.create_serializer("json", include_validation=False)


def botocore_request(operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The request dict botocore's JSON serializer builds (headers, body bytes, ...)."""
    request: dict[str, Any] = _SERIALIZER.serialize_to_request(
        params, KMS_MODEL.operation_model(operation)
    )
    return request


def botocore_body(operation: str, params: Mapping[str, Any]) -> Any:
    """The JSON body botocore sends for ``params``, decoded."""
    return json.loads(botocore_request(operation, params)["body"])


def botocore_report(operation: str, params: Mapping[str, Any]) -> str:
    """botocore's ``ParamValidator`` report on ``params`` (empty if it finds nothing)."""
    shape = KMS_MODEL.operation_model(operation).input_shape
    report: str = botocore.validate.ParamValidator().validate(params, shape).generate_report()
    return report


def botocore_reply(
    operation: str, body: bytes, headers: Mapping[str, str], status: int = 200
) -> dict[str, Any]:
    """What botocore's parser makes of a successful reply to ``operation``."""
    parser = botocore.parsers.JSONParser()
    reply = {"status_code": status, "headers": dict(headers), "body": body}
    parsed: dict[str, Any] = parser.parse(reply, KMS_MODEL.operation_model(operation).output_shape)
    return parsed


def botocore_error(
    status: int, body: bytes, operation: str, headers: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """What botocore makes of an error reply to ``operation``: its parser's generic error,
    plus the error shape's modeled members, as its endpoint adds them."""
    parser = botocore.parsers.JSONParser()
    reply = {"status_code": status, "headers": dict(headers or {}), "body": body}
    parsed: dict[str, Any] = parser.parse(reply, KMS_MODEL.operation_model(operation).output_shape)
    error_shape = KMS_MODEL.shape_for_error_code(parsed["Error"]["Code"])
    if error_shape is not None:
        parsed.update(parser.parse(reply, error_shape))
    return parsed
