/* organizer's map: offline outlines, photo clusters (supercluster), popups, event tracks and a
   year filter. Every user string is shown with textContent: data, never markup or code. */
(function () {
  'use strict';

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }

  // thumbnails by digest, as publish/thumbs.py names them
  function thumbUrl(digest) { return 'map/thumbs/' + digest.slice(0, 2) + '/' + digest + '.jpg'; }

  // A ring or line that crosses the antimeridian (Russia's Chukotka, Fiji) jumps 360 degrees in
  // longitude: drawn as it is, it is a band across the world. Made continuous, it runs past 180.
  function unwrapLine(line) {
    for (var k = 1; k < line.length; k++) {
      while (line[k][0] - line[k - 1][0] > 180) { line[k][0] -= 360; }
      while (line[k][0] - line[k - 1][0] < -180) { line[k][0] += 360; }
    }
  }
  function unwrapGeometry(g) {
    if (g.type === 'LineString') { unwrapLine(g.coordinates); }
    else if (g.type === 'MultiLineString' || g.type === 'Polygon') { g.coordinates.forEach(unwrapLine); }
    else if (g.type === 'MultiPolygon') { g.coordinates.forEach(function (p) { p.forEach(unwrapLine); }); }
  }
  function unwrap(geo) {
    if (geo.type === 'FeatureCollection') { geo.features.forEach(function (f) { unwrapGeometry(f.geometry); }); }
    else { unwrapGeometry(geo); }
    return geo;
  }

  // Natural Earth's outlines, prepared once per scale: each country's polygons, the coasts and
  // the borders as lines, each with its bounding box in degrees.
  function shapes(lines) {
    return lines.map(function (pts) {
      var box = [Infinity, Infinity, -Infinity, -Infinity];
      pts.forEach(function (q) {
        box[0] = Math.min(box[0], q[0]); box[1] = Math.min(box[1], q[1]);
        box[2] = Math.max(box[2], q[0]); box[3] = Math.max(box[3], q[1]);
      });
      return {pts: pts, box: box};
    });
  }
  function prepare(world) {
    var countries = unwrap(topojson.feature(world, world.objects.countries));
    var mesh = function (filter) {
      return shapes(unwrap(topojson.mesh(world, world.objects.countries, filter)).coordinates);
    };
    var land = [];
    countries.features.forEach(function (f) {
      var g = f.geometry;
      if (!g) { return; }
      (g.type === 'Polygon' ? [g.coordinates] : g.type === 'MultiPolygon' ? g.coordinates : []).forEach(function (rings) {
        var outer = shapes([rings[0]])[0];
        land.push({rings: rings, box: outer.box});
      });
    });
    return {countries: countries.features.length, land: land,
            coast: mesh(function (a, b) { return a === b; }), borders: mesh(function (a, b) { return a !== b; })};
  }

  // Drawn in canvas tiles, each tile only the shapes that cross it, thinned to a point per pixel:
  // a zoom or a pan draws what is in view, once per tile. (As Leaflet vector layers, every zoom
  // projected all of 1:50m's 240 countries again: up to a second a step on a NAS's browser.)
  var TILE = 256;
  function drawTile(canvas, coords, world) {
    var scale = TILE * Math.pow(2, coords.z), n = Math.pow(2, coords.z);
    var x0 = coords.x * TILE, y0 = coords.y * TILE;
    var west = coords.x / n * 360 - 180, east = (coords.x + 1) / n * 360 - 180;
    var lat = function (y) { return Math.atan(Math.sinh(Math.PI * (1 - 2 * y / n))) * 180 / Math.PI; };
    var north = lat(coords.y), south = lat(coords.y + 1);
    var ctx = canvas.getContext('2d');
    // a shape unwrapped past the antimeridian is also drawn a world to the left or right
    function each(list, fn) {
      [0, 360, -360].forEach(function (shift) {
        list.forEach(function (s) {
          if (s.box[0] + shift <= east && s.box[2] + shift >= west && s.box[1] <= north && s.box[3] >= south) {
            fn(s, shift);
          }
        });
      });
    }
    function trace(pts, shift) {
      var lx = NaN, ly = NaN;
      for (var k = 0; k < pts.length; k++) {
        var px = (pts[k][0] + shift + 180) / 360 * scale - x0;
        var s = Math.sin(pts[k][1] * Math.PI / 180);
        var py = (0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)) * scale - y0;
        if (k === 0) { ctx.moveTo(px, py); }
        else if (Math.abs(px - lx) + Math.abs(py - ly) >= 1 || k === pts.length - 1) { ctx.lineTo(px, py); }
        else { continue; }
        lx = px; ly = py;
      }
    }
    ctx.fillStyle = '#f2efe6';
    ctx.beginPath();
    each(world.land, function (p, shift) { p.rings.forEach(function (r) { trace(r, shift); ctx.closePath(); }); });
    ctx.fill();  // non-zero: a hole (Lesotho in South Africa) is wound the other way, and its country fills it
    [[world.coast, '#8a8170', []], [world.borders, '#a39b8b', [4, 3]]].forEach(function (style) {
      ctx.strokeStyle = style[1];
      ctx.lineWidth = 1;
      ctx.setLineDash(style[2]);
      ctx.beginPath();
      each(style[0], function (line, shift) { trace(line.pts, shift); });
      ctx.stroke();
    });
  }

  // 1:110m when zoomed out, 1:50m from zoom DETAIL_ZOOM on, under the tiles (seen when they fail).
  var DETAIL_ZOOM = 5;
  function addOutlines(map) {
    if (!window.ORGANIZER_WORLD || !window.topojson) { return null; }
    map.createPane('organizer-world');
    map.getPane('organizer-world').style.zIndex = 150;  // under the tiles (200)
    var prepared = {};
    function scaleAt(z) { return z >= DETAIL_ZOOM || !window.ORGANIZER_WORLD_110M ? 'fine' : 'coarse'; }
    function world(which) {
      if (!prepared[which]) {
        prepared[which] = prepare(which === 'fine' ? window.ORGANIZER_WORLD : window.ORGANIZER_WORLD_110M);
      }
      return prepared[which];
    }
    var Outlines = L.GridLayer.extend({
      createTile: function (coords) {
        var canvas = L.DomUtil.create('canvas', 'organizer-outline-tile');
        var ratio = window.devicePixelRatio || 1;
        canvas.width = canvas.height = TILE * ratio;
        canvas.getContext('2d').scale(ratio, ratio);
        drawTile(canvas, coords, world(scaleAt(coords.z)));
        return canvas;
      }
    });
    var layer = new Outlines({pane: 'organizer-world', className: 'organizer-outlines', tileSize: TILE,
                              updateWhenZooming: false, keepBuffer: 4});
    function mark() {
      var want = scaleAt(Math.round(map.getZoom()));
      map.getContainer().setAttribute('data-outlines', want);
      map.getContainer().setAttribute('data-countries', String(world(want).countries));
    }
    map.on('zoomend', mark);
    layer.addTo(map);
    mark();
    return layer;
  }

  function clock(seconds) {  // 75 -> '1:15', 3700 -> '1:01:40'
    var h = Math.floor(seconds / 3600), m = Math.floor(seconds / 60) % 60, s = seconds % 60;
    var pad = function (n) { return (n < 10 ? '0' : '') + n; };
    return h ? h + ':' + pad(m) + ':' + pad(s) : m + ':' + pad(s);
  }

  function yearOf(taken) { return taken ? parseInt(taken.slice(0, 4), 10) : 0; }

  window.organizerMap = function (map, data) {
    var photos = data.photos, albums = data.albums;
    var outlines = addOutlines(map);
    function linkOf(p) {  // the original through its album's link
      return typeof p[5] === 'number' ? albums[p[5]][3] + '/' + (p[8] || encodeURIComponent(p[4])) : p[5];
    }
    var markers = L.layerGroup().addTo(map);
    var track = null, trackRenderer = L.svg();
    var features = photos.map(function (p, i) {
      return {type: 'Feature', properties: {i: i}, geometry: {type: 'Point', coordinates: [p[1], p[0]]}};
    });
    var years = photos.map(function (p) { return yearOf(p[3]); });
    var dated = years.filter(function (y) { return y > 0; });
    var first = dated.reduce(function (a, y) { return y < a ? y : a; }, dated.length ? dated[0] : 0);
    var last = dated.reduce(function (a, y) { return y > a ? y : a; }, first);
    var index = null, range = [first, last], drawn = {};

    function load() {
      var all = range[0] === first && range[1] === last;
      var chosen = features.filter(function (f, i) {
        var y = years[f.properties.i];
        return all || (y >= range[0] && y <= range[1]);
      });
      index = new Supercluster({
        radius: 64, maxZoom: 17,  // from zoom 18 every photo is its own marker
        // rows come newest first: a cluster's newest photo is its lowest row
        map: function (props) { return {i: props.i}; },
        reduce: function (acc, props) { if (props.i < acc.i) { acc.i = props.i; } }
      });
      index.load(chosen);
      markers.clearLayers();
      drawn = {};
      map.getContainer().setAttribute('data-shown', String(chosen.length));
      draw();
    }

    function icon(i, count) {
      var p = photos[i];
      var box = el('div', count ? 'organizer-cluster' : 'organizer-photo');
      if (p[2]) {
        var img = el('img');
        img.src = thumbUrl(p[2]);
        img.alt = '';
        box.appendChild(img);
      } else {
        box.classList.add('organizer-nothumb');
      }
      if (p[9]) { box.appendChild(el('span', 'organizer-play', '\u25b6')); }
      if (count) { box.appendChild(el('span', 'organizer-count', count.toLocaleString())); }
      return L.divIcon({html: box, className: 'organizer-icon', iconSize: count ? [56, 56] : [44, 44]});
    }

    function draw() {
      var b = map.getBounds();
      var west = b.getWest(), east = b.getEast();
      if (east - west >= 360) { west = -180; east = 180; }
      var zoom = Math.round(map.getZoom());
      var found = index.getClusters([west, Math.max(b.getSouth(), -85), east, Math.min(b.getNorth(), 85)], zoom);
      var next = {};
      found.forEach(function (f) {
        var props = f.properties;
        var key = props.cluster ? 'c' + props.cluster_id + '@' + zoom : 'p' + props.i;
        next[key] = drawn[key] || makeMarker(f);
        if (!drawn[key]) { markers.addLayer(next[key]); }
      });
      Object.keys(drawn).forEach(function (key) { if (!next[key]) { markers.removeLayer(drawn[key]); } });
      drawn = next;  // markers that stay are kept, with their open popup
    }

    function makeMarker(f) {
      var ll = [f.geometry.coordinates[1], f.geometry.coordinates[0]];
      var props = f.properties;
      if (props.cluster) {
        var m = L.marker(ll, {icon: icon(props.i, props.point_count), title: props.point_count + ' photos'});
        m.on('click', function () {
          var zoom = index.getClusterExpansionZoom(props.cluster_id);
          if (zoom > 18 || map.getZoom() >= 18) {  // photos taken at one spot: list them
            m.bindPopup(leaves(props.cluster_id), {maxWidth: 340}).openPopup();
          } else {
            map.flyTo(ll, zoom, {duration: 0.4});
          }
        });
        return m;
      }
      var single = L.marker(ll, {icon: icon(props.i, 0)});
      single.bindPopup(function () { return popup(props.i); }, {maxWidth: 320, minWidth: 200});
      return single;
    }

    function leaves(id) {
      var box = el('div', 'organizer-popup organizer-leaves');
      index.getLeaves(id, 60).forEach(function (leaf) {
        var p = photos[leaf.properties.i];
        var open = el('a', 'organizer-open');
        open.href = linkOf(p);
        open.title = p[4] + (p[3] ? ' \u00b7 ' + p[3] : '');
        if (p[2]) { var img = el('img'); img.src = thumbUrl(p[2]); img.alt = ''; open.appendChild(img); }
        else { open.textContent = p[4]; }
        if (p[9]) { open.classList.add('organizer-video'); open.appendChild(el('span', 'organizer-play', '\u25b6')); }
        box.appendChild(open);
      });
      return box;
    }

    function showTrack(e) {
      if (track) { map.removeLayer(track); }
      var points = [];
      photos.forEach(function (p) { if (p[7] === e) { points.push(p); } });
      points.sort(function (a, b) { return (a[3] || '') < (b[3] || '') ? -1 : (a[3] || '') > (b[3] || '') ? 1 : 0; });
      track = L.polyline(points.map(function (p) { return [p[0], p[1]]; }),
                         {color: '#d2452b', weight: 4, opacity: 0.85, className: 'organizer-track', renderer: trackRenderer});
      track.bindTooltip(el('span', 'organizer-track-name', albums[e][1]), {sticky: true});
      track.addTo(map);
      map.getContainer().setAttribute('data-track', String(points.length));
      if (points.length > 1 && !map.getBounds().contains(track.getBounds())) {  // else the popup stays open
        map.fitBounds(track.getBounds(), {padding: [40, 40], maxZoom: 16});
      }
    }

    function albumLink(k) {
      var a = albums[k];
      var link = el('a', 'organizer-album', a[0]);
      if (a[2]) { link.href = a[2]; }
      return link;
    }

    function popup(i) {
      var p = photos[i];
      var box = el('div', 'organizer-popup');
      var open = el('a', 'organizer-open');
      open.href = linkOf(p);
      open.title = 'Open the original';
      if (p[2]) {
        var img = el('img');
        img.src = thumbUrl(p[2]);
        img.alt = '';
        open.appendChild(img);
      }
      if (p[9]) {
        open.classList.add('organizer-video');
        open.title = 'Play the video';
        open.appendChild(el('span', 'organizer-play', '\u25b6'));
      }
      open.appendChild(el('span', 'organizer-name', p[4]));
      box.appendChild(open);
      box.appendChild(el('div', 'organizer-when', (p[3] || 'undated') + (p[9] ? ' \u00b7 video ' + clock(p[9]) : '')));
      var people = p[6].filter(function (k) { return albums[k][4]; });
      if (people.length) {  // the persons in it, by name ('Person 2' as their album is named), to their pages
        var line = el('div', 'organizer-people', 'People: ');
        people.forEach(function (k, n) {
          var a = albums[k];
          var link = el('a', 'organizer-person', a[1]);
          if (a[2]) { link.href = a[2]; }
          link.title = a[0];
          if (n) { line.appendChild(document.createTextNode(', ')); }
          line.appendChild(link);
        });
        box.appendChild(line);
      }
      var list = el('ul');
      p[6].forEach(function (k) {
        if (albums[k][4]) { return; }
        var li = el('li'); li.appendChild(albumLink(k)); list.appendChild(li);
      });
      box.appendChild(list);
      if (p[7] >= 0) {
        var button = el('button', 'organizer-show-track', 'Show the event\u2019s track');
        button.type = 'button';
        button.addEventListener('click', function () { showTrack(p[7]); });
        box.appendChild(button);
      }
      return box;
    }

    var places = L.layerGroup();
    data.areas.forEach(function (a) {
      var circle = L.circle([a[0], a[1]], {radius: Math.max(a[2], 50), weight: 2, fillOpacity: 0.08,
                                           className: 'organizer-place'});
      circle.bindTooltip(el('span', '', albums[a[3]][1]));
      circle.bindPopup(function () { var box = el('div', 'organizer-popup'); box.appendChild(albumLink(a[3])); return box; });
      places.addLayer(circle);
    });
    places.addTo(map);

    var overlays = {'Photos': markers, 'Places': places};
    if (outlines) { overlays['Country outlines (offline)'] = outlines; }
    L.control.layers(null, overlays, {collapsed: true}).addTo(map);

    var nav = L.control({position: 'topleft'});
    nav.onAdd = function () {
      var box = el('div', 'leaflet-bar organizer-nav');
      var link = el('a', '', 'Albums');
      link.href = 'index.html';
      box.appendChild(link);
      return box;
    };
    nav.addTo(map);

    if (first) {
      var slider = L.control({position: 'bottomleft'});
      slider.onAdd = function () {
        var box = el('div', 'organizer-years');
        var label = el('div', 'organizer-years-label');
        var from = el('input'), to = el('input');
        [from, to].forEach(function (input, k) {
          input.type = 'range';
          input.min = String(first);
          input.max = String(last);
          input.step = '1';
          input.value = String(k ? last : first);
          input.className = k ? 'organizer-to' : 'organizer-from';
          input.setAttribute('aria-label', k ? 'to year' : 'from year');
        });
        function show() { label.textContent = 'Photos from ' + range[0] + ' to ' + range[1]; }
        var timer = null;
        function changed() {
          var a = parseInt(from.value, 10), b = parseInt(to.value, 10);
          if (a > b) { if (this === from) { to.value = from.value; b = a; } else { from.value = to.value; a = b; } }
          range = [a, b];
          show();
          clearTimeout(timer);
          timer = setTimeout(load, 120);
        }
        from.addEventListener('input', changed);
        to.addEventListener('input', changed);
        show();
        box.appendChild(label);
        box.appendChild(from);
        box.appendChild(to);
        L.DomEvent.disableClickPropagation(box);
        L.DomEvent.disableScrollPropagation(box);
        return box;
      };
      slider.addTo(map);
    }

    map.on('moveend zoomend', function () { if (index) { draw(); } });
    load();
    window.organizer = {map: map, photos: photos, albums: albums};
  };
}());
