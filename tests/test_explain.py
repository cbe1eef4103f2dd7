"""The page's saliency map (mnist_toolkit.inference.explain) on clean MNIST test digits with the pretrained
model: the chosen method marks the strokes that made the answer, and plain input gradients, which look like
noise, do measurably worse. Thresholds come from benchmarks/saliency_methods.py (500 test digits), with
margins: a regression to plain gradients fails them by far."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from mnist_toolkit.errors import UnknownName
from mnist_toolkit.inference.explain import DEFAULT_SALIENCY, SALIENCY_METHODS, Scale, explain, saliency
from mnist_toolkit.inference.torch_model import normalise

PRETRAINED = Path(__file__).resolve().parent.parent / "src" / "mnist_toolkit" / "pretrained" / "robust.pt"
#: Clean test digits measured: the first ones of the test split, enough to average out one odd digit.
DIGITS = 12
#: Share of the map's mass on ink (pixels > 0). Measured on 500 digits: integrated gradients 100 % (a black
#: pixel adds nothing from a black baseline), plain gradients 20 %, about the 18 % of pixels that are ink.
CHOSEN_INK_AT_LEAST, GRADIENT_INK_AT_MOST = 0.90, 0.45
#: Mean drop of the answer's probability once the 10 % most salient pixels (78) are set to black. Measured
#: on 500 digits: integrated gradients 0.74, plain gradients 0.11 (random pixels 0.09).
REMOVED_SHARE, CHOSEN_DROP_AT_LEAST, GRADIENT_DROP_AT_MOST = 0.10, 0.45, 0.30


@pytest.fixture(scope="module")
def pretrained():
    from mnist_toolkit.inference.checkpoint import load_checkpoint, rebuild_model

    payload = load_checkpoint(PRETRAINED)
    return rebuild_model(payload), payload["normalization"]["mean"], payload["normalization"]["std"]


@pytest.fixture(scope="module")
def clean(mnist_test, pretrained):
    """(images (N, 28, 28) uint8, answers (N,)) of the first DIGITS test digits, each read right."""
    model, mean, std = pretrained
    images = torch.from_numpy(np.ascontiguousarray(mnist_test.images[:DIGITS]))
    with torch.no_grad():
        answers = model(normalise(images, mean, std)).argmax(1)
    assert (answers.numpy() == mnist_test.labels[:DIGITS]).all()
    return images, answers


def _maps(pretrained, clean, method: str) -> torch.Tensor:
    model, mean, std = pretrained
    images, answers = clean
    return saliency(model, normalise(images, mean, std), answers, Scale.of(mean, std), method)  # (N, 28, 28)


def _mass_on_ink(maps: torch.Tensor, images: torch.Tensor) -> float:
    return float(((maps * (images > 0)).flatten(1).sum(1) / maps.flatten(1).sum(1)).mean())


def _probability_drop(pretrained, clean, maps: torch.Tensor) -> float:
    """Mean drop of the answer's probability once the REMOVED_SHARE most salient pixels are black."""
    model, mean, std = pretrained
    images, answers = clean
    count = round(REMOVED_SHARE * 28 * 28)
    removed = images.flatten(1).clone().scatter_(1, maps.flatten(1).argsort(dim=1, descending=True)[:, :count], 0)
    with torch.no_grad():
        before = model(normalise(images, mean, std)).softmax(1).gather(1, answers[:, None])
        after = model(normalise(removed.view_as(images), mean, std)).softmax(1).gather(1, answers[:, None])
    return float((before - after).mean())


def test_the_chosen_saliency_sits_on_the_ink_and_plain_gradients_do_not(pretrained, clean):
    chosen = _mass_on_ink(_maps(pretrained, clean, DEFAULT_SALIENCY), clean[0])
    plain = _mass_on_ink(_maps(pretrained, clean, "gradient"), clean[0])
    print(f"mass on ink: {DEFAULT_SALIENCY} {100 * chosen:.1f} %, plain gradients {100 * plain:.1f} %")
    assert chosen >= CHOSEN_INK_AT_LEAST, f"{DEFAULT_SALIENCY}: only {100 * chosen:.1f} % of the map on the ink"
    assert plain <= GRADIENT_INK_AT_MOST, f"plain gradients now put {100 * plain:.1f} % on the ink: remeasure"


def test_removing_the_most_salient_pixels_takes_the_answer_away(pretrained, clean):
    """The deletion test: the pixels the chosen map ranks first are the ones the answer rests on."""
    chosen = _probability_drop(pretrained, clean, _maps(pretrained, clean, DEFAULT_SALIENCY))
    plain = _probability_drop(pretrained, clean, _maps(pretrained, clean, "gradient"))
    print(f"probability drop, top {100 * REMOVED_SHARE:.0f} % removed: {DEFAULT_SALIENCY} {chosen:.2f}, plain gradients {plain:.2f}")
    assert chosen >= CHOSEN_DROP_AT_LEAST and plain <= GRADIENT_DROP_AT_MOST, (chosen, plain)


def test_explain_keeps_its_schema_and_names_the_method(pretrained, mnist_test):
    model, mean, std = pretrained
    seen = explain(model, mnist_test.images[0], mean, std)
    assert seen["saliency_method"] == DEFAULT_SALIENCY and DEFAULT_SALIENCY in SALIENCY_METHODS
    assert seen["digit"] == int(mnist_test.labels[0])
    assert seen["saliency"].shape == (28, 28) and seen["saliency"].dtype == np.uint8 and seen["saliency"].max() == 255
    assert [m["maps"].shape[0] for m in seen["feature_maps"]] == [16, 16]
    # the method's own forward passes (a batch of path points) do not leak into the feature maps
    plain = explain(model, mnist_test.images[0], mean, std, method="gradient")
    assert all(np.array_equal(a["maps"], b["maps"]) for a, b in zip(seen["feature_maps"], plain["feature_maps"]))
    assert np.array_equal(seen["saliency"], explain(model, mnist_test.images[0], mean, std)["saliency"])  # repeatable
    assert not model.training


def test_every_method_gives_a_map_and_unknown_names_are_refused(pretrained, clean):
    for name in SALIENCY_METHODS:
        maps = _maps(pretrained, (clean[0][:2], clean[1][:2]), name)
        assert maps.shape == (2, 28, 28) and bool((maps >= 0).all()) and float(maps.sum()) > 0, name
    with pytest.raises(UnknownName, match="integrated_gradients"):
        explain(pretrained[0], clean[0][0].numpy(), pretrained[1], pretrained[2], method="captum")
