"""Calibrated confidence: the temperature fitted on the validation split, stored with the model, applied
in every probability shown, and measured (ECE, NLL, reliability) by `mnist evaluate`."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import copy_run

from mnist_toolkit.inference.calibration import Calibration, calibrate, expected_calibration_error, fit_temperature, reliability
from mnist_toolkit.inference.scores import softmax


def _sampled(true_logits: np.ndarray, seed: int = 0) -> np.ndarray:
    """Labels drawn from softmax(true_logits): for these, true_logits are perfectly calibrated."""
    rng = np.random.default_rng(seed)
    cumulative = softmax(true_logits).cumsum(axis=1)
    return (cumulative > rng.random((len(true_logits), 1))).argmax(axis=1)


@pytest.mark.parametrize("true_temperature", [0.5, 1.0, 3.0])
def test_the_fitted_temperature_recovers_the_true_one(true_temperature):
    calibrated = np.random.default_rng(1).normal(0, 3, (40_000, 10))
    labels = _sampled(calibrated)
    observed = calibrated * true_temperature  # what a network too sure (T > 1) or too shy (T < 1) gives
    assert fit_temperature(observed, labels) == pytest.approx(true_temperature, rel=0.03)


def test_ece_of_known_cases():
    # 100 answers at 80 % confidence, 80 right: perfectly calibrated
    probabilities = np.full((100, 2), 0.2)
    probabilities[:, 0] = 0.8
    labels = np.array([0] * 80 + [1] * 20)
    assert expected_calibration_error(probabilities, labels) == pytest.approx(0.0, abs=1e-12)
    # the same answers with only 50 right: 30 points too sure
    assert expected_calibration_error(probabilities, np.array([0] * 50 + [1] * 50)) == pytest.approx(0.3)
    # two bins: 50 at 0.95 all right (gap 0.05), 50 at 0.55 with 25 right (gap 0.05) -> 0.05
    two = np.vstack([np.tile([0.95, 0.05], (50, 1)), np.tile([0.55, 0.45], (50, 1))])
    assert expected_calibration_error(two, np.array([0] * 50 + [0] * 25 + [1] * 25)) == pytest.approx(0.05)
    bins = reliability(two, np.array([0] * 100))
    assert sum(b["count"] for b in bins) == 100 and len(bins) == 15


def test_calibration_improves_what_it_was_fitted_for():
    calibrated = np.random.default_rng(2).normal(0, 2, (20_000, 10))
    labels = _sampled(calibrated, seed=3)
    result = calibrate(calibrated * 2.0, labels, "synthetic")
    assert result.nll_after < result.nll_before and result.ece_after < result.ece_before / 3
    assert Calibration.from_json(result.to_json()) == result
    assert Calibration.from_json(None) is None and Calibration.from_json({"temperature": -1}) is None
    assert Calibration.from_json({**result.to_json(), "temperature": float("nan")}) is None


@pytest.fixture(scope="module")
def calibrated_run(tmp_path_factory):
    """A tiny run trained with a validation split, with its ONNX model."""
    from mnist_toolkit.training.config import build_train_config
    from mnist_toolkit.training.prepare import export_reported_onnx, prepare_run

    runs = tmp_path_factory.mktemp("calibrated-runs")
    config = build_train_config({"preset": "fast", "epochs": 1, "train_limit": 1500, "val_size": 500, "runs_dir": str(runs)})
    prepared = prepare_run(config)
    result = prepared.trainer.fit()
    export_reported_onnx(prepared, result)
    return prepared.run_dir


def test_a_run_with_a_validation_split_stores_its_temperature_and_both_engines_apply_it(calibrated_run):
    from mnist_toolkit.inference.checkpoint import load_checkpoint
    from mnist_toolkit.inference.loading import ModelChoice, load_model
    from mnist_toolkit.runs import RunFolder

    checkpoint = RunFolder(calibrated_run).reported_checkpoint()
    stored = Calibration.from_json(load_checkpoint(checkpoint)["calibration"])
    assert stored is not None and stored.fitted_on == "validation split (500 images)"
    digits = np.zeros((3, 28, 28), np.uint8)
    digits[:, 6:22, 12:16] = 255
    for engine in ("torch", "onnx"):
        model = load_model(ModelChoice("run", checkpoint, RunFolder.onnx_of(checkpoint)), engine)
        assert model.engine == engine and model.calibration.temperature == pytest.approx(stored.temperature)
        expected = softmax(model.logits(digits) / stored.temperature)
        np.testing.assert_allclose(model.predict_proba(digits), expected, rtol=1e-5, atol=1e-6)
        reading = model.read(digits[0])
        assert reading.confidence == pytest.approx(float(expected[0].max()), rel=1e-5)


def test_a_run_without_a_validation_split_says_it_is_uncalibrated(cli, shared_run, tmp_path):
    from mnist_toolkit.inference.loading import ModelChoice, load_model
    from mnist_toolkit.runs import RunFolder

    checkpoint = RunFolder(shared_run).reported_checkpoint()
    assert load_model(ModelChoice("run", checkpoint, None), "torch").calibration is None
    run = copy_run(shared_run, tmp_path)
    result = cli("evaluate", "--run", run)
    assert result.exit_code == 0, result.stderr
    assert "uncalibrated" in result.stdout
    assert "confidence uncalibrated" in result.stderr.splitlines()[0]  # the Model: line, predict's too


def test_evaluate_reports_ece_before_and_after_and_draws_the_reliability_diagram(cli, calibrated_run, tmp_path):
    run = copy_run(calibrated_run, tmp_path)
    result = cli("evaluate", "--run", run, "--engine", "torch", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.startswith("Model: ") and "uncalibrated" not in result.stderr
    report = json.loads(result.stdout)
    calibration = report["calibration"]
    assert calibration["temperature"] > 0 and calibration["fitted_on"].startswith("validation split")
    assert {"ece_before", "ece_after", "nll_before", "nll_after"} <= calibration.keys()
    assert sum(b["count"] for b in calibration["reliability_after"]) == 10_000
    assert (run / "eval" / "reliability.png").is_file()


def test_the_pretrained_model_is_calibrated_on_both_engines_and_sure_of_a_clean_digit(mnist_test):
    from mnist_toolkit.inference.loading import load_model, pretrained_choice, pretrained_info

    card = pretrained_info()
    assert card["calibration"]["fitted_on"] == "validation split (5,000 images)"
    images, labels = mnist_test.images[:2000], mnist_test.labels[:2000]
    for engine in ("onnx", "torch"):
        model = load_model(pretrained_choice(), engine)
        assert model.calibration.temperature == pytest.approx(card["calibration"]["temperature"])
        probabilities = model.predict_proba(images)
        assert expected_calibration_error(probabilities, labels) < 0.01  # softmax alone: about 9 %
        seven = int(np.flatnonzero(labels == 7)[0])
        assert probabilities[seven].argmax() == 7 and probabilities[seven].max() > 0.99  # 90.8 % before calibration
