"""What MNIST is made of: the four files, their checksums, the public mirrors, the embedded copy and the
folder `mnist download` writes by default."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Resource:
    """One of the four MNIST files.

    The checksums are of the decompressed IDX content, which is the same whatever the source
    (a mirror's .gz, the embedded .gz, a Kaggle archive's raw file).
    """

    key: str  # "train-images"
    filename: str  # canonical raw name, "train-images-idx3-ubyte"
    split: str  # "train" | "test"
    kind: str  # "images" | "labels"
    count: int
    sha256: str
    md5: str

    @property
    def gz_name(self) -> str:
        return f"{self.filename}.gz"


RESOURCES: tuple[Resource, ...] = (
    Resource("train-images", "train-images-idx3-ubyte", "train", "images", 60_000,
             "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db", "6bbc9ace898e44ae57da46a324031adb"),
    Resource("train-labels", "train-labels-idx1-ubyte", "train", "labels", 60_000,
             "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5", "a25bea736e30d166cdddb491f175f624"),
    Resource("test-images", "t10k-images-idx3-ubyte", "test", "images", 10_000,
             "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7", "2646ac647ad5339dbf082846283269ea"),
    Resource("test-labels", "t10k-labels-idx1-ubyte", "test", "labels", 10_000,
             "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", "27ae3e4e09519cfbb04c329615203637"),
)  # fmt: skip

RESOURCES_BY_SHA256: dict[str, Resource] = {resource.sha256: resource for resource in RESOURCES}

#: Public mirrors of the MNIST .gz files, tried in order (the original host answers 404 since 2025).
DEFAULT_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

#: The copy shipped inside the package (gzip, recompressed; checked by decompressed SHA-256).
EMBEDDED_DIR = Path(__file__).resolve().parent / "mnist"

#: Where `mnist download` puts the files unless told otherwise, relative to the working directory;
#: every command reads this folder, when it holds the four valid files, before the embedded copy.
DEFAULT_DATA_DIR = Path("data/mnist")

#: Distribution of the 28x28 training pixels scaled to [0, 1].
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081


def resource_for(split: str, kind: str) -> Resource:
    """The resource of a split ("train"/"test") and kind ("images"/"labels")."""
    for resource in RESOURCES:
        if resource.split == split and resource.kind == kind:
            return resource
    raise KeyError((split, kind))


def normalise_filename(name: str) -> str:
    """Map the names MNIST files go by to the canonical one.

    `train-images.idx3-ubyte` (Kaggle), `train-images-idx3-ubyte.gz` and `TRAIN-IMAGES-IDX3-UBYTE`
    all become `train-images-idx3-ubyte`.
    """
    base = Path(name).name.lower()
    base = re.sub(r"\.(gz|gzip)$", "", base)
    return base.replace(".", "-").replace("_", "-")


_BY_CANONICAL = {resource.filename: resource for resource in RESOURCES}


def resource_by_filename(name: str) -> Resource | None:
    """The resource a file name stands for, or None."""
    return _BY_CANONICAL.get(normalise_filename(name))


_BY_KEY = {resource.key: resource for resource in RESOURCES}


def resource_named(name: str) -> Resource | None:
    """The resource a bare name stands for: its key (`train-images`, `test-labels`) or one of its file
    names (`t10k-images-idx3-ubyte.gz`, Kaggle's `train-images.idx3-ubyte`); None for anything else,
    a path with a folder in it included."""
    if Path(name).name != name:
        return None
    return _BY_KEY.get(name.lower()) or resource_by_filename(name)


def refetch_hint(path: str | Path) -> str:
    """How to replace a damaged copy of an MNIST file at `path`: reinstall for the embedded copy, else
    `mnist download --force` into the file's own folder."""
    folder = Path(path).expanduser().parent
    if folder.resolve() == EMBEDDED_DIR:
        return "the package's own copy is damaged: reinstall the package (`poetry install`)"
    where = "" if folder.resolve() == DEFAULT_DATA_DIR.resolve() else f" --data-dir {shlex.quote(str(folder))}"
    return f"fetch it again with `mnist download --force{where}`"
