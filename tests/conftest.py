"""Shared fixtures: an isolated environment, generated photos, the CLI, and the real corpora."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import piexif
import pytest
from click.testing import CliRunner, Result
from PIL import Image

from organizer.cli import cli

ROOT = Path(__file__).resolve().parent.parent
CORPORA = ROOT.parent / "shared" / "corpora"


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No user config, catalog or cache leaks in or out of a test."""
    for var in list(os.environ):
        if var.startswith("ORGANIZER_"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    yield


@pytest.fixture(scope="session")
def corpora_indexed(tmp_path_factory: pytest.TempPathFactory):
    """The corpora scanned once into a catalog: (scan report, config)."""
    if not CORPORA.is_dir():
        pytest.skip("../shared/corpora is not present")
    from organizer import config, index
    from organizer.catalog import Catalog

    tmp = tmp_path_factory.mktemp("corpora")
    cfg = config.load(env={}, overrides={
        "catalog.path": (str(tmp / "catalog.db"), "test"),
        "catalog.cache_dir": (str(tmp / "cache"), "test"),
    })
    with Catalog(cfg.catalog.path) as catalog:
        report = index.index(catalog, cfg, [str(CORPORA)])
    return report, cfg


@pytest.fixture
def corpora() -> Path:
    if not CORPORA.is_dir():
        pytest.skip("../shared/corpora is not present")
    return CORPORA


def _rational(value: float, den: int = 10000) -> tuple[int, int]:
    f = Fraction(value).limit_denominator(den)
    return (f.numerator, f.denominator)


def gps_ifd(lat: float, lon: float, lat_ref: str | None = None, lon_ref: str | None = None) -> dict:
    """A GPS IFD for piexif; refs default from the signs."""

    def dms(value: float) -> tuple[tuple[int, int], ...]:
        value = abs(value)
        d = int(value)
        m = int((value - d) * 60)
        s = (value - d - m / 60) * 3600
        return ((d, 1), (m, 1), _rational(s, 1000))

    return {
        piexif.GPSIFD.GPSLatitudeRef: (lat_ref or ("N" if lat >= 0 else "S")).encode(),
        piexif.GPSIFD.GPSLatitude: dms(lat),
        piexif.GPSIFD.GPSLongitudeRef: (lon_ref or ("E" if lon >= 0 else "W")).encode(),
        piexif.GPSIFD.GPSLongitude: dms(lon),
    }


def make_jpeg(
    path: Path,
    *,
    size: tuple[int, int] = (64, 48),
    color: tuple[int, int, int] | None = None,
    seed: int = 0,
    original: str | None = None,
    digitized: str | None = None,
    datetime: str | None = None,
    subsec: str | None = None,
    offset: str | None = None,
    offset_plain: str | None = None,
    gps: dict | None = None,
    orientation: int | None = None,
    make: str | None = None,
    model: str | None = None,
    quality: int = 90,
    mtime: float | None = None,
) -> Path:
    """A real JPEG with the EXIF asked for; `seed` varies the picture."""
    path.parent.mkdir(parents=True, exist_ok=True)
    img = picture(size, seed) if color is None else Image.new("RGB", size, color)
    zeroth: dict = {}
    exif: dict = {}
    if datetime:
        zeroth[piexif.ImageIFD.DateTime] = datetime.encode()
    if orientation:
        zeroth[piexif.ImageIFD.Orientation] = orientation
    if make:
        zeroth[piexif.ImageIFD.Make] = make.encode()
    if model:
        zeroth[piexif.ImageIFD.Model] = model.encode()
    if original:
        exif[piexif.ExifIFD.DateTimeOriginal] = original.encode()
    if digitized:
        exif[piexif.ExifIFD.DateTimeDigitized] = digitized.encode()
    if subsec:
        exif[piexif.ExifIFD.SubSecTimeOriginal] = subsec.encode()
    if offset:
        exif[piexif.ExifIFD.OffsetTimeOriginal] = offset.encode()
    if offset_plain:
        exif[piexif.ExifIFD.OffsetTime] = offset_plain.encode()
    data = piexif.dump({"0th": zeroth, "Exif": exif, "GPS": gps or {}, "1st": {}, "thumbnail": None})
    img.save(path, "JPEG", quality=quality, exif=data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def make_video(path: Path, *, fmt: str | None = None, codec: str = "mpeg4", size=(96, 64), frames: int = 30,
               black: int = 5, metadata: dict | None = None, rotation: int | None = None,
               bit_rate: int | None = None, pixels: Any = None) -> Path:
    """A real clip (PyAV), `frames` at 10 a second: `black` black frames first, then a picture (so
    the thumbnail must skip them): `pixels` (an RGB uint8 array of `size`) or coloured blocks;
    `bit_rate` in bits per second, else the encoder's default."""
    import av
    import numpy as np

    options = {"movflags": "use_metadata_tags"} if path.suffix.lower() in (".mov", ".mp4", ".m4v") else {}
    out = av.open(str(path), "w", format=fmt, options=options)
    for k, v in (metadata or {}).items():
        out.metadata[k] = v
    stream = out.add_stream(codec, rate=10)
    stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
    stream.options = {"g": "5"}  # a key frame every half second
    if bit_rate is not None:
        stream.bit_rate = bit_rate
    # no encoder threads: they would outlive the clip in this process, and a worker forked from
    # it later would inherit their locks held
    stream.codec_context.thread_count = 1
    if rotation is not None:
        stream.set_display_rotation(rotation)
    if pixels is None:
        blocks = np.random.default_rng(1).integers(0, 256, (4, 6, 3), dtype=np.uint8)
        pixels = np.kron(blocks, np.ones((size[1] // 4, size[0] // 6, 1), dtype=np.uint8))
    for i in range(frames):
        frame = np.zeros_like(pixels) if i < black else pixels
        for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)
    out.close()
    return path


def add_photo(catalog: Any, i: int, root: str, path: str, **values: Any) -> int:
    """Catalog rows for a photo with no file behind it (libraries at scale, for tests and
    benchmarks): content digest from `i`, one present file at `path` under `root`."""
    from organizer.catalog import PhotoRecord

    seen = "2026-01-01T00:00:00+00:00"
    pid = catalog.photos.upsert(PhotoRecord(digest=f"{i:032x}", extractor=1, indexed_at=seen, **values))
    catalog.files.upsert(path, root, (1000, 0, i, 1), "ok", pid, seen)
    return pid


def picture(size: tuple[int, int], seed: int) -> Image.Image:
    """A deterministic picture with structure (so perceptual hashes differ between seeds)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    w, h = size
    small = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
    return Image.fromarray(small).resize((w, h), Image.Resampling.BICUBIC)


def jpeg_bytes(size: tuple[int, int] = (32, 32), seed: int = 0) -> bytes:
    out = io.BytesIO()
    picture(size, seed).save(out, "JPEG")
    return out.getvalue()


class Cli:
    """Runs the CLI in-process (CliRunner) against one catalog."""

    def __init__(self, catalog: Path) -> None:
        self.catalog = catalog
        self.runner = CliRunner()

    def __call__(self, *args: str, code: int = 0, env: dict[str, str] | None = None) -> Result:
        result = self.runner.invoke(cli, ["--catalog", str(self.catalog), *args], env=env, catch_exceptions=False)
        assert result.exit_code == code, (result.exit_code, result.output)
        return result

    def json(self, *args: str, **kw: Any) -> Any:
        return json.loads(self(*args, "--json", **kw).stdout)


@pytest.fixture
def run(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "catalog.db")


def processes_of(tmp: Path) -> list[int]:
    """Processes other than this one whose environment names `tmp` (daemons and their workers)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if int(pid) != os.getpid() and str(tmp).encode() in environ:
            found.append(int(pid))
    return found


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"{what} not within {timeout} s")


def organizer_subprocess(*args: str, **kw: Any) -> subprocess.Popen:
    """The real `organizer` as a child process."""
    return subprocess.Popen([sys.executable, "-m", "organizer", *args], **kw)


Maker = Callable[..., Path]


class Daemon:
    """`organizer run` as a real subprocess, talking sd_notify to a real socket; `prefix` runs it
    through a launcher (tests/sandbox_exec.py)."""

    def __init__(self, tmp: Path, root: Path, env: dict[str, str] | None = None,
                 prefix: tuple[str, ...] = ()) -> None:
        self.tmp, self.root, self.out, self.catalog = tmp, root, tmp / "Albums", tmp / "catalog.db"
        self.sock_path = str(tmp / "notify.sock")
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": str(tmp / "cache"),
                    "ORGANIZER_VECTORS_ENABLED": "false", "ORGANIZER_WATCH_SETTLE_S": "0.5",
                    "NOTIFY_SOCKET": self.sock_path, **(env or {})}
        self.proc: subprocess.Popen | None = None
        self.messages: list[str] = []
        self.prefix = prefix

    def start(self, wait_ready: bool = True) -> None:
        if os.path.exists(self.sock_path):
            os.unlink(self.sock_path)
        self.messages = []  # this run's messages only
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.sock_path)
        self.sock.settimeout(0.2)
        self.log = open(self.tmp / "daemon.log", "a")
        self.proc = subprocess.Popen(
            [*self.prefix, sys.executable, "-m", "organizer", "-v", "--catalog", str(self.catalog), "run", str(self.root),
             "--output", str(self.out)], env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        if wait_ready:
            self.wait_message("READY=1", 120)

    def read(self) -> None:
        try:
            while True:
                self.messages.extend(self.sock.recv(4096).decode().split("\n"))
        except (TimeoutError, socket.timeout, BlockingIOError):
            pass

    def wait_message(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.read()
            if any(m.startswith(text) for m in self.messages):
                return
            assert self.proc is not None and self.proc.poll() is None, self.logtext()
        raise AssertionError(f"no {text} within {timeout} s:\n{self.logtext()}")

    def logtext(self) -> str:
        return (self.tmp / "daemon.log").read_text()[-3000:]

    def stop(self) -> float:
        assert self.proc is not None
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(30)
        took = time.monotonic() - started
        self.read()
        self.sock.close()
        self.log.close()
        assert code == 0, self.logtext()
        return took

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)
        self.sock.close()
        self.log.close()


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Callable[..., Daemon]]:
    made: list[Daemon] = []

    def make(root: Path, env: dict[str, str] | None = None, start: bool = True,
             prefix: tuple[str, ...] = ()) -> Daemon:
        d = Daemon(tmp_path, root, env, prefix)
        if start:
            d.start()
        made.append(d)
        return d

    yield make
    for d in made:
        if d.proc is not None and d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait()
