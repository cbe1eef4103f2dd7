"""What a new user meets in the first hour: a mistake leaves no run folder, an error names the command and
the valid values, exit statuses say usage error (2) or failure (1), help texts show their brackets, shell
completion, and a docs page for every command."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import typer.main

from mnist_toolkit.errors import COMMAND, CheckpointError, ConfigError, ConfigFileError, MnistError, UnknownName

README = Path(__file__).resolve().parents[1] / "README.md"
TINY = ["--train-limit", "64", "--batch-size", "32", "--epochs", "1"]


def _folders(path: Path) -> list[str]:
    return sorted(p.relative_to(path).as_posix() for p in path.rglob("*")) if path.exists() else []


# --------------------------------------------------------------------------- 1. a mistake leaves no run folder


@pytest.mark.parametrize(
    "args",
    [
        ["--arch", "resnet18"],
        ["--optimizer", "adm"],
        ["--scheduler", "cosin"],
        ["--val-size", "70000"],
        ["--val-size", "64", "--train-limit", "64"],
        ["--filters", "32,64"],
        ["--conv-layers", "6", "--stride", "2"],
        ["--momentum", "-1", "--optimizer", "sgd"],
        ["--device", "tpu"],
    ],
    ids=lambda args: " ".join(args),
)
def test_a_train_that_fails_its_checks_leaves_no_run_folder(cli, tmp_path, args):
    runs = tmp_path / "runs"
    (runs / "earlier").mkdir(parents=True)  # what was there before stays
    result = cli("train", "--train-limit", "128", "--epochs", "1", "--runs-dir", runs, *args)
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith("Error:") and len(result.stderr.strip().splitlines()) == 1
    assert _folders(runs) == ["earlier"]


def test_amp_on_a_cpu_without_bfloat16_leaves_no_run_folder(cli, tmp_path, monkeypatch):
    from mnist_toolkit.training import devices

    monkeypatch.setattr(devices, "cpu_has_bf16", lambda: False)
    runs = tmp_path / "runs"
    result = cli("train", "--train-limit", "128", "--epochs", "1", "--runs-dir", runs, "--amp", "--device", "cpu")
    assert result.exit_code == 2 and result.stderr.startswith("Error:") and "--amp" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not runs.exists()


def test_train_checks_its_options_before_starting_processes(cli, tmp_path, monkeypatch):
    import mnist_toolkit.training.distributed as distributed

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.setattr(distributed, "launch", lambda *args: pytest.fail("launched despite invalid options"))
    result = cli("train", "--nproc", "2", "--epochs", "0", "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 2 and "--epochs must be at least 1" in result.stderr


def test_prepare_run_removes_only_the_folder_it_made_when_the_trainer_fails(tmp_path, monkeypatch):
    import mnist_toolkit.training.prepare as prepare
    from mnist_toolkit.training.config import TrainConfig

    def broken(*args, **kwargs):
        raise CheckpointError("these weights do not fit")

    monkeypatch.setattr(prepare, "Trainer", broken)
    runs = tmp_path / "runs"
    (runs / "earlier").mkdir(parents=True)
    with pytest.raises(CheckpointError):
        prepare.prepare_run(TrainConfig(train_limit=64, runs_dir=str(runs)))
    assert _folders(runs) == ["earlier"]
    named = tmp_path / "grid" / "one"
    with pytest.raises(CheckpointError):
        prepare.prepare_run(TrainConfig(train_limit=64), run_dir=named)
    assert not named.exists()


@pytest.mark.parametrize(
    "args",
    [
        ["--optimizers", "adam,sgdd"],
        ["--optimizers", "adam,adam"],
        ["--seeds", "1,1"],
        ["--lr-sweep"],
        ["--val-size", "70000"],
        ["--conv-layers", "6", "--stride", "2"],
        ["--arch", "resnet18"],
    ],
    ids=lambda args: " ".join(args),
)
def test_a_compare_that_fails_its_checks_announces_and_leaves_nothing(cli, tmp_path, args):
    runs = tmp_path / "runs"
    result = cli("compare", *TINY, "--runs-dir", runs, *args)
    assert result.exit_code == 2, result.stderr
    assert "Comparing" not in result.stdout and not runs.exists()


def test_an_experiment_grid_that_fails_its_checks_leaves_no_folder(cli, tmp_path):
    grid = tmp_path / "grid.toml"
    grid.write_text('[[experiment]]\nname = "too-deep"\nconv-layers = 6\nstride = 2\n')  # the second experiment fails
    runs = tmp_path / "runs"
    result = cli("experiments", "--grid", grid, "--runs-dir", runs, "--train-limit", "64", "--epochs", "1")
    assert result.exit_code == 2 and "conv layer" in result.stderr
    assert "experiment(s) in" not in result.stdout and not runs.exists()
    result = cli("experiments", "--runs-dir", runs, "--device", "tpu")
    assert result.exit_code == 2 and not runs.exists()


# --------------------------------------------------------------------------- 2. hints name the command and the valid values


@pytest.mark.parametrize(
    ("args", "command"),
    [
        (["train", "--epochs", "0"], "mnist train"),
        (["train", "--batch-size", "0"], "mnist train"),
        (["train", "--val-size", "70000"], "mnist train"),
        (["compare", "--epochs", "0"], "mnist compare"),
        (["experiments", "--only", "nope"], None),  # its own hint: the grid's names
    ],
)
def test_hints_name_the_command_being_run(cli, tmp_path, args, command):
    result = cli(*args, "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 2
    assert "COMMAND" not in result.stderr and "Hint:" in result.stderr
    if command:
        assert f"see `{command} --help`" in result.stderr


def test_the_boundary_fills_the_command_placeholder():
    error = ConfigError("bad")
    assert COMMAND in error.hint
    assert error.hint_for("mnist train") == "see `mnist train --help` for the valid options"
    assert CheckpointError("x", hint="no placeholder").hint_for("mnist train") == "no placeholder"


@pytest.mark.parametrize(
    ("args", "valid"),
    [
        (["train", "--optimizer", "adm"], ["adam", "adamw", "sgd", "nesterov", "rmsprop", "adadelta"]),
        (["train", "--scheduler", "cosin"], ["none", "step", "cosine", "onecycle"]),
        (["train", "--preset", "fastest"], ["baseline", "fast", "best", "robust"]),
        (["train", "--device", "gpu"], ["auto", "cpu", "cuda", "mps"]),
        (["train", "--arch", "resnet18"], ["cnn", "lenet5", "alexnet", "vgg16", "googlenet", "resnet"]),
        (["compare", "--optimizers", "adam,sgdd"], ["adam", "adamw", "sgd", "nesterov", "rmsprop", "adadelta"]),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) and value[0] in ("train", "compare") else None,
)
def test_an_unknown_name_lists_the_valid_ones(cli, tmp_path, args, valid):
    result = cli(*args, "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 2, result.stderr
    assert f"choose one of {', '.join(valid)}" in result.stderr
    assert "mnist --help` for the valid values" not in result.stderr


def test_unknown_name_suggests_the_closest_valid_name():
    close = UnknownName.of("optimizer", "adm", ["adam", "sgd"])
    assert close.message == "unknown optimizer 'adm': choose one of adam, sgd" and close.hint == "did you mean 'adam'?"
    far = UnknownName.of("optimizer", "lion", ["adam", "sgd"])
    assert far.hint == UnknownName.default_hint
    assert UnknownName.of("device", "gpu", ["cpu"], hint="mine").hint == "mine"


# --------------------------------------------------------------------------- 3. one stop at the end of a sentence


def test_no_doubled_punctuation_in_error_lines(cli):
    result = cli("trian")
    assert result.exit_code == 2
    assert "Did you mean 'train'? Hint: see `mnist --help`." in result.stderr
    assert not re.search(r"[.?!]\.", result.stderr)


def test_sentence_ends_in_one_stop():
    from mnist_toolkit.cli import _sentence

    assert _sentence("Did you mean 'train'?") == "Did you mean 'train'?"
    assert _sentence("stop!") == "stop!"
    assert _sentence("done.") == _sentence("done") == _sentence("done...") == "done."
    assert _sentence("two\n lines ") == "two lines."


# --------------------------------------------------------------------------- 4. exit status: 2 for usage, 1 for failures


@pytest.mark.parametrize(
    ("args", "status"),
    [
        (["train", "--lr", "abc"], 2),  # Click's own
        (["train", "--epochs", "0"], 2),  # an invalid value
        (["train", "--optimizer", "adm"], 2),  # an unknown name
        (["train", "--resume", "{tmp}", "--init-from", "{tmp}"], 2),  # options that exclude each other
        (["train", "--config", "{tmp}/missing.toml"], 1),  # a missing file
        (["train", "--config", "{tmp}/bad.toml"], 1),  # a broken file
        (["train", "--config", "{tmp}/unknown.toml"], 2),  # an option the file names that does not exist
        (["train", "--resume", "{tmp}/missing-run"], 1),
        (["experiments", "--resume", "{tmp}"], 1),  # a folder that is not a grid's
        (["evaluate", "--checkpoint", "{tmp}/garbage.pt"], 1),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else None,
)
def test_exit_status_says_usage_error_or_failure(cli, tmp_path, args, status):
    (tmp_path / "bad.toml").write_text("this is = = not toml [\n")
    (tmp_path / "unknown.toml").write_text("warp_speed = 9\n")
    (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint\n" * 10)
    result = cli(*[arg.format(tmp=tmp_path) for arg in args], "--runs-dir", tmp_path / "runs")
    assert result.exit_code == status, result.stderr
    assert result.stderr.startswith("Error:") and "Traceback" not in result.stderr


def test_the_rule_lives_on_the_error_types():
    assert MnistError.exit_code == CheckpointError.exit_code == 1
    assert ConfigError.exit_code == UnknownName.exit_code == 2
    assert issubclass(UnknownName, ConfigError) and issubclass(ConfigFileError, ConfigError)
    assert ConfigFileError.exit_code == 1  # a config file that cannot be read is a broken file, not a usage error


# --------------------------------------------------------------------------- 5. help texts keep their brackets


def _commands():
    root = typer.main.get_command(__import__("mnist_toolkit.cli", fromlist=["app"]).app)
    return [root, *root.commands.values()]


def test_no_help_text_loses_text_to_rich_markup():
    from rich.text import Text

    for command in _commands():
        for text in [command.help or ""] + [getattr(param, "help", None) or "" for param in command.params]:
            assert Text.from_markup(text).plain == text.replace("\\[", "["), f"{command.name}: {text!r}"


def test_experiments_help_shows_the_grid_tables(cli):
    result = cli("experiments", "--help")
    assert result.exit_code == 0
    assert "([baseline] + [[experiment]] tables)" in re.sub(r"[│\s]+", " ", result.stdout)  # lines of the table joined


# --------------------------------------------------------------------------- 6. one seed: no ± in the table


def test_compare_summary_shows_a_spread_only_over_several_seeds():
    from rich.console import Console

    from mnist_toolkit.reporting.compare import summary_table
    from mnist_toolkit.training.compare import RunOutcome, summarize

    def outcome(seed, accuracy):
        history = [{"epoch": 1, "steps": 10, "train_loss": 0.1, "test_loss": 0.1, "test_acc": accuracy, "val_acc": None}]
        return RunOutcome("adam", seed, 1e-3, "x", history, [], 1.0)

    def rendered(summary):
        console = Console(width=200, record=True, file=io.StringIO())
        console.print(summary_table(summary))
        return console.export_text()

    one = summarize([outcome(0, 91.97)])
    assert one[0]["test_accuracy_std"] == 0.0  # the JSON keeps its number
    assert "91.97" in rendered(one) and "±" not in rendered(one)
    assert "99.00 ± 0.71" in rendered(summarize([outcome(0, 98.5), outcome(1, 99.5)]))


# --------------------------------------------------------------------------- 7. shell completion


def test_shell_completion_is_offered_and_completes_commands(cli, monkeypatch):
    assert "--install-completion" in cli("--help").stdout
    # The script for a named shell: without this, Typer asks the parent process which shell it is,
    # and the test would fail when the suite is started by something other than a shell.
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")
    script = cli("--show-completion", "bash", prog_name="mnist")
    assert script.exit_code == 0 and "_mnist_completion" in script.stdout, script.output
    env = {"_MNIST_COMPLETE": "complete_bash", "COMP_WORDS": "mnist tr", "COMP_CWORD": "1"}
    completed = cli(prog_name="mnist", env=env)
    assert completed.exit_code == 0 and completed.stdout.split() == ["train"]


# --------------------------------------------------------------------------- 8. the README covers every command


def test_every_command_has_a_docs_page():
    """docs/commands/NAME.md for every command, titled by it, with its generated option reference."""
    docs = README.parent / "docs" / "commands"
    commands = {name for name, command in _commands()[0].commands.items() if not command.hidden}
    pages = {path.stem for path in docs.glob("*.md")} - {"index"}
    assert commands == pages, f"commands without a page: {sorted(commands - pages)}; pages without a command: {sorted(pages - commands)}"
    for name in commands:
        text = (docs / f"{name}.md").read_text(encoding="utf-8")
        assert text.startswith(f"# `mnist {name}`") and f"```{{mnist-command}} {name}\n```" in text, name
