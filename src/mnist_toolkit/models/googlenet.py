"""GoogLeNet for 1x28x28: a small stem, then torchvision's Inception modules (3a, 3b, pool, 4a, 4b), global pooling."""

from __future__ import annotations

from torch import nn
from torchvision.models.googlenet import BasicConv2d, Inception

from . import register_model


class GoogLeNetMnist(nn.Module):
    """Inception v1 structure at 28x28: the 7x7 stride-2 stem and the first pools are dropped, channel
    counts are a quarter of the paper's 3a/3b/4a/4b, and there are no auxiliary classifiers."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1, dropout: float = 0.2) -> None:
        super().__init__()
        self.stem = nn.Sequential(BasicConv2d(in_channels, 32, kernel_size=3, padding=1), nn.MaxPool2d(2))  # (B, 32, 14, 14)
        self.inception3a = Inception(32, 16, 24, 32, 4, 8, 8)  # -> 64
        self.inception3b = Inception(64, 32, 32, 48, 8, 24, 16)  # -> 120
        self.pool = nn.MaxPool2d(3, stride=2, padding=1)  # (B, 120, 7, 7)
        self.inception4a = Inception(120, 48, 24, 52, 4, 12, 16)  # -> 128
        self.inception4b = Inception(128, 40, 28, 56, 6, 16, 16)  # -> 128
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(128, num_classes))

    def forward(self, x):
        x = self.stem(x)
        x = self.pool(self.inception3b(self.inception3a(x)))
        return self.head(self.inception4b(self.inception4a(x)))


@register_model("googlenet", "GoogLeNet: stem + 4 Inception modules (torchvision's) + global average pool")
def googlenet(num_classes: int = 10, in_channels: int = 1, **options) -> GoogLeNetMnist:
    return GoogLeNetMnist(num_classes, in_channels, **options)
