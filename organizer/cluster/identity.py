"""Stable group identity across reclusters: each new group takes the key of the previous group it
overlaps most, when their Jaccard index is at least a threshold, so album folders do not churn."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

JACCARD_KEEP = 0.5


def match(
    previous: Mapping[str, frozenset[int]],
    current: Sequence[Iterable[int]],
    threshold: float = JACCARD_KEEP,
) -> list[str | None]:
    """For each current group, the previous key it keeps, or None for a new group.

    Greedy by best Jaccard first; each previous key is given at most once.
    """
    owner: dict[int, str] = {}
    for key, members in previous.items():
        for m in members:
            owner[m] = key
    scored: list[tuple[float, int, str]] = []
    for index, group in enumerate(current):
        members = frozenset(group)
        overlaps = Counter(owner[m] for m in members if m in owner)
        for key, inter in overlaps.items():
            jaccard = inter / len(members | previous[key])
            if jaccard >= threshold:
                scored.append((jaccard, index, key))
    scored.sort(key=lambda t: (-t[0], t[1], t[2]))
    result: list[str | None] = [None] * len(current)
    taken: set[str] = set()
    for _, index, key in scored:
        if result[index] is None and key not in taken:
            result[index] = key
            taken.add(key)
    return result
