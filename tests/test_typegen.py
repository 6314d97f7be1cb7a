"""The typed modules are what ``aiokms._typegen`` makes of the installed botocore's KMS model."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiokms import _operations, _typegen

PACKAGE = Path(_typegen.__file__).parent
GENERATED = _typegen.generate()


@pytest.mark.parametrize("name", ["types.py", "_operations.py"])
def test_the_generated_module_is_up_to_date(name: str) -> None:
    # after a botocore upgrade that changes the model: python -m aiokms._typegen
    assert (PACKAGE / name).read_text() == GENERATED[name]


def test_check_mode_reports_a_stale_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, text in GENERATED.items():
        (tmp_path / name).write_text(text)
    monkeypatch.setattr(_typegen, "_PACKAGE", tmp_path)
    assert _typegen.main(["--check"]) == 0
    (tmp_path / "types.py").write_text(GENERATED["types.py"] + "# edited\n")
    assert _typegen.main(["--check"]) == 1
    assert (tmp_path / "types.py").read_text().endswith("# edited\n")  # --check writes nothing
    assert _typegen.main([]) == 0
    assert (tmp_path / "types.py").read_text() == GENERATED["types.py"]


@pytest.mark.parametrize(
    ("operation", "method"),
    [
        ("GenerateDataKey", "generate_data_key"),
        ("ReEncrypt", "re_encrypt"),
        ("GenerateDataKeyPairWithoutPlaintext", "generate_data_key_pair_without_plaintext"),
        ("GetParametersForImport", "get_parameters_for_import"),
        ("ListKeys", "list_keys"),
    ],
)
def test_method_names_are_botocores(operation: str, method: str) -> None:
    from botocore import xform_name

    assert _typegen.method_name(operation) == xform_name(operation) == method


def test_every_operation_and_error_code_of_the_model_is_listed() -> None:
    import botocore.session

    service = botocore.session.get_session().get_service_model("kms")
    assert set(_operations.OPERATIONS.values()) == set(service.operation_names)
    assert set(_operations.ERROR_CODES) == {shape.name for shape in service.error_shapes}
    assert service.signing_name == _operations.SIGNING_NAME


def test_documentation_is_plain_text() -> None:
    text = _typegen._plain_text(
        "<p>Use <code>KeySpec</code>.</p> <ul> <li> <p>One &amp; two</p> <ul> <li> <p>"
        "<a href='x'>Nested</a></p> </li> </ul> </li> <li> <p>Three \u2013 four</p> </li> </ul>"
        "<important><p>Careful.</p></important>"
    )
    assert text == "Use KeySpec.\n\n- One & two\n  - Nested\n- Three - four\n\nImportant: Careful."
