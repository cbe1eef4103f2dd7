"""The training engine and `mnist train`, on small slices of the embedded data."""

from __future__ import annotations

import json
import os
import signal
import threading
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from mnist_toolkit.errors import CheckpointError, ConfigError
from mnist_toolkit.inference.checkpoint import load_checkpoint, rebuild_model
from mnist_toolkit.inference.torch_model import evaluate
from mnist_toolkit.training.callbacks import TrainCallback
from mnist_toolkit.training.config import PRESETS, TrainConfig, build_train_config
from mnist_toolkit.training.prepare import prepare_run
from mnist_toolkit.training.signals import TrainingInterrupted
from mnist_toolkit.training.trainer import Trainer


def small_config(tmp_path: Path, **overrides) -> TrainConfig:
    base = TrainConfig(train_limit=256, batch_size=32, epochs=2, runs_dir=str(tmp_path / "runs"), eval_batch_size=2000)
    return replace(base, **overrides)


def fit(config: TrainConfig, callbacks=(), stop_event: threading.Event | None = None) -> tuple[Trainer, object]:
    prepared = prepare_run(config, callbacks=lambda run: list(callbacks), stop_event=stop_event)
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
    assert cut_trainer.state.global_step == 5 and not cut.history[-1].complete
    resumed = prepare_run(None, resume=cut_trainer.run_dir)
    assert resumed.trainer.state.global_step == 5 and resumed.run_dir == cut_trainer.run_dir
    result = resumed.trainer.fit()
    assert resumed.trainer.state.global_step == full_trainer.state.global_step == 16
    full, other = weights(full_trainer), weights(resumed.trainer)
    assert all(torch.equal(full[k], other[k]) for k in full)
    assert [r.epoch for r in result.history] == [1, 2]


class _StopAt(TrainCallback):
    """Sets the stop event (as SIGINT/SIGTERM would) once training reaches step `step`."""

    def __init__(self, event: threading.Event, step: int) -> None:
        self.event, self.step = event, step

    def on_step(self, step):
        if step.global_step == self.step:
            self.event.set()


def test_interrupt_saves_a_resumable_checkpoint_before_any_evaluation(tmp_path, monkeypatch):
    event = threading.Event()
    prepared = prepare_run(small_config(tmp_path, epochs=1), callbacks=lambda run: [_StopAt(event, 3)], stop_event=event)

    def no_evaluation(*args):
        raise AssertionError("evaluated after a stop signal: the grace period goes to scoring, not saving")

    monkeypatch.setattr(Trainer, "_evaluate", no_evaluation)
    with pytest.raises(TrainingInterrupted) as info:
        prepared.trainer.fit()
    payload = load_checkpoint(info.value.checkpoint)
    assert payload["global_step"] == 3 and payload["step_in_epoch"] == 3 and payload["epoch"] == 0


def test_callbacks_and_stop_event_are_given_at_construction(tmp_path):
    seen, event = [], threading.Event()

    class Record(TrainCallback):
        def on_start(self, start):
            seen.append(("start", start.global_step))

        def on_epoch_end(self, record):
            seen.append(("epoch", record.epoch))

    def make(run):
        seen.append(("made", run.run_dir.name, run.config.epochs, len(run.data.train_y)))
        return [Record(), _StopAt(event, 100)]  # never reached: 2 epochs of 8 steps

    prepared = prepare_run(small_config(tmp_path), callbacks=make, stop_event=event)
    assert prepared.trainer.stop_event is event and len(prepared.trainer.callbacks) == 2
    prepared.trainer.fit()
    assert seen == [("made", prepared.run_dir.name, 2, 256), ("start", 0), ("epoch", 1), ("epoch", 2)]


def test_trainers_are_complete_when_built_and_never_changed_afterwards(cli, tmp_path, monkeypatch):
    """train (new, --init-from, --resume with more epochs), compare and experiments build their trainers
    with everything they need: no attribute of a Trainer is assigned once its constructor has returned."""
    import weakref

    built, late = weakref.WeakSet(), []
    init = Trainer.__init__

    def tracking_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        built.add(self)

    def tracking_setattr(self, name, value):
        if self in built:
            late.append(name)
        object.__setattr__(self, name, value)

    monkeypatch.setattr(Trainer, "__init__", tracking_init)
    monkeypatch.setattr(Trainer, "__setattr__", tracking_setattr)
    small = ["--train-limit", "64", "--batch-size", "32", "--epochs", "1"]
    first = cli("train", *small, "--scheduler", "cosine", "--runs-dir", tmp_path / "a", "--json")
    assert first.exit_code == 0, first.stderr
    run_dir = json.loads(first.stdout)["run_dir"]
    for args in (["--resume", run_dir, "--epochs", "2"], [*small, "--init-from", run_dir, "--runs-dir", tmp_path / "b"]):
        result = cli("train", *args, "--json")
        assert result.exit_code == 0, result.stderr
    compared = cli("compare", *small, "--optimizers", "adam,sgd", "--runs-dir", tmp_path / "c", "--json")
    assert compared.exit_code == 0, compared.stderr
    grid = tmp_path / "grid.toml"
    grid.write_text('[baseline]\nbatch-size = 32\nepochs = 1\n\n[[experiment]]\nname = "lr"\nlr = 1e-2\n')
    grid_run = cli("experiments", "--grid", grid, "--train-limit", "64", "--runs-dir", tmp_path / "d", "--json")
    assert grid_run.exit_code == 0, grid_run.stderr
    assert late == []


def test_initial_weights_that_do_not_fit_fail_at_construction(tmp_path):
    from mnist_toolkit.data.source import resolve_source
    from mnist_toolkit.training.resume import InitialWeights
    from mnist_toolkit.training.split import prepare_data

    config = small_config(tmp_path)
    data = prepare_data(config, resolve_source(), torch.device("cpu"))
    foreign = InitialWeights(tmp_path / "other.pt", {"conv.weight": torch.zeros(1)})
    with pytest.raises(CheckpointError, match="other.pt: its weights do not fit this network"):
        Trainer(config, data, torch.device("cpu"), tmp_path / "run", initial_weights=foreign)
    with pytest.raises(ConfigError, match="exclude each other"):
        Trainer(config, data, torch.device("cpu"), tmp_path / "run", initial_weights=foreign, resume_from={})


def test_validation_split_selects_best_checkpoint_and_early_stops(tmp_path):
    # a learning rate too small to change a float32 weight: every epoch scores what the first did, so
    # epoch 1 stays the best and, with patience 1, epoch 2 must stop the run
    trainer, result = fit(small_config(tmp_path, epochs=4, val_size=64, patience=1, lr=1e-12, momentum=0.0, optimizer="sgd"))
    assert len(trainer.data.train_y) == 192 and len(trainer.data.val_y) == 64
    assert result.stopped_early and [r.epoch for r in result.history] == [1, 2]
    assert result.history[0].val_acc == result.history[1].val_acc
    assert trainer.state.best_epoch == result.best_epoch == 1
    assert trainer.state.best_val_acc == result.history[0].val_acc
    assert result.best_checkpoint == trainer.folder.best_checkpoint
    best = load_checkpoint(result.best_checkpoint)
    assert best["best_epoch"] == 1 and best["global_step"] == trainer.steps_per_epoch
    assert result.reported[0] == "best" and result.best_test_accuracy == result.history[0].test_acc


def test_event_files_hold_the_expected_tags(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from mnist_toolkit.training.tensorboard import TensorBoardCallback

    prepared = prepare_run(small_config(tmp_path, epochs=2, val_size=32),
                           callbacks=lambda run: [TensorBoardCallback(run.run_dir, run.data, run.config.to_dict())])  # fmt: skip
    prepared.trainer.fit()
    events = EventAccumulator(str(prepared.run_dir), size_guidance={"scalars": 0, "images": 0}).Reload()
    scalars = set(events.Tags()["scalars"])
    assert {"Loss/train_step", "Loss/train", "Loss/test", "Accuracy/train", "Accuracy/test", "Accuracy/val", "LR"} <= scalars
    assert len(events.Scalars("Loss/train_step")) == prepared.trainer.state.global_step
    # one x-axis for every scalar: the global step (224 training images in batches of 32: 7 steps per epoch)
    assert [e.step for e in events.Scalars("Accuracy/test")] == [e.step for e in events.Scalars("Epoch")] == [7, 14]
    assert [e.value for e in events.Scalars("Epoch")] == [1, 2]
    assert {"Samples/train", "Misclassified/test"} <= set(events.Tags()["images"])
    hparams = EventAccumulator(str(prepared.run_dir)).Reload()
    assert "hparam/test_accuracy" in hparams.Tags()["scalars"]


def test_every_optimizer_and_scheduler_runs(tmp_path):
    for optimizer, scheduler in [("adamw", "cosine"), ("sgd", "step"), ("nesterov", "onecycle"), ("rmsprop", "none"), ("adadelta", "none")]:
        trainer, result = fit(small_config(tmp_path, epochs=1, optimizer=optimizer, scheduler=scheduler, max_steps=3))
        assert trainer.state.global_step == 3 and result.history
    trainer, _ = fit(small_config(tmp_path, epochs=1, optimizer="nesterov", max_steps=1))
    group = trainer.optimizer.param_groups[0]
    assert group["nesterov"] and group["momentum"] == 0.9 and group["lr"] == 0.02


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_preset_builds_and_trains(tmp_path, preset):
    """A preset that names a removed option, an unknown architecture or an impossible shape fails here."""
    config = build_train_config({"preset": preset, "train_limit": 256, "max_steps": 2, "runs_dir": str(tmp_path)})
    assert config.epochs == PRESETS[preset].get("epochs", TrainConfig().epochs)
    trainer, result = fit(replace(config, eval_batch_size=2000))
    assert trainer.state.global_step == 2 and result.history
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
        (["--resume", "/nonexistent/run"], "no such run folder"),
    ],
)
def test_bad_train_options_are_one_line_errors(cli, tmp_path, args, message):
    result = cli("train", "--train-limit", "64", "--epochs", "1", "--runs-dir", tmp_path / "runs", *args)
    assert result.exit_code in (1, 2)
    assert result.stderr.startswith("Error:") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def _train_into_unwritable_runs_folder(cli, tmp_path):
    if os.geteuid() == 0:
        blocker = tmp_path / "file"
        blocker.write_text("not a folder")
        runs = blocker / "runs"
    else:
        runs = tmp_path / "ro"
        runs.mkdir(mode=0o500)
    return cli("train", "--train-limit", "64", "--epochs", "1", "--runs-dir", runs)


def test_unwritable_runs_folder_fails_before_training(cli, tmp_path):
    result = _train_into_unwritable_runs_folder(cli, tmp_path)
    assert result.exit_code != 0 and "cannot create a run folder" in result.stderr


def test_unwritable_runs_folder_is_not_a_usage_error(cli, tmp_path):
    assert _train_into_unwritable_runs_folder(cli, tmp_path).exit_code == 1


def test_sigterm_saves_a_resumable_checkpoint(cli, tmp_path, monkeypatch):
    """A real SIGTERM, raised by the process itself at step 3: `mnist train` stops after that step,
    saves a checkpoint at exactly that step and exits with 130."""
    from mnist_toolkit.training.tensorboard import TensorBoardCallback

    on_step = TensorBoardCallback.on_step

    def terminate_at_step_3(self, step):
        on_step(self, step)
        if step.global_step == 3:
            signal.raise_signal(signal.SIGTERM)

    monkeypatch.setattr(TensorBoardCallback, "on_step", terminate_at_step_3)
    runs = tmp_path / "runs"
    before = signal.getsignal(signal.SIGTERM)
    result = cli("train", "--epochs", "1", "--batch-size", "16", "--train-limit", "256", "--runs-dir", runs)
    assert result.exit_code == 130, result.output
    assert "Resume with: mnist train --resume" in result.stdout
    assert signal.getsignal(signal.SIGTERM) is before  # the handler is gone after training
    (checkpoint,) = runs.glob("*/checkpoints/last.pt")
    payload = load_checkpoint(checkpoint)
    assert payload["global_step"] == payload["step_in_epoch"] == 3 and payload["epoch"] == 0
    resumed = cli("train", "--resume", checkpoint.parent.parent, "--json")
    assert resumed.exit_code == 0, resumed.stderr
    assert json.loads(resumed.stdout)["steps"] == 16  # 256 images in batches of 16
