"""What a bug report needs to know about this installation: versions, devices, threads and the data copy in use."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def collect(data_dir: str | None = None) -> dict:
    """Facts about Python, torch and its devices, threads, key packages and the MNIST copy that would be used."""
    import torch

    from ._version import __version__
    from .data.source import resolve_source

    cuda = torch.cuda.is_available()
    devices = [{"type": "cpu", "name": platform.processor() or platform.machine(), "cores": os.cpu_count()}]
    if cuda:
        for index in range(torch.cuda.device_count()):
            properties = torch.cuda.get_device_properties(index)
            devices.append({"type": "cuda", "index": index, "name": properties.name,
                            "memory_gib": round(properties.total_memory / 2**30, 1),
                            "capability": f"{properties.major}.{properties.minor}"})  # fmt: skip
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices.append({"type": "mps", "name": "Apple Metal"})
    source = resolve_source(data_dir)
    return {
        "mnist_toolkit": __version__,
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "platform": platform.platform(),
        "torch": torch.__version__,
        "torch_cuda_build": torch.version.cuda,
        "cuda_available": cuda,
        "cudnn": torch.backends.cudnn.version() if cuda else None,
        "devices": devices,
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "thread_variables": {name: os.environ[name] for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS") if name in os.environ},
        "packages": {name: _version(name) for name in ("numpy", "torchvision", "opencv-python-headless", "pillow", "tensorboard", "onnxruntime", "typer", "rich")},
        "data": source.describe(),
    }
