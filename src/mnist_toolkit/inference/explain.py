"""What a network does with one digit: the feature maps of its first convolution layers and a saliency
map (plain input gradients: |d logit of the answer / d pixel|), for the web page.

Plain gradients rather than Captum: one backward pass gives them, they need no extra dependency, and
Captum's richer attributions (integrated gradients and others) add little for a 28x28 digit.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .torch_model import normalise



def first_convolutions(model: nn.Module, count: int = 2) -> list[tuple[str, nn.Conv2d]]:
    """The first `count` Conv2d layers of a model, in the order they were registered."""
    return [(name, module) for name, module in model.named_modules() if isinstance(module, nn.Conv2d)][:count]


def explain(model: nn.Module, image: np.ndarray, mean: float, std: float, layers: int = 2, max_maps: int = 16) -> dict:
    """Feature maps and saliency for one (28, 28) uint8 digit.

    Not reentrant on one model (its forward hooks would see another call's pass): callers serialise
    calls per model, as the server does.

    Returns:
        {"digit": int, "feature_maps": [{"layer": name, "channels": C, "size": [H, W], "maps": (k, H, W) uint8}],
         "saliency": (28, 28) uint8}: every map scaled to 0-255 on its own.
    """
    was_training = model.training
    model.eval()
    captured: dict[str, torch.Tensor] = {}
    convs = first_convolutions(model, layers)
    hooks = [module.register_forward_hook(lambda _m, _i, out, name=name: captured.__setitem__(name, out.detach()))
             for name, module in convs]  # fmt: skip
    try:
        x = normalise(torch.from_numpy(np.ascontiguousarray(image, dtype=np.uint8))[None], mean, std).requires_grad_(True)  # (1, 1, 28, 28)
        logits = model(x)
        digit = int(logits.argmax(dim=1).item())
        (gradient,) = torch.autograd.grad(logits[0, digit], x)  # never touches the parameters' .grad
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    maps = []
    for name, _ in convs:
        activation = captured[name][0]  # (C, H, W)
        maps.append({"layer": name, "channels": int(activation.shape[0]), "size": list(activation.shape[1:]),
                     "maps": np.stack([_to_u8(a) for a in activation[:max_maps].numpy()])})  # fmt: skip
    return {"digit": digit, "feature_maps": maps, "saliency": _to_u8(gradient[0, 0].abs().numpy())}


def _to_u8(values: np.ndarray) -> np.ndarray:
    low, high = float(values.min()), float(values.max())
    scaled = (values - low) / (high - low) if high > low else np.zeros_like(values)
    return (scaled * 255).round().astype(np.uint8)
