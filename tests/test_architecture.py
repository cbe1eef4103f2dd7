"""Architecture: the package's layering (import-linter contracts in pyproject.toml), the types of its
public API (mypy, configured in pyproject.toml) and a light `import mnist_toolkit`."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIR = ROOT / "src" / "mnist_toolkit"

#: the packages allowed to use the terminal and web libraries (plus `python -m mnist_toolkit`)
UI_PACKAGES = {"cli", "serving", "reporting", "__main__"}


def test_import_contracts_are_kept():
    lint_imports = Path(sys.executable).parent / "lint-imports"
    assert lint_imports.exists(), f"{lint_imports} is missing: install the dev dependencies (poetry install)"
    result = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    report = result.stdout[max(result.stdout.find("Contracts\n"), 0) :]  # without the banner
    assert result.returncode == 0, (
        "lint-imports found imports that break the architecture contracts in pyproject.toml "
        f"([tool.importlinter]):\n{report}\n{result.stderr}"
    )


def test_every_module_below_the_ui_packages_is_kept_free_of_ui_libraries():
    """The forbidden contract lists its source modules by name: a new top-level module must join it."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    ui_free = next(c for c in contracts if c["type"] == "forbidden" and c.get("as_packages", True))
    top_level = {info.name for info in pkgutil.iter_modules([str(PACKAGE_DIR)])}
    expected = {f"mnist_toolkit.{name}" for name in top_level - UI_PACKAGES}
    missing = sorted(expected - set(ui_free["source_modules"]))
    assert not missing, (
        f"add {', '.join(json.dumps(m) for m in missing)} to source_modules of the contract "
        f"{ui_free['name']!r} in pyproject.toml (or, for a new user-interface package, to UI_PACKAGES here)"
    )


def test_public_api_type_checks(monkeypatch):
    from mypy import api

    # `mypy` with no arguments checks the files listed under [tool.mypy] in pyproject.toml; it reads
    # that file (and resolves those paths) from the working directory.
    monkeypatch.chdir(ROOT)
    stdout, stderr, status = api.run([])
    assert status == 0, f"mypy found errors in the public API:\n{stdout}\n{stderr}"


def test_import_mnist_toolkit_loads_no_heavy_or_ui_library():
    heavy = ["torch", "torchvision", "onnxruntime", "starlette", "uvicorn", "typer", "click", "rich"]
    code = (
        "import json, sys\n"
        "import mnist_toolkit\n"
        f"heavy = {heavy!r}\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & set(heavy))))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded == [], f"`import mnist_toolkit` imported {', '.join(loaded)}"
