"""Every registered architecture, and every option of the configurable CNN."""

from __future__ import annotations

import pytest
import torch

from mnist_toolkit.errors import ConfigError, UnknownName
from mnist_toolkit.models import _accepted_names, count_parameters, create_model, list_models, model_names
from mnist_toolkit.models.cnn import conv_output, conv_padding

EXPECTED_PARAMS = {"cnn": 63_050, "lenet5": 61_706}


@pytest.mark.parametrize("name", [info.name for info in list_models()])
def test_every_architecture_outputs_ten_logits_and_learns(name):
    torch.manual_seed(0)
    model = create_model(name)
    x = torch.randn(4, 1, 28, 28)
    logits = model(x)
    assert logits.shape == (4, 10)
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1, 2, 3]))
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)
    assert count_parameters(model) > 10_000
    if name in EXPECTED_PARAMS:
        assert count_parameters(model) == EXPECTED_PARAMS[name]


def test_registry_lists_the_six_families_and_rejects_unknown_names():
    names = [info.name for info in list_models()]
    assert names == ["cnn", "lenet5", "alexnet", "vgg16", "googlenet", "resnet"]
    assert model_names() == names  # the help texts' list, read without importing the architectures
    with pytest.raises(UnknownName, match="choose one of cnn, lenet5"):
        create_model("transformer")


def test_family_structures():
    vgg = create_model("vgg16")
    assert sum(isinstance(m, torch.nn.Conv2d) for m in vgg.features.modules()) == 13
    assert sum(isinstance(m, torch.nn.Linear) for m in vgg.classifier.modules()) == 3
    alex = create_model("alexnet")
    assert sum(isinstance(m, torch.nn.Conv2d) for m in alex.features.modules()) == 5
    assert sum(isinstance(m, torch.nn.Linear) for m in alex.classifier.modules()) == 3
    lenet = create_model("lenet5")
    linears = [m.out_features for m in lenet.classifier.modules() if isinstance(m, torch.nn.Linear)]
    assert linears == [120, 84, 10]
    from torchvision.models.resnet import BasicBlock

    assert sum(isinstance(m, BasicBlock) for m in create_model("resnet").modules()) == 8  # ResNet-18
    from torchvision.models.googlenet import Inception

    assert sum(isinstance(m, Inception) for m in create_model("googlenet").modules()) == 4


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "padding", "expected"),
    [(28, 3, 1, "same", 28), (28, 3, 2, "same", 14), (27, 3, 2, "same", 14), (28, 4, 1, "same", 28),
     (28, 5, 3, "same", 10), (28, 3, 1, "valid", 26), (28, 5, 2, "valid", 12), (28, 5, 1, "full", 32),
     (28, 5, 2, "full", 16)],
)  # fmt: skip
def test_padding_rules(size, kernel, stride, padding, expected):
    assert conv_output(size, kernel, stride, conv_padding(size, kernel, stride, padding)) == expected


CNN_COMBINATIONS = [
    {},
    {"kernel_size": 5},
    {"stride": 2},
    {"padding": "full"},
    {"padding": "valid"},
    {"kernel_size": 5, "stride": 2, "padding": "full"},
    {"conv_layers": 2, "fc_layers": 3},
    {"conv_layers": 2, "fc_layers": 3, "kernel_size": 5, "stride": 2, "padding": "full", "filters": [8, 16], "hidden": [64, 32]},
    {"conv_layers": 3, "filters": [8], "pool": "avg", "activation": "tanh", "batch_norm": True, "dropout": 0.2},
    {"conv_layers": 2, "pool": "none", "activation": "gelu", "kernel_size": 4, "padding": "same"},
    {"conv_layers": 0, "fc_layers": 2, "activation": "sigmoid"},
    {"activation": "leaky_relu", "fc_layers": 2, "hidden": [32]},
]  # fmt: skip


@pytest.mark.parametrize("options", CNN_COMBINATIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "baseline")
def test_cnn_combinations_build_and_train(options):
    torch.manual_seed(0)
    model = create_model("cnn", **options)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    x, y = torch.randn(8, 1, 28, 28), torch.arange(8) % 10
    first = None
    for _ in range(10):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        first = loss.item() if first is None else first
    assert loss.item() < first


def test_cnn_flatten_size_is_derived():
    assert create_model("cnn").flatten_size == 32 * 14 * 14
    model = create_model("cnn", conv_layers=2, filters=[8, 16], kernel_size=5, stride=2, padding="full")
    # 28 -> conv(5, s2, full: pad 4) 16 -> pool 8 -> conv 6 -> pool 3
    assert model.flatten_size == 16 * 3 * 3


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"conv_layers": 4, "kernel_size": 5, "padding": "valid", "pool": "none", "stride": 2}, "conv layer 3"),
        ({"conv_layers": 6}, "pooling after conv layer 5"),
        ({"conv_layers": 2, "filters": [8, 16, 32]}, "--filters"),
        ({"fc_layers": 3, "hidden": [10, 20, 30]}, "--hidden"),
        ({"padding": "weird"}, "unknown padding 'weird'"),
        ({"activation": "swish"}, "unknown activation 'swish'"),
        ({"pool": "median"}, "unknown pooling"),
        ({"dropout": 1.5}, "dropout"),
    ],
)
def test_invalid_cnn_options_fail_clearly(options, message):
    with pytest.raises(ConfigError, match=message):
        create_model("cnn", **options)


def test_cnn_options_are_refused_for_other_architectures():
    with pytest.raises(ConfigError, match="does not take"):
        create_model("lenet5", conv_layers=2)


@pytest.mark.parametrize(
    ("name", "options", "bad"),
    [("cnn", {"width": 8}, "width"), ("vgg16", {"width": 8, "layers": [1, 1]}, "layers"), ("resnet", {"dropout": 0.1}, "dropout")],
)
def test_options_are_checked_against_the_builders_signature(name, options, bad):
    with pytest.raises(ConfigError, match=f"architecture '{name}' does not take the option '{bad}'"):
        create_model(name, **options)


def test_each_architecture_takes_its_own_options():
    assert create_model("lenet5", activation="tanh", pool="avg") is not None
    assert create_model("resnet", width=8, layers=(1, 1, 1, 1)) is not None
    assert create_model("cnn", conv_layers=2, batch_norm=True, dropout=None) is not None  # None: the default


class _Net(torch.nn.Module):
    def __init__(self, num_classes: int = 10, in_channels: int = 1, depth: int = 2) -> None:
        super().__init__()


def _builder(num_classes: int = 10, in_channels: int = 1, **options) -> _Net:
    return _Net(num_classes, in_channels, **options)


def _open_builder(num_classes: int = 10, **options):
    return _Net(num_classes, **options)


def test_accepted_names_follow_a_builder_to_the_class_it_returns():
    assert _accepted_names(_builder) == {"num_classes", "in_channels", "depth"}
    assert _accepted_names(_open_builder) is None  # **options going nowhere known: the builder decides
