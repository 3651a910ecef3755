"""Sphinx helpers that render qcourier facts from the code, so the docs cannot drift from it.

- ``:hook:`qcourier_send``` links to a hook's reference entry.
- ``.. qcourier-options::`` is the table of every connection option, from the field metadata
  of :class:`qcourier.config.Options`.
- ``.. qcourier-plugin-defaults::`` is the table of concerns, entry-point groups, built-in
  plugins and defaults, from :data:`qcourier.discovery.GROUPS`, qcourier's own entry points and
  the option defaults.
- ``.. qcourier-cli-usage:: COMMAND`` is the ``--help`` text of one ``qcourier`` subcommand.
- Every hook spec's docstring gains a "Calling convention" field read from its hookspec marker.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
from collections.abc import Iterator
from importlib.metadata import distribution
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.addnodes import pending_xref
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

from qcourier.config import ENV_PREFIX, Options
from qcourier.discovery import GROUPS
from qcourier.hooks import PROJECT
from qcourier.secret import Secret

#: The option that selects the plugins of each concern; ``None`` means "every installed one".
CONCERN_OPTIONS: dict[str, str | None] = {
    "channel": "channel",
    "transport": "transport",
    "auth": "auth",
    "api": "api",
    "decoder": "decoders",
    "wait": "wait",
    "events": "events",
    "commands": None,
}

#: Width of the generated ``--help`` text, so the output does not depend on the terminal.
HELP_COLUMNS = "88"


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


def _list_table(header: list[str], rows: list[list[str]], widths: str) -> list[str]:
    lines = [".. list-table::", "   :header-rows: 1", f"   :widths: {widths}", ""]
    for row in [header, *rows]:
        first, *rest = row
        lines.append(f"   * - {first}")
        lines.extend(f"     - {cell}" for cell in rest)
    return lines


def _literal(value: object) -> str:
    if value is None:
        return "*unset*"
    if isinstance(value, tuple):
        return ", ".join(f"``{item}``" for item in value) if value else "*none*"
    return f"``{str(value).lower() if isinstance(value, bool) else value}``"


def option_fields() -> Iterator[dataclasses.Field[Any]]:
    """The fields of :class:`Options` that are options (``sources`` is bookkeeping)."""
    return (item for item in dataclasses.fields(Options) if "parse" in item.metadata)


class OptionsTable(SphinxDirective):
    """Every option: name, environment variable, type, default and description."""

    def run(self) -> list[nodes.Node]:
        rows = []
        for item in option_fields():
            doc = item.metadata.get("doc")
            if not doc:
                raise self.error(f"Options.{item.name} has no 'doc' metadata to show")
            rows.append(
                [
                    f"``{item.name}``",
                    f"``{ENV_PREFIX}{item.name.upper()}``",
                    f"``{str(item.type).replace('Secret', 'str (secret)')}``",
                    _literal(item.default),
                    doc,
                ]
            )
        header = ["option", "environment variable", "type", "default", "description"]
        return self.parse_lines(_list_table(header, rows, "18 24 16 16 30"))

    def parse_lines(self, lines: list[str]) -> list[nodes.Node]:
        container = nodes.container()
        self.state.nested_parse(StringList(lines, source="qcourier-options"), 0, container)
        return list(container.children)


def _builtin_names(group: str) -> list[str]:
    entry_points = distribution(PROJECT).entry_points
    return sorted(entry.name for entry in entry_points if entry.group == group)


def _default_for(concern: str) -> str:
    option = CONCERN_OPTIONS[concern]
    if option is None:
        return "every installed one"
    if option == "auth":
        by_key, by_token = Options().auth_name, Options(token=Secret("t")).auth_name
        return f"``{by_key}``; ``{by_token}`` when ``token`` is set"
    default = Options.__dataclass_fields__[option].default
    if default is None:
        return "every installed one"
    if isinstance(default, tuple):
        return f"{_literal(default)}, tried in that order"
    return _literal(default)


class PluginDefaultsTable(OptionsTable):
    """Concern, entry-point group, option, built-in names and default, one row per concern."""

    def run(self) -> list[nodes.Node]:
        missing = set(GROUPS) ^ set(CONCERN_OPTIONS)
        if missing:
            raise self.error(
                f"docs/_ext/qcourier_docs.py CONCERN_OPTIONS is out of date: {sorted(missing)}"
            )
        rows = []
        for concern, group in GROUPS.items():
            option = CONCERN_OPTIONS[concern]
            names = ", ".join(f"``{name}``" for name in _builtin_names(group)) or "*none*"
            rows.append(
                [
                    concern,
                    f"``{group}``",
                    f"``{option}``" if option else "*(not configurable)*",
                    names,
                    _default_for(concern),
                ]
            )
        header = ["concern", "entry-point group", "option", "built-in plugins", "default"]
        return self.parse_lines(_list_table(header, rows, "12 22 14 26 26"))


class CliUsage(SphinxDirective):
    """The ``--help`` output of one ``qcourier`` subcommand (or the top level with ``-``)."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        from qcourier.cli import build_parser

        command = self.arguments[0]
        argv = ["--help"] if command == "-" else [command, "--help"]
        out, err = io.StringIO(), io.StringIO()
        previous = os.environ.get("COLUMNS")
        os.environ["COLUMNS"] = HELP_COLUMNS
        try:
            with (
                contextlib.redirect_stdout(out),
                contextlib.redirect_stderr(err),
                contextlib.suppress(SystemExit),
            ):
                build_parser().parse_args(argv)
        finally:
            if previous is None:
                del os.environ["COLUMNS"]
            else:
                os.environ["COLUMNS"] = previous
        if err.getvalue() or not out.getvalue():
            raise self.error(f"qcourier {' '.join(argv)} failed: {err.getvalue().strip()}")
        text = out.getvalue().rstrip()
        block = nodes.literal_block(text, text, language="text")
        return [block]


def _calling_convention(options: dict[str, Any]) -> str:
    if options.get("historic"):
        return (
            "historic: called once for every plugin, including plugins registered after "
            "the call; return values are ignored."
        )
    if options.get("firstresult"):
        return (
            "first result: implementations are called in order until one returns a value "
            "other than ``None``; that value is the answer."
        )
    return "broadcast: every implementation is called; return values are ignored."


def add_calling_convention(
    app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list[str]
) -> None:
    """Insert a "Calling convention" field, read from the hookspec marker, into hook docs."""
    marker = getattr(obj, f"{PROJECT}_spec", None)
    if what != "function" or not name.startswith("qcourier.hooks.spec.") or marker is None:
        return
    field = f":Calling convention: {_calling_convention(marker)}"
    at = next((i for i, line in enumerate(lines) if line.startswith(":")), len(lines))
    if at == len(lines):
        lines.extend(["", field])
    else:
        lines.insert(at, field)


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_role("hook", hook_role)
    app.add_directive("qcourier-options", OptionsTable)
    app.add_directive("qcourier-plugin-defaults", PluginDefaultsTable)
    app.add_directive("qcourier-cli-usage", CliUsage)
    app.connect("autodoc-process-docstring", add_calling_convention)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
