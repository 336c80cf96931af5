"""File-system facts that the walker and the album tree share: the output folder's marker and
the litter that operating systems, NAS systems and sync tools leave in photo folders."""

from __future__ import annotations

import fnmatch

# The file that marks a folder as an organizer output; no folder holding one is ever indexed.
OUTPUT_MARKER = ".organizer-albums.json"

# Names that say nothing about whether a folder holds photos: a root (or an output) holding only
# these is as good as empty (an unmounted share's mount point, a fresh disk).
LITTER_NAMES = frozenset({
    ".DS_Store", "Thumbs.db", "desktop.ini", "Desktop.ini", "@eaDir", "#recycle", "#snapshot", "lost+found",
    ".Trashes", ".Spotlight-V100", ".fseventsd", ".TemporaryItems", ".stfolder", ".stignore", ".thumbnails",
    ".nomedia", "$RECYCLE.BIN", "System Volume Information", ".AppleDouble", ".@__thumb", "@Recycle",
})
LITTER_PATTERNS = (".Trash-*", "._*", ".organizer-albums.lock")


def is_litter(name: str) -> bool:
    return name in LITTER_NAMES or any(fnmatch.fnmatch(name, p) for p in LITTER_PATTERNS)
