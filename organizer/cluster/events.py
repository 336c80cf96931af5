"""Events: photos in local-time order, split where the gap to the previous photo is too long."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

EPOCH = datetime(1970, 1, 1)

from organizer.extract.dates import CAPTURE_SOURCES

# Date sources that say when the photo was taken; an mtime is only when the file was copied, and
# IFD0 DateTime (exif-modified) when it was last written (an export).
TAKEN_SOURCES = CAPTURE_SOURCES


@dataclass(frozen=True)
class Event:
    members: tuple[int, ...]  # photo ids in time order
    start: datetime
    end: datetime
    lat: float | None  # median position of the members that have one
    lon: float | None

    @property
    def days(self) -> int:
        return (self.end.date() - self.start.date()).days + 1


def eligible(source: str | None, use_mtime: bool) -> bool:
    return source in TAKEN_SOURCES or (use_mtime and source == "mtime")


def to_seconds(local: datetime) -> int:
    return int((local - EPOCH) // timedelta(seconds=1))


def find_events(
    ids: np.ndarray,
    seconds: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    gap_s: float,
    min_photos: int,
) -> list[Event]:
    """Split the time line at gaps longer than `gap_s`; keep runs of at least `min_photos`.

    `seconds` are local wall-clock times (see `to_seconds`); `lat`/`lon` are NaN where unknown.
    """
    if len(ids) == 0:
        return []
    order = np.lexsort((ids, seconds))
    secs = seconds[order]
    breaks = np.flatnonzero(np.diff(secs) > gap_s) + 1
    events = []
    for run in np.split(order, breaks):
        if len(run) < min_photos:
            continue
        la, lo = lat[run], lon[run]
        known = ~np.isnan(la)
        events.append(
            Event(
                members=tuple(int(i) for i in ids[run]),
                start=EPOCH + timedelta(seconds=int(seconds[run[0]])),
                end=EPOCH + timedelta(seconds=int(seconds[run[-1]])),
                lat=float(np.median(la[known])) if known.any() else None,
                lon=float(np.median(lo[known])) if known.any() else None,
            )
        )
    return events


def event_for(second: int, spans: list[tuple[int, int]], gap_s: float) -> int | None:
    """The index of the event span (start, end in seconds) that a new photo at `second` joins
    without a recluster: inside it, or within `gap_s` of either end. None when it joins none."""
    best, best_distance = None, None
    for i, (start, end) in enumerate(spans):
        distance = 0 if start <= second <= end else min(abs(second - start), abs(second - end))
        if distance <= gap_s and (best_distance is None or distance < best_distance):
            best, best_distance = i, distance
    return best
