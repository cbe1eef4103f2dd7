"""The documentation: a short README with its three commands, a page per command whose option
reference is read from the program itself, every public API name documented, the README's tour run
on small data, and the docs build's offline check. (The site itself is built, with warnings as
errors, by the README's docs command, which `.ci/run` runs after the tests.)"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import mnist_toolkit as mt

from helpers import free_port, png

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(DOCS))

from mnist_cli import command_reference, commands  # noqa: E402


def _block_after(marker: str) -> str:
    found = re.search(rf"<!-- {marker} -->\s*```\w*\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert found, f"README.md has no code block after <!-- {marker} -->"
    return found.group(1)


def test_the_readme_is_short_and_keeps_its_three_commands():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 250
    main, test, docs = (_block_after(marker).strip() for marker in ("main-command", "test-command", "docs-command"))
    assert main.endswith("poetry run mnist train --optimizer adam --epochs 10") and test.endswith("poetry run pytest -q")
    assert docs.endswith("poetry install --with docs --compile && ~/.cache/mnist-toolkit/poetry/bin/poetry run python docs/build.py")
    assert "awk '/<!-- docs-command -->/" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")  # CI runs it
    for link in re.findall(r"\]\((docs/[^)#]+)", text):  # every page and picture it links to exists
        assert (ROOT / link).is_file(), link


@pytest.mark.parametrize("name", sorted(commands()))
def test_each_commands_reference_is_what_its_help_shows(cli, name):
    """The generator reads the same options `mnist NAME --help` prints, with their help texts."""
    reference = command_reference(name)
    text = cli(name, "--help", env={"COLUMNS": "250", "TERMINAL_WIDTH": "250"}).stdout
    shown = " ".join(text.replace("│", " ").split())
    flags_shown = set()  # the flags that lead the rows of the options panels
    for row in re.findall(r"^│\s+(-.*)$", text, re.M):
        for token in re.split(r"[\s,]+", row):
            if not token.startswith("-"):
                break
            flags_shown.add(token)
    assert reference.usage.startswith(f"mnist {name}") and reference.parameters
    documented = {flag for p in reference.parameters if p.kind == "option" for flag in re.split(r"[ ,/]+", p.flags)}
    assert documented == flags_shown - {"--help", "-h"}, (name, sorted(documented ^ (flags_shown - {"--help", "-h"})))
    for parameter in reference.parameters:
        words = parameter.help.split()[:6]
        assert " ".join(words) in shown, (name, parameter.flags, words)


def test_the_reference_says_defaults_flags_and_environment_variables():
    train = {p.flags: p for p in command_reference("train").parameters}
    assert train["--epochs"].default == "(10)" or train["--epochs"].default == "10"
    assert train["--onnx / --no-onnx"].default == "--onnx" and train["--onnx / --no-onnx"].envvar == "MNIST_TRAIN_ONNX"
    assert "--wait-for-onnx" in train and train["--wait-for-onnx"].type == "flag"
    predict = command_reference("predict")
    assert predict.parameters[0].kind == "argument" and predict.parameters[0].flags == "PATHS..."
    with pytest.raises(KeyError):
        command_reference("no-such-command")


def test_every_public_api_name_is_documented():
    text = (DOCS / "python-api.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\.\. auto(?:function|class|exception):: mnist_toolkit\.[\w.]+\.(\w+)$", text, re.M))
    public = set(mt.__all__) - {"__version__"}
    assert documented == public, f"undocumented: {sorted(public - documented)}; not public: {sorted(documented - public)}"


def test_every_page_is_in_a_table_of_contents_and_every_picture_is_used():
    pages = {p.relative_to(DOCS).with_suffix("").as_posix() for p in DOCS.rglob("*.md") if "_build" not in p.parts}
    listed = {"index"}
    for page in pages:
        for block in re.findall(r"```\{toctree\}\n(.*?)```", (DOCS / f"{page}.md").read_text(encoding="utf-8"), re.S):
            folder = Path(page).parent
            listed |= {(folder / line.strip()).as_posix() for line in block.splitlines() if line.strip() and not line.startswith(":")}
    assert pages == listed, f"not in a toctree: {sorted(pages - listed)}"
    text = " ".join(p.read_text(encoding="utf-8") for p in [README, *DOCS.rglob("*.md")] if "_build" not in p.parts)
    for picture in (DOCS / "_static").glob("*.png"):
        assert picture.name in text and picture.name in (DOCS / "make_pictures.py").read_text(encoding="utf-8"), picture.name


def test_the_offline_check_finds_resources_from_other_hosts(tmp_path):
    from build import offline_problems

    (tmp_path / "ok.html").write_text('<a href="https://pytorch.org/">PyTorch</a><script src="_static/a.js"></script>')
    (tmp_path / "bad.html").write_text('<script src="https://cdn.example/x.js"></script><link rel="stylesheet" href="//fonts.example/css">')
    (tmp_path / "bad.css").write_text("@font-face { src: url('https://fonts.example/a.woff2') }")
    problems = offline_problems(tmp_path)
    assert len(problems) == 3 and not any(p.startswith("ok.html") for p in problems)


def test_the_build_catches_rest_shown_as_text(tmp_path):
    """The mistake this check exists for: autodoc written as a MyST directive puts its reST on the page as text."""
    from build import stray_rest

    (tmp_path / "ok.html").write_text('<dl class="py function"><dt>load_mnist</dt><dd><p>One split.</p></dd></dl>')
    (tmp_path / "bad.html").write_text("<p>.. py:function:: load_mnist(split='test')\n:module: mnist_toolkit.api</p><p>:param split: train or test</p>")
    problems = stray_rest(tmp_path)
    assert problems and all(p.startswith("bad.html") for p in problems)


# ------------------------------------------------------------------ the README's tour, on small data
#: What each tour line gets added so that it runs in seconds on small data, in its own runs folder.
SMALL = {
    "predict": [],
    "train": ["--train-limit", "600", "--epochs", "1"],
    "evaluate": [],
    "compare": ["--train-limit", "300", "--max-steps", "6"],
}


def _tour() -> list[list[str]]:
    return [shlex.split(line.partition("#")[0]) for line in _block_after("tour").splitlines() if line.strip()]


def _answers(url: str, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)  # noqa: S310 (127.0.0.1 only)
            return True
        except OSError:
            time.sleep(0.2)
    return False


@pytest.mark.slow
def test_the_readme_tour_runs_on_small_data(cli, tmp_path, monkeypatch, mnist_test):
    tour = _tour()
    assert {line[0] for line in tour} == {"mnist", "tensorboard"}
    assert {line[1] for line in tour if line[0] == "mnist"} == set(SMALL) | {"serve"}
    monkeypatch.chdir(tmp_path)
    Path("digit.png").write_bytes(png(255 - mnist_test.images[0]))
    Image.fromarray(np.hstack([255 - mnist_test.images[i] for i in range(4)])).save("year.jpg")
    runs = tmp_path / "runs"
    for line in tour:
        program, command = line[0], line[1]
        if program == "mnist" and command != "serve":
            result = cli(*line[1:], *SMALL[command], "--runs-dir", runs, "--json")
            assert result.exit_code == 0, (line, result.stderr)
            json.loads(result.stdout)
            continue
        port = free_port()
        if program == "mnist":  # serve: the page and its API answer
            argv = [sys.executable, "-m", "mnist_toolkit", *line[1:], "--port", str(port), "--runs-dir", str(runs)]
            url = f"http://127.0.0.1:{port}/api/health"
        else:  # tensorboard --logdir runs, on the runs the tour made
            argv = [str(Path(sys.executable).parent / line[0]), *line[1:], "--host", "127.0.0.1", "--port", str(port)]
            url = f"http://127.0.0.1:{port}/"
        process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            assert _answers(url), line
        finally:
            process.terminate()
            process.wait(timeout=30)
