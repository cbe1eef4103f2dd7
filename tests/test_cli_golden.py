"""Golden snapshots of the `mnist` CLI's surface, the safety net of internal refactors.

What is snapshotted (one file per case under `tests/golden/`):

* `help/*.txt`: the `--help` of the root and of every command (and sub-command), discovered from the app,
  so a new command without a golden file fails; rendered at a fixed width, without colour or ANSI codes.
* `errors/*.txt`: usage and input errors: the command line, the exit code, stderr (and stdout when not
  empty), with the temporary folder written `<TMP>` and run-folder time stamps `<STAMP>`.
* `json/*.json`: the KEY skeleton of every command's `--json` output (structure, not values): objects
  keep their sorted keys, lists the skeleton of their first element, scalars their JSON type name
  ("string", "number", "boolean", "null"); fields whose type depends on the machine or the run
  (null or a number, a package that may be absent) are written "scalar", objects keyed by data "map".

Everything runs in-process with Typer's CliRunner on `mnist_toolkit.cli.app` (the only project import, so
the file survives internal moves), in a temporary working directory, with `--runs-dir` in it and no
network (`download` only with `--offline` or options that fail first). One tiny training run through
the CLI serves evaluate, predict and export.

Regenerate:   MNIST_UPDATE_GOLDEN=1 python -m pytest tests/test_cli_golden.py
Then REVIEW `git diff tests/golden/` before committing it: a golden change is a change of the CLI's
surface (a message, an exit code, a JSON field). Some are intended (later changes deliberately alter
messages and exit codes); every other difference is a regression to fix, not to regenerate. Help texts
also follow Typer/Rich's rendering, so an upgrade of those may change `help/` alone.
"""

from __future__ import annotations

import difflib
import importlib.util
import json
import os
import re
import struct
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from mnist_toolkit.cli import app

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("MNIST_UPDATE_GOLDEN", "") == "1"
HELP_WIDTH = 100  # help is rendered at this width
WIDE = 2000  # other output: wide enough that Rich never wraps a (variable-length) temporary path

#: The environment of every invocation: no colour, no terminal, a fixed width, none of the user's MNIST_* settings.
BASE_ENV: dict[str, str | None] = {
    "NO_COLOR": "1",
    "TERM": "dumb",
    "TTY_COMPATIBLE": "0",
    "TTY_INTERACTIVE": "0",
    "FORCE_COLOR": None,
    "PY_COLORS": None,
    "CLICOLOR_FORCE": None,
    "GITHUB_ACTIONS": None,
    "JUPYTER_COLUMNS": None,
    "JUPYTER_LINES": None,
    "LINES": "50",
    "_TYPER_FORCE_DISABLE_TERMINAL": "1",
    "MNIST_DATA_DIR": None,
    "MNIST_DEBUG": None,
    "MNIST_TRAIN_ONNX": "0",  # no ONNX export after training (seconds of tracing)
    "WORLD_SIZE": None,
    "RANK": None,
    "LOCAL_RANK": None,
}

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")
_STAMP = re.compile(r"\d{8}-\d{6}")


# --------------------------------------------------------------------------- helpers


@pytest.fixture(autouse=True)
def _fixed_terminal(monkeypatch):
    """Typer reads TERMINAL_WIDTH and the force-terminal switches once, at import: set its copies too."""
    try:
        from typer import rich_utils
    except ImportError:  # Typer without Rich: the env vars alone decide
        return
    for name, value in (("MAX_WIDTH", HELP_WIDTH), ("FORCE_TERMINAL", False)):
        if hasattr(rich_utils, name):
            monkeypatch.setattr(rich_utils, name, value)


def invoke(args: list[str], *, width: int = WIDE, input: str | None = None):
    env = {**BASE_ENV, "COLUMNS": str(width), "TERMINAL_WIDTH": str(width)}
    return CliRunner().invoke(app, [str(a) for a in args], env=env, input=input, prog_name="mnist", catch_exceptions=False)


def package_dir() -> str | None:
    spec = importlib.util.find_spec("mnist_toolkit")  # located, not imported again
    return str(Path(spec.origin).parent) if spec and spec.origin else None


def normalize(text: str, roots: list[Path]) -> str:
    """No ANSI codes, temporary folders as <TMP>, the package folder as <PKG>, time stamps as <STAMP>,
    no trailing blanks."""
    text = _ANSI.sub("", text)
    replacements = []
    for root in roots:
        replacements += [(str(root.resolve()), "<TMP>"), (str(root), "<TMP>")]
    if package_dir():
        replacements.append((package_dir(), "<PKG>"))
    for old, new in sorted(set(replacements), key=lambda pair: -len(pair[0])):  # longest first
        text = text.replace(old, new)
    text = _STAMP.sub("<STAMP>", text)
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) + "\n" if lines else ""


def check_golden(relative: str, actual: str) -> None:
    """Compare with tests/golden/<relative>, or rewrite it under MNIST_UPDATE_GOLDEN=1."""
    path = GOLDEN / relative
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file() or path.read_text(encoding="utf-8") != actual:
            path.write_text(actual, encoding="utf-8")
        return
    if not path.is_file():
        pytest.fail(f"no golden file {path}; generate it with MNIST_UPDATE_GOLDEN=1 and review it", pytrace=False)
    expected = path.read_text(encoding="utf-8")
    if actual != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True), f"golden/{relative}", "live output"))
        pytest.fail(f"{relative} differs from its golden file (MNIST_UPDATE_GOLDEN=1 rewrites it; review the diff):\n{diff}", pytrace=False)


def command_paths() -> list[tuple[str, ...]]:
    """The root and every command and sub-command, as argument tuples."""
    found: list[tuple[str, ...]] = []

    def walk(command, path: tuple[str, ...]) -> None:
        found.append(path)
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            if not getattr(sub, "hidden", False):
                walk(sub, path + (name,))

    walk(typer.main.get_command(app), ())
    return found


def help_file(path: tuple[str, ...]) -> str:
    return "help/" + ("_".join(path) or "root") + ".txt"


# --------------------------------------------------------------------------- a. --help


@pytest.mark.parametrize("path", command_paths(), ids=lambda p: " ".join(p) or "root")
def test_help(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke([*path, "--help"], width=HELP_WIDTH)
    assert result.exit_code == 0, result.stderr
    assert not result.stderr
    check_golden(help_file(path), normalize(result.stdout, [tmp_path]))


def test_no_stale_help_files():
    """A command removed or renamed leaves no golden help file behind unnoticed."""
    expected = {help_file(path) for path in command_paths()}
    present = {f"help/{p.name}" for p in (GOLDEN / "help").glob("*.txt")}
    if UPDATE:
        for stale in present - expected:
            (GOLDEN / stale).unlink()
        return
    assert present == expected


# --------------------------------------------------------------------------- b. usage and input errors


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    """Files the error cases point at, in tmp_path (the working directory)."""
    (tmp_path / "empty").mkdir()
    (tmp_path / "garbage.bin").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "garbage.pt").write_bytes(b"this is not a checkpoint\n" * 10)
    (tmp_path / "notimage.png").write_text("just text, not an image\n")
    from PIL import Image

    Image.new("L", (28, 28), 255).save(tmp_path / "four_thick.png")  # an image where an IDX file is expected
    (tmp_path / "model.onnx").write_bytes(b"not really onnx")
    (tmp_path / "bad.toml").write_text("this is = = not toml [\n")
    (tmp_path / "unknown.toml").write_text('[baseline]\nwarp_speed = 9\n\n[[experiment]]\nname = "x"\n')
    write_idx_pair(tmp_path, count=4)
    return tmp_path


def write_idx_pair(folder: Path, count: int) -> tuple[Path, Path]:
    """A tiny images/labels IDX pair, written by hand (no project helper)."""
    images = folder / "tiny-images-idx3-ubyte"
    labels = folder / "tiny-labels-idx1-ubyte"
    images.write_bytes(struct.pack(">IIII", 0x00000803, count, 28, 28) + bytes((i * 7) % 256 for i in range(count * 784)))
    labels.write_bytes(struct.pack(">II", 0x00000801, count) + bytes(i % 10 for i in range(count)))
    return images, labels


R = ["--runs-dir", "{tmp}/runs"]  # never the real runs/
ERROR_CASES: dict[str, list[str]] = {
    # root
    "root_no_args": [],
    "root_unknown_option": ["--nope"],
    "root_unknown_command": ["nope"],
    "root_misspelt_command": ["trian"],
    "root_version": ["--version"],
    # download (nothing reaches the network: each fails before)
    "download_unknown_option": ["download", "--nope"],
    "download_offline_and_mirror": ["download", "--offline", "--mirror", "http://127.0.0.1:9/", "--data-dir", "{tmp}/data"],
    "download_offline_and_from": ["download", "--offline", "--from", "{tmp}/empty", "--data-dir", "{tmp}/data"],
    "download_retries_zero": ["download", "--retries", "0", "--data-dir", "{tmp}/data"],
    "download_from_missing": ["download", "--from", "{tmp}/missing.zip", "--data-dir", "{tmp}/data"],
    # inspect
    "inspect_unknown_option": ["inspect", "--nope"],
    "inspect_missing_file": ["inspect", "{tmp}/missing-idx3-ubyte"],
    "inspect_garbage_file": ["inspect", "{tmp}/garbage.bin"],
    "inspect_image_file": ["inspect", "four_thick.png"],
    "inspect_missing_mnist_file": ["inspect", "data/mnist/train-images-idx3-ubyte.gz", "--show", "12"],
    "inspect_save_without_file": ["inspect", "--save", "{tmp}/grid.png"],
    "inspect_save_labels_file": ["inspect", "{tmp}/tiny-labels-idx1-ubyte", "--save", "{tmp}/grid.png"],
    # train (each fails before training)
    "train_unknown_option": ["train", "--nope"],
    "train_bad_optimizer": ["train", "--optimizer", "nope", *R],
    "train_epochs_zero": ["train", "--epochs", "0", *R],
    "train_bad_arch": ["train", "--arch", "nope", *R],
    "train_bad_filters": ["train", "--filters", "a,b", *R],
    "train_bad_betas": ["train", "--betas", "0.9", *R],
    "train_missing_config": ["train", "--config", "{tmp}/missing.toml", *R],
    "train_resume_and_init_from": ["train", "--resume", "{tmp}/empty", "--init-from", "{tmp}/empty", *R],
    "train_misspelt_optimizer": ["train", "--optimizer", "adm", *R],
    "train_unknown_preset": ["train", "--preset", "fastest", *R],
    "train_val_size_too_large": ["train", "--val-size", "70000", *R],
    "train_network_too_deep": ["train", "--conv-layers", "6", "--stride", "2", *R],
    "train_bad_config_file": ["train", "--config", "{tmp}/bad.toml", *R],
    # models, env
    "models_unknown_option": ["models", "--nope"],
    "env_unknown_option": ["env", "--nope"],
    "runs_unknown_option": ["runs", "--nope"],
    "runs_remove_without_yes": ["runs", "--runs-dir", "{tmp}/runs", "--remove", "some-run"],
    "runs_remove_outside": ["runs", "--runs-dir", "{tmp}/runs", "--remove", "../elsewhere", "--yes"],
    # evaluate
    "evaluate_unknown_option": ["evaluate", "--nope"],
    "evaluate_garbage_checkpoint": ["evaluate", "--checkpoint", "{tmp}/garbage.pt", *R],
    "evaluate_missing_run": ["evaluate", "--run", "{tmp}/missing-run", *R],
    "evaluate_images_without_labels": ["evaluate", "--images", "{tmp}/tiny-images-idx3-ubyte", *R],
    "evaluate_run_and_checkpoint": ["evaluate", "--run", "{tmp}/empty", "--checkpoint", "{tmp}/garbage.pt", *R],
    "evaluate_bad_engine": ["evaluate", "--engine", "nope", "--checkpoint", "{tmp}/garbage.pt", *R],
    # predict
    "predict_no_argument": ["predict"],
    "predict_unknown_option": ["predict", "--nope", "x.png"],
    # (relative paths in the working directory: predict's table sizes its columns to them)
    "predict_missing_file": ["predict", "missing.png", "--runs-dir", "runs"],
    "predict_not_an_image": ["predict", "notimage.png", "--runs-dir", "runs"],
    "predict_top_k_zero": ["predict", "notimage.png", "--top-k", "0", *R],
    # export
    "export_unknown_option": ["export", "--nope"],
    "export_bad_format": ["export", "--format", "nope", *R],
    "export_onnx_checkpoint": ["export", "--checkpoint", "{tmp}/model.onnx", *R],
    "export_only_pretrained": ["export", "--runs-dir", "{tmp}/empty"],
    # serve (each fails before listening)
    "serve_unknown_option": ["serve", "--nope"],
    "serve_bad_port": ["serve", "--port", "70000", *R],
    "serve_missing_run": ["serve", "--run", "{tmp}/missing-run", *R],
    # compare (each fails before training)
    "compare_unknown_option": ["compare", "--nope"],
    "compare_optimizer_option": ["compare", "--optimizer", "adam", *R],
    "compare_bad_optimizers": ["compare", "--optimizers", "adam,nope", *R],
    "compare_bad_seeds": ["compare", "--seeds", "a,b", *R],
    "compare_lr_sweep_without_val": ["compare", "--lr-sweep", *R],
    "compare_seed_twice": ["compare", "--seeds", "1,1", *R],
    "compare_network_too_deep": ["compare", "--conv-layers", "6", "--stride", "2", *R],
    # experiments (each fails before training)
    "experiments_unknown_option": ["experiments", "--nope"],
    "experiments_missing_grid": ["experiments", "--grid", "{tmp}/missing.toml", *R],
    "experiments_bad_grid": ["experiments", "--grid", "{tmp}/bad.toml", *R],
    "experiments_unknown_grid_option": ["experiments", "--grid", "{tmp}/unknown.toml", *R],
    "experiments_only_unknown": ["experiments", "--only", "nope", *R],
    "experiments_resume_not_grid": ["experiments", "--resume", "{tmp}/empty", *R],
    "experiments_epochs_zero": ["experiments", "--epochs", "0", *R],
}


def _command_line(args: list[str]) -> str:
    return " ".join(["mnist", *args])


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
def test_errors(case, inputs, monkeypatch):
    monkeypatch.chdir(inputs)
    args = [arg.format(tmp=inputs) for arg in ERROR_CASES[case]]
    result = invoke(args, input="")
    parts = [f"$ {_command_line(ERROR_CASES[case]).replace('{tmp}', '<TMP>')}", f"exit: {result.exit_code}"]
    if result.stdout.strip():
        parts += ["--- stdout", result.stdout.rstrip()]
    parts += ["--- stderr", result.stderr.rstrip() or "(empty)"]
    check_golden(f"errors/{case}.txt", normalize("\n".join(parts), [inputs]))
    if case != "root_version":
        assert result.exit_code != 0


def test_every_command_has_error_cases():
    commands = {path[0] for path in command_paths() if path}
    covered = {args[0] for args in ERROR_CASES.values() if args and not args[0].startswith("-")}
    assert commands <= covered | {"nope"}, f"commands without error cases: {sorted(commands - covered)}"


# --------------------------------------------------------------------------- c. --json key skeletons


def skeleton(value: Any, path: str = "", loose: tuple[str, ...] = (), maps: tuple[str, ...] = ()) -> Any:
    """The structure of a JSON value; `loose` paths are "scalar", `maps` paths (keys are data) are "map".

    Paths are dotted, a list element is `[]`: e.g. `packages.numpy`, `history[].lr`; `*` matches one key.
    """
    if _matches(path, maps) and isinstance(value, dict):
        return "map"
    if isinstance(value, dict):
        return {key: skeleton(value[key], f"{path}.{key}" if path else key, loose, maps) for key in sorted(value)}
    if isinstance(value, list):
        return [skeleton(value[0], f"{path}[]", loose, maps)] if value else []
    if _matches(path, loose):
        return "scalar"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return "string"


def _matches(path: str, patterns: tuple[str, ...]) -> bool:
    parts = path.split(".")
    for pattern in patterns:
        wanted = pattern.split(".")
        if len(wanted) == len(parts) and all(w == "*" or w == p for w, p in zip(wanted, parts)):
            return True
    return False


def check_json(name: str, args: list[str], result, **rules) -> None:
    assert result.exit_code == 0, f"{args}: exit {result.exit_code}\n{result.stderr}"
    document = json.loads(result.stdout)  # exactly one JSON document on stdout
    check_golden(f"json/{name}.json", json.dumps({"command": name, "keys": skeleton(document, **rules)}, indent=2) + "\n")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny run trained through the CLI: (its folder, the tmp root, `train --json`'s document)."""
    root = tmp_path_factory.mktemp("trained")
    args = ["train", "--preset", "fast", "--epochs", "1", "--train-limit", "600", "--runs-dir", str(root / "runs"), "--json"]
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        result = invoke(args)
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    return Path(document["run_dir"]), root, result


def test_json_train(trained):
    check_json("train", ["train"], trained[2],
               loose=("best", "best_checkpoint", "history[].val_loss", "history[].val_acc", "schedule_change", "onnx", "config.momentum", "config.patience", "config.max_steps", "config.threads", "config.name", "config.data_dir", "config.init_from", "data.fallback_reason"),
               maps=("config.model_args",))


def test_json_evaluate(trained, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["evaluate", "--run", str(trained[0]), "--runs-dir", str(tmp_path / "runs"), "--json"]
    check_json("evaluate", args, invoke(args), loose=("data.fallback_reason",))


def test_json_predict(trained, tmp_path, monkeypatch):
    from PIL import Image, ImageDraw

    monkeypatch.chdir(tmp_path)
    image = Image.new("L", (64, 64), 255)
    ImageDraw.Draw(image).line([(32, 8), (32, 56)], fill=0, width=6)
    image.save(tmp_path / "one.png")
    args = ["predict", str(tmp_path / "one.png"), "--run", str(trained[0]), "--runs-dir", str(tmp_path / "runs"), "--json"]
    check_json("predict", args, invoke(args), loose=("[].error",))


def test_json_export(trained, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["export", "--run", str(trained[0]), "--runs-dir", str(tmp_path / "runs"), "--out", str(tmp_path / "model.onnx"), "--json"]
    check_json("export", args, invoke(args), loose=("metadata.test_accuracy", "metadata.global_step"), maps=("metadata.model_args",))


def test_json_download_offline(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["download", "--offline", "--data-dir", str(tmp_path / "data"), "--json"]
    check_json("download", args, invoke(args))


def test_json_inspect_dataset(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["inspect", "--json"]
    check_json("inspect_dataset", args, invoke(args), loose=("fallback_reason",), maps=("splits.*.class_counts",))


def test_json_inspect_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    images, _ = write_idx_pair(tmp_path, count=4)
    args = ["inspect", str(images), "--json"]
    check_json("inspect_file", args, invoke(args))


def test_json_models(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["models", "--json"]
    check_json("models", args, invoke(args), maps=("pretrained.model_args",))


def test_json_env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["env", "--json"]
    check_json("env", args, invoke(args),
               loose=("torch_cuda_build", "cudnn", "packages.*", "devices[].cores", "data.fallback_reason"),
               maps=("thread_variables",))


def test_json_compare(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["compare", "--optimizers", "adam,sgd", "--epochs", "1", "--train-limit", "200", "--max-steps", "2",
            "--filters", "4", "--stride", "2", "--runs-dir", str(tmp_path / "runs"), "--json"]  # fmt: skip
    check_json("compare", args, invoke(args),
               loose=("runs[].best_val_epoch", "runs[].steps_to_98", "runs[].steps_to_99",
                      "summary[].best_val_epoch[]", "summary[].steps_to_98", "summary[].steps_to_99"))  # fmt: skip


def test_json_experiments(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    grid = tmp_path / "grid.toml"
    grid.write_text('[baseline]\nepochs = 1\ntrain_limit = 200\nmax_steps = 2\nfilters = [4]\nstride = 2\n\n[[experiment]]\nname = "baseline"\n')
    args = ["experiments", "--grid", str(grid), "--runs-dir", str(tmp_path / "runs"), "--json"]
    check_json("experiments", args, invoke(args))
