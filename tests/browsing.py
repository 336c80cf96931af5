"""What the browser tests of the gallery and the map share: a library organized once, a real
headless Chromium with the network off, and the output served over http:// the way
docs/publishing.md says (`python -m http.server`)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse
from xml.sax.saxutils import escape

import pytest
from click.testing import CliRunner

from conftest import ROOT, gps_ifd, make_jpeg
from organizer.cli import cli

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
OUT = ROOT / "tests" / "out"
HOSTILE = "<img src=x onerror=alert(1)>.jpg"
# what an online geocoder may answer: a template literal's `${...}`, a backtick, a bidi override
HOSTILE_TOWN = "Ber`${alert(2)}`lin\u202egpj.exe"
SPOTS = [(43.4674, 11.8851, "2020:01:10", "Arezzo", "Italia"), (38.7223, -9.1393, "2020:02:10", "Lisboa", "Portugal"),
         (52.5200, 13.4050, "2021:03:10", HOSTILE_TOWN, "Deutschland")]
GEOTAGGED = 13  # 3 trips of 4, and the hostile name alone in the Atlantic
HOSTILE_TAG = "Tom &amp; Jerry's"  # an entity that markup would turn into "&" (folder names keep it as it is)
# XMP sidecars, as digiKam or darktable write them: keywords and a rating (>= 4 is a favourite)
TAGGED = {"trip1/IMG_10.jpg": (("Family", "Beach"), 5), "trip2/IMG_21.jpg": (("Family", HOSTILE_TAG), 4),
          "trip0/IMG_03.jpg": ((), 2)}

if CHROMIUM is None and os.environ.get("CI"):
    raise RuntimeError("CI must have Chromium: .ci/run installs Debian's chromium package")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")


class Nominatim(BaseHTTPRequestHandler):
    """Nominatim's reverse API, answering each spot's name (Berlin's is hostile)."""

    def do_GET(self) -> None:  # noqa: N802
        query = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
        lat = float(query["lat"])
        _, _, _, town, country = min(SPOTS, key=lambda s: abs(s[0] - lat))
        body = json.dumps({"lat": query["lat"], "lon": query["lon"], "display_name": town,
                           "address": {"city": town, "state": "", "country": country}})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


def make_library(base: Path) -> tuple[Path, Path]:
    """Photos of three trips (one in a place whose online name is hostile), a file named like
    markup alone in the Atlantic, one with no GPS, and a copy in a backup folder; organized (with
    CNN vectors, so the generated pictures make a Similar album) into `base/Albums`."""
    root, out = base / "Pictures", base / "Albums"
    for s, (lat, lon, day, _, _) in enumerate(SPOTS):
        for i in range(4):
            make_jpeg(root / f"trip{s}" / f"IMG_{s}{i}.jpg", original=f"{day} 1{i}:00:00",
                      gps=gps_ifd(lat + i * 1e-4, lon), seed=s * 10 + i, size=(640, 480))
    make_jpeg(root / "trip0" / HOSTILE, original="2019:01:10 14:30:00", gps=gps_ifd(40.0, -30.0), seed=99,
              size=(640, 480))
    make_jpeg(root / "nogps.jpg", original="2020:05:05 10:00:00", seed=98, size=(480, 640))
    (root / "backup").mkdir()
    shutil.copy2(root / "trip0" / "IMG_00.jpg", root / "backup" / "IMG_00.jpg")
    for name, (words, rating) in TAGGED.items():
        (root / f"{name}.xmp").write_text(sidecar(words, rating))
    server = ThreadingHTTPServer(("127.0.0.1", 0), Nominatim)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {"XDG_CACHE_HOME": str(base / "cache"), "XDG_CONFIG_HOME": str(base / "config"),
           "ORGANIZER_GEOCODE_ONLINE": "true", "ORGANIZER_GEOCODE_DOMAIN": f"127.0.0.1:{server.server_address[1]}",
           "ORGANIZER_GEOCODE_SCHEME": "http", "ORGANIZER_GEOCODE_MIN_INTERVAL_S": "0"}
    try:
        result = CliRunner().invoke(cli, ["--catalog", str(base / "catalog.db"), "organize", str(root),
                                          "--output", str(out), "--json"], env=env, catch_exceptions=False)
    finally:
        server.shutdown()
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["publish"]["map_photos"] == GEOTAGGED
    return root, out


def sidecar(words: tuple[str, ...], rating: int) -> str:
    """An XMP sidecar with keywords (dc:subject) and a rating, XML-escaped as a writer escapes them."""
    items = "".join(f"<rdf:li>{escape(w)}</rdf:li>" for w in words)
    return ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" '
            f'xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="{rating}">'
            f'<dc:subject><rdf:Bag>{items}</rdf:Bag></dc:subject></rdf:Description></rdf:RDF></x:xmpmeta>')


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The library organized once per test module: (photos, albums)."""
    return make_library(tmp_path_factory.mktemp("site"))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _await_port(port: int, proc: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert time.monotonic() < deadline and proc.poll() is None, f"{what} did not start"
            time.sleep(0.05)


@contextmanager
def http_server(folder: Path) -> Iterator[str]:
    """The documented one-liner, `python -m http.server --bind 127.0.0.1 PORT --directory DIR`."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port),
                             "--directory", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _await_port(port, proc, "http.server")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
if NGINX is None and os.environ.get("CI"):
    raise RuntimeError("CI must have nginx: .ci/run installs Debian's nginx package")
needs_nginx = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install nginx)")


def documented_nginx_server() -> str:
    """The `server { ... }` block docs/publishing.md gives for nginx, as a user copies it."""
    doc = (ROOT / "docs" / "publishing.md").read_text(encoding="utf-8")
    block = doc.split("\nnginx (", 1)[1].split("```", 2)[1]
    assert "disable_symlinks off" in block and "listen 8080" in block and "root /srv/albums" in block
    return block


@contextmanager
def nginx_server(folder: Path) -> Iterator[str]:
    """nginx serving `folder` with the documented server block (its port and root replaced), in
    an http block like Debian's nginx.conf (MIME types), run in the foreground."""
    port = free_port()
    prefix = Path(tempfile.mkdtemp(prefix="nginx-"))
    server = documented_nginx_server().replace("listen 8080", f"listen 127.0.0.1:{port}").replace(
        "root /srv/albums", f"root {folder}")
    temps = "".join(f"{k}_temp_path {prefix / k};\n" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    # as root, the workers would run as nobody, who may not read a test's temporary folders
    user = "user root;\n" if os.geteuid() == 0 else ""
    (prefix / "nginx.conf").write_text(
        f"{user}worker_processes 1;\npid {prefix / 'nginx.pid'};\nerror_log {prefix / 'error.log'};\n"
        f"events {{}}\nhttp {{\ninclude /etc/nginx/mime.types;\naccess_log off;\n{temps}{server}\n}}\n")
    proc = subprocess.Popen([NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-g", "daemon off;"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _await_port(port, proc, "nginx")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(prefix, ignore_errors=True)


@contextmanager
def site(out: Path, scheme: str) -> Iterator[str]:
    """The output's base URL over file://, http:// from `python -m http.server`, or nginx."""
    if scheme == "file":
        yield out.as_uri()
    else:
        with (nginx_server if scheme == "nginx" else http_server)(out) as url:
            yield url


class Tab:
    """A browser page with the network off (only the site's own URLs load) that records script
    errors and dialogs: a hostile name that runs shows up in `dialogs`."""

    def __init__(self, browser: Any, base: str, width: int = 1280, height: int = 800) -> None:
        self.page = browser.new_page(viewport={"width": width, "height": height})
        self.base = base
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.blocked: list[str] = []
        self.page.route("**/*", self._route)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))

    def _route(self, route: Any) -> None:
        url = route.request.url
        if url.startswith(self.base) or url.startswith("data:"):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()

    def open(self, rel: str) -> Any:
        self.page.goto(f"{self.base}/{rel}")
        return self.page

    def clean(self) -> None:
        assert self.errors == [] and self.dialogs == [], (self.errors, self.dialogs)


@contextmanager
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def screenshot(page: Any, name: str) -> Path:
    OUT.mkdir(exist_ok=True)
    path = OUT / name
    page.screenshot(path=str(path))
    return path
