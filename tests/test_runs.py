"""Which model answers by default, `--run pretrained`, and `mnist runs` (list, remove)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

import mnist_toolkit as mt
from helpers import copy_run, png


@pytest.fixture
def runs_with_subruns(shared_run, tmp_path) -> dict[str, Path]:
    """A runs folder with one `mnist train` run and, written later, a compare sub-run and an experiments sub-run."""
    runs = tmp_path / "runs"
    train = copy_run(shared_run, runs, name="20261201-100000_cnn_adam")
    compare = copy_run(shared_run, runs / "compare_20261201-110000", name="nesterov_seed0")
    experiment = copy_run(shared_run, runs / "experiments_20261201-120000", name="stride-2")
    for age, run in ((300, train), (200, compare), (100, experiment)):  # the sub-runs are newer
        stamp = time.time() - age
        for file in run.rglob("*"):
            os.utime(file, (stamp, stamp))
    return {"runs": runs, "train": train, "compare": compare, "experiment": experiment}


def test_the_default_model_is_the_newest_train_run_not_a_subrun(runs_with_subruns):
    runs = runs_with_subruns["runs"]
    model = mt.load_model(runs_dir=runs)
    assert model.path.parent.parent == runs_with_subruns["train"]
    named = mt.load_model(runs_with_subruns["experiment"])
    assert named.path.parent.parent == runs_with_subruns["experiment"]
    # a folder of sub-runs given as the runs folder: its own runs are the candidates
    assert mt.load_model(runs_dir=runs_with_subruns["compare"].parent).path.parent.parent == runs_with_subruns["compare"]


def test_only_subruns_means_the_pretrained_model(runs_with_subruns):
    import shutil

    shutil.rmtree(runs_with_subruns["train"])
    assert mt.load_model(runs_dir=runs_with_subruns["runs"]).origin == "pretrained"


def test_run_pretrained_names_the_package_model_whatever_runs_exist(cli, runs_with_subruns, tmp_path):
    image = tmp_path / "digit.png"
    images, labels = mt.load_mnist("test")
    image.write_bytes(png(255 - images[0]))
    result = cli("predict", "--run", "pretrained", "--runs-dir", runs_with_subruns["runs"], image, "--json")
    assert result.exit_code == 0, result.stderr
    (row,) = json.loads(result.stdout)
    assert row["origin"] == "pretrained" and row["digit"] == int(labels[0])
    assert result.stderr.strip() == "Model: the pretrained model in the package on the onnx engine, test accuracy 99.58%"


def test_predict_always_names_the_model(cli, runs_with_subruns, tmp_path):
    image = tmp_path / "digit.png"
    image.write_bytes(png(np.zeros((28, 28), np.uint8) + 255))
    image.write_bytes(png(255 - mt.load_mnist("test")[0][1]))
    result = cli("predict", "--runs-dir", runs_with_subruns["runs"], image)
    assert result.exit_code == 0, result.stderr
    checkpoint = runs_with_subruns["train"] / "checkpoints"
    assert result.stderr.startswith(f"Model: {checkpoint}"), result.stderr
    assert "(newest run)" in result.stderr


def test_the_server_defaults_to_the_same_model(runs_with_subruns):
    from mnist_toolkit.serving.catalog import ModelCatalog

    catalog = ModelCatalog(runs_with_subruns["runs"])
    entries = catalog.entries()
    assert {e.id for e in entries} >= {"20261201-100000_cnn_adam", "compare_20261201-110000/nesterov_seed0", "pretrained"}
    assert catalog.default_id(entries) == "20261201-100000_cnn_adam"


def test_mnist_runs_lists_them_and_marks_the_default(cli, runs_with_subruns):
    result = cli("runs", "--runs-dir", runs_with_subruns["runs"], "--json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    names = [r["name"] for r in document["runs"]]
    assert names == ["experiments_20261201-120000/stride-2", "compare_20261201-110000/nesterov_seed0", "20261201-100000_cnn_adam"]
    assert document["default"] == "20261201-100000_cnn_adam"
    assert [r["default"] for r in document["runs"]] == [False, False, True]
    first = document["runs"][2]
    assert first["arch"] == "cnn" and first["epochs_done"] == 2 and first["test_accuracy"] == pytest.approx(mt.RunFolder(runs_with_subruns["train"]).test_accuracy())
    table = cli("runs", "--runs-dir", runs_with_subruns["runs"])
    assert table.exit_code == 0 and "Default model: 20261201-100000_cnn_adam" in table.stdout


def test_mnist_runs_with_no_run(cli, tmp_path):
    result = cli("runs", "--runs-dir", tmp_path / "none")
    assert result.exit_code == 0 and "Default model: the pretrained model" in result.stdout


def test_mnist_runs_removes_runs_and_nothing_else(cli, runs_with_subruns, tmp_path):
    runs = runs_with_subruns["runs"]
    refused = cli("runs", "--runs-dir", runs, "--remove", "20261201-100000_cnn_adam")
    assert refused.exit_code != 0 and runs_with_subruns["train"].is_dir()  # no --yes, no terminal
    outside = tmp_path / "precious"
    outside.mkdir()
    for name in (str(outside), "../precious", ".", "no-such-run"):
        result = cli("runs", "--runs-dir", runs, "--remove", name, "--yes")
        assert result.exit_code != 0 and result.stderr.startswith("Error: "), (name, result.stderr)
    assert outside.is_dir() and runs.is_dir()
    done = cli("runs", "--runs-dir", runs, "--remove", "20261201-100000_cnn_adam", "--remove", "compare_20261201-110000", "--yes")
    assert done.exit_code == 0, done.stderr
    assert not runs_with_subruns["train"].exists() and not runs_with_subruns["compare"].exists()
    assert runs_with_subruns["experiment"].is_dir()


@pytest.mark.parametrize("metrics", ['{"history":[{"epoch":1,"complete":true}]}', "[]", '{"history": 5}', "not json", '{"history":[1,2]}'])
def test_a_malformed_metrics_file_never_breaks_listing(runs_with_subruns, metrics):
    from mnist_toolkit.serving.catalog import ModelCatalog

    broken = copy_run(runs_with_subruns["train"], runs_with_subruns["runs"], name="20261201-130000_broken")
    (broken / "metrics.json").write_text(metrics)
    (broken / "config.json").write_text("[]")
    listed = {s.name: s for s in mt.list_runs(runs_with_subruns["runs"])}
    assert listed["20261201-130000_broken"].test_accuracy is None
    assert listed["20261201-100000_cnn_adam"].test_accuracy is not None
    entries = ModelCatalog(runs_with_subruns["runs"]).entries()
    assert {e.id for e in entries} >= {"20261201-130000_broken", "pretrained"}


def test_the_run_environment_records_torchvision_without_importing_it():
    """A run's recorded versions name torchvision, read from its package record: importing it cost 0.2 s
    of every run whose network does not use it."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", "import sys; from mnist_toolkit.runs import environment; e = environment(); "
                           "print(e['torchvision'], 'torchvision' in sys.modules)"], capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    version, imported = done.stdout.split()
    assert version[0].isdigit() and imported == "False"
