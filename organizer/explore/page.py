"""The report page: one HTML file with its plots (SVG data URIs), thumbnails (JPEG data URIs) and
data (one JSON block) inside, so it opens offline from anywhere. Every user string (file names,
paths) reaches the page as JSON and is shown with `textContent`, never as HTML."""

from __future__ import annotations

import base64
import html
import json
from typing import Any

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 0 auto; max-width: 1200px; padding: 1em 2em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
.plot { max-width: 100%; display: block; } .note { color: #555; font-size: 0.9em; }
.sheet { display: flex; flex-wrap: wrap; gap: 10px; }
.group { border: 1px solid #ccc; border-radius: 4px; padding: 4px; max-width: 360px; }
.group .title { font-size: 0.85em; color: #444; margin-bottom: 2px; }
.group img { height: 56px; margin: 1px; vertical-align: top; }
.group img.rep { height: 112px; outline: 2px solid #d62728; }
.side { display: grid; grid-template-columns: 1fr 1fr; gap: 1.5em; }
#slider { width: 420px; vertical-align: middle; } pre { background: #f4f4f4; padding: 6px 10px; display: inline-block; }
.map { position: relative; display: inline-block; } .map .spot { position: absolute; width: 12px; height: 12px;
  margin: -6px 0 0 -6px; border-radius: 6px; cursor: pointer; }
#hover { position: absolute; display: none; background: #fff; border: 1px solid #888; padding: 4px;
  pointer-events: none; font-size: 0.8em; z-index: 2; max-width: 240px; word-break: break-all; }
#hover img { display: block; max-width: 220px; }
"""

SCRIPT = """
(function () {
  var data = JSON.parse(document.getElementById('explore-data').textContent);
  function thumb(row, cls) {
    var img = document.createElement('img');
    var p = data.photos[row];
    if (p[1] !== null) { img.src = data.thumbs[p[1]]; }
    img.alt = p[0]; img.title = p[0];
    if (cls) { img.className = cls; }
    return img;
  }
  function sheet(target, groups, limit) {
    target.textContent = '';
    groups.slice(0, limit).forEach(function (g, n) {
      var box = document.createElement('div'); box.className = 'group';
      var title = document.createElement('div'); title.className = 'title';
      title.textContent = 'group ' + (n + 1) + ': ' + g[1].length + ' photos; representative ' + data.photos[g[0]][0];
      box.appendChild(title);
      box.appendChild(thumb(g[0], 'rep'));
      g[1].forEach(function (row) { if (row !== g[0]) { box.appendChild(thumb(row)); } });
      target.appendChild(box);
    });
    if (groups.length > limit) {
      var more = document.createElement('p'); more.className = 'note';
      more.textContent = (groups.length - limit) + ' more groups are not shown';
      target.appendChild(more);
    }
  }
  function chains(t) {  // the groups the candidate edges at or above t link (union-find)
    var parent = data.photos.map(function (_, i) { return i; });
    function root(i) { while (parent[i] !== i) { parent[i] = parent[parent[i]]; i = parent[i]; } return i; }
    data.edges.forEach(function (e) {
      if (e[2] >= t - 1e-9) { var a = root(e[0]), b = root(e[1]); if (a !== b) { parent[Math.max(a, b)] = Math.min(a, b); } }
    });
    var byRoot = {};
    parent.forEach(function (_, i) { var r = root(i); (byRoot[r] = byRoot[r] || []).push(i); });
    return Object.keys(byRoot).map(function (k) { return byRoot[k]; })
      .filter(function (g) { return g.length >= data.minPhotos; })
      .sort(function (a, b) { return b.length - a.length || a[0] - b[0]; })
      .map(function (g) { return [g[0], g]; });
  }
  var slider = document.getElementById('slider');
  function update() {
    var t = parseFloat(slider.value);
    var groups = chains(t);
    var grouped = groups.reduce(function (n, g) { return n + g[1].length; }, 0);
    document.getElementById('slider-value').textContent = t.toFixed(2);
    document.getElementById('slider-count').textContent = groups.length + (groups.length === 1 ? ' group, ' : ' groups, ') + grouped + ' of ' +
      data.photos.length + ' photos grouped';
    document.getElementById('config-line').textContent = '[similar]\\nsim = ' + t.toFixed(2);
    sheet(document.getElementById('slider-groups'), groups, 24);
  }
  slider.addEventListener('input', update);
  update();
  data.sheets.forEach(function (s) { sheet(document.getElementById(s.target), s.groups, 60); });
  var hover = document.getElementById('hover');
  document.querySelectorAll('.map').forEach(function (map) {
    var spots = data.maps[map.dataset.map];
    spots.forEach(function (s) {
      var dot = document.createElement('div'); dot.className = 'spot';
      dot.style.left = (100 * s[0]) + '%'; dot.style.top = (100 * s[1]) + '%';
      dot.addEventListener('mouseenter', function () {
        hover.textContent = '';
        hover.appendChild(thumb(s[2]));
        var name = document.createElement('div');
        name.textContent = data.photos[s[2]][0] + (s[3] >= 0 ? ' (group ' + (s[3] + 1) + ')' : ' (in no group)');
        hover.appendChild(name);
        var r = dot.getBoundingClientRect();
        hover.style.left = (r.right + window.scrollX + 8) + 'px'; hover.style.top = (r.top + window.scrollY) + 'px';
        hover.style.display = 'block';
      });
      dot.addEventListener('mouseleave', function () { hover.style.display = 'none'; });
      map.appendChild(dot);
    });
  });
})();
"""


def svg_image(svg: str, alt: str) -> str:
    uri = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
    return f'<img class="plot" alt="{html.escape(alt)}" src="{uri}">'


def render(title: str, sections: list[tuple[str, str]], data: dict[str, Any]) -> str:
    """The page: `sections` are (heading, HTML made here from plots and fixed text), `data` the
    JSON the script reads (photos: [name, thumb index or None, taken], thumbs, edges, sheets, maps)."""
    body = "\n".join(f"<section><h2>{html.escape(head)}</h2>\n{content}</section>" for head, content in sections)
    blob = json.dumps(data, separators=(",", ":")).replace("&", "\\u0026").replace("<", "\\u003c").replace(
        ">", "\\u003e")  # no markup in the script block, whatever a file is called
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
            f'<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src data:; '
            f'style-src \'unsafe-inline\'; script-src \'unsafe-inline\'">\n'
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>\n"
            f"<body><h1>{html.escape(title)}</h1>\n{body}\n<div id=\"hover\"></div>\n"
            f'<script type="application/json" id="explore-data">{blob}</script>\n<script>{SCRIPT}</script>\n'
            "</body></html>\n")
