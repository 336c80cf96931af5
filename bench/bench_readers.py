"""Per-file cost of the readers, side by side in one run, medians over the rounds.

    python -m bench.bench_readers [--photos 20] [--rounds 3]

(a) 12 MP JPEGs with camera EXIF, XMP and IPTC: the draft-decode floor (read + DCT-scaled decode,
as bench_index measures it) against extract_file with vectors off (digest, every metadata reader,
the reduced decode, hashes, thumbnail) and against the metadata readers alone; goal: at most 1.5x
the floor. (b) phone-like clips, 30 s of 1080p and of 4K (H.264, a key frame a second): CPU seconds
per clip for extract_file, plus the streamed digest of a real clip's size (our generated clips
compress far better than a phone's); goal: a 30 s 4K clip under 1 s of CPU. (c) RAW previews/s (corpora).
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path

import av
import numpy as np
import piexif
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent

from organizer import extract
from organizer.extract import evidence

CORPORA = ROOT.parent / "shared" / "corpora"
XMP = (b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF "
       b"xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'><rdf:Description rdf:about='' "
       b"xmlns:xmp='http://ns.adobe.com/xap/1.0/' xmlns:dc='http://purl.org/dc/elements/1.1/' "
       b"xmp:CreateDate='2008-10-22T16:28:39+02:00' xmp:Rating='4'><dc:subject><rdf:Bag><rdf:li>Arezzo</rdf:li>"
       b"</rdf:Bag></dc:subject></rdf:Description></rdf:RDF></x:xmpmeta>")


def make_jpegs(folder: Path, count: int) -> list[Path]:
    from tests.conftest import gps_ifd

    base = Image.effect_noise((500, 375), 40).convert("RGB").resize((4000, 3000), Image.Resampling.BICUBIC)
    paths = []
    for i in range(count):
        exif = piexif.dump({"0th": {piexif.ImageIFD.Make: b"NIKON", piexif.ImageIFD.Model: b"COOLPIX P6000"},
                            "Exif": {piexif.ExifIFD.DateTimeOriginal: f"2008:10:22 16:{i % 60:02d}:39".encode()},
                            "GPS": gps_ifd(43.4674483, 11.8851267)})
        out = io.BytesIO()
        base.rotate(i, fillcolor=(i, 0, 0)).save(out, "JPEG", quality=88, exif=exif)
        data = out.getvalue()
        segment = b"\xff\xe1" + (len(XMP) + 2).to_bytes(2, "big") + XMP
        path = folder / f"DSC_{i:04d}.jpg"
        path.write_bytes(data[:2] + segment + data[2:])
        paths.append(path)
    return paths


def make_clip(path: Path, size: tuple[int, int], seconds: int, fps: int = 30, codec: str = "libx264",
              options: dict[str, str] | None = None, bit_rate: int | None = None, noise: bool = False) -> Path:
    """A clip with a phone's metadata: blocks moving across (or noise, which barely compresses)."""
    out = av.open(str(path), "w", options={"movflags": "use_metadata_tags"})
    out.metadata["creation_time"] = "2021-07-04T18:30:00Z"
    out.metadata["com.apple.quicktime.creationdate"] = "2021-07-04T20:30:00+0200"
    stream = out.add_stream(codec, rate=fps)
    stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
    stream.options = options if options is not None else {"preset": "ultrafast", "g": str(fps), "crf": "30"}
    if bit_rate:
        stream.bit_rate = bit_rate
    rng = np.random.default_rng(0)
    if noise:
        base = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    else:
        blocks = np.kron(rng.integers(0, 256, (9, 16, 3), dtype=np.uint8),
                         np.ones((size[1] // 9, size[0] // 16, 1), np.uint8))
        base = np.pad(blocks, ((0, size[1] - blocks.shape[0]), (0, size[0] - blocks.shape[1]), (0, 0)))
    base = np.ascontiguousarray(base)
    for i in range(seconds * fps):
        frame = av.VideoFrame.from_ndarray(np.roll(base, i * 4, axis=1), format="rgb24")
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)
    out.close()
    return path


def cpu(fn, paths: list[Path]) -> float:
    started = time.process_time()
    for p in paths:
        fn(p)
    return (time.process_time() - started) / len(paths)


def floor(path: Path) -> None:
    data = path.read_bytes()
    img = Image.open(io.BytesIO(data))
    img.draft("RGB", (320, 320))
    img.load()


def ours(path: Path) -> None:
    extract.extract_file(str(path), 0.0, datetime.now())


def readers(path: Path) -> None:
    evidence.from_buffer(path.read_bytes(), "jpeg", [])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    extract.warm_up()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        photos = make_jpegs(folder, args.photos)
        rows: dict[str, list[float]] = {"floor": [], "ours": [], "readers": []}
        for _ in range(args.rounds):
            for name, fn in (("floor", floor), ("ours", ours), ("readers", readers)):
                rows[name].append(cpu(fn, photos))
        f, o, r = (statistics.median(rows[k]) * 1000 for k in ("floor", "ours", "readers"))
        print(f"12 MP JPEG, CPU ms/file: floor {f:.1f}  extract_file {o:.1f} ({o / f:.2f}x floor)  "
              f"metadata readers alone {r:.2f} ({r / f:.1%} of floor)")
        for label, size in (("1080p", (1920, 1080)), ("4K", (3840, 2160))):
            clip = make_clip(folder / f"clip-{label}.mov", size, 30)
            times = [cpu(ours, [clip]) for _ in range(args.rounds)]
            t = statistics.median(times)
            print(f"30 s {label} H.264 clip ({clip.stat().st_size >> 20} MB): {t:.3f} s CPU per clip, "
                  f"{1 / t:.1f} clips/s")
        big = folder / "phone-4k-30s.bin"  # a phone's 30 s 4K clip is ~190 MB (50 Mbit/s): its digest
        with open(big, "wb") as fh:
            for _ in range(190):
                fh.write(np.random.default_rng(1).bytes(1 << 20))
        times = [cpu(lambda p: extract.source.Source(p.name, p.stat().st_size, "video", "mov", path=str(p)).digest(),
                     [big]) for _ in range(args.rounds)]
        print(f"streamed digest of 190 MB (what a real 30 s 4K clip adds to the above): "
              f"{statistics.median(times):.3f} s CPU")
        raws = sorted(p for p in CORPORA.rglob("*") if p.suffix.lower() in (".dng", ".arw", ".cr2", ".nef"))
        if raws:
            times = [cpu(ours, raws) for _ in range(args.rounds)]
            t = statistics.median(times)
            print(f"RAW ({len(raws)} corpus files): {t * 1000:.1f} ms CPU each, {1 / t:.0f} previews/s")
        else:
            print("RAW: no corpora (../shared/corpora), skipped")


if __name__ == "__main__":
    main()
