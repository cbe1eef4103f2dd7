"""LeNet-5 for 1x28x28: conv(6, 5x5, pad 2)-pool-conv(16, 5x5)-pool-120-84-10."""

from __future__ import annotations

from torch import nn

from . import register_model
from .cnn import ACTIVATIONS


class LeNet5(nn.Module):
    """LeCun et al. 1998, with the 32x32 input replaced by 28x28 padded by 2 (same feature-map sizes)."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1, activation: str = "relu", pool: str = "max") -> None:
        super().__init__()
        act = ACTIVATIONS[activation]
        pool_cls = nn.MaxPool2d if pool == "max" else nn.AvgPool2d
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=2), act(), pool_cls(2),  # (B, 6, 14, 14)
            nn.Conv2d(6, 16, 5), act(), pool_cls(2),  # (B, 16, 5, 5)
        )  # fmt: skip
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(16 * 5 * 5, 120), act(), nn.Linear(120, 84), act(), nn.Linear(84, num_classes)
        )

    def forward(self, x):
        return self.classifier(self.features(x))


@register_model("lenet5", "LeNet-5: conv-pool-conv-pool-120-84-10 (ReLU, max-pool)")
def lenet5(num_classes: int = 10, in_channels: int = 1, **options) -> LeNet5:
    return LeNet5(num_classes, in_channels, **options)
