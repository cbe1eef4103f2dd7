"""The page's saliency methods side by side (the table in mnist_toolkit.inference.explain), measured with the
pretrained model on MNIST test digits, each map explaining the model's own answer:

- on ink: the share of the map's mass on the digit's ink (pixels > 0), and on or next to it (within 1 px);
  100 % by construction for gradient x input and integrated gradients (a black pixel adds nothing above a
  black baseline), so the deletion test is the one that tells those apart;
- deletion: the drop of the answer's probability and logit when the 5/10/20 % most salient pixels are set
  to background (black); a faster drop = a more faithful map. References: the same number of pixels
  removed at random anywhere, and at random among the ink pixels only;
- time: milliseconds per digit for the map alone and for the whole explain() the page calls (one digit
  at a time, as the page asks, median of --timed digits), on this machine's torch threads.

Writes benchmarks/results/saliency_methods.json and a side-by-side picture of the maps on 8 digits,
benchmarks/results/saliency_methods.png (a generated file: look at it, do not commit it).

Usage: .venv/bin/python benchmarks/saliency_methods.py [--count 500] [--timed 30]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from mnist_toolkit.data.source import load_split, resolve_source
from mnist_toolkit.inference.checkpoint import load_checkpoint, rebuild_model
from mnist_toolkit.inference.explain import DEFAULT_SALIENCY, SALIENCY_METHODS, Scale, explain, saliency, saliency_u8
from mnist_toolkit.inference.torch_model import normalise

PRETRAINED = Path(__file__).resolve().parent.parent / "src" / "mnist_toolkit" / "pretrained" / "robust.pt"
RESULTS = Path(__file__).resolve().parent / "results"
#: Shares of the 784 pixels removed in the deletion test: 5 % (39 px) is about a quarter of a typical
#: digit's ink (about 150 px), 20 % (157 px) about all of it.
DELETION_SHARES = (0.05, 0.10, 0.20)
#: Digits per batch when computing maps for the measures (not for the timing, which goes one by one).
BATCH = 50
#: Digits in the picture: one row each.
PICTURE_DIGITS = 8


def _near(ink: torch.Tensor) -> torch.Tensor:
    """(B, 28, 28) bool: the ink and every pixel within 1 px of it (3 x 3 neighbourhood)."""
    return F.max_pool2d(ink[:, None].float(), 3, stride=1, padding=1)[:, 0] > 0


def _answer(model, images_u8: torch.Tensor, target: torch.Tensor, mean: float, std: float) -> tuple[torch.Tensor, ...]:
    """(probability, logit, still the answer) of `target` for each (28, 28) uint8 image."""
    with torch.no_grad():
        logits = model(normalise(images_u8, mean, std))  # (B, 10)
    chosen = target[:, None]
    return logits.softmax(1).gather(1, chosen)[:, 0], logits.gather(1, chosen)[:, 0], logits.argmax(1) == target


def _remove(images_u8: torch.Tensor, order: torch.Tensor, count: int) -> torch.Tensor:
    """`images_u8` (B, 28, 28) with the first `count` pixels of each row of `order` (B, 784) set to black."""
    flat = images_u8.flatten(1).clone()
    flat.scatter_(1, order[:, :count], 0)
    return flat.view_as(images_u8)


def _ranked(scores: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """(B, 784) pixel indices, highest score first; ties (a map's zeros) in random order."""
    flat = scores.flatten(1)
    shuffle = torch.rand(flat.shape, generator=generator).argsort(1)
    return shuffle.gather(1, flat.gather(1, shuffle).argsort(dim=1, descending=True, stable=True))


def _deletion(model, images_u8, target, order, mean, std) -> dict:
    base_p, base_logit, _ = _answer(model, images_u8, target, mean, std)
    rows = {}
    for share in DELETION_SHARES:
        count = round(share * images_u8[0].numel())
        p, logit, kept = _answer(model, _remove(images_u8, order, count), target, mean, std)
        rows[f"{round(100 * share)}%"] = {"probability_drop": float((base_p - p).mean()), "logit_drop": float((base_logit - logit).mean()),
                                          "answer_changed": float(1 - kept.float().mean())}  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500, help="test digits measured (the first ones)")
    parser.add_argument("--timed", type=int, default=30, help="digits timed one by one per method")
    args = parser.parse_args()
    payload = load_checkpoint(PRETRAINED)
    model = rebuild_model(payload)
    mean, std = payload["normalization"]["mean"], payload["normalization"]["std"]
    scale = Scale.of(mean, std)
    test = load_split(resolve_source(None), "test")
    images = torch.from_numpy(np.ascontiguousarray(test.images[: args.count]))  # (N, 28, 28) uint8
    labels = torch.from_numpy(test.labels[: args.count].astype(np.int64))
    x = normalise(images, mean, std)  # (N, 1, 28, 28)
    with torch.no_grad():
        target = model(x).argmax(1)  # the answers explained
    ink = images > 0
    near = _near(ink)
    generator = torch.Generator().manual_seed(0)

    maps, results = {}, {}
    for name in SALIENCY_METHODS:
        maps[name] = torch.cat([saliency(model, x[i:i + BATCH], target[i:i + BATCH], scale, name) for i in range(0, len(x), BATCH)])
        mass = maps[name].flatten(1).sum(1).clamp(min=1e-12)
        results[name] = {
            "description": SALIENCY_METHODS[name].description,
            "mass_on_ink": float(((maps[name] * ink).flatten(1).sum(1) / mass).mean()),
            "mass_on_or_next_to_ink": float(((maps[name] * near).flatten(1).sum(1) / mass).mean()),
            "deletion": _deletion(model, images, target, _ranked(maps[name], generator), mean, std),
        }
        print(f"{name}: measured", flush=True)
    random_order = torch.rand(images.flatten(1).shape, generator=generator).argsort(1)
    ink_first = _ranked(ink.float() + 0.0, generator)  # ink pixels in random order, then the rest
    references = {"random_pixels": _deletion(model, images, target, random_order, mean, std),
                  "random_ink_pixels": _deletion(model, images, target, ink_first, mean, std)}  # fmt: skip

    for name in SALIENCY_METHODS:
        one, whole = [], []
        for i in range(args.timed + 3):  # 3 warm-ups
            started = time.perf_counter()
            saliency(model, x[i:i + 1], target[i:i + 1], scale, name)
            middle = time.perf_counter()
            explain(model, test.images[i], mean, std, method=name)
            ended = time.perf_counter()
            if i >= 3:
                one.append(middle - started)
                whole.append(ended - middle)
        results[name]["ms_per_digit"] = 1000 * float(np.median(one))
        results[name]["explain_ms_per_digit"] = 1000 * float(np.median(whole))

    document = {
        "model": "pretrained (robust.pt)", "digits": args.count, "accuracy": float((target == labels).float().mean()),
        "ink_share_of_pixels": float(ink.float().mean()), "threads": torch.get_num_threads(), "date": time.strftime("%Y-%m-%d"),
        "chosen": DEFAULT_SALIENCY, "methods": results, "references": references,
    }  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "saliency_methods.json").write_text(json.dumps(document, indent=2) + "\n")
    _print_table(document)
    _picture(images, target, maps, RESULTS / "saliency_methods.png")


def _print_table(document: dict) -> None:
    shares = [f"{round(100 * s)}%" for s in DELETION_SHARES]
    print(f"{document['digits']} digits, ink = {100 * document['ink_share_of_pixels']:.1f} % of pixels, {document['threads']} threads")
    print(f"{'':22s} {'ink %':>6s} {'near %':>6s}  " + "  ".join(f"dP@{s:>3s}  dL@{s:>3s}" for s in shares) + f"  {'ms':>6s} {'explain':>7s}")
    rows = [(name, row, row["deletion"]) for name, row in document["methods"].items()]
    rows += [(name, {}, deletion) for name, deletion in document["references"].items()]
    for name, row, deletion in rows:
        ink = f"{100 * row['mass_on_ink']:6.1f} {100 * row['mass_on_or_next_to_ink']:6.1f}" if row else " " * 13
        drops = "  ".join(f"{deletion[s]['probability_drop']:6.3f} {deletion[s]['logit_drop']:6.2f}" for s in shares)
        times = f"  {row['ms_per_digit']:6.1f} {row['explain_ms_per_digit']:7.1f}" if row else ""
        print(f"{name:22s} {ink}  {drops}{times}")


def _picture(images: torch.Tensor, target: torch.Tensor, maps: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [int(np.flatnonzero(target.numpy() == d)[0]) for d in range(PICTURE_DIGITS)]  # the first 0, 1, 2, ...
    columns = ["input", *maps]
    figure, axes = plt.subplots(len(rows), len(columns), figsize=(1.6 * len(columns), 1.6 * len(rows)))
    for r, index in enumerate(rows):
        for c, name in enumerate(columns):
            shown = images[index].numpy() if name == "input" else saliency_u8(maps[name][index].numpy())  # as the page shows it
            axes[r, c].imshow(shown, cmap="gray", interpolation="nearest", vmin=0, vmax=255)
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
            if r == 0:
                axes[r, c].set_title(name.replace("_", " "), fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


if __name__ == "__main__":
    main()
