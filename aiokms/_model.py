"""botocore's KMS service and paginator models, read once and turned into per-operation specs.

How this works: botocore ships the KMS API as data (``kms/<version>/service-2.json`` and
``paginators-1.json``). At first use this module compiles every operation into an
:class:`OperationSpec`: its snake_case method name, its ``X-Amz-Target`` header, a converter that
validates and serializes the input in one pass, and a converter that turns the JSON reply into
the dict botocore returns. The per-call work is then only the walk over the caller's values.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from html import unescape
from typing import Any

import botocore.session
from botocore import xform_name

from aiokms import _protocol

__all__ = ["KMSModel", "OperationSpec", "PaginatorSpec", "load"]


@dataclass(frozen=True, slots=True)
class OperationSpec:
    """What the client needs to call one operation, computed once."""

    name: str
    method_name: str
    target: str
    documentation: str
    serialize_input: _protocol.InputConverter
    parse_output: _protocol.OutputParser | None


@dataclass(frozen=True, slots=True)
class PaginatorSpec:
    """botocore's paginator config for one operation (KMS uses single tokens throughout)."""

    operation: str
    method_name: str
    input_token: str
    output_token: str
    more_results: str | None
    limit_key: str | None
    result_key: str


@dataclass(frozen=True, slots=True)
class KMSModel:
    """The compiled KMS model."""

    api_version: str
    target_prefix: str
    signing_name: str
    operations: dict[str, OperationSpec]  # by API name, e.g. "GenerateDataKey"
    by_method: dict[str, OperationSpec]  # by method name, e.g. "generate_data_key"
    paginators: dict[str, PaginatorSpec]  # by method name
    error_members: dict[str, _protocol.OutputParser | None]  # modeled error code -> body parser


@functools.cache
def load() -> KMSModel:
    """Load and compile botocore's KMS model (cached for the life of the process)."""
    session = botocore.session.get_session()
    service = session.get_service_model("kms")
    target_prefix = service.metadata["targetPrefix"]
    operations: dict[str, OperationSpec] = {}
    for name in service.operation_names:
        op = service.operation_model(name)
        operations[name] = OperationSpec(
            name=name,
            method_name=xform_name(name),
            target=f"{target_prefix}.{name}",
            documentation=_plain_text(op.documentation),
            serialize_input=_protocol.compile_input(op.input_shape),
            parse_output=_protocol.compile_output(op.output_shape),
        )
    loader = session.get_component("data_loader")
    raw = loader.load_service_model("kms", "paginators-1", service.api_version)["pagination"]
    paginators = [
        PaginatorSpec(
            operation=op,
            method_name=operations[op].method_name,
            input_token=cfg["input_token"],
            output_token=cfg["output_token"],
            more_results=cfg.get("more_results"),
            limit_key=cfg.get("limit_key"),
            result_key=cfg["result_key"],
        )
        for op, cfg in raw.items()
    ]
    return KMSModel(
        api_version=service.api_version,
        target_prefix=target_prefix,
        signing_name=service.signing_name,
        operations=operations,
        by_method={spec.method_name: spec for spec in operations.values()},
        paginators={spec.method_name: spec for spec in paginators},
        error_members={
            shape.name: _protocol.compile_output(shape) for shape in service.error_shapes
        },
    )


def _plain_text(html: Any) -> str:
    """The first paragraph of an operation's HTML documentation, as plain text."""
    first = str(html or "").split("</p>", 1)[0]
    return " ".join(unescape(re.sub(r"<[^>]+>", "", first)).split())
