"""Training paths that used to break or mislead: resume, extended epochs, refused options, --init-from,
the reported checkpoint's accuracy, plain lines in a pipe, per-rank random streams, label smoothing."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from mnist_toolkit.errors import ConfigError
from mnist_toolkit.inference.checkpoint import load_checkpoint
from mnist_toolkit.training.devices import cpu_has_bf16
from mnist_toolkit.training.config import TrainConfig
from mnist_toolkit.inference.torch_model import evaluate
from mnist_toolkit.training.prepare import prepare_run

SMALL = ["--train-limit", "128", "--batch-size", "32"]


def train(cli, runs: Path, *args: str) -> dict:
    result = cli("train", *SMALL, "--runs-dir", runs, "--json", *args)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_resume_with_max_steps(cli, tmp_path):
    first = train(cli, tmp_path, "--epochs", "3", "--max-steps", "5")
    assert first["steps"] == 5
    resumed = cli("train", "--resume", first["run_dir"], "--max-steps", "9", "--json")
    assert resumed.exit_code == 0, resumed.stderr
    assert json.loads(resumed.stdout)["steps"] == 9


@pytest.mark.parametrize("scheduler", ["none", "step", "cosine", "onecycle"])
def test_extending_epochs_continues_the_schedule_it_would_have_had(cli, tmp_path, scheduler):
    first = train(cli, tmp_path, "--epochs", "1", "--scheduler", scheduler, "--lr", "0.01")
    extended = cli("train", "--resume", first["run_dir"], "--epochs", "3", "--json")
    assert extended.exit_code == 0, extended.stderr
    summary = json.loads(extended.stdout)
    assert summary["steps"] == 12 and [r["epoch"] for r in summary["history"]] == [1, 2, 3]
    if scheduler != "none":
        assert summary["schedule_change"] and "rebuilt for 3 epochs" in summary["schedule_change"]
    # the learning rate at every later step is the one of a run started with --epochs 3
    again = prepare_run(None, resume=Path(first["run_dir"]), overrides={"epochs": 5})
    change = again.trainer.schedule_change  # the trainer comes built with its schedule rebuilt
    assert (change is None) == (scheduler == "none")
    assert change is None or (change.epochs_before, change.epochs_after, change.at_step) == (3, 5, 12)
    fresh = prepare_run(replace(TrainConfig.from_dict(first["config"]), epochs=5, runs_dir=str(tmp_path / "fresh")))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # stepping a schedule without training: intended
        for _ in range(again.trainer.state.global_step):
            if fresh.trainer.scheduler is not None:
                fresh.trainer.scheduler.step()
    assert again.trainer.current_lr() == pytest.approx(fresh.trainer.current_lr(), rel=1e-9, abs=1e-15)


@pytest.mark.parametrize("option", [["--lr", "0.5"], ["--batch-size", "16"], ["--augment"], ["--seed", "3"]])
def test_options_that_cannot_change_on_resume_are_refused_by_name(cli, tmp_path, option):
    first = train(cli, tmp_path, "--epochs", "1", "--max-steps", "2")
    result = cli("train", "--resume", first["run_dir"], *option)
    assert result.exit_code == 2 and result.stderr.startswith("Error:") and "Traceback" not in result.stderr  # a usage error
    assert option[0] in result.stderr and "--init-from" in result.stderr


def test_a_config_file_is_refused_on_resume(cli, tmp_path):
    first = train(cli, tmp_path, "--epochs", "1", "--max-steps", "2")
    toml = tmp_path / "run.toml"
    toml.write_text("lr = 0.5\n")
    result = cli("train", "--resume", first["run_dir"], "--config", toml)
    assert result.exit_code == 2 and "--config" in result.stderr and "--init-from" in result.stderr


def test_init_from_starts_a_new_run_from_the_weights(cli, tmp_path):
    source = train(cli, tmp_path / "a", "--epochs", "1", "--conv-layers", "2", "--filters", "8,16")
    # a step of SGD with a negligible learning rate leaves the source's weights
    tuned = train(cli, tmp_path / "b", "--init-from", source["run_dir"], "--optimizer", "sgd", "--lr", "1e-12", "--momentum", "0",
                  "--epochs", "1", "--max-steps", "1")  # fmt: skip
    assert tuned["run_dir"] != source["run_dir"]
    assert tuned["config"]["init_from"] == source["checkpoint"] and tuned["config"]["model_args"]["filters"] == [8, 16]
    before, after = load_checkpoint(source["checkpoint"])["model_state"], load_checkpoint(tuned["last_checkpoint"])["model_state"]
    assert all(torch.allclose(before[k].float(), after[k].float(), atol=1e-6) for k in before)
    saved = json.loads((Path(tuned["run_dir"]) / "config.json").read_text())
    assert saved["resolved"]["init_from"] == source["checkpoint"]
    clash = cli("train", *SMALL, "--runs-dir", tmp_path / "c", "--init-from", source["run_dir"], "--filters", "4,4")
    assert clash.exit_code == 2 and "--filters" in clash.stderr and "Traceback" not in clash.stderr
    both = cli("train", "--resume", source["run_dir"], "--init-from", source["run_dir"])
    assert both.exit_code == 2 and "exclude each other" in both.stderr


def test_reported_accuracy_is_the_named_checkpoints(cli, tmp_path):
    summary = train(cli, tmp_path, "--epochs", "3", "--val-size", "64", "--optimizer", "sgd", "--lr", "0.3")
    assert summary["reported"] == "best" and summary["checkpoint"].endswith("best.pt")
    best_epoch = summary["best"]["epoch"]
    assert summary["test_accuracy"] == summary["history"][best_epoch - 1]["test_acc"]
    assert summary["last"]["test_accuracy"] == summary["history"][-1]["test_acc"]
    for key in ("checkpoint", "last"):
        checkpoint = summary[key] if key == "checkpoint" else summary[key]["checkpoint"]
        expected = summary["test_accuracy"] if key == "checkpoint" else summary["last"]["test_accuracy"]
        scored = cli("evaluate", "--checkpoint", checkpoint, "--json")
        assert scored.exit_code == 0, scored.stderr
        assert json.loads(scored.stdout)["accuracy"] == pytest.approx(expected, abs=1e-9)


def test_plain_lines_arrive_in_a_pipe_while_training_runs(tmp_path):
    command = [sys.executable, "-m", "mnist_toolkit", "train", "--train-limit", "512", "--batch-size", "32", "--epochs", "50",
               "--log-every", "5", "--runs-dir", str(tmp_path)]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines, deadline = [], time.monotonic() + 180
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            lines.append(line)
            if line.startswith("epoch 1/50"):
                break
        assert process.poll() is None, "the epoch line came only when training had ended"
        assert any(line.startswith("step 5 (epoch 1/50, 5/16)") for line in lines), lines
        assert "train loss" in lines[-1] and "test loss" in lines[-1] and "img/s" in lines[-1]
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=120)
    assert "\x1b[" not in "".join(lines) + output  # no ANSI codes in a log file
    assert "interrupted: checkpoint saved" in output


def test_quiet_prints_only_the_result(cli, tmp_path):
    result = cli("train", *SMALL, "--runs-dir", tmp_path, "--epochs", "1", "--quiet")
    assert result.exit_code == 0, result.stderr
    assert "epoch 1/1" not in result.stdout and "Test accuracy" in result.stdout


def test_train_loss_is_plain_cross_entropy_under_label_smoothing(tmp_path):
    config = TrainConfig(train_limit=256, batch_size=64, epochs=1, optimizer="sgd", lr=1e-12, momentum=0.0,
                         label_smoothing=0.5, runs_dir=str(tmp_path), eval_batch_size=2000)  # fmt: skip
    prepared = prepare_run(config)
    record = prepared.trainer.fit().history[0]
    data = prepared.trainer.data
    plain = evaluate(prepared.trainer.model, data.train_x, data.train_y).loss
    assert record.train_loss == pytest.approx(plain, rel=1e-4)


def test_checkpoints_carry_every_random_stream_and_the_scaler_slot(tmp_path):
    prepared = prepare_run(TrainConfig(train_limit=64, batch_size=32, epochs=1, runs_dir=str(tmp_path), eval_batch_size=2000))
    result = prepared.trainer.fit()
    payload = load_checkpoint(result.last_checkpoint)
    assert "scaler_state" in payload and len(payload["rng_states"]) == 1
    assert {"cpu", "cuda", "augment"} <= set(payload["rng_states"][0])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_amp_resume_is_exact_on_cuda(tmp_path):
    config = TrainConfig(train_limit=512, batch_size=64, epochs=1, device="cuda", amp=True, runs_dir=str(tmp_path / "a"),
                         model_args={"dropout": 0.3}, eval_batch_size=2000)  # fmt: skip
    full = prepare_run(config).trainer
    full.fit()
    cut = prepare_run(replace(config, max_steps=3, runs_dir=str(tmp_path / "b"))).trainer
    cut.fit()
    payload = load_checkpoint(cut.folder.last_checkpoint)
    assert payload["scaler_state"] and payload["rng_states"][0]["cuda"]
    resumed = prepare_run(None, resume=cut.run_dir).trainer
    resumed.fit()
    for name, tensor in full.model.state_dict().items():
        assert torch.equal(tensor, resumed.model.state_dict()[name]), name


@pytest.mark.skipif(not cpu_has_bf16(), reason="needs a CPU with native bfloat16 (AVX512-BF16 or AMX)")
def test_bf16_amp_resume_is_exact_on_the_cpu(tmp_path):
    """--amp on such a CPU: bfloat16 autocast on channels-last tensors, float32 weights in the checkpoint,
    and a run cut short and resumed ends bit for bit where the uncut run ends."""
    config = TrainConfig(train_limit=512, batch_size=64, epochs=1, device="cpu", amp=True, runs_dir=str(tmp_path / "a"),
                         model_args={"dropout": 0.3}, augment=True, eval_batch_size=2000, threads=1)  # fmt: skip
    full = prepare_run(config).trainer
    assert full.amp == torch.bfloat16 and full.scaler is None and full.channels_last
    resolved = json.loads(full.folder.config_file.read_text())["resolved"]
    assert resolved["precision"] == "bfloat16 autocast" and resolved["channels_last"] is True
    full.fit()
    cut = prepare_run(replace(config, max_steps=3, runs_dir=str(tmp_path / "b"))).trainer
    cut.fit()
    payload = load_checkpoint(cut.folder.last_checkpoint)
    assert all(t.dtype == torch.float32 for t in payload["model_state"].values() if t.is_floating_point())
    resumed = prepare_run(None, resume=cut.run_dir).trainer
    assert resumed.amp == torch.bfloat16
    resumed.fit()
    for name, tensor in full.model.state_dict().items():
        assert torch.equal(tensor, resumed.model.state_dict()[name]), name


def test_float32_channels_last_resume_is_exact_and_the_model_is_channels_last(tmp_path):
    """The fast preset keeps channels-last tensors in float32 too: the model is converted, and a run cut
    short and resumed ends bit for bit where the uncut run ends."""
    config = TrainConfig(train_limit=512, batch_size=64, epochs=1, device="cpu", channels_last=True, runs_dir=str(tmp_path / "a"),
                         model_args={"dropout": 0.3, "conv_layers": 2}, augment=True, eval_batch_size=2000, threads=1)  # fmt: skip
    full = prepare_run(config).trainer
    assert full.amp is None and full.channels_last
    resolved = json.loads(full.folder.config_file.read_text())["resolved"]  # what the run really used, recorded
    assert resolved["precision"] == "float32" and resolved["channels_last"] is True
    conv = [m for m in full.model.modules() if isinstance(m, torch.nn.Conv2d)][-1]  # not the first: one input channel is both layouts
    assert conv.weight.is_contiguous(memory_format=torch.channels_last) and not conv.weight.is_contiguous()
    full.fit()
    cut = prepare_run(replace(config, max_steps=3, runs_dir=str(tmp_path / "b"))).trainer
    cut.fit()
    resumed = prepare_run(None, resume=cut.run_dir).trainer
    assert resumed.channels_last
    resumed.fit()
    for name, tensor in full.model.state_dict().items():
        assert torch.equal(tensor, resumed.model.state_dict()[name]), name
    with pytest.raises(ConfigError, match="channels"):  # the layout is part of the recipe: not changed on resume
        prepare_run(None, resume=cut.run_dir, overrides={"channels_last": False})


def test_channels_last_follows_the_config_and_the_precision():
    from mnist_toolkit.training.config import build_train_config
    from mnist_toolkit.training.devices import channels_last_for

    assert build_train_config({"preset": "fast"}).channels_last is True
    assert channels_last_for(build_train_config({"preset": "fast"}), None)  # float32 too
    assert not channels_last_for(build_train_config({}), None)  # "auto": only under bfloat16
    assert channels_last_for(build_train_config({}), torch.bfloat16)
    assert not channels_last_for(build_train_config({}), torch.float16)
    assert not channels_last_for(build_train_config({"preset": "fast", "channels_last": False}), torch.bfloat16)
    with pytest.raises(ConfigError, match="channels_last"):
        build_train_config({"channels_last": "sometimes"})


def test_the_fast_preset_uses_bfloat16_only_where_the_cpu_has_it(monkeypatch):
    from mnist_toolkit.training import devices
    from mnist_toolkit.training.config import build_train_config
    from mnist_toolkit.training.devices import amp_for

    config = build_train_config({"preset": "fast"})
    assert config.amp == "auto"
    cpu = torch.device("cpu")
    monkeypatch.setattr(devices, "cpu_has_bf16", lambda: True)
    assert amp_for(config, cpu) == torch.bfloat16
    monkeypatch.setattr(devices, "cpu_has_bf16", lambda: False)
    assert amp_for(config, cpu) is None  # plain float32 elsewhere
    assert amp_for(build_train_config({"preset": "fast", "amp": False}), cpu) is None
    with pytest.raises(ConfigError, match="--amp"):
        amp_for(build_train_config({"amp": True}), cpu)
    monkeypatch.setattr(devices, "cpu_has_bf16", lambda: True)
    assert amp_for(config, torch.device("cuda")) is None  # "auto" is the CPU's bfloat16 only
    assert amp_for(build_train_config({"preset": "fast", "amp": True}), torch.device("cuda")) == torch.float16


def test_env_reports_versions_devices_and_data(cli):
    result = cli("env", "--json")
    assert result.exit_code == 0, result.stderr
    facts = json.loads(result.stdout)
    assert facts["torch"] == torch.__version__ and facts["devices"][0]["type"] == "cpu"
    assert facts["data"]["source"] in {"embedded", "data-dir"} and facts["torch_threads"] >= 1
    table = cli("env")
    assert table.exit_code == 0 and "torch" in table.stdout
