"""ONNX and pt2 export, the ONNX Runtime engine, the torch-free path and the pretrained model."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mnist_toolkit.inference.checkpoint import load_checkpoint

from helpers import copy_run, png

# `shared_run` (conftest): the session's small trained run, with its ONNX model. Read-only: the tests
# that write beside its checkpoint work on a copy.


@pytest.fixture(scope="module")
def test_digits(mnist_test):
    return mnist_test


@pytest.fixture(scope="module")
def exported(shared_run, test_digits, tmp_path_factory) -> dict:
    """The shared run exported to both formats with the core function."""
    from mnist_toolkit.inference.export import export_model

    out = tmp_path_factory.mktemp("exported")
    payload = load_checkpoint(shared_run / "checkpoints" / "last.pt")
    return {fmt: export_model(payload, str(shared_run), fmt, out / f"model.{fmt}", test_digits.images[:1000]) for fmt in ("onnx", "pt2")}


# ------------------------------------------------------------------------------------------ parity
@pytest.mark.parametrize("fmt", ["onnx", "pt2"])
def test_export_agrees_with_torch_on_a_thousand_digits(exported, fmt):
    result = exported[fmt]
    assert result.path.is_file() and result.bytes == result.path.stat().st_size
    assert result.checked == 1000 and result.agree == 1000
    assert result.max_logit_difference < 1e-3
    assert result.metadata["arch"] == "cnn" and result.metadata["normalization"]["mean"] == pytest.approx(0.1307)
    if fmt == "onnx":  # the exporter's debug metadata (stack traces with this machine's paths) is dropped
        assert str(Path(__file__).resolve().parent.parent).encode() not in result.path.read_bytes()


def test_onnx_engine_matches_torch_on_the_whole_test_set(shared_run, exported, test_digits):
    from mnist_toolkit.inference.evaluation import evaluate_model
    from mnist_toolkit.inference.onnx_model import OnnxModel
    from mnist_toolkit.inference.checkpoint import rebuild_model
    from mnist_toolkit.inference.torch_model import TorchModel

    payload = load_checkpoint(shared_run / "checkpoints" / "last.pt")
    torch_model = TorchModel(rebuild_model(payload))
    onnx_model = OnnxModel(exported["onnx"].path)
    images, labels = test_digits.images, test_digits.labels
    a, b = evaluate_model(torch_model, images, labels), evaluate_model(onnx_model, images, labels)
    assert (a["predictions"] == b["predictions"]).mean() > 0.999
    assert abs(a["loss"] - b["loss"]) < 1e-4
    meta = onnx_model.metadata
    assert meta["source"] == str(shared_run) and meta["test_accuracy"] == pytest.approx(payload["history"][-1]["test_acc"])
    # any batch size, one digit included
    assert onnx_model.logits(images[:1]).shape == (1, 10) and onnx_model.logits(images[:777], batch_size=100).shape == (777, 10)


def test_pt2_loads_with_torch_export_and_carries_metadata(exported, test_digits):
    import torch

    files = {"mnist_toolkit.json": ""}
    program = torch.export.load(exported["pt2"].path, extra_files=files)
    logits = program.module()(torch.from_numpy(test_digits.images[:5]))
    assert logits.shape == (5, 10)
    assert json.loads(files["mnist_toolkit.json"])["arch"] == "cnn"


# ------------------------------------------------------------------------------------ CLI: export
def test_cli_export_writes_a_checked_onnx_file(cli, shared_run, tmp_path):
    out = tmp_path / "digits.onnx"
    result = cli("export", "--run", shared_run, "--out", out, "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["path"] == str(out) and report["agree"] == report["checked"] == 1000
    assert out.is_file() and not list(tmp_path.glob(".*.part"))


def test_cli_export_default_path_is_beside_the_checkpoint(cli, shared_run, tmp_path):
    run = copy_run(shared_run, tmp_path)  # the export lands in the run
    result = cli("export", "--run", run, "--format", "pt2", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["path"] == str(run / "checkpoints" / "last.pt2")
    assert (run / "checkpoints" / "last.pt2").is_file()


@pytest.mark.parametrize(
    ("args", "expected", "status"),
    [
        (["--format", "tflite"], "unknown export format 'tflite'", 2),  # a usage error
        (["--out", "/nonexistent-folder/x.onnx"], "no such folder", 1),  # a place that cannot be written
    ],
)
def test_cli_export_refuses_bad_arguments_in_one_line(cli, shared_run, args, expected, status, tmp_path):
    result = cli("export", "--run", shared_run, *args)
    assert result.exit_code == status
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and expected in lines[0]
    assert "Traceback" not in result.stderr


# ------------------------------------------------------------------------------ engines and files
def _bad_models(tmp_path: Path) -> dict[str, Path]:
    import onnx
    from onnx import TensorProto, helper

    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x08\x07garbage" * 50)
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 3, 32, 32])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 3, 32, 32])])  # fmt: skip
    wrong = tmp_path / "wrong-shape.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), wrong)
    return {"corrupt": corrupt, "wrong-shape": wrong}


@pytest.mark.parametrize(("kind", "expected"), [("corrupt", "not a readable ONNX model"), ("wrong-shape", "not (batch, 28, 28) uint8")])
def test_bad_onnx_files_are_refused_in_one_line(cli, tmp_path, kind, expected):
    model = _bad_models(tmp_path)[kind]
    image = tmp_path / "d.png"
    image.write_bytes(png(np.zeros((28, 28), np.uint8)))
    for command in (["predict", image], ["evaluate"]):
        result = cli(*command, "--checkpoint", model)
        assert result.exit_code == 1, result.stdout
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error:") and expected in lines[0]


def test_engine_choices(cli, shared_run, test_digits, tmp_path):
    image = tmp_path / "seven.png"
    image.write_bytes(png(test_digits.images[0]))
    fresh = copy_run(shared_run, tmp_path, onnx=False, name="run")  # a short path: the engine line below is not wrapped
    refused = cli("predict", image, "--run", fresh, "--engine", "onnx")
    assert refused.exit_code == 1 and "no ONNX model beside" in refused.stderr and "mnist export" in refused.stderr
    auto = cli("predict", image, "--run", fresh, "--json")
    assert auto.exit_code == 0 and json.loads(auto.stdout)[0]["engine"] == "torch"  # nothing to run on ONNX yet
    assert cli("export", "--run", fresh).exit_code == 0
    answers = {}
    for engine in ("auto", "onnx", "torch"):
        result = cli("predict", image, "--run", fresh, "--engine", engine, "--json", "--verbose")
        assert result.exit_code == 0, result.stderr
        answers[engine] = json.loads(result.stdout)[0]
        assert answers[engine]["engine"] == ("torch" if engine == "torch" else "onnx")
        assert f"on the {answers[engine]['engine']} engine" in result.stderr
    assert answers["onnx"]["digit"] == answers["torch"]["digit"] == answers["auto"]["digit"]
    assert answers["onnx"]["confidence"] == pytest.approx(answers["torch"]["confidence"], abs=1e-4)
    evals = {e: json.loads(cli("evaluate", "--run", fresh, "--engine", e, "--json").stdout) for e in ("onnx", "torch")}
    assert evals["onnx"]["engine"] == "onnx" and evals["torch"]["engine"] == "torch"
    assert abs(evals["onnx"]["accuracy"] - evals["torch"]["accuracy"]) <= 0.01
    # a checkpoint newer than its ONNX model: auto goes back to torch and says why
    (fresh / "checkpoints" / "last.pt").touch()
    stale = cli("predict", image, "--run", fresh, "--json", "--verbose")
    assert json.loads(stale.stdout)[0]["engine"] == "torch" and "older than last.pt" in stale.stderr
    bad = cli("predict", image, "--engine", "tensorrt")
    assert bad.exit_code == 2 and "unknown engine 'tensorrt'" in bad.stderr and "unexpected" not in bad.stderr


def test_a_missing_onnx_file_is_a_one_line_error(cli, tmp_path):
    image = tmp_path / "d.png"
    image.write_bytes(png(np.zeros((28, 28), np.uint8)))
    for engine in ("auto", "onnx"):
        result = cli("predict", image, "--checkpoint", tmp_path / "nope.onnx", "--engine", engine)
        lines = result.stderr.strip().splitlines()
        assert result.exit_code == 1 and len(lines) == 1
        assert "no such ONNX model" in lines[0] and "unexpected" not in lines[0]


def test_export_refuses_to_overwrite_the_checkpoint_or_the_package(cli, shared_run, tmp_path):
    checkpoint = copy_run(shared_run, tmp_path / "runs") / "checkpoints" / "last.pt"  # a copy: a broken refusal overwrites it
    before = checkpoint.read_bytes()
    same = cli("export", "--checkpoint", checkpoint, "--out", checkpoint)
    assert same.exit_code == 2 and "is the checkpoint itself" in same.stderr
    assert checkpoint.read_bytes() == before
    empty = tmp_path / "no-runs"
    empty.mkdir()
    pretrained = cli("export", "--runs-dir", empty)
    assert pretrained.exit_code == 1 and "pass --out FILE" in pretrained.stderr
    out = tmp_path / "pretrained.onnx"
    assert cli("export", "--runs-dir", empty, "--out", out).exit_code == 0 and out.is_file()


@pytest.mark.slow
def test_train_writes_the_reported_checkpoints_onnx_model(cli, tmp_path, monkeypatch):
    """`mnist train --onnx` itself, so it trains its own runs (two small ones) instead of using the shared run:
    by default a background process writes the model and the next command waits for it; with
    --wait-for-onnx it is written before train exits."""
    from mnist_toolkit.inference import background_export

    result = cli("train", "--preset", "fast", "--epochs", "1", "--train-limit", "1500", "--runs-dir", tmp_path, "--onnx", "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    onnx = Path(summary["onnx"])
    assert summary["onnx_in_background"] is True and onnx == Path(summary["checkpoint"]).with_suffix(".onnx")
    evaluated = json.loads(cli("evaluate", "--run", summary["run_dir"], "--json").stdout)  # waits for the export
    assert evaluated["engine"] == "onnx" and evaluated["accuracy"] == pytest.approx(summary["test_accuracy"], abs=0.01)
    assert onnx.is_file() and sorted(p.name for p in onnx.parent.iterdir()) == ["last.onnx", "last.pt"]  # no marker left
    # written before exiting; an exporter that breaks there leaves a warning, never a lost run
    now = cli("train", "--preset", "fast", "--epochs", "1", "--train-limit", "500", "--runs-dir", tmp_path, "--onnx",
              "--wait-for-onnx", "--json")  # fmt: skip
    written = json.loads(now.stdout)
    assert written["onnx_in_background"] is False and Path(written["onnx"]).is_file()
    assert not background_export.marker_of(Path(written["onnx"])).exists()
    import mnist_toolkit.inference.export

    def broken(*args, **kwargs):
        raise RuntimeError("exporter exploded")

    monkeypatch.setattr(mnist_toolkit.inference.export, "export_model", broken)
    again = cli("train", "--preset", "fast", "--epochs", "1", "--train-limit", "500", "--runs-dir", tmp_path, "--onnx",
                "--wait-for-onnx", "--json")  # fmt: skip
    assert again.exit_code == 0 and json.loads(again.stdout)["onnx"] is None
    assert "no ONNX model written (RuntimeError: exporter exploded)" in again.stderr


def test_a_failed_background_export_is_the_loaders_note_and_the_run_reads_on_torch(cli, shared_run, tmp_path, test_digits, monkeypatch):
    """The exporting process's work, in this process: a checkpoint it cannot read leaves a one-line error
    file and no marker; `mnist predict` then says why and reads on torch. An error older than the
    checkpoint is history and says nothing; a marker whose process died says so."""
    import os
    import time

    from mnist_toolkit.files import write_json
    from mnist_toolkit.inference import background_export

    monkeypatch.setattr(os, "nice", lambda increment: 0)  # not this test process's priority
    run = copy_run(shared_run, tmp_path / "runs", onnx=False)
    checkpoint = run / "checkpoints" / "last.pt"
    onnx = checkpoint.with_suffix(".onnx")
    good = checkpoint.read_bytes()
    checkpoint.write_bytes(b"not a checkpoint")
    background_export.write_check_digits(onnx, test_digits.images[:10])
    write_json(background_export.marker_of(onnx), {"pid": None, "started": time.time()})
    background_export.export(checkpoint)
    assert sorted(p.name for p in onnx.parent.iterdir()) == ["last.onnx.error", "last.pt"]  # no marker, no check digits
    assert background_export.problem(onnx, checkpoint).startswith("the ONNX export after training failed: no ONNX model written")
    checkpoint.write_bytes(good)
    os.utime(background_export.error_of(onnx), (time.time() - 60,) * 2)  # the failure was about an older checkpoint
    assert background_export.problem(onnx, checkpoint) is None
    os.utime(background_export.error_of(onnx))
    image = tmp_path / "d.png"
    image.write_bytes(png(test_digits.images[0]))
    result = cli("predict", "--run", run, image, "--json")
    assert result.exit_code == 0, result.stderr
    assert "the ONNX export after training failed: no ONNX model written" in result.stderr
    assert json.loads(result.stdout)[0]["digit"] == int(test_digits.labels[0])
    # an export that died without a word (killed): its marker is left, no process holds it
    write_json(background_export.marker_of(onnx), {"pid": 999999, "started": time.time() - 5})
    assert not background_export.exporting(onnx)
    assert "stopped before it finished" in background_export.problem(onnx, checkpoint)
    # the run folder deleted meanwhile: the exporting process writes nothing and creates nothing
    gone = tmp_path / "gone" / "checkpoints" / "last.pt"
    background_export.export(gone)
    assert not (tmp_path / "gone").exists()


def test_the_loader_waits_only_for_a_live_export(tmp_path):
    """An export under way holds the marker's lock (waited for, up to the timeout); once its process is
    gone, however it ended, the marker is not waited for, even though its pid may live on in another
    process; a marker not locked yet counts only while its process may still be starting."""
    import time

    from mnist_toolkit.files import write_json
    from mnist_toolkit.inference import background_export

    onnx = tmp_path / "last.onnx"
    marker = background_export.marker_of(onnx)
    assert not background_export.exporting(onnx)
    write_json(marker, {"pid": os.getpid(), "started": time.time() - background_export.START_SECONDS - 1})
    holder = subprocess.Popen([sys.executable, "-c", "import fcntl, sys, time\nhandle = open(sys.argv[1], 'rb')\n"
                               "fcntl.flock(handle, fcntl.LOCK_EX)\nprint('locked', flush=True)\ntime.sleep(30)", str(marker)],
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert background_export.exporting(onnx)
        started = time.monotonic()
        background_export.wait(onnx, timeout=0.3)
        assert 0.3 <= time.monotonic() - started < 5
    finally:
        holder.kill()
        holder.wait()
    assert not background_export.exporting(onnx)  # its process is gone; the pid in the marker (this one) lives
    write_json(marker, {"pid": None, "started": time.time()})
    assert background_export.exporting(onnx)  # still starting
    write_json(marker, {"pid": None, "started": time.time() - background_export.START_SECONDS - 1})
    assert not background_export.exporting(onnx)
    marker.write_text("{not json")
    assert not background_export.exporting(onnx)


def test_onnx_path_never_imports_torch(shared_run, test_digits, tmp_path):
    """Fresh processes: predict and evaluate on ONNX Runtime (an .onnx file, a run folder on `auto`,
    the pretrained model with no run at all), then check sys.modules: no torch, no scipy (whose
    import alone costs a cold start about 0.2 s; the reading runs on OpenCV) and no pydantic (Typer
    0.29 builds pydantic adapters for every option, about 0.1 s)."""
    model = tmp_path / "m.onnx"  # a lone .onnx file (evaluate writes its report beside it)
    shutil.copy(shared_run / "checkpoints" / "last.onnx", model)
    run = copy_run(shared_run, tmp_path / "runs")  # last.pt with its (newer) last.onnx
    empty = tmp_path / "no-runs"
    empty.mkdir()
    image = tmp_path / "d.png"
    image.write_bytes(png(test_digits.images[1]))
    page = tmp_path / "page.png"  # dark ink on light paper: the whole reading path, not the 28x28 pass-through
    paper = np.full((240, 320), 235, np.uint8)
    paper[60:172, 100:212] = 235 - np.asarray(Image.fromarray(test_digits.images[1]).resize((112, 112))) * 0.8
    page.write_bytes(png(paper))
    probe = ("import sys\nfrom mnist_toolkit.cli import app\ntry:\n    app(sys.argv[1:])\nexcept SystemExit as exit:\n    assert exit.code in (0, None), exit.code\n"
             "print(' '.join(sorted({'torch', 'scipy', 'pydantic'} & set(sys.modules))) or 'NO-TORCH', file=sys.stderr)\n")  # fmt: skip
    commands = [["predict", str(image), "--checkpoint", str(model)], ["evaluate", "--checkpoint", str(model)],
                ["predict", str(image), "--run", str(run)], ["predict", str(page), "--runs-dir", str(empty)],
                ["predict", str(page), "--runs-dir", str(empty), "--number"]]  # fmt: skip
    for command in commands:
        done = subprocess.run([sys.executable, "-c", probe, *command, "--json"], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert done.stderr.strip().splitlines()[-1] == "NO-TORCH", command
        answer = json.loads(done.stdout)
        if "--number" in command:
            assert answer[0]["engine"] == "onnx" and answer[0]["number"] == str(test_digits.labels[1])
        elif command[0] == "predict":
            assert answer[0]["engine"] == "onnx" and answer[0]["digit"] == int(test_digits.labels[1])
        else:
            assert answer["engine"] == "onnx"


# ------------------------------------------------------------------------------------- pretrained
def test_pretrained_model_is_used_without_any_run(cli, tmp_path, test_digits):
    from mnist_toolkit.inference.loading import pretrained_info

    card = pretrained_info()
    assert card is not None and card["test_accuracy"] >= 99.5
    empty = tmp_path / "no-runs"
    empty.mkdir()
    images = []
    for i in range(10):
        path = tmp_path / f"d{i}.png"
        path.write_bytes(png(test_digits.images[i]))
        images.append(path)
    result = cli("predict", *images, "--runs-dir", empty, "--json", "--verbose")
    assert result.exit_code == 0, result.stderr
    assert "pretrained" in result.stderr
    rows = json.loads(result.stdout)
    assert [row["digit"] for row in rows] == [int(d) for d in test_digits.labels[:10]]
    models = json.loads(cli("models", "--json").stdout)
    listed = models["pretrained"] if isinstance(models, dict) else None
    assert listed and listed["test_accuracy"] == card["test_accuracy"]


def test_a_command_says_it_waits_for_the_export_after_training(cli, shared_run, tmp_path, test_digits):
    """While an export after training is under way, predict says so on stderr before it waits (a few
    seconds, up to minutes on a slow machine), then reads; with no export under way it says nothing."""
    import time

    from mnist_toolkit.files import write_json
    from mnist_toolkit.inference import background_export

    run = copy_run(shared_run, tmp_path / "runs", onnx=False)
    onnx = run / "checkpoints" / "last.onnx"
    image = tmp_path / "d.png"
    image.write_bytes(png(test_digits.images[0]))
    quiet = cli("predict", "--run", run, image)
    assert quiet.exit_code == 0, quiet.stderr
    assert "Waiting" not in quiet.stderr
    # an export started a moment ago whose process has not taken its lock yet: waited for up to 5 s
    write_json(background_export.marker_of(onnx), {"pid": None, "started": time.time() - background_export.START_SECONDS + 5.0})
    result = cli("predict", "--run", run, image, "--json")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.startswith("Waiting for the ONNX export after training (last.onnx; --engine torch does not wait)...")
    assert json.loads(result.stdout)[0]["digit"] == int(test_digits.labels[0])
    write_json(background_export.marker_of(onnx), {"pid": None, "started": time.time()})
    on_torch = cli("predict", "--run", run, image, "--engine", "torch")
    assert on_torch.exit_code == 0 and "Waiting" not in on_torch.stderr
