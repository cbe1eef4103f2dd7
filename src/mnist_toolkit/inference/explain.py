"""What a network does with one digit, for the web page: the feature maps of its first convolution layers
and a saliency map (which pixels made the answer), plus the table of saliency methods that can draw it.

The page's map is integrated gradients from a black image (DEFAULT_SALIENCY). benchmarks/saliency_methods.py
measured the five methods below with the pretrained model on 500 MNIST test digits (ink is 18 % of pixels):

    method                 mass on ink   answer's probability drop, top 5/10/20 % removed   ms per digit
    gradient (before)          20 %         0.05 / 0.11 / 0.22                                   6
    smoothgrad                 20 %         0.10 / 0.18 / 0.29                                  40
    gradient x input          100 %         0.50 / 0.61 / 0.61                                   6
    integrated gradients      100 %         0.63 / 0.73 / 0.74                                  40
    occlusion                  75 %         0.62 / 0.71 / 0.74                                 222
    (random pixels)                         0.03 / 0.09 / 0.24
    (random ink pixels)                     0.36 / 0.55 / 0.74

Plain gradients (and SmoothGrad, which averages the same magnitudes) put no more of their mass on the ink than
a uniform map would (20 % against 18 %) and remove the answer hardly faster than random pixels: they answer
"which pixel, if changed a little, would move the logit", and for this model that is as often the empty
background around a digit as its strokes, which reads as noise. Integrated gradients share out the answer's
logit above a black image, so a black pixel gets nothing (its 100 % on ink holds by construction) and the
map lies on the strokes; the test that tells the methods apart is the deletion: the pixels it ranks first
are the ones the answer rests on (the fastest drop at 5 and 10 %, occlusion close behind), at 40 ms a digit
on 2 busy CPU threads. Occlusion is blurred to its 4 px patches and over 5 times slower; gradient x input,
the one-step approximation of integrated gradients, is as fast as plain gradients but less faithful. All in
plain torch: Captum (not a dependency) would add nothing these few lines do not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn

from ..errors import UnknownName
from .torch_model import normalise

#: SmoothGrad: noisy copies averaged, and the noise's spread as a share of the input's range (black to
#: white). Smilkov et al. (2017) find 10-20 % of the range and a few dozen copies enough on images.
SMOOTHGRAD_COPIES, SMOOTHGRAD_SIGMA = 32, 0.15
#: Integrated gradients: points on the straight path from black to the digit (midpoint rule). Summed, the
#: attributions come within 3 % of logit(digit) - logit(black) (median; 7 % for 9 digits in 10) at 32 steps
#: with the pretrained model, against 7 % (28 %) at 16 steps; the deletion test hardly differs from 16 to 64.
INTEGRATED_STEPS = 32
#: Occlusion: a square patch set to background, slid over the image; each pixel gets the mean drop of the
#: answer's logit over the patches that cover it. 4 px is about a stroke's width in a 28 x 28 MNIST digit.
OCCLUSION_PATCH, OCCLUSION_STRIDE = 4, 2
#: The page's saliency image shows values up to this quantile of the map's 784 pixels at full white (the
#: ~8 brightest are clipped): scaled to the maximum instead, a few hot pixels leave the strokes too dim to see.
SALIENCY_WHITE_QUANTILE = 0.99


@dataclass(frozen=True)
class Scale:
    """Where black and white lie once normalised: (0 - mean) / std and (1 - mean) / std."""

    black: float
    white: float

    @classmethod
    def of(cls, mean: float, std: float) -> Scale:
        return cls((0.0 - mean) / std, (1.0 - mean) / std)


#: A method's attribution: (model, x (B, 1, 28, 28) normalised, target (B,) the class explained, the
#: normalisation's scale) -> (B, 28, 28) float, >= 0, larger = more evidence for the target.
Attribute = Callable[[nn.Module, torch.Tensor, torch.Tensor, Scale], torch.Tensor]


@dataclass(frozen=True)
class SaliencyMethod:
    """One way to draw a saliency map."""

    name: str  # the key in SALIENCY_METHODS and the API's "saliency_method"
    description: str  # what the map shows, in plain words (the API's "saliency" text)
    attribute: Attribute


SALIENCY_METHODS: dict[str, SaliencyMethod] = {}


def _register(name: str, description: str):
    def add(attribute: Attribute) -> Attribute:
        if name in SALIENCY_METHODS:
            raise ValueError(f"saliency method {name!r} registered twice")
        SALIENCY_METHODS[name] = SaliencyMethod(name, description, attribute)
        return attribute

    return add


def saliency_method(name: str) -> SaliencyMethod:
    """The registered method called `name`.

    Raises:
        UnknownName: no such method; the message lists the registered ones.
    """
    if name not in SALIENCY_METHODS:
        raise UnknownName(f"unknown saliency method {name!r}: choose one of {', '.join(SALIENCY_METHODS)}")
    return SALIENCY_METHODS[name]


def _target_gradient(model: nn.Module, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """d logit[target] / d x for every image of a batch, (B, 1, 28, 28); never touches the parameters' .grad."""
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        logits = model(x)  # (B, 10)
        (gradient,) = torch.autograd.grad(logits.gather(1, target[:, None]).sum(), x)
    return gradient


@_register("gradient", "input gradients |d logit / d pixel|: how much a small change of each pixel would move the answer")
def _plain_gradient(model: nn.Module, x: torch.Tensor, target: torch.Tensor, scale: Scale) -> torch.Tensor:
    return _target_gradient(model, x, target)[:, 0].abs()


@_register("smoothgrad", "SmoothGrad: input gradients |d logit / d pixel| averaged over noisy copies of the digit")
def _smoothgrad(model: nn.Module, x: torch.Tensor, target: torch.Tensor, scale: Scale) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)  # the same image always gets the same map
    noise = torch.randn((SMOOTHGRAD_COPIES, *x.shape), generator=generator)  # (N, B, 1, 28, 28)
    noisy = (x[None] + noise * SMOOTHGRAD_SIGMA * (scale.white - scale.black)).flatten(0, 1)  # (N * B, 1, 28, 28)
    gradient = _target_gradient(model, noisy, target.repeat(SMOOTHGRAD_COPIES))
    return gradient.view(SMOOTHGRAD_COPIES, *x.shape)[:, :, 0].abs().mean(0)


@_register("gradient_x_input", "gradient x input: d logit / d pixel times the pixel's ink, the part of the answer each pixel adds")
def _gradient_x_input(model: nn.Module, x: torch.Tensor, target: torch.Tensor, scale: Scale) -> torch.Tensor:
    return (_target_gradient(model, x, target) * (x - scale.black))[:, 0].clamp(min=0)


@_register("integrated_gradients", "integrated gradients: how much each pixel's ink adds to the answer, from a black image up to the digit")
def _integrated_gradients(model: nn.Module, x: torch.Tensor, target: torch.Tensor, scale: Scale) -> torch.Tensor:
    alphas = (torch.arange(INTEGRATED_STEPS, dtype=x.dtype) + 0.5) / INTEGRATED_STEPS  # (S,)
    path = scale.black + alphas[:, None, None, None, None] * (x - scale.black)[None]  # (S, B, 1, 28, 28)
    gradient = _target_gradient(model, path.flatten(0, 1), target.repeat(INTEGRATED_STEPS))
    mean_gradient = gradient.view(INTEGRATED_STEPS, *x.shape).mean(0)  # (B, 1, 28, 28)
    return (mean_gradient * (x - scale.black))[:, 0].clamp(min=0)


@_register("occlusion", "occlusion: how much the answer drops when a small patch of the image is blacked out")
def _occlusion(model: nn.Module, x: torch.Tensor, target: torch.Tensor, scale: Scale) -> torch.Tensor:
    size = x.shape[-1]
    starts = range(0, size - OCCLUSION_PATCH + 1, OCCLUSION_STRIDE)
    masks = torch.zeros(len(starts) ** 2, size, size)  # (P, 28, 28): 1 where a patch blacks out
    for index, (top, left) in enumerate((t, l) for t in starts for l in starts):
        masks[index, top:top + OCCLUSION_PATCH, left:left + OCCLUSION_PATCH] = 1
    drops = []
    with torch.no_grad():
        for image, digit in zip(x, target):  # image (1, 28, 28)
            occluded = image * (1 - masks[:, None]) + scale.black * masks[:, None]  # (P, 1, 28, 28)
            logits = model(torch.cat([image[None], occluded]))[:, digit]  # (1 + P,)
            drop = logits[0] - logits[1:]  # (P,)
            drops.append((drop[:, None, None] * masks).sum(0) / masks.sum(0).clamp(min=1))
    return torch.stack(drops).clamp(min=0)


#: The method explain() uses.
DEFAULT_SALIENCY = "integrated_gradients"


def saliency(model: nn.Module, x: torch.Tensor, target: torch.Tensor, scale: Scale, method: str = DEFAULT_SALIENCY) -> torch.Tensor:
    """(B, 28, 28) evidence for `target` in each normalised image of `x` (B, 1, 28, 28), >= 0, by `method`.

    The model runs in eval mode and gets its previous mode back afterwards.

    Raises:
        UnknownName: no such method.
    """
    attribute = saliency_method(method).attribute
    was_training = model.training
    model.eval()
    try:
        return attribute(model, x.detach(), target, scale).detach()
    finally:
        model.train(was_training)


def first_convolutions(model: nn.Module, count: int = 2) -> list[tuple[str, nn.Conv2d]]:
    """The first `count` Conv2d layers of a model, in the order they were registered."""
    return [(name, module) for name, module in model.named_modules() if isinstance(module, nn.Conv2d)][:count]


def explain(model: nn.Module, image: np.ndarray, mean: float, std: float, layers: int = 2, max_maps: int = 16,
            method: str = DEFAULT_SALIENCY) -> dict:  # fmt: skip
    """Feature maps and saliency for one (28, 28) uint8 digit.

    Not reentrant on one model (its forward hooks would see another call's pass): callers serialise
    calls per model, as the server does.

    Args:
        method: the saliency method, a name in SALIENCY_METHODS.

    Returns:
        {"digit": int, "feature_maps": [{"layer": name, "channels": C, "size": [H, W], "maps": (k, H, W) uint8}],
         "saliency": (28, 28) uint8, "saliency_method": name}: every map scaled to 0-255 on its own (the
        saliency as saliency_u8 shows it).

    Raises:
        UnknownName: no such saliency method.
    """
    chosen = saliency_method(method)
    was_training = model.training
    model.eval()
    captured: dict[str, torch.Tensor] = {}
    convs = first_convolutions(model, layers)
    hooks = [module.register_forward_hook(lambda _m, _i, out, name=name: captured.__setitem__(name, out.detach()))
             for name, module in convs]  # fmt: skip
    x = normalise(torch.from_numpy(np.ascontiguousarray(image, dtype=np.uint8))[None], mean, std)  # (1, 1, 28, 28)
    try:
        with torch.no_grad():
            digit = int(model(x).argmax(dim=1).item())
        for hook in hooks:  # the saliency method's own passes must not overwrite the maps
            hook.remove()
        hooks = []
        evidence = chosen.attribute(model, x, torch.tensor([digit]), Scale.of(mean, std))[0]  # (28, 28)
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    maps = []
    for name, _ in convs:
        activation = captured[name][0]  # (C, H, W)
        maps.append({"layer": name, "channels": int(activation.shape[0]), "size": list(activation.shape[1:]),
                     "maps": np.stack([_to_u8(a) for a in activation[:max_maps].numpy()])})  # fmt: skip
    return {"digit": digit, "feature_maps": maps, "saliency": saliency_u8(evidence.numpy()), "saliency_method": chosen.name}


def saliency_u8(evidence: np.ndarray) -> np.ndarray:
    """A (28, 28) map of evidence (>= 0) as the page shows it: 0-255, its SALIENCY_WHITE_QUANTILE and above white."""
    ceiling = float(np.quantile(evidence, SALIENCY_WHITE_QUANTILE))
    return _to_u8(np.minimum(evidence, ceiling) if ceiling > 0 else evidence)


def _to_u8(values: np.ndarray) -> np.ndarray:
    low, high = float(values.min()), float(values.max())
    scaled = (values - low) / (high - low) if high > low else np.zeros_like(values)
    return (scaled * 255).round().astype(np.uint8)
