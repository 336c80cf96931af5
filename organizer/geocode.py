"""Place names for positions: offline GeoNames first, an optional Nominatim server, cached.

Offline names come from the `reverse_geocode` package (GeoNames cities of 1,000+ people). With
`geocode.online`, a Nominatim server is asked once per ~1 km cell, at most once per
`min_interval_s`; answers are cached in the catalog. Any network failure falls back to the offline
name, and after one failure the rest of the run stays offline, so publishing is never held up.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import reverse_geocode

from organizer.catalog import Catalog
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


def offline(lat: float, lon: float) -> PlaceName:
    found = reverse_geocode.get((lat, lon))
    return PlaceName(found.get("country"), found.get("state"), found.get("city"), "geonames")


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
            cached = self.catalog.cached_place_name(key)
            if cached is not None:
                return PlaceName(*cached)
        try:
            name = self._ask(lat, lon)
        except Exception as exc:  # geopy raises many kinds; any of them means: stay offline
            log.warning("online geocoding failed (%s); using offline place names for this run", exc)
            self._online_ok = False
            return offline(lat, lon)
        if name is None:
            return offline(lat, lon)
        if self.catalog is not None:
            self.catalog.cache_place_name(key, name.country, name.region, name.city, name.source)
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
