"""The detector's build (benchmarks/build_digitness.py): the shipped model is one ONNX graph that
averages its networks' log-odds of a digit and adds its context networks', and a single network keeps
its own probability."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import build_digitness as build  # noqa: E402


def test_the_shipped_model_averages_its_networks_log_odds_in_one_onnx_graph():
    import onnxruntime as ort
    import torch

    torch.manual_seed(0)
    networks = [build.build_network().eval() for _ in range(3)]
    for network in networks:  # spread the outputs, so that a plain mean of probabilities would differ
        with torch.no_grad():
            network[-1].weight.mul_(20)
    images = torch.randint(0, 256, (6, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    x = images.to(torch.float32).unsqueeze(1) / 255
    with torch.no_grad():
        logits = [network(x) for network in networks]
        log_odds = torch.stack([torch.logsumexp(z[:, :10], dim=1) - z[:, 10] for z in logits])
        expected = torch.sigmoid(log_odds.mean(dim=0)).numpy()
        mean_of_probabilities = torch.stack([1 - torch.softmax(z, dim=1)[:, 10] for z in logits]).mean(dim=0).numpy()
        ensemble = build.deployable(networks)(images).numpy()
        single = build.deployable(networks[:1])(images).numpy()
    np.testing.assert_allclose(ensemble, expected, rtol=1e-5, atol=1e-7)
    assert np.abs(ensemble - mean_of_probabilities).max() > 1e-3
    np.testing.assert_allclose(single, 1 - torch.softmax(logits[0], dim=1)[:, 10].numpy(), rtol=1e-5, atol=1e-6)

    session = ort.InferenceSession(build.export_onnx(build.deployable(networks)), providers=["CPUExecutionProvider"])
    (output,) = session.run(None, {build.INPUT_NAME: images.numpy()})
    assert output.shape == (6,)
    np.testing.assert_allclose(output, ensemble, atol=1e-5)


def test_real_world_positives_keep_their_digits_labels(mnist_test, monkeypatch):
    """The build's real-world positives: each digit read from a sample carries the label of the digit it
    was made from (every training digit here is a 7, so every label must be 7), as 28x28 uint8."""
    sevens = np.flatnonzero(mnist_test.labels == 7)[:20]
    monkeypatch.setattr(build, "_TRAINING_DIGITS", (mnist_test.images[sevens], mnist_test.labels[sevens]))
    for name in ("form boxes, 64 px", "tight crops, thick strokes"):
        read = build._realworld_chunk(name, 0, 3)
        assert len(read) >= 2
        assert all(label == 7 and digit.shape == (28, 28) and digit.dtype == np.uint8 for digit, _, label in read)
        assert all(view.shape == (32, 32) and view.dtype == np.uint8 for _, view, _ in read)


def test_the_context_networks_add_their_mean_log_odds_in_the_same_onnx_graph():
    import onnxruntime as ort
    import torch

    torch.manual_seed(0)
    networks = [build.build_network().eval() for _ in range(2)]
    context_networks = [build.build_context_network().eval() for _ in range(2)]
    for network in networks + context_networks:
        with torch.no_grad():
            network[-2 if network in context_networks else -1].weight.mul_(20)
    generator = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (5, 28, 28), dtype=torch.uint8, generator=generator)
    views = torch.randint(0, 256, (5, 32, 32), dtype=torch.uint8, generator=generator)
    with torch.no_grad():
        x, c = images.to(torch.float32).unsqueeze(1) / 255, views.to(torch.float32).unsqueeze(1) / 255
        image_log_odds = torch.stack([torch.logsumexp(z[:, :10], dim=1) - z[:, 10] for z in (n(x) for n in networks)]).mean(dim=0)
        context_log_odds = torch.stack([n(c) for n in context_networks]).mean(dim=0)
        expected = torch.sigmoid(image_log_odds + build.CONTEXT_WEIGHT * context_log_odds).numpy()
        model = build.deployable(networks, context_networks)
        both = model(images, views).numpy()
        images_only = build.deployable(networks)(images).numpy()
    np.testing.assert_allclose(both, expected, rtol=1e-5, atol=1e-7)
    assert np.abs(both - images_only).max() > 1e-3  # the views count

    session = ort.InferenceSession(build.export_onnx(model), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == [build.INPUT_NAME, build.CONTEXT_NAME]
    (output,) = session.run(None, {build.INPUT_NAME: images.numpy(), build.CONTEXT_NAME: views.numpy()})
    np.testing.assert_allclose(output, both, atol=1e-5)


def test_generated_images_are_cached_once_and_read_back_unchanged(tmp_path):
    calls = []

    def make():
        calls.append(1)
        return {"neg/0": np.arange(12, dtype=np.uint8).reshape(3, 2, 2), "negmeta/0": np.array([3, 0])}

    path = tmp_path / "cache" / "digitness-pictures-x.npz"
    first = build._cached(path, make, progress=lambda what: None)
    again = build._cached(path, make, progress=lambda what: None)
    assert len(calls) == 1 and path.is_file()
    assert first.keys() == again.keys() and all(np.array_equal(first[k], again[k]) for k in first)
    assert len(build._cached(None, make, progress=lambda what: None)) == 2 and len(calls) == 2  # no path: made, not stored


def test_read_chunks_are_stacked_with_the_readings_refusals_counted():
    from concurrent.futures import Future

    done = Future()
    done.set_result([((np.full((28, 28), 1, np.uint8), np.full((32, 32), 2, np.uint8)), "a"), (None, "b"),
                     ((np.full((28, 28), 3, np.uint8), np.full((32, 32), 4, np.uint8)), "c")])  # fmt: skip
    inputs, views, meta = build._stacked([done])
    assert inputs.shape == (2, 28, 28) and views.shape == (2, 32, 32) and list(meta) == [3, 1]
    assert inputs[1, 0, 0] == 3 and views[0, 0, 0] == 2
    empty = Future()
    empty.set_result([(None, "x")])
    inputs, views, meta = build._stacked([empty])
    assert inputs.shape == (0, 28, 28) and views.shape == (0, 32, 32) and list(meta) == [1, 1]


def test_kinds_drawn_more_often_are_training_kinds_and_a_typo_is_an_error(monkeypatch):
    training = [name for name, kind in build.negatives.KINDS.items() if kind.training]
    drawn = build.negatives_drawn(training)
    assert set(drawn) == set(training)
    assert set(build.MORE_NEGATIVES) <= set(training)
    for name, count in drawn.items():
        assert count == build.MORE_NEGATIVES.get(name, build.NEGATIVES_PER_KIND)
    assert drawn["printed glyphs of other scripts and symbol blocks"] > build.NEGATIVES_PER_KIND
    held_out = next(name for name, kind in build.negatives.KINDS.items() if not kind.training)
    monkeypatch.setitem(build.MORE_NEGATIVES, held_out, 1000)  # a held-out kind must never be drawn for training
    with pytest.raises(ValueError, match=re.escape(held_out)):
        build.negatives_drawn(training)
