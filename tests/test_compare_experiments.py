"""`mnist compare` and `mnist experiments` on tiny data: fairness, folders, schemas, grid files, resume."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from mnist_toolkit.errors import ConfigError, UnknownName
from mnist_toolkit.training.compare import RunOutcome, run_comparison, run_config, summarize, verdict
from mnist_toolkit.training.config import TrainConfig
from mnist_toolkit.training.experiments import BASELINE, load_grid, select
from mnist_toolkit.training.optim import OPTIMIZERS, OptimInfo

TINY = ["--train-limit", "256", "--batch-size", "32", "--epochs", "1"]


def test_compare_gives_both_optimizers_the_same_start_and_batches(cli, tmp_path, monkeypatch):
    import mnist_toolkit.training.trainer as engine

    seen: dict[str, list] = {}
    original_fit = engine.Trainer.fit
    original_steps = engine.Trainer.train_one_epoch

    def fit(self):
        seen.setdefault(self.config.optimizer, []).append({k: v.clone() for k, v in self.model.state_dict().items()})
        return original_fit(self)

    def steps(self, perm):
        seen.setdefault(self.config.optimizer + "/perm", []).append(perm.clone())
        return original_steps(self, perm)

    monkeypatch.setattr(engine.Trainer, "fit", fit)
    monkeypatch.setattr(engine.Trainer, "train_one_epoch", steps)
    result = cli("compare", *TINY, "--runs-dir", tmp_path, "--json")
    assert result.exit_code == 0, result.stderr
    adam, nesterov = seen["adam"][0], seen["nesterov"][0]
    assert all(torch.equal(adam[k], nesterov[k]) for k in adam)
    assert torch.equal(seen["adam/perm"][0], seen["nesterov/perm"][0])
    document = json.loads(result.stdout)
    assert set(document) >= {"runs", "summary", "verdict"}
    folder = Path(document["folder"])
    assert folder.parent == tmp_path and folder.name.startswith("compare_")
    assert sorted(p.name for p in folder.iterdir() if p.is_dir()) == ["adam_seed0", "nesterov_seed0"]
    assert (folder / "comparison.png").is_file() and (folder / "comparison.json").is_file()
    assert list((folder / "adam_seed0").glob("events.out.tfevents.*"))
    runs = {r["optimizer"]: r for r in document["runs"]}
    assert runs["adam"]["lr"] == 1e-3 and runs["nesterov"]["lr"] == 0.02  # each its own sensible lr
    assert {"final_test_accuracy", "final_train_loss", "steps_to_98", "steps_to_99", "seconds", "seed"} <= set(runs["adam"])
    assert [row["optimizer"] for row in document["summary"]] == ["adam", "nesterov"]
    assert "seed" in document["verdict"]


def test_lr_sweep_needs_a_validation_split_and_picks_on_it(cli, tmp_path, monkeypatch):
    refused = cli("compare", *TINY, "--runs-dir", tmp_path, "--lr-sweep", "--optimizers", "adam")
    assert refused.exit_code == 2 and "validation" in refused.stderr
    assert OPTIMIZERS["adam"].lr_sweep == (3e-4, 1e-3, 3e-3)
    monkeypatch.setitem(OPTIMIZERS, "adam", replace(OPTIMIZERS["adam"], lr_sweep=(1e-3, 3e-3)))  # the registry drives the sweep
    result = cli("compare", *TINY, "--runs-dir", tmp_path, "--lr-sweep", "--optimizers", "adam", "--val-size", "64", "--json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    trials = document["sweep"]
    assert [t["lr"] for t in trials] == [1e-3, 3e-3]
    best = max(trials, key=lambda t: (t["val_accuracy"], t["lr"]))
    assert document["runs"][0]["lr"] == best["lr"]


def test_compare_refuses_bad_optimizer_lists_before_training(tmp_path, monkeypatch):
    base = TrainConfig(train_limit=64, val_size=16, runs_dir=str(tmp_path))

    def run(*names):
        return run_comparison(base, names, (0,), tmp_path / "c", lambda run: [], lr_sweep=True)

    with pytest.raises(UnknownName, match="unknown optimizer 'nope': choose one of adam"):
        run("adam", "nope")
    with pytest.raises(ConfigError, match="lists a name twice"):
        run("adam", "adam")
    monkeypatch.setitem(OPTIMIZERS, "plain", OptimInfo("plain", "no sweep grid", 0.1, "SGD"))
    with pytest.raises(ConfigError, match="optimizer 'plain' has no learning-rate grid"):
        run("adam", "plain")  # checked before adam's sweep trains anything
    assert not (tmp_path / "c").exists()


def test_run_config_takes_momentum_where_the_registry_says():
    base = TrainConfig(momentum=0.5)
    taking = {name for name, info in OPTIMIZERS.items() if info.takes_momentum}
    assert taking == {"sgd", "nesterov", "rmsprop"}
    for name in OPTIMIZERS:
        assert run_config(base, name, 1, None).momentum == (0.5 if name in taking else None)


def _outcome(optimizer, seed, accuracy):
    history = [{"epoch": 1, "steps": 10, "train_loss": 0.1, "test_loss": 0.1, "test_acc": accuracy, "val_acc": None}]
    return RunOutcome(optimizer, seed, 1e-3, "x", history, [], 1.0)


def test_verdict_weighs_the_margin_against_the_seed_spread():
    real = summarize([_outcome("adam", s, a) for s, a in enumerate([99.0, 99.1, 99.05])]
                     + [_outcome("nesterov", s, a) for s, a in enumerate([98.0, 98.1, 98.05])])  # fmt: skip
    assert real[0]["test_accuracy_mean"] == pytest.approx(99.05)
    assert "adam" in verdict(real).split()[0] and "real" in verdict(real)
    noise = summarize([_outcome("adam", s, a) for s, a in enumerate([99.0, 98.0, 99.5])]
                      + [_outcome("nesterov", s, a) for s, a in enumerate([98.9, 98.4, 99.0])])  # fmt: skip
    assert "no real difference" in verdict(noise)
    one = summarize([_outcome("adam", 0, 99.0), _outcome("nesterov", 0, 98.0)])
    assert "unknown" in verdict(one)
    tie = verdict(summarize([_outcome("adam", 0, 97.91), _outcome("nesterov", 0, 97.91)]))
    assert "beats" not in tie and "tie at 97.91%" in tie and "unknown" in tie


# --------------------------------------------------------------------------------------------- experiments
def test_grid_file_parser(tmp_path):
    grid = tmp_path / "grid.toml"
    grid.write_text('[baseline]\nepochs = 2\n\n[[experiment]]\nname = "wide"\nchange = "64 filters"\nfilters = [64]\n'
                    '\n[[experiment]]\nname = "slow"\nlr = 1e-4\nbatch-size = 32\n')  # fmt: skip
    baseline, experiments = load_grid(grid)
    assert baseline == {**BASELINE, "epochs": 2}
    assert [e.name for e in experiments] == ["baseline", "wide", "slow"]
    assert experiments[2].options == {"lr": 1e-4, "batch_size": 32} and experiments[1].change == "64 filters"
    assert [e.name for e in select(experiments, ["slow"])] == ["baseline", "slow"]
    with pytest.raises(ConfigError, match="no experiment named nope"):
        select(experiments, ["nope"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[baseline]\nepochs = 2\n", "no \\[\\[experiment\\]\\]"),
        ('[[experiment]]\nchange = "x"\n', "needs a name"),
        ('[[experiment]]\nname = "a"\n[[experiment]]\nname = "a"\n', "used twice"),
        ('[[experiment]]\nname = "a"\nlearning-rate = 1\n', "unknown option"),
        ('[baseline]\nbatchsize = 1\n[[experiment]]\nname = "a"\n', "unknown option"),
        ('[extra]\n[[experiment]]\nname = "a"\n', "unknown table"),
        ("[[experiment]\n", "not valid TOML"),
    ],
)
def test_grid_file_errors(tmp_path, text, message):
    grid = tmp_path / "grid.toml"
    grid.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_grid(grid)


def test_two_experiment_grid_end_to_end_and_resume(cli, tmp_path):
    grid = tmp_path / "grid.toml"
    grid.write_text('[baseline]\nbatch-size = 32\nepochs = 2\n\n[[experiment]]\nname = "stride-2"\nchange = "stride 2"\nstride = 2\n')
    result = cli("experiments", "--grid", grid, "--train-limit", "256", "--runs-dir", tmp_path / "runs", "--json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    folder = Path(document["folder"])
    assert folder.name.startswith("experiments_")
    rows = {row["name"]: row for row in document["results"]}
    assert set(rows) == {"baseline", "stride-2"}
    assert rows["stride-2"]["vs_baseline"] == pytest.approx(rows["stride-2"]["test_accuracy"] - rows["baseline"]["test_accuracy"])
    assert rows["stride-2"]["params"] < rows["baseline"]["params"]
    for kind in ("csv", "json", "md"):
        assert (folder / f"results.{kind}").is_file()
    assert "stride 2" in (folder / "results.md").read_text()
    # interrupt the second experiment after 3 steps, then resume the grid
    import shutil

    from mnist_toolkit.inference.checkpoint import load_checkpoint
    from mnist_toolkit.training.experiments import experiment_config
    from mnist_toolkit.training.prepare import prepare_run

    stride = folder / "stride-2"
    full_steps = load_checkpoint(stride / "checkpoints" / "last.pt")["global_step"]
    shutil.rmtree(stride)
    grid_doc = json.loads((folder / "grid.json").read_text())
    from mnist_toolkit.training.experiments import Experiment

    config = experiment_config(grid_doc["baseline"], Experiment(**grid_doc["experiments"][1]), grid_doc["overrides"])
    prepare_run(replace(config, max_steps=3), run_dir=stride).trainer.fit()
    baseline_events = sorted((folder / "baseline").glob("events.*"))
    resumed = cli("experiments", "--resume", folder, "--json")
    assert resumed.exit_code == 0, resumed.stderr
    assert "baseline: skipped" in resumed.stderr and "stride-2: resumed" in resumed.stderr
    assert sorted((folder / "baseline").glob("events.*")) == baseline_events  # the finished one did not run again
    assert load_checkpoint(stride / "checkpoints" / "last.pt")["global_step"] == full_steps
    rows = {row["name"]: row for row in json.loads(resumed.stdout)["results"]}
    assert rows["stride-2"]["epochs"] == 2


def test_experiments_bad_arguments(cli, tmp_path):
    result = cli("experiments", "--only", "nope", "--runs-dir", tmp_path)
    assert result.exit_code == 2 and "no experiment named nope" in result.stderr  # an option's value: a usage error
    result = cli("experiments", "--resume", tmp_path)
    assert result.exit_code == 1 and "grid.json" in result.stderr  # a folder that is not a grid's: a file problem
