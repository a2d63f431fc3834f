"""Images a tool returns or a person sends: bytes with a type and a size, recognised from common libraries.

`halion_nb.Image(data_or_path)`, a PIL image, a matplotlib figure and `IPython.display.Image` are all
turned into an `Image` (by attributes: nothing here imports PIL, matplotlib or IPython). The log and
recordings keep only `Image.meta()` (type, size, sha256); the model gets a data URL scaled to a bound.
"""
from __future__ import annotations

import base64
import hashlib
import io
import os
import struct
from functools import cached_property
from pathlib import Path
from typing import Any

from ..errors import HalionError

MAX_SIDE = 1568
"""Longest side, in pixels, of an image sent to the model; larger ones are scaled down (needs Pillow)."""
MAX_BYTES = 4 * 1024 * 1024
"""Largest image, in bytes, sent to the model after scaling; a larger one is described, not sent."""
_MIMES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg", b"GIF87a": "image/gif",
          b"GIF89a": "image/gif"}


class Image:
    """An image as bytes: `Image(b"...")`, `Image("plot.png")`, or `Image.of(pil_image_or_figure)`."""

    def __init__(self, data_or_path: bytes | bytearray | str | os.PathLike[str], mime: str | None = None) -> None:
        if isinstance(data_or_path, (bytes, bytearray)):
            self.data = bytes(data_or_path)
            self.source: str | None = None
        else:
            path = Path(data_or_path).expanduser()
            try:
                self.data = path.read_bytes()
            except OSError as exc:
                raise HalionError(f"cannot read the image {path}: {exc.strerror or exc}") from None
            self.source = str(path)
        self.mime = mime or sniff(self.data)
        if self.mime is None:
            raise HalionError("not an image halion_nb can read (PNG, JPEG, GIF or WebP expected)")

    @classmethod
    def of(cls, value: Any) -> "Image":
        found = as_image(value)
        if found is None:
            raise HalionError(f"{type(value).__name__} is not an image (bytes, a path, PIL, matplotlib or IPython)")
        return found

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @cached_property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels; (0, 0) when unknown."""
        return dimensions(self.data)

    @property
    def width(self) -> int:
        return self.size[0]

    @property
    def height(self) -> int:
        return self.size[1]

    def meta(self) -> dict[str, Any]:
        """What the log keeps: never the bytes."""
        return {"type": "image", "mime": self.mime, "width": self.width, "height": self.height,
                "bytes": len(self.data), "sha256": self.sha256}

    def data_url(self) -> str:
        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode('ascii')}"

    def scaled(self, max_side: int = MAX_SIDE) -> "Image":
        """This image, or a copy whose longest side is `max_side` (PNG/JPEG via Pillow; unchanged without it)."""
        if max(self.size) <= max_side:
            return self
        try:
            from PIL import Image as PILImage
        except ModuleNotFoundError:
            return self
        with PILImage.open(io.BytesIO(self.data)) as img:
            img.thumbnail((max_side, max_side))
            out = io.BytesIO()
            fmt = "JPEG" if self.mime == "image/jpeg" else "PNG"
            (img.convert("RGB") if fmt == "JPEG" else img).save(out, format=fmt)
        return Image(out.getvalue(), f"image/{fmt.lower()}")

    def _repr_png_(self) -> bytes | None:
        return self.data if self.mime == "image/png" else None

    def _repr_jpeg_(self) -> bytes | None:
        return self.data if self.mime == "image/jpeg" else None

    def __repr__(self) -> str:
        return f"<Image {self.mime} {self.width}×{self.height} · {len(self.data)} bytes · {self.sha256[:12]}>"


def for_model(image: Image, *, max_side: int = MAX_SIDE, max_bytes: int = MAX_BYTES) -> tuple[Image | None, str]:
    """The image to send (scaled to the bound), or None with the reason it is not sent."""
    sent = image.scaled(max_side)
    if len(sent.data) > max_bytes:
        return None, (f"image {image.mime} {image.width}×{image.height} ({len(image.data) // 1024} KB) is larger "
                      f"than the {max_bytes // 1024} KB bound even after scaling, so it was not sent")
    note = "" if sent is image else f" (scaled from {image.width}×{image.height} to {sent.width}×{sent.height})"
    return sent, f"image {sent.mime} {sent.width}×{sent.height}{note}"


def image_stub(url: str) -> str:
    """An image's data URL as a recording or a stored conversation keeps it: type, size and sha256, no bytes."""
    try:
        meta = Image(base64.b64decode(url.split(",", 1)[1])).meta()
    except Exception:
        return "data:image/unreadable"
    return f"data:{meta['mime']};{meta['width']}x{meta['height']};{meta['bytes']} bytes;sha256={meta['sha256']}"


def as_image(value: Any) -> Image | None:
    """An `Image` for anything that is one, else None."""
    if isinstance(value, Image):
        return value
    module = type(value).__module__ or ""
    if module.startswith("PIL.") and hasattr(value, "save") and hasattr(value, "size"):
        out = io.BytesIO()
        value.save(out, format="PNG")
        return Image(out.getvalue(), "image/png")
    if module.startswith("matplotlib.") and hasattr(value, "savefig"):
        out = io.BytesIO()
        value.savefig(out, format="png", bbox_inches="tight")
        return Image(out.getvalue(), "image/png")
    if module.startswith("IPython.") and type(value).__name__ == "Image":
        data = getattr(value, "data", None)
        if isinstance(data, (bytes, bytearray)):
            return Image(data)
    return None


def sniff(data: bytes) -> str | None:
    for magic, mime in _MIMES.items():
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def dimensions(data: bytes) -> tuple[int, int]:
    """Width and height read from the header (PNG, GIF, JPEG), else via Pillow, else (0, 0)."""
    try:
        if data.startswith(b"\x89PNG") and len(data) >= 24:
            return struct.unpack(">II", data[16:24])
        if data[:3] == b"GIF" and len(data) >= 10:
            return struct.unpack("<HH", data[6:10])
        if data.startswith(b"\xff\xd8"):
            i = 2
            while i + 9 < len(data):
                if data[i] != 0xFF:
                    i += 1
                    continue
                marker, length = data[i + 1], struct.unpack(">H", data[i + 2:i + 4])[0]
                if marker in (0xC0, 0xC1, 0xC2):
                    h, w = struct.unpack(">HH", data[i + 5:i + 9])
                    return w, h
                i += 2 + length
    except struct.error:
        pass
    try:
        from PIL import Image as PILImage

        with PILImage.open(io.BytesIO(data)) as img:
            return img.size
    except Exception:
        return 0, 0
