"""The whole job once: index, regroup, publish. `organizer organize` and the daemon's start both
run it; `preflight` checks what can be checked before anything is created."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from organizer import publish as publisher
from organizer import regroup
from organizer.catalog import Catalog
from organizer.config import Config
from organizer.errors import OrganizerError, OutputError
from organizer.index import Indexer, Progress, Report
from organizer.publish.albums import usable


def preflight(config: Config, output: bool) -> None:
    """Fail before any file is made: a photo folder that is not there (unless the catalog, which
    may know it as an unmounted share, exists already), an output folder organizer may not manage."""
    if not config.scan.roots:
        raise OrganizerError("no photo folders: name them on the command line or in scan.roots")
    if not os.path.exists(config.catalog.path):
        for root in config.scan.roots:
            if not os.path.isdir(root):
                raise OrganizerError(f"photo folder not found: {root}")
    if output:
        if not config.output.path:
            raise OutputError("no output folder: give --output or set output.path")
        usable(Path(os.path.realpath(config.output.path)))


@dataclass
class OrganizeReport:
    scan: Report
    cluster: regroup.ClusterReport
    publish: publisher.PublishReport

    def as_dict(self) -> dict[str, Any]:
        return {"scan": self.scan.as_dict(), "cluster": self.cluster.as_dict(), "publish": self.publish.as_dict()}


def organize(catalog: Catalog, config: Config, indexer: Indexer | None = None, progress: Progress | None = None,
             should_stop: Callable[[], bool] = lambda: False) -> OrganizeReport:
    """Scan every root, regroup the library and publish it. `indexer`: one whose workers outlive
    this call (the daemon's); by default one for this call."""
    own = indexer is None
    indexer = indexer or Indexer(catalog, config)
    try:
        scanned = indexer.scan(config.scan.roots, progress, should_stop)
    finally:
        if own:
            indexer.close()
    clustered = regroup.regroup(catalog, config)
    return OrganizeReport(scanned, clustered, publisher.publish(catalog, config))
