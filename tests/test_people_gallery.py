"""People albums in the gallery: each card's cover is a crop of that person's face, made once
from the original (kept in the cache), in which dlib finds one face again."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from PIL import Image

from conftest import CORPORA, Cli
from organizer.extract import features

FACES = CORPORA / "F_face-recognition"
PEOPLE = {"obama": ["examples/knn_examples/train/obama/obama.jpg", "examples/knn_examples/train/obama/obama2.jpg",
                    "examples/knn_examples/test/obama1.jpg"],
          "biden": ["examples/knn_examples/train/biden/biden.jpg", "examples/knn_examples/train/biden/biden2.jpg"]}

pytestmark = [pytest.mark.skipif(not FACES.is_dir(), reason="../shared/corpora/F_face-recognition is not present"),
              pytest.mark.skipif(not features._faces_installed(), reason="the faces extra is not installed")]


def test_a_people_album_card_shows_the_persons_face(tmp_path: Path, run: Cli) -> None:
    from organizer.extract import faces

    root, out = tmp_path / "photos", tmp_path / "albums"
    for person, files in PEOPLE.items():
        (root / person).mkdir(parents=True)
        for f in files:
            shutil.copy(FACES / f, root / person / Path(f).name)
    shutil.copy(FACES / "examples/knn_examples/test/obama_and_biden.jpg", root / "obama_and_biden.jpg")  # two faces: no cover
    env = {"ORGANIZER_FACES_ENABLED": "on", "ORGANIZER_VECTORS_ENABLED": "false"}
    run("organize", str(root), "--output", str(out), env=env)
    index = (out / "index.html").read_text()
    people = index[index.index('id="kind-person"'):]
    covers = re.findall(r'src="map/thumbs/(faces/[0-9a-f]+-[0-9a-f]+\.jpg)"', people)
    assert len(covers) == 2, people[:2000]  # one face cover per person
    for rel in covers:
        crop = out / "map" / "thumbs" / rel
        with Image.open(crop) as image:
            assert image.size == (256, 256)
            assert len(faces.detect(image.convert("RGB"), 20, 0.0)) == 1
    made = {rel: (out / "map" / "thumbs" / rel).stat().st_mtime_ns for rel in covers}
    run("publish", "--output", str(out), env=env)
    assert {rel: (out / "map" / "thumbs" / rel).stat().st_mtime_ns for rel in covers} == made  # kept, not made again
