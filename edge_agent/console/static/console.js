// Live updates: a page whose <main> names channels in data-live reloads its data-live-src fragment into
// data-live-target whenever the server sends an event on one of them (server-sent events, /events).
// Throttled (see GAP below).
(function () {
  "use strict";
  var main = document.querySelector("main[data-live]");
  if (!main || !window.EventSource) { return; }
  var channels = main.getAttribute("data-live").split(" ");
  var src = main.getAttribute("data-live-src");
  var target = document.querySelector(main.getAttribute("data-live-target"));
  var query = channels.map(function (c) { return "channel=" + encodeURIComponent(c); }).join("&");
  // At most one reload every GAP ms, the first one at once: a call shows without waiting out a debounce (the
  // assist-call benchmark), a burst (50 devices' health) still redraws at most twice a second.
  var GAP = 500, timer = null, last = 0, busy = false, again = false;
  function schedule() {
    if (timer) { return; }
    timer = setTimeout(reload, Math.max(0, last + GAP - Date.now()));
  }
  function reload() {
    timer = null;
    if (busy) { again = true; return; }
    busy = true;
    last = Date.now();
    fetch(src, {credentials: "same-origin", headers: {"Accept": "text/html"}}).then(function (r) {
      if (r.redirected || r.status === 401) { window.location.reload(); return null; }
      return r.ok ? r.text() : null;
    }).then(function (html) {
      if (html !== null && target) { target.innerHTML = html; document.dispatchEvent(new Event("console:updated")); }
    }).catch(function () { return null; }).then(function () {
      busy = false;
      if (again) { again = false; schedule(); }
    });
  }
  var source = new EventSource("/events?" + query);
  channels.forEach(function (c) {
    source.addEventListener(c, schedule);
  });
})();
