"""VGG16 for 1x28x28: 13 3x3 conv layers in five blocks (2-2-3-3-3), each block ending in a max-pool, then 3 FC."""

from __future__ import annotations

from torch import nn

from . import register_model

_BLOCKS = (2, 2, 3, 3, 3)  # conv layers per block: 13 in all


class VGG16Mnist(nn.Module):
    """VGG16 with batch norm; widths (w, 2w, 4w, 8w, 8w) instead of (64, ..., 512).

    Pools use ceil mode so five of them fit 28x28: 28 -> 14 -> 7 -> 4 -> 2 -> 1.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, width: int = 16, dropout: float = 0.5) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_channels
        for block, convs in enumerate(_BLOCKS):
            out = width * min(2**block, 8)
            for _ in range(convs):
                layers += [nn.Conv2d(channels, out, 3, padding=1, bias=False), nn.BatchNorm2d(out), nn.ReLU(inplace=True)]
                channels = out
            layers.append(nn.MaxPool2d(2, ceil_mode=True))
        self.features = nn.Sequential(*layers)  # (B, 8w, 1, 1)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels, 2 * channels), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(2 * channels, 2 * channels), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(2 * channels, num_classes),
        )  # fmt: skip

    def forward(self, x):
        return self.classifier(self.features(x))


@register_model("vgg16", "VGG16: 13 3x3 conv (+BN) in 5 blocks + 3 FC, widths scaled to 28x28")
def vgg16(num_classes: int = 10, in_channels: int = 1, **options) -> VGG16Mnist:
    return VGG16Mnist(num_classes, in_channels, **options)
