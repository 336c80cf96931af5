"""Pure extraction: a media file (photo, video or RAW) and its sidecars -> the facts the catalog
stores. `extract_file` is the entry point; `open_file` sniffs and reads a file once so that the
caller can look its digest up before extracting."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, tzinfo

from PIL import Image

from organizer.extract import dates, decode, describe, evidence, features, hashes, raw, source, video
from organizer.extract.source import NotMedia, Source, TooLarge, open_file
from organizer.extract.vectors import Model
from organizer.extract.xmp import Face

# What produced each stored feature; a change to one recomputes only that one (the catalog keeps
# the version it stored per feature). "metadata": dates, GPS, camera, keywords...; "pixels": size,
# orientation, thumbnail, pHash/dHash (and the vector's input).
VERSIONS = {"metadata": 3, "pixels": 2, "video": 2, "raw": 1}
EXTRACTOR_VERSION = max(VERSIONS.values())

__all__ = ["VERSIONS", "EXTRACTOR_VERSION", "Facts", "Face", "NotAPhoto", "NotMedia", "Options", "Source",
           "TooLarge", "extract", "extract_file", "extract_source", "open_file", "refresh", "warm_up"]


class NotAPhoto(NotMedia):
    """The content is not an image organizer can read (kept for callers of the bytes API)."""


@dataclass(frozen=True)
class Options:
    """Plain values from the configuration."""

    thumb_size: int = 320
    max_image_bytes: int = 1024 << 20  # scan.max_file_mb: images are read whole below it, refused above
    max_megapixels: float = 250.0  # scan.max_megapixels
    local_zone: tzinfo | None = None  # the zone of mtimes and UTC-only dates; None: the machine's
    features: Mapping[str, features.Params] = field(default_factory=dict)  # registered features to compute
    pixels: bool = True  # False: metadata only (a sidecar changed, or the metadata readers did)


@dataclass(frozen=True)
class Facts:
    digest: str
    format: str
    width: int
    height: int
    orientation: int
    make: str | None
    model: str | None
    taken: dates.Taken
    lat: float | None
    lon: float | None
    alt: float | None
    phash: str | None  # None with decode_error
    dhash: str | None
    thumbnail: bytes | None
    vector: bytes | None = None  # float16, L2-normalised
    vector_model: str | None = None
    warnings: list[str] = field(default_factory=list)
    kind: str = "photo"  # photo | video | raw
    duration: float | None = None  # seconds, videos
    decode_error: str | None = None  # the pixels failed: metadata only, no thumbnail or hashes
    keywords: tuple[str, ...] = ()
    keyword_paths: tuple[str, ...] = ()  # hierarchical keywords, 'Places/Italy/Arezzo'
    rating: int | None = None  # -1 rejected, 0..5
    title: str | None = None
    description: str | None = None
    faces: tuple[Face, ...] = ()  # named MWG regions (centre x, y and w, h as fractions)
    content_id: str | None = None  # Apple's Live Photo key (photo maker note, MOV metadata)
    motion_video: int | None = None  # bytes of a Motion Photo's embedded MP4 at the file's end
    sources: dict[str, str] = field(default_factory=dict)  # field -> source (taken, offset, gps, camera, ...)
    sidecars: tuple[str, ...] = ()  # the sidecar files read
    refused: tuple[tuple[str, str], ...] = ()  # (sidecar path, why): sidecars that could not be read
    versions: dict[str, int] = field(default_factory=lambda: dict(VERSIONS))
    features: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # name -> (version, value)


@dataclass
class _Pixels:
    image: Image.Image | None
    width: int = 0
    height: int = 0
    orientation: int = 1
    duration: float | None = None
    error: str | None = None


def _describe_error(exc: Exception) -> str:
    from PIL import UnidentifiedImageError

    if isinstance(exc, UnidentifiedImageError):
        return "cannot decode: corrupt, truncated or unsupported image data"
    return f"{type(exc).__name__}: {exc}".strip()


def _photo(src: Source, options: Options) -> _Pixels:
    try:
        if src.data is not None:
            decoded = decode.decode(src.data, src.format, options.thumb_size, options.max_megapixels)
        else:
            with open(src.path or "", "rb") as fh:
                decoded = decode.decode(fh, src.format, options.thumb_size, options.max_megapixels)
    except Exception as exc:  # any decoder failure is this file's pixels' error
        return _Pixels(None, error=_describe_error(exc))
    return _Pixels(decoded.image, decoded.width, decoded.height, decoded.orientation)


def _raw(src: Source, options: Options) -> _Pixels:
    try:
        width, height, orientation, image, problem = raw.read(src.path or "", options.thumb_size)
    except raw.RawError as exc:
        return _Pixels(None, error=str(exc))
    return _Pixels(image, width, height, orientation, error=problem)


def _gather(src: Source, sidecars: tuple[str, ...], warnings: list[str], refused: list[tuple[str, str]],
            frame_side: int | None) -> tuple[evidence.Evidence, _Pixels | None, str]:
    """Metadata of any kind of file, plus a video's pixels (one FFmpeg open gives both)."""
    fmt = src.format
    if src.kind == "video":
        try:
            info, image = video.probe(src.path or "", frame_side)
        except video.VideoError as exc:
            ev, pixels = evidence.Evidence(), _Pixels(None, error=str(exc))
        else:
            ev = evidence.Evidence(quicktime=dict(info.tags))
            if fmt in ("mpegts", "m2ts") and not any(k in info.tags for k in ("creation_time", "date")):
                recorded = video.recorded_date(src.path or "")
                if recorded:
                    ev.quicktime["recorded_date"] = recorded
            ev.content_id = info.tags.get("com.apple.quicktime.content.identifier")
            pixels = _Pixels(image, info.width, info.height, 1, info.duration,
                             None if image is not None or frame_side is None else "no video frame could be decoded")
            fmt = info.format.split(",")[0] if fmt in ("mp4", "mov") and info.format else fmt
        evidence.read_sidecars(sidecars, ev, refused)
        return ev, pixels, fmt
    meta_format = "raw-tiff" if src.kind == "raw" and fmt not in ("cr3", "raf", "mrw", "x3f") else fmt
    with src.buffer() as buf:
        if src.format == "raf":  # Fujifilm: the metadata is in the embedded JPEG
            meta_format, buf = _raf_jpeg(buf)
        ev = evidence.from_buffer(buf, meta_format, warnings)
    evidence.read_sidecars(sidecars, ev, refused)
    return ev, None, fmt


def _raf_jpeg(buf: object) -> tuple[str, bytes]:
    import struct

    data = bytes(buf[84:92])  # type: ignore[index]
    offset, length = struct.unpack(">II", data) if len(data) == 8 else (0, 0)
    return "jpeg", bytes(buf[offset : offset + length])  # type: ignore[index]


def extract_source(src: Source, mtime: float, now: datetime, options: Options = Options(),
                   sidecars: tuple[str, ...] = (), model: Model | None = None) -> Facts:
    """Everything organizer knows of one opened file, from one decode of its pixels (none with
    `options.pixels` False: metadata only). Metadata is read even when the pixels cannot be
    decoded: the facts then carry `decode_error` and no thumbnail, hashes or vector."""
    warnings: list[str] = []
    refused: list[tuple[str, str]] = []
    ev, pixels, fmt = _gather(src, sidecars, warnings, refused, options.thumb_size if options.pixels else None)
    if not options.pixels:
        pixels = _Pixels(None)
    elif pixels is None:
        pixels = _raw(src, options) if src.kind == "raw" else _photo(src, options)
    described = describe.resolve(ev)
    taken = dates.resolve(ev, described.position, src.name, mtime, now, options.local_zone)
    sources = {"taken": taken.source, **described.sources}
    if taken.offset_source:
        sources["offset"] = taken.offset_source
    thumb = phash = dhash = vector = None
    computed: dict[str, tuple[str, bytes]] = {}
    if pixels.image is not None:
        small = hashes.thumbnail(pixels.image, options.thumb_size)
        phash, dhash = hashes.perceptual(small)
        thumb = hashes.encode_jpeg(small)
        vector = model.embed([pixels.image])[0].tobytes() if model else None
        computed = features.compute(pixels.image, options.features)
    position = described.position
    return Facts(
        digest=src.digest(), format=fmt, width=pixels.width, height=pixels.height, orientation=pixels.orientation,
        make=described.make, model=described.model, taken=taken,
        lat=position[0] if position else None, lon=position[1] if position else None,
        alt=described.alt if position else None, phash=phash, dhash=dhash, thumbnail=thumb,
        vector=vector, vector_model=model.id if model and vector else None, warnings=warnings,
        kind=src.kind, duration=pixels.duration, decode_error=pixels.error, keywords=described.keywords,
        keyword_paths=described.keyword_paths, rating=described.rating, title=described.title,
        description=described.description, faces=described.faces, content_id=ev.content_id,
        motion_video=ev.motion_video, sources=sources, sidecars=tuple(sidecars), refused=tuple(refused),
        features=computed,
    )


def extract_file(path: str, mtime: float, now: datetime, options: Options = Options(),
                 sidecars: tuple[str, ...] = (), model: Model | None = None) -> Facts:
    """The facts of the file at `path`. Raises NotMedia, TooLarge or OSError; decoder failures are
    in the facts' decode_error."""
    return extract_source(open_file(path, options.max_image_bytes), mtime, now, options, sidecars, model)


def extract(data: bytes, name: str, mtime: float, now: datetime, thumb_size: int = 320,
            local_zone: tzinfo | None = None, digest: str | None = None, model: Model | None = None) -> Facts:
    """The facts of an image held in memory (tests, benchmarks). Raises NotAPhoto for content
    that is not a supported image and the decoder's own error for broken pixels."""
    try:
        src = source.from_bytes(data, name)
    except NotMedia as exc:
        raise NotAPhoto(str(exc)) from None
    if src.kind != "photo":
        raise NotAPhoto(f"not a supported image ({src.kind} content)")
    src._digest = digest
    facts = extract_source(src, mtime, now, Options(thumb_size=thumb_size, local_zone=local_zone), model=model)
    if facts.decode_error:
        raise ValueError(facts.decode_error)
    return facts


def refresh(src: Source, options: Options, model: Model | None
            ) -> tuple[bytes | None, dict[str, tuple[str, bytes]], Image.Image]:
    """The CNN vector (with a `model`) and the features in `options.features` alone, for an item
    catalogued before they were asked for: (vector, {name: (version, value)}, the decoded image)."""
    options = replace(options, thumb_size=max(options.thumb_size, features.min_side(options.features)))
    if src.kind == "video":
        _, image = video.probe(src.path or "", options.thumb_size)
        pixels = _Pixels(image, error=None if image is not None else "no video frame could be decoded")
    else:
        pixels = _raw(src, options) if src.kind == "raw" else _photo(src, options)
    if pixels.image is None:
        raise ValueError(pixels.error or "no pixels")
    vector = model.embed([pixels.image])[0].tobytes() if model else None
    return vector, features.compute(pixels.image, options.features), pixels.image


@functools.cache
def warm_up() -> None:
    """Load every lazy part (image plugins, EXIF and XMP readers, timezone data) on a tiny photo,
    so that a worker's first real file is not charged for it."""
    import io

    exif = Image.Exif()
    exif.get_ifd(0x8825).update({1: "N", 2: (43.0, 28.0, 0.0), 3: "E", 4: (11.0, 53.0, 0.0)})
    exif.get_ifd(0x8769)[0x9003] = "2008:10:22 16:28:39"
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 120, 200)).save(buf, "JPEG", exif=exif)
    extract(buf.getvalue(), "warm-up.jpg", 0.0, datetime.now())
    from organizer.extract import xmp

    xmp.parse(b'<x:xmpmeta xmlns:x="adobe:ns:meta/"/>')
