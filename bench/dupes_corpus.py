"""The duplicates benchmark's library: real photos, the copies a real library holds, and the photos
that look alike but are not copies (burst frames, other shots of one scene), with the truth.

    python -m bench.dupes_corpus OUT_DIR        (bench/bench_dupes.py calls build())

Every source photo of `../shared/corpora` (or $ORGANIZER_CORPORA; decodable, at least 256 px on the short side, not
near-uniform, no two within pHash 12 of each other) gets the TRANSFORMS below, each a file in OUT_DIR
named `<source>~<transform>.<ext>`. Distractors: bursts (each frame its own source) made by small
camera motion over a larger photo with a moving subject, fresh sensor noise and EXIF times a few
tenths of a second apart (half of them without EXIF; the photo they are made from is not in the
library), the real four-frame burst in pillow-heif's
`bird_burst.heic`, the Middlebury stereo pair, several photos of one person (face_recognition) and
nine shots of one town (Arezzo). `truth.csv` beside the files: file, source, capture, transform, scene.
Files of one capture are duplicates (the capture is the source, except for two upstream photos that
are crops of two others); files of one scene and other captures are distractors.
"""

from __future__ import annotations

import csv
import io
import os
import random
import sys
from pathlib import Path

import numpy as np
import pillow_heif
from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps

CORPORA = Path(os.environ.get("ORGANIZER_CORPORA", Path(__file__).resolve().parent.parent.parent / "shared" / "corpora"))
pillow_heif.register_heif_opener()

# names of photos that are drawings or test patterns, not photos
NOT_PHOTOS = {"arrow.heic", "BlueSquare.jpg", "copyleft.tiff", "imagehash.png", "aux_YCbCr.heic",
              "alpha_channel_image.png", "image00971.jpg"}
# same scene, different captures: kept as sources, never duplicates of each other
SCENES = {"F_face-recognition": "faces", "A_exif-samples/jpg/gps": "arezzo", "B_skimage-data/motorcycle": "motorcycle"}
# HDR pairs are one capture or two depending on the phone (left out: neither truth holds);
# the others are copies of base images or broken on purpose
SKIP_FOLDERS = {"hdr", "mixed_images", "mixed_nested_images", "formats_images", "invalid", "heif_corrupted",
                "heif_truncated"}
KEPT_TAGS = {0x010F: "make", 0x0110: "model"}
KEPT_EXIF_IFD = (0x9003, 0x9291, 0x9011)  # DateTimeOriginal, SubSecTimeOriginal, OffsetTimeOriginal
# upstream's crops of one photo, kept as two sources: one capture in the truth
SAME_CAPTURE = {"F_face-recognition/examples/knn_examples/train/biden/biden.jpg": "F_face-recognition/examples/two_people.jpg",
                "F_face-recognition/tests/test_images/obama_partial_face.jpg":
                    "F_face-recognition/examples/knn_examples/train/obama/obama.jpg"}
BURSTS = 10  # sources that also get a three-frame burst
PHONE = (1080, 2340)


def _phash(img: Image.Image) -> int:
    import imagehash

    return int(str(imagehash.phash(img)), 16)


def sources() -> list[tuple[Path, str]]:
    """(path, scene) of every distinct real photo; scene is '' when it has no look-alikes."""
    found: list[tuple[int, Path, Image.Image]] = []
    for path in sorted(CORPORA.rglob("*")):
        if path.suffix.lower() not in {".jpg", ".jpeg", ".png", ".heic", ".heif", ".webp"}:
            continue
        if path.name in NOT_PHOTOS or set(path.parts) & SKIP_FOLDERS or path.stat().st_size > 20_000_000:
            continue
        try:
            with Image.open(path) as im:
                im.draft("RGB", (1024, 1024))
                img = ImageOps.exif_transpose(im).convert("RGB")
        except Exception:  # noqa: BLE001  (the corpora hold broken files on purpose)
            continue
        if min(img.size) < 256 or np.asarray(img.convert("L").resize((64, 64))).std() < 15:
            continue
        found.append((img.size[0] * img.size[1], path, img))
    kept: list[tuple[Path, int]] = []
    for _, path, img in sorted(found, key=lambda f: (-f[0], str(f[1]))):
        h = _phash(img)
        if all(bin(h ^ other).count("1") > 12 for _, other in kept):
            kept.append((path, h))
    out = []
    for path, _ in sorted(kept):
        rel = str(path.relative_to(CORPORA))
        scene = next((name for prefix, name in SCENES.items() if rel.startswith(prefix)), "")
        out.append((path, scene))
    return out


def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _chrome(draw: ImageDraw.ImageDraw, width: int, height: int, ink: tuple[int, int, int], rng: random.Random) -> None:
    """Status bar, a top toolbar and a bottom bar of a phone's photo viewer."""
    draw.text((40, 22), f"{rng.randint(7, 23)}:{rng.randint(0, 59):02d}", fill=ink, font=_font(40))
    for i in range(4):  # signal bars and the battery
        draw.rectangle((width - 260 + i * 22, 60 - i * 10, width - 246 + i * 22, 64), fill=ink)
    draw.rectangle((width - 150, 28, width - 60, 62), outline=ink, width=4)
    draw.rectangle((width - 146, 32, width - 60 - rng.randint(10, 80), 58), fill=ink)
    draw.text((40, 130), "<", fill=ink, font=_font(64))
    draw.text((130, 140), rng.choice(["Today", "Camera Roll", "Recents", "Yesterday 18:04"]), fill=ink, font=_font(44))
    for i in range(3):
        draw.ellipse((width - 90 - i * 110, 150, width - 50 - i * 110, 190), outline=ink, width=5)
    for i, label in enumerate(["Share", "Edit", "Like", "Delete"]):
        x = 90 + i * (width - 180) // 3
        draw.rectangle((x - 30, height - 200, x + 30, height - 140), outline=ink, width=5)
        draw.text((x - 45, height - 120), label, fill=ink, font=_font(32))


def screenshot(img: Image.Image, rng: random.Random, heavy: bool = False) -> Image.Image:
    """The photo as a phone's viewer shows it, captured as a screenshot (PNG-like, no EXIF).
    `heavy`: a social-media post: white page, text above and below, a caption bar over the photo."""
    width, height = PHONE
    dark = not heavy and rng.random() < 0.6
    page = Image.new("RGB", PHONE, (0, 0, 0) if dark else (255, 255, 255))
    ink = (235, 235, 235) if dark else (20, 20, 20)
    top, bottom = 240, height - 240
    if heavy:
        top, bottom = 420, height - 520
    scale = min(width / img.width, (bottom - top) / img.height)
    shown = img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.LANCZOS)
    x, y = (width - shown.width) // 2, top + (bottom - top - shown.height) // 2
    page.paste(shown, (x, y))
    draw = ImageDraw.Draw(page, "RGBA")
    _chrome(draw, width, height, ink, rng)
    if heavy:
        draw.ellipse((40, 260, 140, 360), fill=(120, 160, 220))
        draw.text((170, 270), "holiday_pics_2019", fill=ink, font=_font(40))
        draw.text((170, 320), "2 h", fill=(120, 120, 120), font=_font(32))
        bar = y + shown.height - shown.height // 7
        draw.rectangle((x, bar, x + shown.width, y + shown.height), fill=(0, 0, 0, 110))
        draw.text((x + 30, bar + 15), "1/12", fill=(255, 255, 255), font=_font(36))
        for i, line in enumerate(["Liked by friend and 231 others", "What a day! #travel #nofilter",
                                  "View all 18 comments"]):
            draw.text((40, y + shown.height + 40 + i * 60), line, fill=ink, font=_font(38))
    return page


def watermark(img: Image.Image) -> Image.Image:
    out = img.copy()
    draw = ImageDraw.Draw(out, "RGBA")
    size = max(12, img.height // 18)
    draw.text((img.width // 20, img.height - 2 * size), "(c) 2024 Jane Doe Photography", font=_font(size),
              fill=(255, 255, 255, 150))
    return out


def crop(img: Image.Image, share: float, centre: bool) -> Image.Image:
    w, h = img.size
    cw, ch = round(w * share), round(h * share)
    x, y = ((w - cw) // 2, (h - ch) // 2) if centre else (w - cw, 0)  # off-centre: to a corner
    return img.crop((x, y, x + cw, y + ch))


def turned(img: Image.Image, degrees: float) -> Image.Image:
    """Turned (straightened) and cropped to the largest rectangle without corners, as editors do."""
    w, h = img.size
    rot = img.rotate(degrees, Image.Resampling.BICUBIC)
    a = np.radians(abs(degrees))
    cw = int((w * np.cos(a) - h * np.sin(a)) / (np.cos(a) ** 2 - np.sin(a) ** 2))
    ch = int((h * np.cos(a) - w * np.sin(a)) / (np.cos(a) ** 2 - np.sin(a) ** 2))
    return rot.crop(((w - cw) // 2, (h - ch) // 2, (w + cw) // 2, (h + ch) // 2))


def border(img: Image.Image) -> Image.Image:
    pad = max(img.size) // 12
    return ImageOps.expand(img, border=(pad, pad, pad, pad * 3), fill=(255, 255, 255))


def encode(img: Image.Image, fmt: str, exif: bytes | None, quality: int = 90) -> bytes:
    out = io.BytesIO()
    kwargs: dict = {"exif": exif} if exif else {}
    if fmt == "JPEG":
        kwargs["quality"] = quality
    elif fmt in ("WEBP", "HEIF"):
        kwargs["quality"] = 80
    img.save(out, fmt, **kwargs)
    return out.getvalue()


def transforms(img: Image.Image, exif: bytes | None, rng: random.Random) -> dict[str, tuple[bytes, str]]:
    """The original and its 20 copies: {transform: (bytes, extension)}. "1600px" fits the photo in
    1600 px, or makes it 3/4 the size when it is smaller already."""
    w, h = img.size
    fit = 1600 / max(w, h) if max(w, h) > 1600 else 0.75  # an export for the web never enlarges
    rotated = Image.Exif()
    if exif:
        rotated.load(exif)
    rotated[0x0112] = 6
    return {
        "original": (encode(img, "JPEG", exif, 95), "jpg"),
        "quality35": (encode(img, "JPEG", None, 35), "jpg"),  # messaging apps drop EXIF
        "quality85": (encode(img, "JPEG", exif, 85), "jpg"),
        "half": (encode(img.resize((w // 2, h // 2), Image.Resampling.LANCZOS), "JPEG", exif), "jpg"),
        "1600px": (encode(img.resize((round(w * fit), round(h * fit)), Image.Resampling.LANCZOS), "JPEG", exif), "jpg"),
        "crop95": (encode(crop(img, 0.95, True), "JPEG", exif), "jpg"),
        "crop85": (encode(crop(img, 0.85, True), "JPEG", exif), "jpg"),
        "offcrop95": (encode(crop(img, 0.95, False), "JPEG", exif), "jpg"),
        "offcrop85": (encode(crop(img, 0.85, False), "JPEG", exif), "jpg"),
        "exif-rotated": (encode(img.transpose(Image.Transpose.ROTATE_90), "JPEG", rotated.tobytes()), "jpg"),
        "turned3": (encode(turned(img, 3.0), "JPEG", exif), "jpg"),
        "brighter": (encode(ImageEnhance.Brightness(img).enhance(1.3), "JPEG", exif), "jpg"),
        "contrast": (encode(ImageEnhance.Contrast(img).enhance(1.5), "JPEG", exif), "jpg"),
        "grey": (encode(img.convert("L"), "JPEG", exif), "jpg"),
        "webp": (encode(img, "WEBP", exif), "webp"),
        "png": (encode(img, "PNG", None), "png"),
        "heic": (encode(img, "HEIF", exif), "heic"),
        "watermark": (encode(watermark(img), "JPEG", exif), "jpg"),
        "border": (encode(border(img), "JPEG", None), "jpg"),
        "screenshot": (encode(screenshot(img, rng), "PNG", None), "png"),
        "screenshot-ui": (encode(screenshot(img, rng, heavy=True), "PNG", None), "png"),
    }


def burst(img: Image.Image, frames: int, rng: np.random.Generator) -> list[Image.Image]:
    """Consecutive frames: the camera drifts and turns a little over a larger view, a subject (an
    ellipse of the scene) moves against the background, the exposure breathes, fresh noise."""
    w, h = img.size
    fw, fh = int(w * 0.9), int(h * 0.9)
    cx, cy = w * rng.uniform(0.35, 0.65), h * rng.uniform(0.35, 0.65)
    rx, ry = w * rng.uniform(0.1, 0.16), h * rng.uniform(0.12, 0.2)
    mask = Image.new("L", img.size, 0)
    ImageDraw.Draw(mask).ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=255)
    step = np.array([rng.uniform(-1, 1), rng.uniform(-1, 1)]) * w * 0.025
    out = []
    for k in range(frames):
        scene = img.copy()
        moved = img.transform(img.size, Image.Transform.AFFINE, (1, 0, -step[0] * k, 0, 1, -step[1] * k))
        scene.paste(moved, (0, 0), mask.transform(img.size, Image.Transform.AFFINE,
                                                  (1, 0, -step[0] * k, 0, 1, -step[1] * k)))
        scene = scene.rotate(rng.uniform(-0.4, 0.4), Image.Resampling.BICUBIC)
        x0 = int((w - fw) / 2 + rng.uniform(-1, 1) * w * 0.02)
        y0 = int((h - fh) / 2 + rng.uniform(-1, 1) * h * 0.02)
        frame = np.asarray(scene.crop((x0, y0, x0 + fw, y0 + fh)), dtype=np.float32)
        frame = frame * rng.uniform(0.96, 1.04) + rng.normal(0, 3, frame.shape)
        out.append(Image.fromarray(np.clip(frame, 0, 255).astype(np.uint8)))
    return out


def _burst_exif(k: int, with_exif: bool) -> bytes | None:
    if not with_exif:
        return None
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Canon", "Canon EOS 80D"
    ifd = exif.get_ifd(0x8769)
    ifd[0x9003] = "2021:07:14 18:02:33"
    ifd[0x9291] = f"{12 + 16 * k:02d}"
    return exif.tobytes()


def _essential_exif(exif: Image.Exif) -> bytes | None:
    """Camera and capture time only (a source's maker notes can be too long to write back)."""
    kept = Image.Exif()
    for tag in KEPT_TAGS:
        if isinstance(exif.get(tag), str):
            kept[tag] = exif[tag]
    inner, ifd = exif.get_ifd(0x8769), kept.get_ifd(0x8769)
    for tag in KEPT_EXIF_IFD:
        if isinstance(inner.get(tag), str):
            ifd[tag] = inner[tag]
    return kept.tobytes() if len(kept) or ifd else None


def bird_truth(rows: list[dict[str, str]], source: str | None) -> None:
    """The burst file is a source too (its primary image, with its copies): its first frame is
    that capture, and the other frames are the next captures of that scene."""
    if source is None:
        return
    for row in rows:
        if row["source"] == "bird0":
            row["capture"] = source
        if row["capture"] == source:
            row["scene"] = "burst-bird"


def build(out: Path) -> list[dict[str, str]]:
    """Write the library into `out` (made if missing) and return the truth rows."""
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, str]] = []
    rng = random.Random(7)
    nrng = np.random.default_rng(7)

    srcs = sources()
    index = {str(path.relative_to(CORPORA)): f"s{s:03d}" for s, (path, _) in enumerate(srcs)}
    capture_of = {index[a]: index[b] for a, b in SAME_CAPTURE.items() if a in index and b in index}

    def write(name: str, data: bytes, source: str, transform: str, scene: str) -> None:
        (out / name).write_bytes(data)
        rows.append({"file": name, "source": source, "capture": capture_of.get(source, source), "transform": transform,
                     "scene": scene})

    every = max(1, len(srcs) // BURSTS)
    for s, (path, scene) in enumerate(srcs):
        with Image.open(path) as im:
            exif = im.getexif()
            img = ImageOps.exif_transpose(im).convert("RGB")
        if max(img.size) > 2400:  # keep the library quick to build
            img.thumbnail((2400, 2400), Image.Resampling.LANCZOS)
        name = f"s{s:03d}"
        if s % every == every // 2 and not scene and s // every < BURSTS:  # a burst's scene, never in the library itself
            for k, frame in enumerate(burst(img, 3, nrng)):
                write(f"{name}b{k}~burst.jpg", encode(frame, "JPEG", _burst_exif(k, (s // every) % 2 == 0)),
                      f"{name}b{k}", "burst", f"burst-{name}")
            continue
        for transform, (data, ext) in transforms(img, _essential_exif(exif), rng).items():
            write(f"{name}~{transform}.{ext}", data, name, transform, scene)
    bird = CORPORA / "A_pillow-heif/tests/images/heif_other/nokia/bird_burst.heic"
    if bird.is_file():
        for k, frame in enumerate(pillow_heif.open_heif(bird)):
            write(f"bird{k}~burst.jpg", encode(frame.to_pillow().convert("RGB"), "JPEG", None), f"bird{k}", "burst",
                  "burst-bird")
        bird_truth(rows, index.get(str(bird.relative_to(CORPORA))))
    with open(out / "truth.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["file", "source", "capture", "transform", "scene"])
        writer.writeheader()
        writer.writerows(rows)
    return rows


if __name__ == "__main__":
    if not CORPORA.is_dir():
        sys.exit("../shared/corpora is not present")
    rows = build(Path(sys.argv[1]))
    print(f"{len(rows)} files, {len({r['source'] for r in rows})} sources")
