"""Every hook spec is documented for plugin authors and exercised by a test."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from qcourier.hooks import spec

TESTS = Path(__file__).resolve().parents[1]
HOOKS = sorted(name for name in spec.__all__ if name.startswith("qcourier_"))


def _test_function_names() -> set[str]:
    names: set[str] = set()
    for path in TESTS.rglob("test_*.py"):
        names.update(re.findall(r"^\s*def (test_\w+)", path.read_text(encoding="utf-8"), re.M))
    return names


def test_spec_module_lists_every_hook() -> None:
    defined = {name for name, _ in inspect.getmembers(spec, inspect.isfunction)}
    assert {name for name in defined if name.startswith("qcourier_")} == set(HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_complete_docstring(hook: str) -> None:
    function = getattr(spec, hook)
    doc = inspect.getdoc(function) or ""
    assert doc.splitlines()[0].strip(), f"{hook} needs a summary line"
    for parameter in inspect.signature(function).parameters:
        assert f":param {parameter}:" in doc, f"{hook} does not document {parameter}"
    assert ":returns:" in doc, f"{hook} does not say what it returns"
    assert ".. versionadded::" in doc, f"{hook} has no versionadded"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_test_named_for_it(hook: str) -> None:
    names = _test_function_names()
    assert any(name.startswith(f"test_hook_{hook}_") for name in names), (
        f"write a test named test_hook_{hook}_<behaviour>"
    )


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_in_the_plugin_author_docs(hook: str) -> None:
    docs = TESTS.parent / "docs"
    text = "".join(path.read_text(encoding="utf-8") for path in docs.rglob("*.rst"))
    assert f"autofunction:: qcourier.hooks.spec.{hook}" in text
