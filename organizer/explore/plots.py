"""The report's static plots, drawn by matplotlib (Agg, no display) as SVG text. No user string
goes into a plot: groups are numbers, file names stay in the page as text."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np

try:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.figure import Figure
except ImportError as exc:  # the explore extra
    from organizer.extract.features import MissingExtra

    raise MissingExtra(f"organizer explore needs packages that are not installed ({exc.name}): "
                       "pip install 'organizer[explore]'") from None

plt.rcParams.update({"svg.fonttype": "none", "font.size": 9, "axes.spines.top": False,
                     "axes.spines.right": False})
PALETTE = plt.get_cmap("tab20").colors


def svg(fig: Figure) -> str:
    out = io.StringIO()
    fig.savefig(out, format="svg")
    plt.close(fig)
    text = out.getvalue()
    return text[text.index("<svg"):]  # no XML prologue: the page embeds it as an image


def threshold_curve(curve: dict[str, list[float]], current: float, total: int) -> str:
    fig, ax = plt.subplots(figsize=(7, 3.2), layout="constrained")
    t = curve["threshold"]
    ax.plot(t, curve["pairs"], color="#1f77b4", label="similar pairs")
    ax.set_xlabel("threshold (similar.sim)")
    ax.set_ylabel("pairs at or above", color="#1f77b4")
    other = ax.twinx()
    other.plot(t, curve["photos"], color="#d62728", label="photos grouped")
    other.set_ylabel(f"photos grouped (of {total})", color="#d62728")
    other.spines["right"].set_visible(True)
    ax.axvline(current, color="black", linestyle="--", linewidth=1)
    ax.annotate(f"now {current:g}", (current, ax.get_ylim()[1]), textcoords="offset points", xytext=(4, -12))
    return svg(fig)


def kmeans(curve: dict[str, list[float]], knee: int | None) -> str:
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3), layout="constrained")
    ks = curve["k"]
    left.plot(ks, curve["inertia"], marker="o", markersize=3)
    left.set_xlabel("k")
    left.set_ylabel("distortion (inertia)")
    if knee:
        left.axvline(knee, color="black", linestyle="--", linewidth=1)
        left.annotate(f"knee k={knee}", (knee, max(curve["inertia"])), textcoords="offset points", xytext=(4, -12))
    right.plot(ks, curve["silhouette"], marker="o", markersize=3, label="silhouette (higher is better)")
    right.plot(ks, curve["davies_bouldin"], marker="s", markersize=3, label="Davies-Bouldin (lower is better)")
    right.set_xlabel("k")
    right.legend(loc="best", fontsize=7)
    return svg(fig)


def dendrogram(links: np.ndarray, sim: float, leaves: int) -> str:
    from scipy.cluster.hierarchy import dendrogram as draw

    fig, ax = plt.subplots(figsize=(9, 3.4), layout="constrained")
    truncate = {"truncate_mode": "lastp", "p": 80} if leaves > 80 else {}
    draw(links, ax=ax, no_labels=True, color_threshold=1.0 - sim, above_threshold_color="#999999", **truncate)
    ax.axhline(1.0 - sim, color="black", linestyle="--", linewidth=1)
    ax.annotate(f"cut at 1 - sim = {1.0 - sim:.2f}", (0, 1.0 - sim), xycoords=("axes fraction", "data"),
                textcoords="offset points", xytext=(4, 4))
    ax.set_ylabel("cosine distance (average linkage)")
    return svg(fig)


def scatter(coords: np.ndarray, group_of: Sequence[int], how: str) -> tuple[str, list[tuple[float, float]]]:
    """The 2-D map, and each point's place as fractions of the image (left, top) for the page's
    hover targets."""
    fig = plt.figure(figsize=(7, 5.5))
    ax = fig.add_axes((0.06, 0.06, 0.9, 0.88))
    colours = [PALETTE[g % len(PALETTE)] if g >= 0 else (0.75, 0.75, 0.75) for g in group_of]
    ax.scatter(coords[:, 0], coords[:, 1], c=colours, s=18, linewidths=0.3, edgecolors="black")
    ax.set_title(f"{how} of the vectors, coloured by similar group (grey: in none)")
    ax.set_xticks([])
    ax.set_yticks([])
    fig.canvas.draw()
    width, height = fig.canvas.get_width_height()
    spots = [(float(px / width), float(1.0 - py / height)) for px, py in ax.transData.transform(coords)]
    return svg(fig), spots


def months(labels: Sequence[str], photos: Sequence[int], events: Sequence[int]) -> str:
    fig, ax = plt.subplots(figsize=(9, 2.8), layout="constrained")
    x = np.arange(len(labels))
    ax.bar(x - 0.2, photos, width=0.4, label="photos")
    ax.bar(x + 0.2, events, width=0.4, label="events")
    step = max(1, len(labels) // 12)
    ax.set_xticks(x[::step], [labels[i] for i in range(0, len(labels), step)], rotation=45, ha="right")
    ax.set_yscale("symlog")
    ax.legend(loc="upper left", fontsize=7)
    return svg(fig)
