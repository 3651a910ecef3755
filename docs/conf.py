"""Sphinx configuration for the qcourier docs (built with -W: every warning fails)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "_ext"))

project = "qcourier"
author = "the qcourier developers"
copyright = "2026, the qcourier developers"
extensions = ["sphinx.ext.autodoc", "qcourier_docs"]
autodoc_typehints = "both"
# Signatures carry every type; descriptions add them only to documented parameters.
autodoc_typehints_description_target = "documented_params"
autodoc_member_order = "bysource"
exclude_patterns = ["_build", "examples/**/README.md"]
html_theme = "alabaster"
html_theme_options = {
    "description": "IBM-Quantum-style jobs, with an embedded emulator",
    "fixed_sidebar": True,
}
