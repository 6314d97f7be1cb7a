"""botocore's KMS service and paginator models, read once and turned into per-operation specs.

How this works: botocore ships the KMS API as data (``kms/<version>/service-2.json`` and
``paginators-1.json``). An operation's first use compiles it into an :class:`OperationSpec`:
its snake_case method name, its ``X-Amz-Target`` header, a converter that validates and
serializes the input in one pass, and a converter that turns the JSON reply into the dict
botocore returns; the error shapes are compiled at the first error, the paginators at the first
``get_paginator``. The per-call work is then only the walk over the caller's values, and a
process pays for the operations it uses. :func:`load` compiles everything at once.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from html import unescape
from typing import TYPE_CHECKING, Any

from botocore import xform_name

from aiokms import _protocol

if TYPE_CHECKING:
    import botocore.loaders
    from botocore.model import ServiceModel

__all__ = [
    "KMSModel",
    "OperationSpec",
    "PaginatorSpec",
    "error_parsers",
    "load",
    "operation",
    "paginators",
]


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
    """Load and compile botocore's KMS model, every operation (cached for the process)."""
    service = _service()
    operations = {name: operation(name) for name in service.operation_names}
    return KMSModel(
        api_version=service.api_version,
        target_prefix=service.metadata["targetPrefix"],
        signing_name=service.signing_name,
        operations=operations,
        by_method={spec.method_name: spec for spec in operations.values()},
        paginators=paginators(),
        error_members=error_parsers(),
    )


@functools.cache
def operation(name: str) -> OperationSpec:
    """One operation, by API name (``"GenerateDataKey"``), compiled at its first use.

    Raises:
        botocore.exceptions.OperationNotFoundError: the model has no such operation.
    """
    service = _service()
    op = service.operation_model(name)
    return OperationSpec(
        name=name,
        method_name=xform_name(name),
        target=f"{service.metadata['targetPrefix']}.{name}",
        documentation=_plain_text(op.documentation),
        serialize_input=_protocol.compile_input(op.input_shape),
        parse_output=_protocol.compile_output(op.output_shape),
    )


@functools.cache
def error_parsers() -> dict[str, _protocol.OutputParser | None]:
    """The parser of each modeled error code's body, compiled at the first error."""
    return {shape.name: _protocol.compile_output(shape) for shape in _service().error_shapes}


@functools.cache
def paginators() -> dict[str, PaginatorSpec]:
    """botocore's paginators of KMS, by method name (``"list_keys"``)."""
    service = _service()
    raw = _loader().load_service_model("kms", "paginators-1", service.api_version)["pagination"]
    specs = [
        PaginatorSpec(
            operation=op,
            method_name=xform_name(op),
            input_token=cfg["input_token"],
            output_token=cfg["output_token"],
            more_results=cfg.get("more_results"),
            limit_key=cfg.get("limit_key"),
            result_key=cfg["result_key"],
        )
        for op, cfg in raw.items()
    ]
    return {spec.method_name: spec for spec in specs}


@functools.cache
def _loader() -> botocore.loaders.Loader:
    # botocore's data and the user's (``~/.aws/models``, ``AWS_DATA_PATH``), as a session's
    # loader finds them, without the import and set-up of a whole botocore session; imported
    # here, at the first call, not with aiokms
    import botocore.loaders

    return botocore.loaders.create_loader(os.environ.get("AWS_DATA_PATH"))


@functools.cache
@functools.cache
def service_model() -> ServiceModel:
    """botocore's KMS service model, the one aiokms runs (``kms.meta.service_model``)."""
    return _service()


@functools.cache
def method_to_api_mapping() -> dict[str, str]:
    """Method names to the model's operation names (``kms.meta.method_to_api_mapping``)."""
    return {xform_name(name): name for name in service_model().operation_names}


def _service() -> ServiceModel:
    from botocore.model import ServiceModel

    return ServiceModel(_loader().load_service_model("kms", "service-2"), service_name="kms")


def _plain_text(html: Any) -> str:
    """The first paragraph of an operation's HTML documentation, as plain text."""
    first = str(html or "").split("</p>", 1)[0]
    return " ".join(unescape(re.sub(r"<[^>]+>", "", first)).split())
