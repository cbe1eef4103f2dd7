"""Run configuration as frozen dataclasses, presets, and the merge of defaults, preset, TOML file and CLI."""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import cast

from ..data.resources import resource_for
from ..errors import ConfigError, ConfigFileError, UnknownName
from .optim import SCHEDULERS, optimizer_info

#: Options of the configurable `cnn` architecture; they go into `TrainConfig.model_args`.
CNN_OPTIONS = ("conv_layers", "filters", "kernel_size", "stride", "padding", "pool", "fc_layers", "hidden",
               "activation", "dropout", "batch_norm")  # fmt: skip


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of a training run; saved in config.json and in every checkpoint."""

    arch: str = "cnn"  # a name from `mnist models`
    model_args: dict = field(default_factory=dict)  # architecture options; unset ones keep the builder's defaults
    optimizer: str = "adam"  # adam | adamw | sgd | nesterov | rmsprop | adadelta
    lr: float | None = None  # None: the optimizer's own default (Adam 1e-3)
    momentum: float | None = None  # None: the optimizer's own default (nesterov 0.9)
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)  # Adam/AdamW
    scheduler: str = "none"  # none | step | cosine | onecycle, stepped every optimizer step
    label_smoothing: float = 0.0  # training loss only; reported losses are plain cross-entropy
    epochs: int = 10
    batch_size: int = 64
    eval_batch_size: int = 256  # smaller batches run faster on CPU caches
    val_size: int = 0  # training images held out (seeded) for best-checkpoint selection / early stopping
    patience: int | None = None  # stop after this many epochs without a better validation accuracy
    train_limit: int | None = None  # train on the first N training images
    max_steps: int | None = None  # stop after N optimizer steps
    augment: bool = False  # random affine (rotation, shift, scale) on the device
    augment_strokes: bool = False  # also random stroke width and slant (robustness to other pens and hands)
    seed: int = 0
    deterministic: bool = False  # torch.use_deterministic_algorithms
    device: str = "auto"  # auto | cpu | cuda | mps
    amp: bool | str = False  # mixed precision: float16 on CUDA, bfloat16 on a CPU with native bfloat16; "auto": bfloat16 on such a CPU only
    channels_last: bool | str = "auto"  # channels-last tensors; "auto": under CPU bfloat16 only (the fast preset: always)
    threads: int | None = None  # torch intra-op threads; None: torch's default
    runs_dir: str = "runs"
    name: str | None = None  # appended to the run folder's name
    data_dir: str | None = None  # None: MNIST_DATA_DIR or the embedded copy
    preset: str | None = None  # the preset the settings started from
    init_from: str | None = None  # the checkpoint whose weights the network started from (--init-from)

    def to_dict(self) -> dict:
        """Plain JSON/TOML-ready values."""
        data = asdict(self)
        data["betas"] = list(self.betas)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        """Rebuild from `to_dict` output (unknown keys are ignored, for forward compatibility)."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if "betas" in values:
            values["betas"] = tuple(values["betas"])
        return cls(**values)


#: The best preset: chosen on a 10,000-image validation split, never on the test set (benchmarks/preset_selection.py).
_BEST = {
    "arch": "cnn", "conv_layers": 3, "filters": [32, 64, 128], "kernel_size": 3, "fc_layers": 2, "hidden": [256],
    "batch_norm": True, "dropout": 0.3, "augment": True, "batch_size": 128, "epochs": 30,
    "optimizer": "adamw", "lr": 3e-3, "weight_decay": 5e-4, "scheduler": "onecycle", "label_smoothing": 0.1,
}  # fmt: skip

#: Named starting points; any option given on the command line or in --config wins over them.
PRESETS: dict[str, dict] = {
    "baseline": {},
    "fast": {  # chosen on a 10,000-image validation split, never on the test set (benchmarks/preset_selection.py)
        "arch": "cnn", "conv_layers": 2, "filters": [16, 32], "kernel_size": 4, "stride": 2, "padding": "same",
        "pool": "none", "batch_norm": True, "fc_layers": 2, "hidden": [128], "batch_size": 128, "epochs": 2,
        "optimizer": "adam", "lr": 2e-2, "scheduler": "onecycle", "label_smoothing": 0.1, "amp": "auto", "channels_last": True,
    },
    "best": _BEST,
    # the best preset plus stroke-width and slant augmentation: the pretrained model's recipe
    "robust": {**_BEST, "augment_strokes": True},
}  # fmt: skip

_TOP_LEVEL = {f.name for f in fields(TrainConfig)} - {"model_args", "init_from"}  # init_from: only `mnist train --init-from`
#: Every option name a TOML file or a grid may use (underscores; dashes are accepted too).
OPTION_NAMES = frozenset(_TOP_LEVEL | set(CNN_OPTIONS))


def check_option_names(options: dict, where: str) -> dict:
    """Normalise `-` to `_` in option names and refuse unknown ones.

    Raises:
        ConfigError: an unknown option, naming `where` and the valid names.
    """
    options = {key.replace("-", "_"): value for key, value in options.items()}
    unknown = sorted(set(options) - OPTION_NAMES)
    if unknown:
        raise ConfigError(f"{where}: unknown option(s) {', '.join(unknown)}", hint=f"valid options: {', '.join(sorted(OPTION_NAMES))}")
    return options


def read_toml(path: str | Path) -> dict:
    """Parse a TOML file.

    Raises:
        ConfigFileError: missing, unreadable or not valid TOML.
    """
    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigFileError(f"{path}: no such file", hint="check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigFileError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigFileError(f"{path}: not valid TOML: {exc}", hint="fix the file's syntax") from None


def load_toml(path: str | Path) -> dict:
    """Read options from a TOML file: top-level keys or a `[train]` table, with `-` or `_` in names.

    Raises:
        ConfigError: unreadable file, bad TOML or an unknown option.
    """
    data = read_toml(path)
    return check_option_names(data.get("train", data), str(path))


def build_train_config(cli_options: dict, config_file: str | Path | None = None) -> TrainConfig:
    """Merge, lowest priority first: defaults, preset, TOML file, options given on the command line.

    Args:
        cli_options: options the user gave (None values are treated as not given).
        config_file: optional TOML file.

    Raises:
        ConfigFileError: an unreadable config file.
        ConfigError: an unknown preset or option, a value out of range (see `validate`).
    """
    given = {k: v for k, v in cli_options.items() if v is not None}
    from_file = load_toml(config_file) if config_file else {}
    preset_name = given.get("preset", from_file.get("preset"))
    if preset_name is not None and preset_name not in PRESETS:
        raise UnknownName.of("preset", preset_name, PRESETS)
    merged = {**PRESETS.get(preset_name or "baseline", {}), **from_file, **given}
    model_args = {key: merged.pop(key) for key in CNN_OPTIONS if key in merged}
    for key in ("filters", "hidden"):
        if isinstance(model_args.get(key), int):
            model_args[key] = [model_args[key]]
    config = TrainConfig(model_args=model_args, **{k: v for k, v in merged.items() if k in _TOP_LEVEL})
    betas = cast("tuple[float, float]", tuple(config.betas))  # a list when given in TOML or on the command line; validate checks it
    return validate(replace(config, betas=betas))


#: The MNIST training images every data source holds (each source is checked against MNIST's checksums).
TRAIN_IMAGES = resource_for("train", "images").count


def validate(config: TrainConfig) -> TrainConfig:
    """Check ranges that no single option can check alone, and the names of the optimizer and schedule.

    Raises:
        ConfigError: a value out of range or options that contradict each other.
        UnknownName: an unknown optimizer or scheduler.
    """
    available = min(config.train_limit or TRAIN_IMAGES, TRAIN_IMAGES)  # the training images before the split
    checks = [
        (config.epochs >= 1, f"--epochs must be at least 1, found {config.epochs}"),
        (config.batch_size >= 1, f"--batch-size must be at least 1, found {config.batch_size}"),
        (config.val_size >= 0, f"--val-size must be 0 or more, found {config.val_size}"),
        (config.train_limit is None or config.train_limit >= 1, f"--train-limit must be at least 1, found {config.train_limit}"),
        (config.val_size < available, f"--val-size {config.val_size} leaves no training images out of {available:,}"),
        (config.max_steps is None or config.max_steps >= 1, f"--max-steps must be at least 1, found {config.max_steps}"),
        (0.0 <= config.label_smoothing < 1.0, f"--label-smoothing must be in [0, 1), found {config.label_smoothing}"),
        (config.lr is None or config.lr > 0, f"--lr must be positive, found {config.lr}"),
        (config.momentum is None or config.momentum >= 0, f"--momentum must be 0 or more, found {config.momentum}"),
        (config.weight_decay >= 0, f"--weight-decay must be 0 or more, found {config.weight_decay}"),
        (len(config.betas) == 2 and all(0 <= b < 1 for b in config.betas), f"--betas must be two numbers in [0, 1), found {config.betas}"),
        (config.patience is None or config.val_size > 0, "--patience needs a validation set: add --val-size N"),
        (config.threads is None or config.threads >= 1, f"--threads must be at least 1, found {config.threads}"),
        (config.amp in (True, False, "auto"), f"amp must be true, false or \"auto\", found {config.amp!r}"),
        (config.channels_last in (True, False, "auto"), f"channels_last must be true, false or \"auto\", found {config.channels_last!r}"),
    ]  # fmt: skip
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)
    optimizer_info(config.optimizer)
    if config.scheduler not in SCHEDULERS:
        raise UnknownName.of("scheduler", config.scheduler, SCHEDULERS)
    if config.model_args and config.arch != "cnn":
        names = ", ".join("--" + k.replace("_", "-") for k in config.model_args)
        raise ConfigError(f"{names} apply to --arch cnn only, not {config.arch}", hint="drop them or use --arch cnn")
    return config
