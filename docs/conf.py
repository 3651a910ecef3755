"""Sphinx configuration for the qcourier docs (built with -W: every warning fails)."""

from __future__ import annotations

from typing import Any

from docutils import nodes
from sphinx.addnodes import pending_xref
from sphinx.application import Sphinx

project = "qcourier"
author = "the qcourier developers"
copyright = "2026, the qcourier developers"
extensions = ["sphinx.ext.autodoc", "sphinx.ext.intersphinx"]
autodoc_typehints = "description"
autodoc_member_order = "bysource"
exclude_patterns = ["_build", "examples/**/README.md"]
html_theme = "alabaster"
# No network at build time: intersphinx inventories are not fetched.
intersphinx_mapping: dict[str, Any] = {}


def hook_role(
    name: str,
    rawtext: str,
    text: str,
    lineno: int,
    inliner: Any,
    options: dict[str, Any] | None = None,
    content: list[str] | None = None,
) -> tuple[list[nodes.Node], list[nodes.system_message]]:
    """``:hook:`qcourier_send``` links to the hook's reference entry."""
    node = pending_xref(
        rawtext,
        refdomain="py",
        reftype="func",
        reftarget=f"qcourier.hooks.spec.{text}",
        refexplicit=True,
        refwarn=True,
    )
    node += nodes.literal(rawtext, text, classes=["xref", "py", "py-func"])
    return [node], []


def setup(app: Sphinx) -> None:
    app.add_role("hook", hook_role)
