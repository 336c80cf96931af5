"""Configuration: frozen dataclasses filled from defaults < file < environment < flags.

Every value remembers where it came from (`Config.sources`), so `organizer config` can say it.
Environment variables are named ``ORGANIZER_<SECTION>_<KEY>``, e.g. ``ORGANIZER_SCAN_WORKERS=4``.
This module is the schema (each key's type, default, help and limits); `config_load` reads
files and the environment, converts, checks and normalises, and remembers where each value came
from. `load` is the entry point.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# The most extraction processes: each holds the CNN and a decoded photo (a few hundred MB), so 64
# already need a server's memory, and a NAS's disks are saturated by far fewer; a typo like 800
# (meant 8) must be an error, not 800 interpreters.
MAX_WORKERS = 64


def _opt(default: Any, help: str, minimum: float | None = None, maximum: float | None = None,
         choices: tuple = ()) -> Any:
    """A key: its default, its help and its limits (`maximum`: where a larger value would exhaust
    the machine's processes, memory or time, or has no meaning)."""
    return field(default=default, metadata={"help": help, "min": minimum, "max": maximum, "choices": choices})


@dataclass(frozen=True)
class CatalogConfig:
    path: str = _opt("", "The SQLite catalog; empty: the platform's user state folder.")
    cache_dir: str = _opt("", "Thumbnails and model files; empty: the platform's user cache folder.")


@dataclass(frozen=True)
class ScanConfig:
    roots: tuple[str, ...] = _opt((), "Photo folders to index.")
    exclude: tuple[str, ...] = _opt(
        (), "Extra glob patterns to skip, matched against names and paths relative to a root."
    )
    follow_symlinks: bool = _opt(False, "Follow symlinked files and folders (loops are detected).")
    workers: int = _opt(0, "Extraction processes; 0: one per core this process may use, at most 8 (each "
                        "holds the CNN and a decoded photo; a NAS's disks are busy well before).",
                        minimum=0, maximum=MAX_WORKERS)
    inline: bool = _opt(False, "Extract in this process, with no worker processes and no time limit per file "
                               "(for tests, pdb and coverage; never for a library that may hold a hostile file).")
    file_timeout_s: float = _opt(60.0, "A file taking longer than this is an error.", minimum=0.1, maximum=3600)
    max_file_mb: int = _opt(1024, "Larger images are reported as errors, never read (videos and RAW files "
                                  "are streamed, whatever their size).", minimum=1, maximum=16384)
    max_megapixels: float = _opt(250.0, "Images with more pixels are errors, never decoded (a 200 MP phone "
                                        "HEIC passes; each worker needs about 3 bytes a pixel for a PNG or "
                                        "TIFF this large).", minimum=1, maximum=1000)
    batch_size: int = _opt(200, "Catalog rows written per transaction.", minimum=1, maximum=100_000)


@dataclass(frozen=True)
class OutputConfig:
    path: str = _opt("", "The album folder that organizer manages.")
    retry_s: float = _opt(60.0, "The daemon, when the album folder could not be written (unmounted, "
                                "read-only, full): seconds before it tries again.", minimum=1, maximum=86400)


@dataclass(frozen=True)
class PublishConfig:
    companions: bool = _opt(True, "Albums link an item's companions beside it (a RAW's JPEG, a Live Photo's MOV, "
                                  "a video's .thm).")
    favorites_rating: int = _opt(4, "Photos rated at least this (XMP or Windows rating, 1-5) are in Favorites/.",
                                 minimum=1, maximum=5)


@dataclass(frozen=True)
class EventsConfig:
    gap_hours: float = _opt(4.0, "A new event starts after a gap longer than this.", minimum=0.01)
    min_photos: int = _opt(3, "Smaller runs are not events.", minimum=1)
    use_mtime: bool = _opt(False, "Also place photos dated only by file mtime into events.")


@dataclass(frozen=True)
class PlacesConfig:
    radius_m: float = _opt(1000.0, "DBSCAN radius: photos this close to a dense spot join it.", minimum=1)
    min_photos: int = _opt(3, "Photos needed around a spot to make it a place.", minimum=1)


@dataclass(frozen=True)
class DuplicatesConfig:
    phash_distance: int = _opt(8, "Candidates: pHash within this Hamming distance (of the whole image, or of the "
                                  "photo found inside a frame).", minimum=0, maximum=64)
    dhash_distance: int = _opt(12, "Candidates: and dHash within this (candidates are then verified by their "
                                   "pixels and EXIF).", minimum=0, maximum=64)
    cosine: float = _opt(0.75, "Candidates: CNN nearest neighbours at least this alike (0-1).", minimum=0, maximum=1)
    neighbours: int = _opt(10, "Candidates: CNN nearest neighbours looked at per photo.", minimum=1, maximum=1000)
    agreement: float = _opt(0.88, "Verification: share of textured cells whose pixels agree after alignment for "
                                  "two photos to be one capture (0-1).", minimum=0, maximum=1)
    max_component: int = _opt(64, "Linked sets up to this many photos are verified pair by pair; larger ones only "
                                  "along their candidate pairs.", minimum=2, maximum=512)


# What similar groups can be made of and how (docs/explore.md); the registries (extract.visual,
# cluster.methods, cluster.rescore) are checked against these names by the tests.
SIMILAR_FEATURES = ("cnn", "hog", "grey", "pca", "phash", "orb")
SIMILAR_METHODS = ("average", "chain", "agglomerative", "dbscan", "kmeans", "mix")
RESCORERS = ("ssim", "orb-match", "template", "corner-minhash")
LINKAGES = ("average", "complete", "single", "weighted")


@dataclass(frozen=True)
class SimilarConfig:
    sim: float = _opt(0.8, "How alike photos of a similar group are (0-1, higher is stricter).", minimum=0, maximum=1)
    neighbours: int = _opt(10, "Nearest neighbours looked at per photo.", minimum=1, maximum=1000)
    min_photos: int = _opt(2, "Smallest similar group.", minimum=2)
    features: tuple[str, ...] = _opt(("cnn",), "What photos are compared by: " + ", ".join(SIMILAR_FEATURES)
                                     + " (several: the mean of their cosines).")
    method: str = _opt("average", "How groups are made: " + ", ".join(SIMILAR_METHODS) + ".",
                       choices=SIMILAR_METHODS)
    linkage: str = _opt("average", "agglomerative and mix: the linkage of the hierarchical clustering.",
                        choices=LINKAGES)
    k: int = _opt(0, "kmeans: the number of clusters; 0: chosen by k_choice.", minimum=0, maximum=10_000)
    k_max: int = _opt(20, "kmeans: the largest k tried when choosing.", minimum=2, maximum=200)
    k_choice: str = _opt("knee", "kmeans: knee of the distortion curve, silhouette or davies-bouldin.",
                         choices=("knee", "silhouette", "davies-bouldin"))
    alpha: float = _opt(0.3, "mix: weight of the time distance against the content distance (0-1).", minimum=0, maximum=1)
    mix_hours: float = _opt(24.0, "mix: photos this many hours apart are at time distance 1 (with an undated one: content alone).", minimum=0.01)
    rescore: tuple[str, ...] = _opt((), "Pixel re-scorers of candidate pairs: " + ", ".join(RESCORERS) + ".")
    rescore_min: float = _opt(0.5, "A candidate pair is kept when every re-scorer gives at least this (0-1).",
                              minimum=0, maximum=1)
    hog_size: int = _opt(128, "hog: the side of the grey image it is computed on.", minimum=16, maximum=1024)
    hog_orientations: int = _opt(8, "hog: orientation bins.", minimum=1, maximum=36)
    hog_pixels_per_cell: int = _opt(8, "hog: the side of a cell in pixels.", minimum=2, maximum=256)
    hog_cells_per_block: int = _opt(1, "hog: the side of a normalisation block in cells.", minimum=1, maximum=16)
    grey_size: int = _opt(64, "grey (and pca of grey): the side of the stored grey image.", minimum=8, maximum=512)
    pca_of: str = _opt("grey", "pca: of the grey pixels or of hog.", choices=("grey", "hog"))
    pca_components: float = _opt(0.95, "pca: components (1 or more) or the variance kept (below 1).",
                                 minimum=0.01)
    phash_size: int = _opt(8, "phash: x of the x*x grey image (8-16; x*x bits).", minimum=8, maximum=16)
    orb_keypoints: int = _opt(500, "orb: the most keypoints kept per photo.", minimum=8, maximum=10_000)


@dataclass(frozen=True)
class GeocodeConfig:
    online: bool = _opt(False, "Ask a Nominatim server for place names (offline GeoNames otherwise).")
    domain: str = _opt("nominatim.openstreetmap.org", "The Nominatim server.")
    scheme: str = _opt("https", "http or https.", choices=("http", "https"))
    user_agent: str = _opt("organizer-photo-library", "Nominatim's usage policy asks for one.")
    timeout_s: float = _opt(10.0, "Give up on one request after this long.", minimum=0.1, maximum=300)
    min_interval_s: float = _opt(1.0, "At most one request per this many seconds.", minimum=0, maximum=3600)
    language: str = _opt("en", "Language of the place names.")


@dataclass(frozen=True)
class VectorsConfig:
    enabled: bool = _opt(True, "Compute a CNN vector for every photo (similar groups, `organizer similar`).")
    model: str = _opt("efficientnet-lite0", "The built-in model, or the path of an ONNX image model.")
    input_size: int = _opt(224, "Your own model's input: a square of this many pixels.", minimum=16, maximum=2048)
    resize: int = _opt(256, "Your own model: the short side is resized to this before the centre crop.", minimum=16, maximum=2048)
    mean: tuple[float, ...] = _opt((127.0, 127.0, 127.0), "Your own model: per-channel mean (RGB, 0-255) subtracted.")
    std: tuple[float, ...] = _opt((128.0, 128.0, 128.0), "Your own model: per-channel divisor (RGB, 0-255).")
    output: str = _opt("features", "Your own model: the output that is the image's vector.")
    precision: str = _opt("int8", "The built-in model's arithmetic: int8 (about 1.8x faster) or float32.",
                          choices=("int8", "float32"))


@dataclass(frozen=True)
class FacesConfig:
    enabled: str = _opt("auto", "Find faces and make People albums: off, on, or auto (on where the faces extra "
                        "is installed: pip install 'organizer[faces]'). Faces are found in the background pass, "
                        "after indexing, at idle priority: about 0.3 s a photo on 2 cores.",
                        choices=("auto", "on", "off"))
    min_face_px: int = _opt(40, "Faces narrower than this many pixels (of the reduced decode) are skipped.",
                            minimum=8)
    min_score: float = _opt(0.0, "Faces the HOG detector scores below this are skipped.")
    max_distance: float = _opt(0.55, "Two faces this close (Euclidean, dlib descriptors) are one person.",
                               minimum=0.01)
    min_faces: int = _opt(2, "Persons with fewer faces get no album.", minimum=1)


@dataclass(frozen=True)
class WatchConfig:
    polling: bool = _opt(False, "Poll every folder instead of inotify (remote file systems always poll).")
    poll_interval_s: float = _opt(10.0, "Seconds between two polls of a polled folder.", minimum=0.1, maximum=86400)
    settle_s: float = _opt(2.0, "A file is indexed once its size and mtime were still this long.", minimum=0, maximum=3600)


@dataclass(frozen=True)
class ScheduleConfig:
    recluster: str = _opt("10m", "Recluster + publish when the catalog changed: an interval or a cron line.")
    rescan: str = _opt("24h", "Full rescan of every root: an interval (30m, 6h, 1d) or a cron line.")


SECTIONS: dict[str, type] = {
    "catalog": CatalogConfig,
    "scan": ScanConfig,
    "output": OutputConfig,
    "publish": PublishConfig,
    "events": EventsConfig,
    "places": PlacesConfig,
    "duplicates": DuplicatesConfig,
    "similar": SimilarConfig,
    "geocode": GeocodeConfig,
    "vectors": VectorsConfig,
    "faces": FacesConfig,
    "watch": WatchConfig,
    "schedule": ScheduleConfig,
}


@dataclass(frozen=True)
class Config:
    catalog: CatalogConfig = field(default_factory=CatalogConfig)
    scan: ScanConfig = field(default_factory=ScanConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    publish: PublishConfig = field(default_factory=PublishConfig)
    events: EventsConfig = field(default_factory=EventsConfig)
    places: PlacesConfig = field(default_factory=PlacesConfig)
    duplicates: DuplicatesConfig = field(default_factory=DuplicatesConfig)
    similar: SimilarConfig = field(default_factory=SimilarConfig)
    geocode: GeocodeConfig = field(default_factory=GeocodeConfig)
    vectors: VectorsConfig = field(default_factory=VectorsConfig)
    faces: FacesConfig = field(default_factory=FacesConfig)
    watch: WatchConfig = field(default_factory=WatchConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    file: str | None = None
    sources: Mapping[str, str] = field(default_factory=dict)

    def value(self, key: str) -> Any:
        section, name = key.split(".", 1)
        return getattr(getattr(self, section), name)

    def effective(self) -> list[tuple[str, Any, str]]:
        """Every key with its value and where it came from."""
        return [(key, self.value(key), self.sources.get(key, "default")) for key in all_keys()]


MAX_AUTO_WORKERS = 8


def cores() -> int:
    """The CPUs this process may run on (its affinity mask: a container's cpuset, `taskset`)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def all_keys() -> list[str]:
    return [f"{s}.{f.name}" for s, cls in SECTIONS.items() for f in dataclasses.fields(cls)]


def load(
    config_path: str | os.PathLike | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, tuple[Any, str]] | None = None,
) -> Config:
    """Build the effective configuration (see `config_load.load`)."""
    from organizer import config_load  # it imports this module's sections

    return config_load.load(config_path, env, overrides)
