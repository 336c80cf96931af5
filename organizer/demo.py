"""`organizer demo DIR`: a small sample library, made up on the spot, so that a newcomer can run
the whole flow with no photos of their own: generated scenes (sky, hills, houses, trees, a sun)
with EXIF dates and GPS for a few trips, bursts (a few frames seconds apart, the camera moving a
little), duplicates (a smaller re-encoded copy) and a few undated photos. The same scenes make the
labelled sets of bench/bench_explore.py."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from organizer.errors import OrganizerError

WORLD = (960, 720)  # a scene is drawn this big, and a photo is a view into it
VIEW = (640, 480)


@dataclass(frozen=True)
class View:
    """Where the camera points in a scene: a shift (pixels of the world), a zoom, the light."""

    dx: float = 0.0
    dy: float = 0.0
    zoom: float = 1.0
    light: float = 1.0
    subject: int | None = None  # draw this subject (an object seen in several scenes)
    subject_at: tuple[float, float] = (0.5, 0.6)


def _colour(rng: np.random.Generator, lo: int = 30, hi: int = 230) -> tuple[int, int, int]:
    return tuple(int(c) for c in rng.integers(lo, hi, 3))  # type: ignore[return-value]


def _draw_subject(draw: ImageDraw.ImageDraw, subject: int, cx: float, cy: float, scale: float) -> None:
    """A recognisable object: a striped kite of the subject's own colours and shape."""
    rng = np.random.default_rng(10_000 + subject)
    r = 70 * scale
    spikes = int(rng.integers(3, 7))
    angles = np.linspace(0, 2 * np.pi, spikes * 2, endpoint=False) + rng.uniform(0, np.pi)
    radii = np.where(np.arange(spikes * 2) % 2 == 0, r, r * rng.uniform(0.35, 0.6))
    points = [(cx + float(a) * np.cos(t), cy + float(a) * np.sin(t)) for a, t in zip(radii, angles)]
    draw.polygon(points, fill=_colour(rng), outline=(0, 0, 0))
    for k in range(3):
        draw.ellipse([cx - r * (0.3 - 0.08 * k), cy - r * (0.3 - 0.08 * k), cx + r * (0.3 - 0.08 * k),
                      cy + r * (0.3 - 0.08 * k)], fill=_colour(rng))


def world(scene: int) -> Image.Image:
    """The whole of scene `scene`, deterministic."""
    rng = np.random.default_rng(scene)
    w, h = WORLD
    horizon = int(h * rng.uniform(0.35, 0.6))
    top, bottom = np.array(_colour(rng, 60, 250)), np.array(_colour(rng, 120, 255))
    ramp = np.linspace(0, 1, horizon)[:, None, None]
    sky = (top * (1 - ramp) + bottom * ramp).astype(np.uint8)
    pixels = np.zeros((h, w, 3), dtype=np.uint8)
    pixels[:horizon] = np.broadcast_to(sky, (horizon, w, 3))
    pixels[horizon:] = _colour(rng, 20, 160)
    img = Image.fromarray(pixels)
    draw = ImageDraw.Draw(img)
    sun = rng.uniform([0.1 * w, 0.05 * h], [0.9 * w, 0.3 * h])
    draw.ellipse([sun[0] - 40, sun[1] - 40, sun[0] + 40, sun[1] + 40], fill=_colour(rng, 200, 255))
    for _ in range(int(rng.integers(2, 5))):  # hills
        x0 = rng.uniform(-0.2, 0.8) * w
        draw.polygon([(x0, horizon + 5), (x0 + rng.uniform(0.2, 0.5) * w, horizon - rng.uniform(0.1, 0.3) * h),
                      (x0 + rng.uniform(0.4, 0.9) * w, horizon + 5)], fill=_colour(rng, 30, 150))
    for _ in range(int(rng.integers(3, 9))):  # houses and trees on the ground
        x, y = rng.uniform(0, w), rng.uniform(horizon + 10, h - 40)
        size = rng.uniform(30, 110) * (0.5 + (y - horizon) / (h - horizon))
        if rng.random() < 0.6:
            draw.rectangle([x, y - size, x + size, y], fill=_colour(rng), outline=(20, 20, 20))
            draw.polygon([(x - size * 0.1, y - size), (x + size / 2, y - size * 1.6), (x + size * 1.1, y - size)],
                         fill=_colour(rng, 80, 200))
            draw.rectangle([x + size * 0.35, y - size * 0.5, x + size * 0.6, y], fill=_colour(rng, 10, 90))
        else:
            draw.rectangle([x + size * 0.4, y - size, x + size * 0.55, y], fill=(90, 60, 30))
            draw.ellipse([x, y - size * 1.8, x + size, y - size * 0.8], fill=_colour(rng, 20, 140))
    noise = rng.normal(0, 6, (h, w, 1))  # grain, so that there are corners to find
    return Image.fromarray(np.clip(np.asarray(img, dtype=np.float32) + noise, 0, 255).astype(np.uint8))


def render(scene: int, view: View = View(), size: tuple[int, int] = VIEW) -> Image.Image:
    """A photo of `scene` as `view` sees it."""
    img = world(scene)
    if view.subject is not None:
        draw = ImageDraw.Draw(img)
        _draw_subject(draw, view.subject, view.subject_at[0] * WORLD[0], view.subject_at[1] * WORLD[1],
                      1.0 + 0.3 * np.random.default_rng(scene).random())
    cw, ch = VIEW[0] / view.zoom, VIEW[1] / view.zoom
    cx, cy = WORLD[0] / 2 + view.dx, WORLD[1] / 2 + view.dy
    left = min(max(cx - cw / 2, 0), WORLD[0] - cw)
    top = min(max(cy - ch / 2, 0), WORLD[1] - ch)
    photo = img.crop((round(left), round(top), round(left + cw), round(top + ch))).resize(size, Image.Resampling.BILINEAR)
    if view.light != 1.0:
        photo = Image.fromarray(np.clip(np.asarray(photo, dtype=np.float32) * view.light, 0, 255).astype(np.uint8))
    return photo.filter(ImageFilter.SMOOTH) if view.zoom > 1.3 else photo


def jpeg(image: Image.Image, taken: datetime | None = None, gps: tuple[float, float] | None = None,
         quality: int = 88) -> bytes:
    """JPEG bytes with DateTimeOriginal and GPS, written by Pillow."""
    exif = Image.Exif()
    if taken is not None:
        exif.get_ifd(0x8769)[0x9003] = taken.strftime("%Y:%m:%d %H:%M:%S")
    if gps is not None:
        lat, lon = gps

        def dms(value: float) -> tuple[float, float, float]:
            value = abs(value)
            d, m = int(value), int(abs(value) * 60) % 60
            return (float(d), float(m), round((value - d - m / 60) * 3600, 2))

        exif.get_ifd(0x8825).update({1: "N" if lat >= 0 else "S", 2: dms(lat), 3: "E" if lon >= 0 else "W",
                                     4: dms(lon)})
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, exif=exif)
    return out.getvalue()


@dataclass(frozen=True)
class Trip:
    name: str
    start: datetime
    lat: float
    lon: float


TRIPS = (Trip("Arezzo", datetime(2008, 10, 22, 10, 0), 43.4674, 11.8851),
         Trip("Lisbon", datetime(2019, 6, 12, 9, 30), 38.7223, -9.1393),
         Trip("Berlin", datetime(2021, 12, 27, 11, 0), 52.5200, 13.4050))
SCENES_PER_TRIP = 4


@dataclass
class DemoReport:
    folder: str
    photos: int = 0
    trips: int = 0
    bursts: int = 0
    duplicates: int = 0
    undated: int = 0
    files: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items() if k != "files"}


def _write(folder: Path, rel: str, data: bytes, report: DemoReport) -> None:
    path = folder / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    report.files.append(rel)
    report.photos += 1


def make(folder: str | os.PathLike) -> DemoReport:
    """Write the sample library into `folder`, which must be new or empty."""
    root = Path(folder)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise OrganizerError(f"{root}: not an empty folder; the demo library goes into a new or empty one")
    root.mkdir(parents=True, exist_ok=True)
    report = DemoReport(str(root), trips=len(TRIPS))
    rng = np.random.default_rng(2024)
    for t, trip in enumerate(TRIPS):
        when = trip.start
        for s in range(SCENES_PER_TRIP):
            scene = 100 * (t + 1) + s
            frames = 4 if s % 2 == 0 else 1  # every other scene is a burst
            report.bursts += frames > 1
            for f in range(frames):
                view = View(dx=f * 12.0, dy=f * 4.0, light=1.0 - 0.03 * f)
                spot = (trip.lat + rng.normal(0, 0.002), trip.lon + rng.normal(0, 0.002))
                shot = when + timedelta(seconds=2 * f)
                _write(root, f"{shot:%Y}/{trip.name}/IMG_{t}{s}{f}.jpg", jpeg(render(scene, view), shot, spot), report)
            if s == 1:  # a copy sent to a phone: smaller, re-encoded, no metadata
                small = render(scene).resize((320, 240), Image.Resampling.LANCZOS)
                _write(root, f"Exports/{trip.name} {s}.jpg", jpeg(small, quality=60), report)
                report.duplicates += 1
            when += timedelta(minutes=int(rng.integers(20, 90)))
    for u in range(3):  # scans: no date, no place
        _write(root, f"Scans/scan{u:04d}.jpg", jpeg(render(900 + u), None, None), report)
        report.undated += 1
    return report
