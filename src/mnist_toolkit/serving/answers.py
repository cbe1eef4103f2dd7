"""The API's answers: what `mnist predict` (or `--number`) reads in an uploaded image, and what the
model looks at (feature maps, saliency); images travel as base64 PNG."""

from __future__ import annotations

import base64
import io

import numpy as np

from ..errors import MnistError
from ..inference.answers import NumberReading, Reading
from .catalog import ModelCatalog
from .errors import RequestError


def png_base64(image: np.ndarray) -> str:
    """A uint8 grayscale array as a base64 PNG."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8), mode="L").save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def reading_json(reading: Reading) -> dict:
    """A Reading as the API shows it: the fields `mnist predict --json` has, the probabilities and the input."""
    return {**reading.to_json(), "probabilities": [float(v) for v in reading.probabilities], "input_png": png_base64(reading.input)}


def _prepare_upload(data: bytes, number: bool) -> list:
    """The model inputs of an uploaded image (one per digit with `number`); a file in a format the
    toolkit does not open (PDF, EPS, SVG, ...) is a 415, any other bad image a 400."""
    from ..reading.prepare import UnsupportedImageFormat, prepare_bytes, prepare_number_bytes

    try:
        return prepare_number_bytes(data, "upload") if number else [prepare_bytes(data, "upload")]
    except UnsupportedImageFormat as exc:
        raise RequestError(415, exc.message) from None
    except MnistError as exc:
        raise RequestError(400, exc.message) from None
    except Exception as exc:  # a decoder bug on hostile input is still the client's bad image
        raise RequestError(400, f"cannot decode the image ({type(exc).__name__})") from None


def predict_image(catalog: ModelCatalog, data: bytes, model_id: str | None, number: bool, top_k: int, digit_check: bool = True) -> dict:
    """The API's answer for one image: what `mnist predict` (or `--number`) reads in it.

    Ink that is not a digit (a star, a letter, a photo of a thing) is answered with 200, `digit` (or
    `number`) null, `not_digit` true and `error` saying so, the best guesses kept in `top_k` and
    `probabilities`: the request was fine, and the page shows the input it refused while you draw.
    With `digit_check` False (`?digit_check=false`), everything is read as a digit.
    """
    entry, loaded = catalog.model(model_id)
    parts = _prepare_upload(data, number)
    found = loaded.readings(np.stack([p.image for p in parts]), [p.box for p in parts], top_k, check=digit_check, contexts=[p.context for p in parts])
    answers = [reading_json(reading) for reading in found]
    first = max(range(len(parts)), key=lambda i: int(parts[i].image.sum())) if not number else 0
    document = {**answers[first], "model": entry.id, "engine": loaded.engine}
    row = NumberReading(found) if number else None
    refusal = row.refusal if row is not None else found[first].refusal
    if refusal is not None:
        document["not_digit"], document["error"] = True, refusal
    if row is not None:
        document["number"] = row.number
        document["confidence"] = row.confidence
        document["digits"] = answers
    elif parts[0].digits_seen > 1:
        document["warning"] = "several separated digits seen; read as one digit (try number=true)"
    return document


def explain_image(catalog: ModelCatalog, data: bytes, model_id: str | None) -> dict:
    """Feature maps of the first convolutions and a saliency map for one digit image; "saliency" says in
    words what the map shows, "saliency_method" names the method (see inference/explain.py)."""
    from ..inference.explain import explain, saliency_method

    entry = catalog.entry(model_id)
    prepared = _prepare_upload(data, number=False)[0]
    model, norm, lock = catalog.explainer(entry)
    with lock:
        seen = explain(model, prepared.image, norm["mean"], norm["std"])
    return {
        "model": entry.id,
        "digit": seen["digit"],
        "input_png": png_base64(prepared.image),
        "saliency_png": png_base64(seen["saliency"]),
        "feature_maps": [{"layer": m["layer"], "channels": m["channels"], "size": m["size"],
                          "maps": [png_base64(a) for a in m["maps"]]} for m in seen["feature_maps"]],  # fmt: skip
        "saliency": saliency_method(seen["saliency_method"]).description,
        "saliency_method": seen["saliency_method"],
    }


