"""Peak memory (VmHWM) of one worker process per worst file, ours against today's way, side by side.

    python -m bench.bench_memory [--keep DIR]

Each measurement is a fresh process that imports everything first (its baseline VmHWM is printed
too), then extracts one file: ours = extract.extract_file (sniff, bounded reads, reduced decodes);
today's way = the whole file read into memory, Pillow's full decode (bomb guard off) and RGB
conversion, as organizer did before. Worst files: a 13000x13000 PNG, a 200 MP HEIC (corpora),
a 12 MP JPEG, a 1 GB video, a RAW (corpora). Goal: under 600 MB per worker on every file.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPORA = ROOT.parent / "shared" / "corpora"


def vm_hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(mode: str, path: str) -> None:
    from datetime import datetime

    from PIL import Image

    from organizer import extract

    extract.warm_up()
    base = vm_hwm_mb()
    error = None
    try:
        if mode == "ours":
            facts = extract.extract_file(path, 0.0, datetime.now())
            error = facts.decode_error
        else:
            extract.decode._register_plugins()
            Image.MAX_IMAGE_PIXELS = None
            with open(path, "rb") as fh:
                data = fh.read()
            img = Image.open(io.BytesIO(data))
            if img.format in ("JPEG", "MPO"):  # as before: DCT scaling for JPEG only
                img.draft("RGB", (320, 320))
            img.load()
            rgb = img.convert("RGB")
            rgb.reduce(max(1, min(rgb.size) // 320))
    except Exception as exc:  # report, do not crash the benchmark
        error = f"{type(exc).__name__}: {exc}"
    print(json.dumps({"base": base, "peak": vm_hwm_mb(), "error": error}))


def make_files(folder: Path) -> dict[str, Path]:
    from PIL import Image

    from bench.bench_readers import make_clip

    files: dict[str, Path] = {}
    png = folder / "13000x13000.png"
    Image.new("RGB", (13000, 13000), (30, 120, 200)).save(png, compress_level=1)
    files["PNG 13000x13000"] = png
    jpeg = folder / "12mp.jpg"
    Image.effect_noise((4000, 3000), 60).convert("RGB").save(jpeg, quality=90)
    files["JPEG 12 MP"] = jpeg
    heic = CORPORA / "A_pillow-heif/tests/images/heif_special/200MP.heic"
    if heic.is_file():
        files["HEIC 200 MP"] = heic
    video = make_clip(folder / "big.mp4", (1920, 1080), 20, codec="mpeg4", options={}, bit_rate=200_000_000,
                      noise=True)
    files[f"video {video.stat().st_size >> 20} MB"] = video
    for raw in sorted(CORPORA.rglob("*.dng"))[:1]:
        files["DNG (corpora)"] = raw
    return files


def measure(mode: str, path: Path) -> dict:
    out = subprocess.run([sys.executable, "-m", "bench.bench_memory", "--child", mode, str(path)], capture_output=True, text=True,
                         cwd=ROOT, timeout=600)
    try:
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return {"base": float("nan"), "peak": float("nan"), "error": (out.stderr or "no output")[-200:]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", nargs=2)
    parser.add_argument("--keep")
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-memory-"))
    folder.mkdir(parents=True, exist_ok=True)
    files = make_files(folder)
    print(f"{'file':<22} {'ours peak MB':>13} {'today peak MB':>14} {'baseline MB':>12}  notes")
    for label, path in files.items():
        ours, today = measure("ours", path), measure("today", path)
        notes = "; ".join(f"{k}: {v['error'][:60]}" for k, v in (("ours", ours), ("today", today)) if v["error"])
        print(f"{label:<22} {ours['peak']:>13.0f} {today['peak']:>14.0f} {ours['base']:>12.0f}  {notes}")


if __name__ == "__main__":
    main()
