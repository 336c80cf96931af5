"""Place names for positions: offline GeoNames first, an optional Nominatim server, cached.

Offline names come from the `reverse_geocode` package (GeoNames cities of 1,000+ people). With
`geocode.online`, a Nominatim server is asked once per ~1 km cell, at most once per
`min_interval_s`; answers are cached in the catalog. Any network failure falls back to the offline
name, and after one failure the rest of the run stays offline, so publishing is never held up.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from dataclasses import dataclass

import reverse_geocode

from organizer.catalog import CachedName, Catalog
from organizer.config import GeocodeConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlaceName:
    country: str | None
    region: str | None
    city: str | None
    source: str  # geonames | nominatim


def cell(lat: float, lon: float) -> str:
    """The cache key: about 1 km."""
    return f"{lat:.2f},{lon:.2f}"


# (minimum population, within km): the first tier with a place close enough names the spot, so a
# photo in Berlin-Mitte is "Berlin" and one in Lisbon's Intendente quarter "Lisbon", while a
# village far from any city keeps its own name.
_TIERS = ((1_000_000, 10.0), (100_000, 10.0), (10_000, 5.0), (0, float("inf")))


def _km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(min(1.0, a)))


@functools.lru_cache(maxsize=1 << 16)  # the daemon names the same group centres batch after batch
def offline(lat: float, lon: float) -> PlaceName:
    for population, within_km in _TIERS:
        found = reverse_geocode.get((lat, lon), min_population=population)
        if _km(lat, lon, found["latitude"], found["longitude"]) <= within_km:
            return PlaceName(found.get("country"), found.get("state"), found.get("city"), "geonames")
    raise AssertionError("the last tier accepts any distance")


class Geocoder:
    def __init__(self, config: GeocodeConfig, catalog: Catalog | None = None) -> None:
        self.config = config
        self.catalog = catalog
        self._online_ok = config.online
        self._last_request = 0.0
        self._client = None

    def name(self, lat: float, lon: float) -> PlaceName:
        if not self._online_ok:
            return offline(lat, lon)
        key = cell(lat, lon)
        if self.catalog is not None:
            cached = self.catalog.places.get(key)
            if cached is not None:
                return PlaceName(cached.country, cached.region, cached.city, cached.source)
        try:
            name = self._ask(lat, lon)
        except Exception as exc:  # geopy raises many kinds; any of them means: stay offline
            log.warning("online geocoding failed (%s); using offline place names for this run", exc)
            self._online_ok = False
            return offline(lat, lon)
        if name is None:
            return offline(lat, lon)
        if self.catalog is not None and not self.catalog.readonly:
            with self.catalog.transaction():
                self.catalog.places.put(key, CachedName(name.country, name.region, name.city, name.source))
        return name

    def _ask(self, lat: float, lon: float) -> PlaceName | None:
        from geopy.geocoders import Nominatim

        if self._client is None:
            self._client = Nominatim(
                user_agent=self.config.user_agent,
                domain=self.config.domain,
                scheme=self.config.scheme,
                timeout=self.config.timeout_s,
            )
        wait = self._last_request + self.config.min_interval_s - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._last_request = time.monotonic()
        location = self._client.reverse((lat, lon), language=self.config.language, zoom=10, exactly_one=True)
        if location is None:
            return None
        address = location.raw.get("address", {})
        city = next((address[k] for k in ("city", "town", "village", "municipality", "hamlet", "county")
                     if address.get(k)), None)
        return PlaceName(address.get("country"), address.get("state"), city, "nominatim")
