"""Rebuild the pretrained model shipped in the package, and check it.

1. Train it with the project's own command (unless --from-run names a finished run of that command):
       mnist train --preset robust --val-size 5000 --seed 0 --runs-dir runs/pretrained --name robust
   The robust preset is the best preset plus stroke-width and slant augmentation; the checkpoint kept is
   `best.pt`, the epoch with the best accuracy on the 5,000 held-out training images (never the test set).
2. Write its weights (no optimizer state) to src/mnist_toolkit/pretrained/robust.pt and its ONNX export
   (checked against torch on 1,000 test digits) to robust.onnx, atomically.
   Both carry its calibration: the temperature fitted on the same 5,000 held-out images (never the
   test set), as `mnist train` fits it for every run with a validation split.
3. Score both engines on the 10,000 MNIST test images and write the model card robust.json
   (command, seed, epochs, validation and test accuracy, calibration). Fails if the test accuracy is
   under 99.5 %.

With --calibrate-only, the shipped weights are kept as they are: only their calibration is (re)fitted
on the validation split and written into robust.pt, robust.onnx's metadata and the card.

Usage: poetry run python benchmarks/build_pretrained.py [--from-run runs/pretrained/<run>] [--threads N] [--calibrate-only]
Real-world accuracy: poetry run python benchmarks/predict_realworld.py --checkpoint src/mnist_toolkit/pretrained/robust.pt
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TRAIN_ARGS = ["--preset", "robust", "--val-size", "5000", "--seed", "0", "--runs-dir", "runs/pretrained", "--name", "robust"]
TARGET = 99.5


def train(threads: int | None) -> Path:
    command = [sys.executable, "-m", "mnist_toolkit", "train", *TRAIN_ARGS, "--json"] + (["--threads", str(threads)] if threads else [])
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    return Path(json.loads(done.stdout)["run_dir"])


def validation_calibration(payload: dict) -> dict:
    """The temperature of a checkpoint's weights, fitted on the validation split it was trained with
    (rebuilt from its config: the same seeded hold-out of the training images)."""
    import torch

    from mnist_toolkit.data.source import resolve_source
    from mnist_toolkit.inference.calibration import calibrate
    from mnist_toolkit.inference.checkpoint import rebuild_model
    from mnist_toolkit.inference.torch_model import TorchModel
    from mnist_toolkit.training.config import TrainConfig
    from mnist_toolkit.training.split import prepare_data

    config = TrainConfig.from_dict(payload["config"])
    data = prepare_data(config, resolve_source(None), torch.device("cpu"))
    norm = payload["normalization"]
    logits = TorchModel(rebuild_model(payload), norm["mean"], norm["std"]).logits(data.val_x.numpy())
    labels = data.val_y.numpy()
    return calibrate(logits, labels, f"validation split ({len(labels):,} images)").to_json()


def write_onnx_calibration(path: Path, calibration: dict) -> None:
    """Put `calibration` into an exported model's metadata (the graph is left as it is), atomically."""
    import onnx

    from mnist_toolkit.files import atomic_write_bytes
    from mnist_toolkit.inference.onnx_model import METADATA_KEY

    proto = onnx.load(str(path))
    entry = next(e for e in proto.metadata_props if e.key == METADATA_KEY)
    entry.value = json.dumps({**json.loads(entry.value), "calibration": calibration})
    atomic_write_bytes(path, proto.SerializeToString())


def calibrate_only() -> None:
    from mnist_toolkit.files import atomic_write_bytes
    from mnist_toolkit.inference.checkpoint import load_checkpoint, save_checkpoint
    from mnist_toolkit.inference.loading import PRETRAINED_DIR, PRETRAINED_NAME

    weights = PRETRAINED_DIR / f"{PRETRAINED_NAME}.pt"
    payload = load_checkpoint(weights)
    payload.pop("format")
    calibration = validation_calibration(payload)
    save_checkpoint(weights, {**payload, "calibration": calibration})
    write_onnx_calibration(PRETRAINED_DIR / f"{PRETRAINED_NAME}.onnx", calibration)
    card_path = PRETRAINED_DIR / f"{PRETRAINED_NAME}.json"
    card = {**json.loads(card_path.read_text()), "calibration": calibration}
    atomic_write_bytes(card_path, (json.dumps(card, indent=2) + "\n").encode())
    print(json.dumps(calibration, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from-run", type=Path, help="a finished run of the command above, instead of training again")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--calibrate-only", action="store_true", help="keep the shipped weights; refit and store their calibration")
    args = parser.parse_args()
    if args.calibrate_only:
        return calibrate_only()

    import torch

    from mnist_toolkit.inference.checkpoint import load_checkpoint, save_checkpoint
    from mnist_toolkit.data.source import load_split, resolve_source
    from mnist_toolkit.inference.evaluation import evaluate_model
    from mnist_toolkit.inference.export import checkpoint_test_accuracy, export_model
    from mnist_toolkit.inference.loading import PRETRAINED_DIR, PRETRAINED_NAME, ModelChoice, load_model

    run_dir = args.from_run or train(args.threads)
    config = json.loads((run_dir / "config.json").read_text())
    resolved = config.get("config", config)
    expected = {"preset": "robust", "val_size": 5000, "seed": 0}
    if any(resolved.get(k) != v for k, v in expected.items()):
        raise SystemExit(f"{run_dir} was not trained with {' '.join(TRAIN_ARGS)}")
    payload = load_checkpoint(run_dir / "checkpoints" / "best.pt")
    shipped = {key: payload[key] for key in ("arch", "model_args", "model_state", "config", "normalization", "num_classes",
                                              "in_channels", "epoch", "global_step", "history", "best_val_acc", "best_epoch", "params")}  # fmt: skip
    shipped["step_in_epoch"] = 0
    shipped["model_state"] = {k: v.cpu() for k, v in shipped["model_state"].items()}
    shipped["calibration"] = validation_calibration(shipped)
    weights = save_checkpoint(PRETRAINED_DIR / f"{PRETRAINED_NAME}.pt", shipped)
    test = load_split(resolve_source(None), "test")
    source = f"mnist train {' '.join(TRAIN_ARGS)} (best.pt, epoch {payload['best_epoch']})"
    onnx = export_model(load_checkpoint(weights), source, "onnx", PRETRAINED_DIR / f"{PRETRAINED_NAME}.onnx", test.images[:1000])
    scores = {}
    for engine in ("torch", "onnx"):
        loaded = load_model(ModelChoice("pretrained", weights, onnx.path), engine)
        scored = evaluate_model(loaded.predictor, test.images, test.labels)
        scores[engine] = 100.0 * float((scored["predictions"] == test.labels).mean())
    card = {
        "name": PRETRAINED_NAME,
        "command": "mnist train " + " ".join(TRAIN_ARGS),
        "seed": 0,
        "preset": "robust",
        "arch": payload["arch"],
        "model_args": payload["model_args"],
        "params": payload["params"],
        "epochs": resolved["epochs"],
        "checkpoint_epoch": payload["best_epoch"],  # best.pt: the epoch with the best validation accuracy
        "val_accuracy": payload["best_val_acc"],
        "test_accuracy": round(scores["torch"], 2),
        "test_accuracy_onnx": round(scores["onnx"], 2),
        "test_accuracy_in_checkpoint": checkpoint_test_accuracy(payload),
        "onnx_max_logit_difference": onnx.max_logit_difference,
        "calibration": shipped["calibration"],
        "torch": torch.__version__,
        "built": datetime.date.today().isoformat(),
    }
    from mnist_toolkit.files import atomic_write_bytes

    atomic_write_bytes(PRETRAINED_DIR / f"{PRETRAINED_NAME}.json", (json.dumps(card, indent=2) + "\n").encode())
    print(json.dumps(card, indent=2))
    sizes = {p.name: p.stat().st_size for p in PRETRAINED_DIR.iterdir() if p.is_file()}
    print("sizes:", sizes)
    if scores["torch"] < TARGET or abs(scores["torch"] - scores["onnx"]) > 0.01:
        raise SystemExit(f"pretrained model under target: torch {scores['torch']:.2f} %, onnx {scores['onnx']:.2f} % (target {TARGET} %)")


if __name__ == "__main__":
    main()
