"""ResNet-18 for 1x28x28: a 3x3 stem, four stages of two residual basic blocks (torchvision's), global pooling."""

from __future__ import annotations

from torch import nn
from torchvision.models.resnet import BasicBlock, conv1x1

from . import register_model


class ResNetMnist(nn.Module):
    """ResNet with BasicBlocks; `layers=(2, 2, 2, 2)` is ResNet-18. The 7x7 stride-2 stem and its max-pool
    are replaced by one 3x3 conv (as for CIFAR), and widths are (w, 2w, 4w, 8w) instead of (64, ..., 512)."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1, width: int = 16, layers: tuple[int, ...] = (2, 2, 2, 2)) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True))
        stages, channels = [], width
        for index, blocks in enumerate(layers):
            out, stride = width * 2**index, 1 if index == 0 else 2
            stages.append(self._stage(channels, out, blocks, stride))
            channels = out
        self.stages = nn.Sequential(*stages)  # (B, 8w, 4, 4) for four stages
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes))

    @staticmethod
    def _stage(channels: int, out: int, blocks: int, stride: int) -> nn.Sequential:
        downsample = None
        if stride != 1 or channels != out:
            downsample = nn.Sequential(conv1x1(channels, out, stride), nn.BatchNorm2d(out))
        modules = [BasicBlock(channels, out, stride, downsample)]
        modules += [BasicBlock(out, out) for _ in range(blocks - 1)]
        return nn.Sequential(*modules)

    def forward(self, x):
        return self.head(self.stages(self.stem(x)))


@register_model("resnet", "ResNet-18: 3x3 stem + 4 stages of 2 basic residual blocks (torchvision's), widths scaled")
def resnet(num_classes: int = 10, in_channels: int = 1, **options) -> ResNetMnist:
    return ResNetMnist(num_classes, in_channels, **options)
