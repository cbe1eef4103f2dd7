"""AlexNet for 1x28x28: five conv layers (three max-pools) and three FC layers with dropout, widths scaled down."""

from __future__ import annotations

from torch import nn

from . import register_model


class AlexNetMnist(nn.Module):
    """AlexNet's layout (conv 5 + 3 FC, ReLU, max-pool after conv 1, 2 and 5, dropout in the head).

    The 11x11 stride-4 stem is replaced by a 5x5 stride-1 one so that a 28x28 digit is not reduced to
    noise, and widths are a quarter of the original (`width` scales them).
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, width: int = 32, dropout: float = 0.5) -> None:
        super().__init__()
        w = width
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, w, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(2),  # (B, w, 14, 14)
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),  # (B, 2w, 7, 7)
            nn.Conv2d(2 * w, 3 * w, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(3 * w, 3 * w, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(3 * w, 2 * w, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),  # (B, 2w, 3, 3)
        )  # fmt: skip
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout), nn.Linear(2 * w * 3 * 3, 8 * w), nn.ReLU(inplace=True),
            nn.Dropout(dropout), nn.Linear(8 * w, 8 * w), nn.ReLU(inplace=True),
            nn.Linear(8 * w, num_classes),
        )  # fmt: skip

    def forward(self, x):
        return self.classifier(self.features(x))


@register_model("alexnet", "AlexNet: 5 conv + 3 FC with dropout, 5x5 stem, widths scaled to 28x28")
def alexnet(num_classes: int = 10, in_channels: int = 1, **options) -> AlexNetMnist:
    return AlexNetMnist(num_classes, in_channels, **options)
