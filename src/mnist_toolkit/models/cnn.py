"""The configurable CNN: N conv blocks (conv, optional batch norm, activation, optional pooling), then M FC layers.

The flatten size is derived by tracking the feature-map size through every layer, never hard-coded;
a combination that shrinks the map below 1x1 is refused, naming the layer, before anything is built.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import nn

from ..errors import ConfigError
from . import register_model

#: Activation name -> module class.
ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
    "leaky_relu": nn.LeakyReLU,
}
#: Pooling name -> module class (2x2, stride 2), or None for no pooling.
POOLS: dict[str, type[nn.Module] | None] = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d, "none": None}
PADDINGS = ("valid", "same", "full")


def conv_padding(size: int, kernel: int, stride: int, padding: str) -> tuple[int, int]:
    """(before, after) padding of one spatial side.

    `valid` pads nothing; `same` gives ceil(size / stride) outputs (TensorFlow's rule, asymmetric when
    the total is odd); `full` pads kernel - 1 on each side.
    """
    if padding == "valid":
        return 0, 0
    if padding == "full":
        return kernel - 1, kernel - 1
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def conv_output(size: int, kernel: int, stride: int, pad: tuple[int, int]) -> int:
    """Output size of a convolution along one side."""
    return (size + pad[0] + pad[1] - kernel) // stride + 1


def _per_layer(values: Sequence[int] | int, count: int, what: str) -> list[int]:
    values = [values] if isinstance(values, int) else list(values)
    if len(values) == 1:
        return values * count
    if len(values) != count:
        raise ConfigError(f"{what}: give one value for all {count} layers or one per layer, found {len(values)}")
    return values


def _choice(value: str, options, what: str) -> str:
    if value not in options:
        raise ConfigError(f"unknown {what} {value!r}: choose one of {', '.join(options)}")
    return value


class ConfigurableCNN(nn.Module):
    """Conv blocks then fully connected layers; see `cnn` for the options."""

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 1,
        conv_layers: int = 1,
        filters: Sequence[int] | int = (32,),
        kernel_size: int = 3,
        stride: int = 1,
        padding: str = "same",
        pool: str = "max",
        fc_layers: int = 1,
        hidden: Sequence[int] | int = (128,),
        activation: str = "relu",
        dropout: float = 0.0,
        batch_norm: bool = False,
        input_size: int = 28,
    ) -> None:
        super().__init__()
        if conv_layers < 0 or fc_layers < 1:
            raise ConfigError(f"need at least 0 conv layers and 1 FC layer, found {conv_layers} and {fc_layers}")
        if kernel_size < 1 or stride < 1:
            raise ConfigError(f"kernel size and stride must be at least 1, found {kernel_size} and {stride}")
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), found {dropout}")
        act = ACTIVATIONS[_choice(activation, ACTIVATIONS, "activation")]
        pool_cls = POOLS[_choice(pool, POOLS, "pooling")]
        _choice(padding, PADDINGS, "padding")
        widths = _per_layer(filters, conv_layers, "--filters") if conv_layers else []
        units = _per_layer(hidden, fc_layers - 1, "--hidden") if fc_layers > 1 else []
        layers: list[nn.Module] = []
        channels, size = in_channels, input_size
        for index, width in enumerate(widths, start=1):
            pad = conv_padding(size, kernel_size, stride, padding)
            new_size = conv_output(size, kernel_size, stride, pad)
            if new_size < 1:
                raise ConfigError(
                    f"conv layer {index} (kernel {kernel_size}, stride {stride}, padding {padding}) shrinks the "
                    f"{size}x{size} map below 1x1",
                    hint="use fewer conv layers, a smaller kernel or stride, or padding same/full",
                )
            if pad[0] == pad[1]:
                layers.append(nn.Conv2d(channels, width, kernel_size, stride, padding=pad[0], bias=not batch_norm))
            else:
                layers += [nn.ZeroPad2d((pad[0], pad[1], pad[0], pad[1])),
                           nn.Conv2d(channels, width, kernel_size, stride, bias=not batch_norm)]  # fmt: skip
            if batch_norm:
                layers.append(nn.BatchNorm2d(width))
            layers.append(act())
            size, channels = new_size, width
            if pool_cls is not None:
                if size < 2:
                    raise ConfigError(
                        f"the pooling after conv layer {index} would shrink the {size}x{size} map below 1x1",
                        hint="use --pool none, fewer conv layers or a smaller stride",
                    )
                layers.append(pool_cls(2, 2))
                size //= 2
        self.features = nn.Sequential(*layers)
        self.flatten_size = channels * size * size  # derived, e.g. 32 x 14 x 14 = 6272 for the baseline
        head: list[nn.Module] = [nn.Flatten()]
        width = self.flatten_size
        for units_out in units:
            if dropout:
                head.append(nn.Dropout(dropout))
            head += [nn.Linear(width, units_out), act()]
            width = units_out
        if dropout:
            head.append(nn.Dropout(dropout))
        head.append(nn.Linear(width, num_classes))
        self.classifier = nn.Sequential(*head)

    def forward(self, x):  # (B, C, 28, 28) -> (B, num_classes)
        return self.classifier(self.features(x))


@register_model("cnn", "Configurable CNN; by default the baseline: 1 conv (32 3x3, same, ReLU, 2x2 max-pool) + 1 FC")
def cnn(num_classes: int = 10, in_channels: int = 1, **options) -> ConfigurableCNN:
    """The configurable CNN (options: conv_layers, filters, kernel_size, stride, padding, pool, fc_layers,
    hidden, activation, dropout, batch_norm)."""
    return ConfigurableCNN(num_classes=num_classes, in_channels=in_channels, **options)
