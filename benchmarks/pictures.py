"""Real pictures of things, as non-digit training images for the "not a digit" detector (issue 22).

The generated photos of `negatives.py` are shapes painted on a background; the detector trained on
them still took half of the never-seen generated faces and a third of the single objects for digits.
This module adds real pictures, of kinds no generator draws: the photographs and clip art of Debian's
`tuxpaint-stamps-default` (animals, food, plants, clothes, household things, vehicles, buildings,
people; its `symbols` folder, which holds letters and digits, is left out) set on real photographs
(the wallpapers of Debian's `plasma-workspace-wallpapers`), on a wall or a table, or on paper.

Neither package is committed: `ensure()` fetches them with `apt-get download` (a Debian or Ubuntu
machine) into a cache folder and unpacks the images only. Their pictures are used to train, never
to measure the held-out kinds; scikit-image's photographs stay reserved for independent evaluation.

The stamps are split by a hash of their file name: four fifths for training (`split="training"`),
one fifth kept for the build's check of fresh images (`split="check"`); a scene is seeded, so image
`i` of a split with seed `s` is the same on every machine with the same package versions.

Usage: poetry run python benchmarks/pictures.py [--cache DIR] [--preview DIR] [--count N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import zlib
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import negatives  # noqa: E402

#: The Debian packages whose pictures are used, and what is taken from each.
PACKAGES = ("tuxpaint-stamps-default", "plasma-workspace-wallpapers")
STAMPS_DIR = "usr/share/tuxpaint/stamps"
WALLPAPERS_DIR = "usr/share/wallpapers"
#: Stamp folders left out: letters, digits and signs.
LEFT_OUT = ("symbols",)
#: Odds of a scene's background: a real photograph, a wall or table, paper.
BACKGROUNDS = {"photo": 0.45, "wall": 0.35, "paper": 0.2}
#: Odds of a scene with no stamp at all: a piece of a real photograph.
PHOTO_ONLY_ODDS = 0.15
GREY_ODDS = 0.25


def default_cache() -> Path:
    """Where the unpacked pictures are kept between builds: $XDG_CACHE_HOME/mnist-toolkit/pictures."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mnist-toolkit" / "pictures"


def ensure(cache: Path | None = None) -> Path:
    """The folder holding the two packages' pictures, fetched and unpacked on first use.

    Raises:
        SystemExit: apt-get or dpkg-deb is missing or fails (not a Debian-like machine, no network).
    """
    cache = cache or default_cache()
    done = cache / "unpacked"
    if done.is_file():
        return cache
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as work:
        try:
            subprocess.run(["apt-get", "download", *PACKAGES], cwd=work, check=True, capture_output=True, text=True)
            for deb in sorted(Path(work).glob("*.deb")):
                subprocess.run(["dpkg-deb", "-x", str(deb), str(Path(work) / "x")], check=True, capture_output=True, text=True)
        except (OSError, subprocess.CalledProcessError) as exc:
            detail = getattr(exc, "stderr", "") or str(exc)
            raise SystemExit(f"Error: cannot fetch {', '.join(PACKAGES)} with apt-get download: {detail.strip()[-300:]}") from None
        versions = [deb.name for deb in sorted(Path(work).glob("*.deb"))]
        root = Path(work) / "x"
        for source, target in ((root / STAMPS_DIR, cache / "stamps"), (root / WALLPAPERS_DIR, cache / "wallpapers")):
            for path in sorted(source.rglob("*")):
                if path.suffix.lower() in (".png", ".jpg", ".jpeg") and path.is_file():
                    relative = path.relative_to(source)
                    (target / relative).parent.mkdir(parents=True, exist_ok=True)
                    path.replace(target / relative)
    (cache / "packages.txt").write_text("\n".join(versions) + "\n")
    done.write_text("ok\n")
    return cache


@lru_cache(maxsize=4)
def stamps(cache: Path, split: str) -> tuple[Path, ...]:
    """The stamp pictures of a split ("training": four fifths, "check": one fifth), by file name hash."""
    files = sorted(p for p in (cache / "stamps").rglob("*.png") if p.relative_to(cache / "stamps").parts[0] not in LEFT_OUT)
    files = [p for p in files if not p.name.endswith("_mirror.png")]
    keep = (lambda h: h % 5 != 0) if split == "training" else (lambda h: h % 5 == 0)
    chosen = tuple(p for p in files if keep(zlib.crc32(str(p.relative_to(cache / "stamps")).encode())))
    if not chosen:
        raise SystemExit(f"Error: no stamp pictures under {cache / 'stamps'}; remove {cache} to fetch them again")
    return chosen


@lru_cache(maxsize=2)
def wallpapers(cache: Path) -> tuple[Path, ...]:
    """One picture per wallpaper: its smallest image at least 1,000 px wide."""
    chosen = []
    for folder in sorted(p for p in (cache / "wallpapers").iterdir() if p.is_dir()):
        images = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
        sized = []
        for path in images:
            with Image.open(path) as image:
                sized.append((image.width * image.height, image.width, path))
        wide = [s for s in sized if s[1] >= 1000] or sized
        if wide:
            chosen.append(min(wide)[2])
    return tuple(chosen)


@lru_cache(maxsize=64)
def _open(path: Path) -> Image.Image:
    with Image.open(path) as image:
        image.load()
        return image.convert("RGBA") if image.mode in ("RGBA", "LA", "P") else image.convert("RGB")


def _photo_crop(rng: np.random.Generator, cache: Path, width: int, height: int) -> np.ndarray:
    """A piece of a real photograph (5-60 % of its width), resized to the frame."""
    photo = _open(wallpapers(cache)[int(rng.integers(len(wallpapers(cache))))]).convert("RGB")
    share = rng.uniform(0.05, 0.6)
    crop_w = max(16, int(photo.width * share))
    crop_h = min(photo.height, max(16, int(crop_w * height / width)))
    left = int(rng.integers(0, photo.width - crop_w + 1))
    top = int(rng.integers(0, photo.height - crop_h + 1))
    piece = photo.crop((left, top, left + crop_w, top + crop_h)).resize((width, height), Image.LANCZOS)
    return np.asarray(piece, np.float32)


def _paper(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """Light paper, lit unevenly, a little grain."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    light = 1 + rng.uniform(0, 0.18) * ((np.cos(angle) * x / width + np.sin(angle) * y / height) - 0.5)
    tone = rng.uniform(185, 250) * light
    tint = np.array([1.0, rng.uniform(0.93, 1.0), rng.uniform(0.82, 1.0)], np.float32)
    return tone[..., None] * tint + rng.normal(0, rng.uniform(1, 6), (height, width, 1)).astype(np.float32)


def scene(rng: np.random.Generator, cache: Path, split: str = "training") -> tuple[Image.Image, str]:
    """One picture: one to three stamps of `split` on a photograph, a wall or paper; or a piece of a
    photograph alone. Returns (image, tag: the stamps' file names or "photo")."""
    width, height = negatives.frame_size(rng)
    if rng.random() < PHOTO_ONLY_ODDS:
        pixels, tag = _photo_crop(rng, cache, width, height), "photo"
    else:
        background = rng.choice(list(BACKGROUNDS), p=list(BACKGROUNDS.values()))
        if background == "photo":
            pixels = _photo_crop(rng, cache, width, height)
        elif background == "wall":
            pixels = negatives._background(rng, width, height)
        else:
            pixels = _paper(rng, width, height)
        canvas = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).convert("RGBA")
        pool = stamps(cache, split)
        names = []
        for _ in range(1 if rng.random() < 0.6 else int(rng.integers(2, 4))):
            path = pool[int(rng.integers(len(pool)))]
            stamp = _open(path).convert("RGBA")
            if rng.random() < 0.5:
                stamp = stamp.transpose(Image.FLIP_LEFT_RIGHT)
            size = rng.uniform(0.35, 0.95) * min(width, height)
            scale = size / max(stamp.size)
            stamp = stamp.resize((max(2, round(stamp.width * scale)), max(2, round(stamp.height * scale))), Image.LANCZOS)
            if rng.random() < 0.3:
                stamp = stamp.rotate(rng.uniform(-25, 25), resample=Image.BICUBIC, expand=True)
            left = int(rng.uniform(-0.15 * stamp.width, width - 0.85 * stamp.width))
            top = int(rng.uniform(-0.15 * stamp.height, height - 0.85 * stamp.height))
            layer = Image.new("RGBA", canvas.size)
            layer.paste(stamp, (left, top))
            canvas = Image.alpha_composite(canvas, layer)
            names.append(path.stem)
        pixels, tag = np.asarray(canvas.convert("RGB"), np.float32), "+".join(names)
    pixels = pixels * rng.uniform(0.75, 1.15) + rng.normal(0, rng.uniform(0.5, 5), pixels.shape).astype(np.float32)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    if rng.random() < 0.3:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.2)))
    if rng.random() < GREY_ODDS:
        image = image.convert("L")
    return negatives._maybe_jpeg(image, rng), tag


def images(cache: Path, split: str, count: int, seed: int, start: int = 0) -> list[tuple[Image.Image, str]]:
    """Scenes `start` .. `start + count - 1` of a split, each from its own seeded generator."""
    key = zlib.crc32(f"pictures/{split}".encode())
    return [scene(np.random.default_rng([seed, key, i]), cache, split) for i in range(start, start + count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, help="where the unpacked pictures are kept (default: the user's cache folder)")
    parser.add_argument("--preview", type=Path, help="write a contact sheet of scenes here")
    parser.add_argument("--count", type=int, default=48)
    args = parser.parse_args()
    cache = ensure(args.cache)
    print(f"{len(stamps(cache, 'training'))} training stamps, {len(stamps(cache, 'check'))} check stamps, {len(wallpapers(cache))} photographs")
    print((cache / "packages.txt").read_text().strip())
    if args.preview:
        args.preview.mkdir(parents=True, exist_ok=True)
        sheet = Image.new("RGB", (8 * 128, -(-args.count // 8) * 128), "white")
        for i, (image, _) in enumerate(images(cache, "training", args.count, 0)):
            image = image.convert("RGB")
            image.thumbnail((124, 124))
            sheet.paste(image, ((i % 8) * 128, (i // 8) * 128))
        sheet.save(args.preview / "pictures.png")
        print(f"wrote {args.preview / 'pictures.png'}")


if __name__ == "__main__":
    main()
