"""Run imagededup's hash methods over a folder, with their defaults; print the duplicate pairs as
JSON. Runs in imagededup's own virtualenv (bench_dupes.py calls it as a subprocess), so imagededup
is never a dependency of organizer.

    /work/venvs/imagededup/bin/python bench/imagededup_run.py FOLDER
"""

from __future__ import annotations

import json
import logging
import sys
import time

from imagededup.methods import AHash, DHash, PHash, WHash


def main() -> None:
    logging.disable(logging.WARNING)
    folder = sys.argv[1]
    out = {}
    for method in (PHash, DHash, AHash, WHash):
        t = time.perf_counter()
        hasher = method(verbose=False)
        found = hasher.find_duplicates(image_dir=folder, max_distance_threshold=10)  # its default
        pairs = sorted({tuple(sorted((a, b))) for a, dups in found.items() for b in dups})
        out[method.__name__] = {"pairs": pairs, "seconds": time.perf_counter() - t, "files": len(found)}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
