// The work screen: live parts pushed by the server (SSE), running timers, and the
// one-key shortcuts listed on the page. No inline script: CSP allows our own files only.
(function () {
  "use strict";

  var root = document.getElementById("work");
  if (!root) { return; }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function clock(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    return (h ? h + ":" + pad(m) : m) + ":" + pad(s);
  }

  function tick() {
    var now = Date.now();
    Array.prototype.forEach.call(document.querySelectorAll("[data-since]"), function (el) {
      var since = Date.parse(el.getAttribute("data-since"));
      if (!isNaN(since)) { el.textContent = clock((now - since) / 1000); }
    });
    Array.prototype.forEach.call(document.querySelectorAll("[data-until]"), function (el) {
      var until = Date.parse(el.getAttribute("data-until"));
      el.textContent = isNaN(until) ? "" : clock((until - now) / 1000);
    });
  }

  function showWrapUp(data) {
    var section = document.getElementById("wrap-up");
    if (!section) { return; }
    var open = data.state === "wrap_up" || (data.wrap_call_id && data.state !== "on_call");
    section.hidden = !open;
    document.getElementById("wrap-call-id").value = data.wrap_call_id || "";
    document.getElementById("wrap-timer").setAttribute("data-until", data.wrap_until || "");
  }

  function apply(data) {
    Object.keys(data.html).forEach(function (part) {
      var box = document.getElementById("live-" + part);
      if (box) { box.innerHTML = data.html[part]; }
    });
    root.setAttribute("data-state", data.state);
    showWrapUp(data);
    // Screen pop: a connected caller known by number opens their record, unless one is open.
    if (data.pop && !root.getAttribute("data-resident")) {
      window.location.assign(root.getAttribute("data-pop-url") + "?resident=" + data.pop);
    }
    tick();
  }

  if (window.EventSource) {
    var source = new EventSource(root.getAttribute("data-stream"));
    source.addEventListener("snapshot", function (event) { apply(JSON.parse(event.data)); });
  }
  tick();
  window.setInterval(tick, 1000);

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  function visible(el) { return el && !el.disabled && el.offsetParent !== null; }

  var wrapKeys = { a: "wrap-available", b: "wrap-away" };

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    var key = event.key;
    var target = null;
    var wrapUp = document.getElementById("wrap-up");
    if (wrapKeys[key] && wrapUp && !wrapUp.hidden) {
      target = document.getElementById(wrapKeys[key]);
    } else if (key === "d") {
      var field = document.getElementById("disposition");
      if (visible(field)) { field.focus(); event.preventDefault(); event.stopImmediatePropagation(); }
      return;
    } else {
      target = document.querySelector('[data-key="' + key + '"]');
    }
    if (visible(target)) {
      event.preventDefault();
      event.stopImmediatePropagation();
      if (target.form && target.form.requestSubmit) { target.form.requestSubmit(target); } else { target.click(); }
    }
  }, true);
}());
