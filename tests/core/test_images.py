"""Images from every source a tool may return, encoded for the log as type, size and sha256 only."""
from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

import halion_nb
from halion_nb.core.encoding import dumps, to_jsonable
from halion_nb.core.images import Image, as_image, for_model
from halion_nb.errors import HalionError


def picture(fmt: str, size: tuple[int, int] = (64, 48)) -> bytes:
    from PIL import Image as PILImage

    out = io.BytesIO()
    PILImage.new("RGB", size, "olive").save(out, format=fmt)
    return out.getvalue()


@pytest.mark.parametrize("fmt,mime", [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("GIF", "image/gif"),
                                      ("WEBP", "image/webp")])
def test_type_and_size_are_read_from_the_bytes(fmt: str, mime: str) -> None:
    data = picture(fmt)
    image = halion_nb.Image(data)
    assert (image.mime, image.size) == (mime, (64, 48))
    assert to_jsonable(image) == {"type": "image", "mime": mime, "width": 64, "height": 48, "bytes": len(data),
                                  "sha256": hashlib.sha256(data).hexdigest()}


def test_every_source_becomes_an_image_and_no_bytes_reach_the_text(tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from IPython.display import Image as IPythonImage
    from PIL import Image as PILImage

    path = tmp_path / "p.png"
    path.write_bytes(picture("PNG"))
    figure = plt.figure(figsize=(2, 1), dpi=50)
    for value in (Image(path), PILImage.new("RGB", (5, 4)), figure, IPythonImage(filename=str(path))):
        found = as_image(value)
        assert found is not None and found.mime == "image/png" and found.width > 0, type(value)
        text = dumps({"plot": value})
        assert '"type": "image"' in text and "base64" not in text and len(text) < 300
    assert as_image(IPythonImage(url="https://example.org/x.png")) is None
    assert as_image(b"not an image") is None


def test_a_file_that_is_not_an_image_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(HalionError, match="not an image"):
        Image(tmp_path / "x.txt")
    with pytest.raises(HalionError, match="cannot read the image"):
        Image(tmp_path / "missing.png")


def test_scaled_to_the_bound_or_described_when_too_large() -> None:
    big = Image(picture("PNG", (4000, 1000)))
    sent, note = for_model(big, max_side=1000)
    assert sent is not None and sent.size == (1000, 250) and "scaled from 4000×1000 to 1000×250" in note
    small = Image(picture("PNG"))
    assert for_model(small)[0] is small
    none, why = for_model(big, max_side=4000, max_bytes=10)
    assert none is None and "not sent" in why
