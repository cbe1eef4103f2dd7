"""Sphinx configuration of the mnist-toolkit documentation (README: the docs command builds it)."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE.parent / "src"))

from mnist_toolkit import __version__  # noqa: E402

project = "mnist-toolkit"
author = "mnist-toolkit developers"
release = version = __version__
extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.napoleon", "mnist_cli"]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]
myst_heading_anchors = 3
html_theme = "furo"
html_title = "mnist-toolkit"
html_static_path = ["_static"]
html_show_sourcelink = False
# Offline: furo ships its own CSS and scripts and uses the system's fonts; no math (MathJax would come from a CDN).
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "undoc-members": False}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
nitpicky = False
napoleon_use_ivar = True  # "Attributes:" as fields: no second description of a dataclass field autodoc lists too
default_role = "literal"  # `x` in a docstring is code, as in the Markdown pages
