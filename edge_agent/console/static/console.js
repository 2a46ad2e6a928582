// Live updates: a page whose <main> names channels in data-live reloads its data-live-src fragment into
// data-live-target whenever the server sends an event on one of them (server-sent events, /events).
// Debounced, so 50 devices' health every second redraws the list at most twice a second.
(function () {
  "use strict";
  var main = document.querySelector("main[data-live]");
  if (!main || !window.EventSource) { return; }
  var channels = main.getAttribute("data-live").split(" ");
  var src = main.getAttribute("data-live-src");
  var target = document.querySelector(main.getAttribute("data-live-target"));
  var query = channels.map(function (c) { return "channel=" + encodeURIComponent(c); }).join("&");
  var timer = null;
  function reload() {
    timer = null;
    fetch(src, {credentials: "same-origin", headers: {"Accept": "text/html"}}).then(function (r) {
      if (r.redirected || r.status === 401) { window.location.reload(); return null; }
      return r.ok ? r.text() : null;
    }).then(function (html) {
      if (html !== null && target) { target.innerHTML = html; document.dispatchEvent(new Event("console:updated")); }
    });
  }
  var source = new EventSource("/events?" + query);
  channels.forEach(function (c) {
    source.addEventListener(c, function () { if (!timer) { timer = setTimeout(reload, 500); } });
  });
})();
