"""Large non-interlaced 8-bit PNGs decoded in bands of rows, each box-reduced as soon as it is
decoded, so a 13000x13000 PNG never exists in memory at full size (Pillow would allocate 507 MB
for it, and organizer's conversions as much again).

The IDAT stream is inflated in pieces; each band's filtered rows are handed to Pillow's own PNG
row decoder (its "zip" codec, which also undoes the filters) behind one synthetic unfiltered row
holding the band's predecessor, which is all a PNG filter ever looks back at."""

from __future__ import annotations

import struct
import zlib
from typing import BinaryIO

from PIL import Image

_BYTES_PER_PIXEL = {"L": 1, "P": 1, "LA": 2, "RGB": 3, "RGBA": 4}
_BAND_BYTES = 8 << 20
_READ = 1 << 20


def eligible(img: Image.Image) -> bool:
    """A PNG whose raw rows are its pixels as Pillow holds them (8 bits a sample, no interlace)."""
    if img.format != "PNG" or img.info.get("interlace") or len(img.tile) != 1:
        return False
    tile = img.tile[0]
    rawmode = tile.args if isinstance(tile.args, str) else (tile.args[0] if tile.args else None)
    return tile.codec_name == "zip" and rawmode == img.mode and img.mode in _BYTES_PER_PIXEL


def _idat(fh: BinaryIO) -> object:
    """The IDAT payload, piece by piece."""
    fh.seek(8)
    while True:
        head = fh.read(8)
        if len(head) < 8:
            return
        length, ctype = struct.unpack(">I4s", head)
        if ctype == b"IDAT":
            left = length
            while left > 0:
                piece = fh.read(min(left, _READ))
                if not piece:
                    return
                left -= len(piece)
                yield piece
            fh.seek(4, 1)
        elif ctype == b"IEND":
            return
        else:
            fh.seek(length + 4, 1)


def decode(img: Image.Image, fh: BinaryIO, factor: int) -> Image.Image:
    """The PNG opened as `img` (from `fh`), reduced by `factor` (>= 2). Raises ValueError for a
    truncated or corrupt stream."""
    width, height = img.size
    mode = img.mode
    stride = width * _BYTES_PER_PIXEL[mode]
    rows = max(factor, (_BAND_BYTES // (stride + 1)) // factor * factor)
    out_mode = {"P": "RGBA" if "transparency" in img.info else "RGB", "LA": "RGBA"}.get(mode, mode)
    out = Image.new(out_mode, (-(-width // factor), -(-height // factor)))
    palette = img.getpalette() if mode == "P" else None
    inflater = zlib.decompressobj()
    pending = bytearray()
    previous = bytes(stride)
    done = 0
    for piece in _idat(fh):  # type: ignore[attr-defined]
        pending += inflater.decompress(piece)
        while done < height and (len(pending) >= rows * (stride + 1) or done + len(pending) // (stride + 1) >= height):
            n = min(rows, height - done, len(pending) // (stride + 1))
            if n == 0:
                break
            band, previous = _band(mode, width, n, previous, pending[: n * (stride + 1)], palette, img.info)
            del pending[: n * (stride + 1)]
            out.paste(band.convert(out_mode).reduce(factor), (0, done // factor))
            done += n
    if done < height:
        raise ValueError(f"PNG data ends after {done} of {height} rows (truncated)")
    return out


def _band(mode: str, width: int, n: int, previous: bytes, filtered: bytearray, palette: list[int] | None,
          info: dict) -> tuple[Image.Image, bytes]:
    stream = zlib.compress(b"\x00" + previous + bytes(filtered), 0)
    band = Image.frombytes(mode, (width, n + 1), stream, "zip", mode)
    last = band.crop((0, n, width, n + 1)).tobytes()
    band = band.crop((0, 1, width, n + 1))
    if palette is not None:
        band.putpalette(palette)
        if "transparency" in info:
            band.info["transparency"] = info["transparency"]
    return band, last
