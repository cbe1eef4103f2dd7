"""The model registry: every architecture registers a builder under a name; `create_model` is the one lookup."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import ConfigError, UnknownName


@dataclass(frozen=True)
class ModelInfo:
    """A registered architecture."""

    name: str
    builder: Callable  # builder(num_classes=10, in_channels=1, **model_args) -> nn.Module
    description: str
    defaults: dict = field(default_factory=dict)


_REGISTRY: dict[str, ModelInfo] = {}
#: Architecture name -> the module that registers it; a module is imported only when its model is asked
#: for (torchvision's, for instance, costs seconds to import and the baseline does not need it).
_MODULES = {"cnn": "cnn", "lenet5": "lenet", "alexnet": "alexnet", "vgg16": "vgg", "googlenet": "googlenet", "resnet": "resnet"}


def register_model(name: str, description: str, **defaults) -> Callable:
    """Decorator: register a builder under `name`; a name registers once."""

    def decorate(builder: Callable) -> Callable:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is registered twice")
        _REGISTRY[name] = ModelInfo(name, builder, description, defaults)
        return builder

    return decorate


def _load(name: str | None = None) -> None:
    modules = set(_MODULES.values()) if name is None or name not in _MODULES else {_MODULES[name]}
    for module in sorted(modules, key=list(_MODULES.values()).index):
        importlib.import_module(f"{__name__}.{module}")


def list_models() -> list[ModelInfo]:
    """Every registered architecture, in the order of `_MODULES`."""
    _load()
    order = list(_MODULES)
    return sorted(_REGISTRY.values(), key=lambda info: order.index(info.name) if info.name in order else len(order))


def model_info(name: str) -> ModelInfo:
    """The registry entry of `name`.

    Raises:
        UnknownName: no such architecture; the message lists the valid ones.
    """
    _load(name)
    if name not in _REGISTRY:
        _load()
    if name not in _REGISTRY:
        raise UnknownName(f"unknown architecture {name!r}: choose one of {', '.join(_REGISTRY)}", hint="`mnist models` lists them")
    return _REGISTRY[name]


def _accepted_names(target: Callable) -> set[str] | None:
    """The keyword arguments `target` takes, or None when it takes any.

    A builder that passes `**options` on to the class it returns (its return annotation) takes that
    class's arguments as well.
    """
    try:
        signature = inspect.signature(target, eval_str=True)
    except NameError:  # an annotation that does not resolve: nothing to follow
        signature = inspect.signature(target)
    names = {p.name for p in signature.parameters.values() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    if not any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()):
        return names
    passed_to = signature.return_annotation
    inner = _accepted_names(passed_to) if isinstance(passed_to, type) and passed_to is not signature.empty else None
    return None if inner is None else names | inner


def create_model(name: str, num_classes: int = 10, in_channels: int = 1, **model_args):
    """Build a registered model; `None` arguments are dropped so the builder's defaults apply.

    Raises:
        UnknownName: no such architecture.
        ConfigError: an argument the architecture does not take, or an invalid combination.
    """
    info = model_info(name)
    args = {key: value for key, value in model_args.items() if value is not None}
    accepted = _accepted_names(info.builder)
    bad = next((key for key in args if accepted is not None and key not in accepted), None)
    if bad is not None:
        raise ConfigError(f"architecture {name!r} does not take the option {bad!r}",
                          hint="the cnn options (--conv-layers, --filters, ...) apply to --arch cnn only")  # fmt: skip
    return info.builder(num_classes=num_classes, in_channels=in_channels, **args)


def model_names() -> list[str]:
    """The name of every architecture, in `list_models` order, without importing their modules (for help texts)."""
    return list(_MODULES)


def count_parameters(model) -> int:
    """Trainable parameters of a model."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
