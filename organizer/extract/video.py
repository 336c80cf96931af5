"""Videos through PyAV (FFmpeg): container metadata with a tiny probe, and one representative
frame decoded from a key frame, reduced by swscale. The file is read by FFmpeg in small pieces:
a 4 GB clip costs the same memory as a 4 MB one."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import av
import numpy as np
from PIL import Image

log = logging.getLogger(__name__)

_OPEN = {"probesize": "65536", "analyzeduration": "0"}
_ISO6709 = re.compile(r"^([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)?")
_BLANK_STD = 6.0  # grey-level spread under which a frame is taken as blank (a fade-in, a black start)
_TRIES = (0.1, 0.3, 0.5)  # fractions of the duration tried for a frame that is not blank


class VideoError(ValueError):
    """A file FFmpeg cannot open as a video."""


@dataclass(frozen=True)
class VideoInfo:
    format: str  # FFmpeg's demuxer name
    codec: str
    width: int  # as displayed (rotation applied)
    height: int
    rotation: int  # degrees clockwise the player turns the picture
    duration: float | None
    tags: dict[str, str]  # container and video-stream metadata, lower-case keys


def _tags(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> dict[str, str]:
    tags = {k.lower(): str(v) for k, v in stream.metadata.items()}
    tags.update({k.lower(): str(v) for k, v in container.metadata.items()})
    return tags


def probe(path: str, frame_side: int | None = None) -> tuple[VideoInfo, Image.Image | None]:
    """The video's facts and, with `frame_side`, one frame whose short side is at least
    `frame_side` pixels (or the video's), oriented for display. Raises VideoError."""
    try:
        container = av.open(path, options=_OPEN)
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise VideoError(f"cannot open as video: {exc}") from None
    with container:
        if not container.streams.video:
            raise VideoError("no video stream")
        stream = container.streams.video[0]
        ctx = stream.codec_context
        width, height = ctx.width or 0, ctx.height or 0
        duration = None
        if container.duration:
            duration = container.duration / av.time_base
        elif stream.duration and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        image, rotation = _frame(container, stream, duration, frame_side) if frame_side else (None, 0)
        if rotation in (90, 270):
            width, height = height, width
        info = VideoInfo(container.format.name, ctx.name, width, height, rotation, duration, _tags(container, stream))
    return info, image


def _frame(container: av.container.InputContainer, stream: av.video.stream.VideoStream,
           duration: float | None, side: int) -> tuple[Image.Image | None, int]:
    """The first key frame at 10 %, 30 %, 50 % of the clip that is not blank (else the last one
    decoded, else the file's first), reduced so its short side is about `side`."""
    stream.codec_context.skip_frame = "NONKEY"
    stream.thread_count = 1
    best: tuple[Image.Image | None, int] = (None, 0)
    for fraction in (*_TRIES, None) if duration else (0.0,):
        if fraction is None and best[0] is not None:
            break
        try:
            if fraction is None:
                # MPEG-TS has no index: a seek lands on the next key frame after the target, none
                # when a long GOP's only one is before it; the start of the file has one
                container.seek(0)
            elif duration:
                container.seek(int(duration * fraction / stream.time_base) + (stream.start_time or 0),
                               stream=stream, backward=True, any_frame=False)
            frame = next(container.decode(stream), None)
        except (av.FFmpegError, StopIteration, ValueError) as exc:
            log.debug("no frame at %s: %s", fraction, exc)
            continue
        if frame is None:
            continue
        best = _image(frame, side), _rotation(frame)
        if not _blank(best[0]):
            break
    return best


def _image(frame: av.VideoFrame, side: int) -> Image.Image:
    scale = max(1.0, min(frame.width, frame.height) / side)
    w, h = max(1, round(frame.width / scale)), max(1, round(frame.height / scale))
    image = frame.reformat(width=w, height=h, format="rgb24").to_image()
    turn = {90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_90}
    rotation = _rotation(frame)
    return image.transpose(turn[rotation]) if rotation in turn else image


def _rotation(frame: av.VideoFrame) -> int:
    """Degrees clockwise, from the display matrix (FFmpeg gives it counter-clockwise)."""
    try:
        value = int(round(frame.rotation or 0))
    except (TypeError, ValueError):
        return 0
    return (-value) % 360 if value % 90 == 0 else 0


def _blank(image: Image.Image | None) -> bool:
    if image is None:
        return True
    grey = np.asarray(image.convert("L"), dtype=np.float32)
    return float(grey.std()) < _BLANK_STD


def location(text: str | None) -> tuple[float, float, float | None] | None:
    """ISO 6709 ('+48.8583+002.2945+035.000/') -> (lat, lon, alt); None when absent or invalid."""
    m = _ISO6709.match(text.strip()) if text else None
    if not m:
        return None
    lat, lon = float(m[1]), float(m[2])
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        return None
    return lat, lon, float(m[3]) if m[3] else None


def recorded_date(path: str) -> str | None:
    """AVCHD (MTS/M2TS) keeps its recording date in the H.264 stream's MDPM data, which FFmpeg
    does not expose; MediaInfo reads it."""
    try:
        from pymediainfo import MediaInfo

        info = MediaInfo.parse(path, parse_speed=0.1)
    except Exception as exc:  # the library raises its own and OS errors
        log.debug("mediainfo failed on %s: %s", path, exc)
        return None
    for track in info.tracks:
        if track.track_type == "General":
            return track.recorded_date or track.encoded_date
    return None
