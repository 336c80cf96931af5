/* organizer's gallery: tabs and a finder on the index, a lightbox on album pages. No framework;
   names come from the page's text and attributes and are shown with textContent only. */
(function () {
  'use strict';

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  // --- index.html: a tab per album kind, and a finder over every album's name ---------------------
  function index() {
    var sections = Array.prototype.slice.call(document.querySelectorAll('section.kind'));
    var tabs = Array.prototype.slice.call(document.querySelectorAll('.tabs a'));
    if (!sections.length) { return; }
    document.body.classList.add('js');
    var find = document.getElementById('find');

    function show(id) {
      if (!sections.some(function (s) { return s.id === id; })) { id = sections[0].id; }
      sections.forEach(function (s) { s.classList.toggle('hidden', s.id !== id && !find.value); });
      tabs.forEach(function (t) { t.classList.toggle('on', t.getAttribute('href') === '#' + id); });
    }
    function current() { return decodeURIComponent(location.hash.slice(1)); }
    window.addEventListener('hashchange', function () { show(current()); window.scrollTo(0, 0); });
    tabs.forEach(function (t) {  // at once, not when the hash change is reported
      t.addEventListener('click', function () { show(decodeURIComponent(t.hash.slice(1))); });
    });
    find.addEventListener('input', function () {
      var words = find.value.toLocaleLowerCase().split(/\s+/).filter(Boolean);
      document.querySelectorAll('.card').forEach(function (card) {
        var text = card.textContent.toLocaleLowerCase();
        card.classList.toggle('hidden', !words.every(function (w) { return text.indexOf(w) >= 0; }));
      });
      document.querySelectorAll('section.kind h3').forEach(function (h) {
        var list = h.nextElementSibling;
        h.classList.toggle('hidden', !list || !list.querySelector('.card:not(.hidden)'));
      });
      show(current());
    });
    show(current());
  }

  // --- album pages: the lightbox ---------------------------------------------------------------
  function album() {
    var tiles = Array.prototype.slice.call(document.querySelectorAll('a.tile'));
    if (!tiles.length) { return; }
    var box = el('div', 'lightbox');
    box.hidden = true;
    box.setAttribute('role', 'dialog');
    box.setAttribute('aria-label', 'Photo viewer');
    var stage = el('div', 'stage');
    var caption = el('div', 'caption');
    var prev = el('button', 'prev', '\u2039'), next = el('button', 'next', '\u203a'), close = el('button', 'close', '\u00d7');
    prev.setAttribute('aria-label', 'Previous');
    next.setAttribute('aria-label', 'Next');
    close.setAttribute('aria-label', 'Close');
    [prev, next, close].forEach(function (b) { b.type = 'button'; });
    box.appendChild(stage);
    box.appendChild(caption);
    box.appendChild(prev);
    box.appendChild(next);
    box.appendChild(close);
    document.body.appendChild(box);
    var at = -1;

    function open(i) {
      at = (i + tiles.length) % tiles.length;
      var tile = tiles[at];
      var kind = tile.getAttribute('data-show');
      stage.textContent = '';
      var media;
      if (kind === 'video') {
        media = el('video');
        media.controls = true;
        media.preload = 'metadata';
        media.playsInline = true;
      } else {
        media = el('img');
        media.alt = tile.getAttribute('data-name');
        media.draggable = false;  // a swipe with a mouse is not a drag of the picture
      }
      media.src = tile.getAttribute('data-full');
      stage.appendChild(media);
      caption.textContent = '';
      caption.appendChild(el('strong', '', tile.getAttribute('data-name')));
      caption.appendChild(document.createTextNode(' \u00b7 ' + tile.getAttribute('data-info') +
                                                  ' \u00b7 ' + (at + 1) + ' / ' + tiles.length));
      var original = el('a', 'original', 'Open the original');
      original.href = tile.getAttribute('href');
      caption.appendChild(original);
      var companions = tile.getAttribute('data-companions');
      if (companions) {
        JSON.parse(companions).forEach(function (c) {
          var link = el('a', 'companion', c[0]);
          link.href = c[1];
          caption.appendChild(link);
        });
      }
      box.hidden = false;
      document.body.style.overflow = 'hidden';
      if (kind !== 'video') {  // the next one is ready when asked for
        var ahead = tiles[(at + 1) % tiles.length];
        if (ahead.getAttribute('data-show') !== 'video') { new Image().src = ahead.getAttribute('data-full'); }
      }
    }
    function shut() {
      box.hidden = true;
      stage.textContent = '';
      document.body.style.overflow = '';
      if (tiles[at]) { tiles[at].focus(); }
    }

    tiles.forEach(function (tile, i) {
      tile.addEventListener('click', function (e) {
        if (e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey || e.altKey) { return; }
        e.preventDefault();
        open(i);
      });
    });
    prev.addEventListener('click', function () { open(at - 1); });
    next.addEventListener('click', function () { open(at + 1); });
    close.addEventListener('click', shut);
    stage.addEventListener('click', function (e) { if (e.target === stage) { shut(); } });
    document.addEventListener('keydown', function (e) {
      if (box.hidden) { return; }
      if (e.key === 'ArrowRight' || e.key === 'PageDown' || e.key === ' ') { open(at + 1); }
      else if (e.key === 'ArrowLeft' || e.key === 'PageUp') { open(at - 1); }
      else if (e.key === 'Home') { open(0); }
      else if (e.key === 'End') { open(tiles.length - 1); }
      else if (e.key === 'Escape') { shut(); }
      else { return; }
      e.preventDefault();
    });
    var start = null;  // a swipe: left for the next, right for the previous
    box.addEventListener('pointerdown', function (e) { start = [e.clientX, e.clientY]; });
    box.addEventListener('pointerup', function (e) {
      if (!start) { return; }
      var dx = e.clientX - start[0], dy = e.clientY - start[1];
      start = null;
      if (Math.abs(dx) > 50 && Math.abs(dx) > 2 * Math.abs(dy)) { open(dx < 0 ? at + 1 : at - 1); }
    });
  }

  function ready() { index(); album(); }
  if (document.readyState === 'loading') { document.addEventListener('DOMContentLoaded', ready); } else { ready(); }
}());
