"""Importing qcourier must stay cheap and side-effect free."""

from __future__ import annotations

import subprocess
import sys

import qcourier


def test_import_loads_no_plugin_module() -> None:
    code = (
        "import sys, qcourier; "
        "print(sorted(m for m in sys.modules if m.startswith('qcourier.plugins')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_hookimpl_is_reexported_from_package_root() -> None:
    from qcourier.hooks import hookimpl

    assert qcourier.hookimpl is hookimpl


def test_public_names_are_importable() -> None:
    for name in qcourier.__all__:
        assert getattr(qcourier, name) is not None
