"""The training engine and `mnist train`, on small slices of the embedded data."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from mnist_toolkit.inference.checkpoint import load_checkpoint, rebuild_model
from mnist_toolkit.training.config import PRESETS, TrainConfig, build_train_config
from mnist_toolkit.training.trainer import TrainCallback, Trainer, TrainingInterrupted, evaluate
from mnist_toolkit.errors import ConfigError
from mnist_toolkit.training.prepare import prepare_run


def small_config(tmp_path: Path, **overrides) -> TrainConfig:
    base = TrainConfig(train_limit=256, batch_size=32, epochs=2, runs_dir=str(tmp_path / "runs"), eval_batch_size=2000)
    return replace(base, **overrides)


def fit(config: TrainConfig, callbacks=()) -> tuple[Trainer, object]:
    prepared = prepare_run(config)
    prepared.trainer.callbacks = list(callbacks)
    return prepared.trainer, prepared.trainer.fit()


def weights(trainer: Trainer) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in trainer.model.state_dict().items()}


def test_fit_learns_and_writes_the_run_folder(tmp_path):
    trainer, result = fit(small_config(tmp_path, epochs=3))
    losses = [r.train_loss for r in result.history]
    assert len(losses) == 3 and losses[-1] < losses[0]
    assert result.test_accuracy > 50.0  # 3 epochs on 256 images; chance is 10%
    run = trainer.run_dir
    assert run.parent == tmp_path / "runs" and run.name.endswith("_cnn_adam")
    config = json.loads((run / "config.json").read_text())
    assert config["config"]["optimizer"] == "adam" and config["resolved"]["lr"] == 1e-3
    assert config["environment"]["torch"] == torch.__version__
    metrics = json.loads((run / "metrics.json").read_text())
    assert [h["epoch"] for h in metrics["history"]] == [1, 2, 3]
    assert (run / "checkpoints" / "last.pt").is_file() and not (run / "checkpoints" / "best.pt").exists()


def test_accuracy_is_correct_over_total_times_100(tmp_path):
    trainer, result = fit(small_config(tmp_path, epochs=1))
    data = trainer.data
    assert trainer.model.training  # evaluate() restored train mode
    trainer.model.eval()
    with torch.no_grad():
        from mnist_toolkit.inference.torch_model import normalise

        predicted = trainer.model(normalise(data.test_x)).argmax(1)
    expected = (predicted == data.test_y).sum().item() * 100 / len(data.test_y)
    assert result.test_accuracy == pytest.approx(expected)


def test_checkpoint_loads_with_weights_only_and_rebuilds_the_model(tmp_path):
    trainer, result = fit(small_config(tmp_path, epochs=1, arch="cnn", model_args={"conv_layers": 2, "filters": [4, 8]}))
    payload = torch.load(result.last_checkpoint, weights_only=True)
    assert payload["model_args"] == {"conv_layers": 2, "filters": [4, 8]}
    model = rebuild_model(load_checkpoint(result.last_checkpoint))
    again = evaluate(model, trainer.data.test_x, trainer.data.test_y)
    assert again.accuracy == pytest.approx(result.test_accuracy)


def test_resume_after_max_steps_equals_an_uninterrupted_run(tmp_path):
    full_trainer, _ = fit(small_config(tmp_path, name="full", augment=True, model_args={"dropout": 0.3}))
    cut_trainer, cut = fit(small_config(tmp_path, name="cut", augment=True, model_args={"dropout": 0.3}, max_steps=5))
    assert cut_trainer.global_step == 5 and not cut.history[-1].complete
    resumed = prepare_run(None, resume=cut_trainer.run_dir)
    assert resumed.trainer.global_step == 5 and resumed.run_dir == cut_trainer.run_dir
    result = resumed.trainer.fit()
    assert resumed.trainer.global_step == full_trainer.global_step == 16
    full, other = weights(full_trainer), weights(resumed.trainer)
    assert all(torch.equal(full[k], other[k]) for k in full)
    assert [r.epoch for r in result.history] == [1, 2]


class _StopAfter(TrainCallback):
    def __init__(self, trainer_holder, steps):
        self.holder, self.steps = trainer_holder, steps

    def on_step(self, step):
        if step.global_step == self.steps:
            self.holder[0].stop_event.set()


def test_interrupt_saves_a_resumable_checkpoint_before_any_evaluation(tmp_path, monkeypatch):
    prepared = prepare_run(small_config(tmp_path, epochs=1))
    holder = [prepared.trainer]
    prepared.trainer.callbacks = [_StopAfter(holder, 3)]

    def no_evaluation(*args):
        raise AssertionError("evaluated after a stop signal: the grace period goes to scoring, not saving")

    monkeypatch.setattr(Trainer, "_evaluate", no_evaluation)
    with pytest.raises(TrainingInterrupted) as info:
        prepared.trainer.fit()
    payload = load_checkpoint(info.value.checkpoint)
    assert payload["global_step"] == 3 and payload["step_in_epoch"] == 3 and payload["epoch"] == 0


def test_validation_split_selects_best_checkpoint_and_early_stops(tmp_path):
    trainer, result = fit(small_config(tmp_path, epochs=4, val_size=64, patience=1, lr=0.5, optimizer="sgd"))
    assert len(trainer.data.train_y) == 192 and len(trainer.data.val_y) == 64
    assert result.best_checkpoint is not None
    best = load_checkpoint(result.best_checkpoint)
    assert best["best_epoch"] == trainer.best_epoch
    val_accs = [r.val_acc for r in result.history]
    assert trainer.best_val_acc == max(val_accs)
    if result.stopped_early:
        assert len(result.history) < 4


def test_event_files_hold_the_expected_tags(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from mnist_toolkit.training.tensorboard import TensorBoardCallback

    prepared = prepare_run(small_config(tmp_path, epochs=2, val_size=32))
    prepared.trainer.callbacks = [TensorBoardCallback(prepared.run_dir, prepared.trainer.data, prepared.trainer.config.to_dict())]
    prepared.trainer.fit()
    events = EventAccumulator(str(prepared.run_dir), size_guidance={"scalars": 0, "images": 0}).Reload()
    scalars = set(events.Tags()["scalars"])
    assert {"Loss/train_step", "Loss/train", "Loss/test", "Accuracy/train", "Accuracy/test", "Accuracy/val", "LR"} <= scalars
    assert len(events.Scalars("Loss/train_step")) == prepared.trainer.global_step
    # one x-axis for every scalar: the global step (224 training images in batches of 32: 7 steps per epoch)
    assert [e.step for e in events.Scalars("Accuracy/test")] == [e.step for e in events.Scalars("Epoch")] == [7, 14]
    assert [e.value for e in events.Scalars("Epoch")] == [1, 2]
    assert {"Samples/train", "Misclassified/test"} <= set(events.Tags()["images"])
    hparams = EventAccumulator(str(prepared.run_dir)).Reload()
    assert "hparam/test_accuracy" in hparams.Tags()["scalars"]


def test_every_optimizer_and_scheduler_runs(tmp_path):
    for optimizer, scheduler in [("adamw", "cosine"), ("sgd", "step"), ("nesterov", "onecycle"), ("rmsprop", "none"), ("adadelta", "none")]:
        trainer, result = fit(small_config(tmp_path, epochs=1, optimizer=optimizer, scheduler=scheduler, max_steps=3))
        assert trainer.global_step == 3 and result.history
    trainer, _ = fit(small_config(tmp_path, epochs=1, optimizer="nesterov", max_steps=1))
    group = trainer.optimizer.param_groups[0]
    assert group["nesterov"] and group["momentum"] == 0.9 and group["lr"] == 0.02


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_preset_builds_and_trains(tmp_path, preset):
    """A preset that names a removed option, an unknown architecture or an impossible shape fails here."""
    config = build_train_config({"preset": preset, "train_limit": 256, "max_steps": 2, "runs_dir": str(tmp_path)})
    assert config.epochs == PRESETS[preset].get("epochs", TrainConfig().epochs)
    trainer, result = fit(replace(config, eval_batch_size=2000))
    assert trainer.global_step == 2 and result.history
    saved = json.loads((trainer.run_dir / "config.json").read_text())
    assert saved["config"]["arch"] == PRESETS[preset].get("arch", "cnn")


def test_config_merge_order_and_errors(tmp_path):
    toml = tmp_path / "run.toml"
    toml.write_text('[train]\npreset = "fast"\nepochs = 7\nfilters = [8, 16]\nbatch-size = 32\n')
    config = build_train_config({"epochs": 3, "lr": None}, toml)
    assert config.epochs == 3  # command line wins over the file
    assert config.batch_size == 32  # the file wins over the preset
    assert config.model_args["filters"] == [8, 16] and config.model_args["batch_norm"] is True  # preset underneath
    toml.write_text("epochz = 3\n")
    with pytest.raises(ConfigError, match="unknown option"):
        build_train_config({}, toml)
    toml.write_text("epochs = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        build_train_config({}, toml)
    with pytest.raises(ConfigError, match="unknown preset"):
        build_train_config({"preset": "turbo"})
    with pytest.raises(ConfigError, match="apply to --arch cnn only"):
        build_train_config({"arch": "resnet", "conv_layers": 2})
    with pytest.raises(ConfigError, match="--patience needs a validation set"):
        build_train_config({"patience": 2})


def test_two_runs_started_at_once_get_their_own_folders(tmp_path):
    from mnist_toolkit.runs import create_run_dir

    folders = {create_run_dir(tmp_path, "cnn_adam") for _ in range(5)}
    assert len(folders) == 5


def test_train_json_schema_and_errors_through_the_cli(cli, tmp_path):
    runs = tmp_path / "runs"
    result = cli("train", "--train-limit", "128", "--batch-size", "32", "--epochs", "1", "--runs-dir", runs, "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert {"run_dir", "checkpoint", "config", "params", "history", "test_accuracy", "test_loss", "train_seconds",
            "images_per_second"} <= set(summary)  # fmt: skip
    assert summary["params"] == 63_050 and summary["data"]["source"] == "embedded"
    assert Path(summary["checkpoint"]).is_file()
    # a finished run cannot be resumed without more epochs
    again = cli("train", "--resume", summary["run_dir"])
    assert again.exit_code == 1 and again.stderr.startswith("Error:") and "--epochs" in again.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--arch", "transformer"], "unknown architecture"),
        (["--optimizer", "lion"], "unknown optimizer"),
        (["--conv-layers", "6"], "pooling after conv layer 5"),
        (["--filters", "a,b"], "comma-separated integers"),
        (["--amp", "--device", "cpu"], "--amp"),
        (["--resume", "/nonexistent/run"], "no such run folder"),
    ],
)
def test_bad_train_options_are_one_line_errors(cli, tmp_path, args, message):
    result = cli("train", "--train-limit", "64", "--epochs", "1", "--runs-dir", tmp_path / "runs", *args)
    assert result.exit_code in (1, 2)
    assert result.stderr.startswith("Error:") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_unwritable_runs_folder_fails_before_training(cli, tmp_path):
    if os.geteuid() == 0:
        blocker = tmp_path / "file"
        blocker.write_text("not a folder")
        runs = blocker / "runs"
    else:
        runs = tmp_path / "ro"
        runs.mkdir(mode=0o500)
    result = cli("train", "--train-limit", "64", "--epochs", "1", "--runs-dir", runs)
    assert result.exit_code == 1 and "cannot create a run folder" in result.stderr


def test_sigterm_saves_a_resumable_checkpoint(tmp_path):
    runs = tmp_path / "runs"
    command = [sys.executable, "-m", "mnist_toolkit", "train", "--epochs", "1", "--batch-size", "16", "--runs-dir", str(runs)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while not list(runs.glob("*/events.out.tfevents.*")) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 130, output
    assert "Resume with: mnist train --resume" in output
    (checkpoint,) = runs.glob("*/checkpoints/last.pt")
    payload = load_checkpoint(checkpoint)
    assert 0 < payload["global_step"] < 3750 and payload["epoch"] == 0
