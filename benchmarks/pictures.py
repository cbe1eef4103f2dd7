"""Real pictures of things, as non-digit training images for the "not a digit" detector (issue 22).

The generated photos of `negatives.py` are shapes painted on a background; the detector trained on
them still took half of the never-seen generated faces and a third of the single objects for digits.
This module adds real pictures, of kinds no generator draws: the photographs and clip art of Debian's
`tuxpaint-stamps-default` (animals, food, plants, clothes, household things, vehicles, buildings,
people; its `symbols` folder, which holds letters and digits, is left out) set on real photographs
(the wallpapers of Debian's `plasma-workspace-wallpapers`), on a wall or a table, or on paper.

A second source (`--source openclipart`, since 2026-12-03): the Open Clip Art Library's PNGs
(Debian's `openclipart-png`, a public domain dedication, where Tux Paint's stamps and KDE's
wallpapers are GPL-2 or later), the folders of things only, without the stamps whose path names a
digit, a letter, a sign or the subject of a held-out kind (`OPENCLIPART_LEFT_OUT`), set on walls and
paper (it has no photographs). The rule is by name and folder, not by eye: a few of the 976 stamps
kept still hold words (a milk carton) or an unlinked-image placeholder.

No package is committed: `ensure()` fetches them with `apt-get download` (a Debian or Ubuntu
machine) into a cache folder and unpacks the images only. Their pictures are used to train, never
to measure the held-out kinds; scikit-image's photographs stay reserved for independent evaluation.

The stamps are split by a hash of their file name: four fifths for training (`split="training"`),
one fifth kept for the build's check of fresh images (`split="check"`); a scene is seeded, so image
`i` of a split with seed `s` is the same on every machine with the same package versions.

Usage: poetry run python benchmarks/pictures.py [--source tuxpaint|openclipart] [--cache DIR] [--preview DIR] [--count N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import warnings
import zlib
from functools import lru_cache
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import negatives  # noqa: E402

@dataclass(frozen=True)
class Source:
    """Debian packages of pictures: where their stamps are (and which top folders of them are kept),
    and where their photographs are (None: no photographs, scenes are set on walls and paper)."""

    packages: tuple[str, ...]
    stamps_dir: str
    kept: tuple[str, ...] | None  # top folders of the stamps kept (None: all but LEFT_OUT)
    wallpapers_dir: str | None
    license: str
    left_out_words: tuple[str, ...] = ()  # stamps whose path holds one of these are left out


#: Open Clip Art stamps left out by their path: digits, letters, signs, cards and dice, and every
#: subject of a held-out kind of `negatives.py` (a heart, a smiley, a flower, a house, a bulb, notes,
#: scissors, an anchor, an envelope, a bicycle, a cup, a bolt, a face, fruit, a plant, a car, a chair
#: or a lamp, books, windows), so that those kinds stay unseen.
OPENCLIPART_LEFT_OUT = ("number", "digit", "letter", "alphabet", "text", "sign", "symbol", "aiga", "clock", "calendar", "card", "games", "dice",
                        "sport", "religion", "heart", "valentine", "smil", "face", "head", "bodypart", "flower", "plant", "pot", "homes", "house",
                        "bulb", "lamp", "music", "note", "scissor", "shear", "anchor", "envelope", "bicycle", "bike", "cup", "mug", "tea", "lightning",
                        "bolt", "fruit", "apple", "vehicles", "car_", "furniture", "chair", "book", "shelf", "window", "star", "sun", "arrow", "cross",
                        "check", "pantyhose")

#: The picture sources. "tuxpaint": Tux Paint's stamps on KDE's wallpapers (both GPL-2 or later);
#: "openclipart": the Open Clip Art Library's PNGs (a public domain dedication), the folders of
#: things only (no signs and symbols, shapes, computer icons, education, logos, maps or unsorted
#: ones, which hold letters, digits and the held-out kinds' shapes), on walls and paper.
SOURCES = {
    "tuxpaint": Source(("tuxpaint-stamps-default", "plasma-workspace-wallpapers"), "usr/share/tuxpaint/stamps", None, "usr/share/wallpapers",
                       "GPL-2+ (both packages)"),
    "openclipart": Source(("openclipart-png",), "usr/share/openclipart/png",
                          ("animals", "buildings", "containers", "electronics", "food", "people", "plants", "recreation", "tools", "transportation"),
                          None, "public domain dedication (Open Clip Art Library)", OPENCLIPART_LEFT_OUT),
}  # fmt: skip
#: Stamp folders left out: letters, digits and signs.
LEFT_OUT = ("symbols",)
#: Stamps larger than this are left out (a few clip-art PNGs are 100+ megapixels: slow to scale).
MAX_STAMP_PIXELS = 16_000_000
#: Odds of a scene's background: a real photograph, a wall or table, paper.
BACKGROUNDS = {"photo": 0.45, "wall": 0.35, "paper": 0.2}
#: Odds of a scene with no stamp at all: a piece of a real photograph.
PHOTO_ONLY_ODDS = 0.15
GREY_ODDS = 0.25


def default_cache(source: str = "tuxpaint") -> Path:
    """Where the unpacked pictures are kept between builds: $XDG_CACHE_HOME/mnist-toolkit/pictures
    (pictures-SOURCE for another source than Tux Paint's)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mnist-toolkit" / ("pictures" if source == "tuxpaint" else f"pictures-{source}")


def _pixels(path: Path) -> int:
    """Width times height, from the file's header (no warning for the huge ones: they are left out)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(path) as image:
            return image.width * image.height


def kept_stamp(source: Source, relative: Path, pixels: int) -> bool:
    """Whether a stamp (its path under the package's stamps folder, its size) is used: in a kept top
    folder, its path naming none of the left-out words, not larger than MAX_STAMP_PIXELS."""
    return ((source.kept is None or relative.parts[0] in source.kept) and pixels <= MAX_STAMP_PIXELS
            and not any(word in relative.as_posix().lower() for word in source.left_out_words))  # fmt: skip


def ensure(cache: Path | None = None, source: str = "tuxpaint") -> Path:
    """The folder holding the two packages' pictures, fetched and unpacked on first use.

    Raises:
        SystemExit: apt-get or dpkg-deb is missing or fails (not a Debian-like machine, no network).
    """
    chosen = SOURCES[source]
    cache = cache or default_cache(source)
    done = cache / "unpacked"
    if done.is_file():
        return cache
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as work:
        try:
            subprocess.run(["apt-get", "download", *chosen.packages], cwd=work, check=True, capture_output=True, text=True)
            for deb in sorted(Path(work).glob("*.deb")):
                subprocess.run(["dpkg-deb", "-x", str(deb), str(Path(work) / "x")], check=True, capture_output=True, text=True)
        except (OSError, subprocess.CalledProcessError) as exc:
            detail = getattr(exc, "stderr", "") or str(exc)
            raise SystemExit(f"Error: cannot fetch {', '.join(chosen.packages)} with apt-get download: {detail.strip()[-300:]}") from None
        versions = [deb.name for deb in sorted(Path(work).glob("*.deb"))]
        root = Path(work) / "x"
        parts = [(root / chosen.stamps_dir, cache / "stamps")] + ([(root / chosen.wallpapers_dir, cache / "wallpapers")] if chosen.wallpapers_dir else [])
        for folder, target in parts:
            for path in sorted(folder.rglob("*")):
                if path.suffix.lower() in (".png", ".jpg", ".jpeg") and path.is_file() and not path.is_symlink():
                    relative = path.relative_to(folder)
                    if target.name == "stamps" and not kept_stamp(chosen, relative, _pixels(path)):
                        continue
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
    if not (cache / "wallpapers").is_dir():  # a source without photographs
        return ()
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
    photographs = bool(wallpapers(cache))
    odds = BACKGROUNDS if photographs else {name: p for name, p in BACKGROUNDS.items() if name != "photo"}
    if rng.random() < PHOTO_ONLY_ODDS and photographs:
        pixels, tag = _photo_crop(rng, cache, width, height), "photo"
    else:
        background = rng.choice(list(odds), p=list(odds.values()) if photographs else np.array(list(odds.values())) / sum(odds.values()))
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
    parser.add_argument("--source", choices=sorted(SOURCES), default="tuxpaint")
    args = parser.parse_args()
    cache = ensure(args.cache, args.source)
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
