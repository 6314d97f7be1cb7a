"""The compiled KMS model against botocore's own view of the same data files.

botocore is the truth throughout: its service model for the operations, method names, targets
and error shapes, its paginator model for pagination, its JSON parser for the error members.
Sans-I/O: nothing here opens a socket.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser

import botocore.parsers
import botocore.session
import pytest
from botocore import xform_name

from aiokms import _model
from tests.botocore_truth import KMS_MODEL, botocore_request

MODEL = _model.load()
OPERATIONS = list(KMS_MODEL.operation_names)


def botocore_paginator(operation: str) -> dict[str, object] | None:
    """botocore's paginator config for ``operation``, ``None`` if it cannot paginate."""
    paginators = botocore.session.get_session().get_paginator_model("kms")
    try:
        config: dict[str, object] = paginators.get_paginator(operation)
    except ValueError:
        return None
    return config


# --- operations ------------------------------------------------------------------------------


def test_the_operations_are_exactly_botocores() -> None:
    assert list(MODEL.operations) == OPERATIONS
    assert len(MODEL.operations) == len(KMS_MODEL.operation_names)
    assert all(spec.name == name for name, spec in MODEL.operations.items())


def test_the_service_metadata_is_botocores() -> None:
    assert MODEL.api_version == KMS_MODEL.api_version
    assert MODEL.target_prefix == KMS_MODEL.metadata["targetPrefix"] == "TrentService"
    assert MODEL.signing_name == KMS_MODEL.signing_name == "kms"


def test_method_names_are_botocores_xform_name() -> None:
    expected = {xform_name(name): name for name in OPERATIONS}
    assert {spec.method_name: spec.name for spec in MODEL.operations.values()} == expected
    assert {method: spec.name for method, spec in MODEL.by_method.items()} == expected
    assert MODEL.by_method["generate_data_key"] is MODEL.operations["GenerateDataKey"]


@pytest.mark.parametrize("operation", OPERATIONS)
def test_the_target_is_the_one_botocore_sends(operation: str) -> None:
    spec = MODEL.operations[operation]
    assert spec.target == f"TrentService.{operation}"
    assert spec.target == botocore_request(operation, {})["headers"]["X-Amz-Target"]


def test_an_output_parser_exactly_where_the_model_has_an_output() -> None:
    for name in OPERATIONS:
        has_output = KMS_MODEL.operation_model(name).output_shape is not None
        assert (MODEL.operations[name].parse_output is not None) == has_output, name
    # both kinds occur, so the check above can fail either way
    assert MODEL.operations["DeleteAlias"].parse_output is None
    assert MODEL.operations["ListKeys"].parse_output is not None


class _FirstParagraph(HTMLParser):
    """The text of the first ``<p>`` element of an HTML fragment."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.depth = 0
        self.done = False
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag == "p" and not self.done:
            self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "p" and self.depth:
            self.depth -= 1
            self.done = self.depth == 0

    def handle_data(self, data: str) -> None:
        if self.depth and not self.done:
            self.text.append(data)


@pytest.mark.parametrize("operation", OPERATIONS)
def test_documentation_is_the_first_paragraph_as_plain_text(operation: str) -> None:
    html = KMS_MODEL.operation_model(operation).documentation
    first = _FirstParagraph()
    first.feed(html)
    assert first.done  # every KMS operation's documentation opens with a paragraph
    documentation = MODEL.operations[operation].documentation
    assert documentation == " ".join("".join(first.text).split())
    assert documentation and "<" not in documentation and "\n" not in documentation


def test_documentation_stops_after_the_first_paragraph() -> None:
    # Encrypt's documentation runs to many paragraphs; the method's docstring opens with one
    html = KMS_MODEL.operation_model("Encrypt").documentation
    assert html.count("<p>") > 5
    documentation = MODEL.operations["Encrypt"].documentation
    assert documentation.startswith("Encrypts plaintext")
    assert "Required permissions" not in documentation


# --- paginators ------------------------------------------------------------------------------


def test_the_paginated_operations_are_botocores() -> None:
    paginated = [name for name in OPERATIONS if botocore_paginator(name) is not None]
    assert paginated  # KMS has paginators, so the comparison below means something
    assert set(MODEL.paginators) == {xform_name(name) for name in paginated}


@pytest.mark.parametrize(
    "operation", [name for name in OPERATIONS if botocore_paginator(name) is not None]
)
def test_each_paginator_is_botocores(operation: str) -> None:
    config = botocore_paginator(operation)
    assert config is not None
    spec = MODEL.paginators[xform_name(operation)]
    assert spec.operation == operation
    assert spec.method_name == xform_name(operation)
    assert spec.input_token == config["input_token"]
    assert spec.output_token == config["output_token"]
    assert spec.limit_key == config.get("limit_key")
    assert spec.result_key == config["result_key"]
    assert spec.more_results == config.get("more_results")
    # nothing in botocore's config that the spec leaves out
    assert set(config) <= {"input_token", "output_token", "limit_key", "result_key", "more_results"}


# --- errors ----------------------------------------------------------------------------------


def test_error_members_are_the_models_error_shapes() -> None:
    codes = {shape.name for shape in KMS_MODEL.error_shapes}
    assert set(MODEL.error_members) == codes
    for code in codes:  # keyed by the code botocore looks a reply's error up by
        shape = KMS_MODEL.shape_for_error_code(code)
        assert shape is not None and shape.name == code


@pytest.mark.parametrize("code", sorted(shape.name for shape in KMS_MODEL.error_shapes))
def test_error_members_parse_as_botocore_parses_the_error_shape(code: str) -> None:
    body = {"__type": code, "message": f"{code}: ünïcode", "Unmodeled": [1, 2]}
    parser = MODEL.error_members[code]
    parsed = parser(body) if parser is not None else {}
    reply = {"status_code": 400, "headers": {}, "body": json.dumps(body).encode()}
    shape = KMS_MODEL.shape_for_error_code(code)
    assert parsed == botocore.parsers.JSONParser().parse(reply, shape)
    assert parsed == {"message": f"{code}: ünïcode"}


# --- loading ---------------------------------------------------------------------------------


def test_load_is_cached_and_does_not_read_botocore_again(monkeypatch: pytest.MonkeyPatch) -> None:
    first = _model.load()

    def no_second_read() -> None:
        raise AssertionError("the model was read again")

    monkeypatch.setattr(botocore.session, "get_session", no_second_read)
    assert _model.load() is first
    assert _model.load().operations is first.operations
