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
    // A running clock inside a live region is not news: screen readers read it when asked.
    Array.prototype.forEach.call(document.querySelectorAll("[data-since], [data-until]"), function (el) {
      if (!el.hasAttribute("role")) { el.setAttribute("role", "timer"); }
    });
    // A list of the caller's words that scrolls must be reachable by keyboard too.
    Array.prototype.forEach.call(document.querySelectorAll(".heard"), function (list) {
      if (list.scrollHeight > list.clientHeight && !list.hasAttribute("tabindex")) {
        list.setAttribute("tabindex", "0");
      }
    });
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

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  // The live region: what changed on the line, said to a screen reader without moving focus.
  var announcer = document.getElementById("work-announce");
  var POPPED = "madoguchi.work.popped";

  function announce(text) {
    if (!announcer || !text) { return; }
    // Emptied first, so that the same words said twice are still spoken twice.
    announcer.textContent = "";
    window.setTimeout(function () { announcer.textContent = text; }, 100);
  }

  function worded(key, name) {
    return (root.getAttribute("data-say-" + key) || "").replace("{name}", name);
  }

  function callerName() {
    var strong = document.querySelector("#connected-call dd strong");
    return strong ? strong.textContent.trim() : root.getAttribute("data-say-unknown");
  }

  function connectedCall() {
    var call = document.getElementById("connected-call");
    return call && call.classList.contains("live") ? call.getAttribute("data-call") : "";
  }

  // Where focus was inside a part about to be replaced, as a selector that finds it again.
  function focusSelector(box) {
    var active = document.activeElement;
    if (!active || active === box || !box.contains(active)) { return null; }
    if (active.id) { return "#" + CSS.escape(active.id); }
    var row = active.closest("tr[data-call], tr[data-callback]");
    if (row) {
      var attr = row.hasAttribute("data-call") ? "data-call" : "data-callback";
      return "tr[" + attr + '="' + row.getAttribute(attr) + '"] ' + active.tagName.toLowerCase();
    }
    if (active.getAttribute("data-key")) { return '[data-key="' + active.getAttribute("data-key") + '"]'; }
    if (active.name) { return active.tagName.toLowerCase() + '[name="' + active.name + '"][value="' + active.value + '"]'; }
    return "";
  }

  function replacePart(box, html) {
    if (box.lastHtml === html) { return; }
    var selector = focusSelector(box);
    box.innerHTML = html;
    box.lastHtml = html;
    if (selector === null) { return; }
    // A keyboard user keeps their place: the same control again, else the part's heading.
    var again = selector ? box.querySelector(selector) : null;
    if (!again) {
      again = box.querySelector("h2") || box;
      again.setAttribute("tabindex", "-1");
    }
    again.focus({ preventScroll: true });
  }

  function openPop(residentId) {
    var url = root.getAttribute("data-pop-url") + "?resident=" + residentId;
    if (typing(document.activeElement)) {
      // Mid-typing: the record waits for them (a link and the p key) instead of taking focus.
      var pending = document.getElementById("pop-pending");
      if (pending && pending.getAttribute("href") !== url) {
        pending.setAttribute("href", url);
        pending.hidden = false;
        pending.onclick = function () { window.sessionStorage.setItem(POPPED, String(residentId)); };
        announce(worded("waiting", callerName()));
      }
      return;
    }
    window.sessionStorage.setItem(POPPED, String(residentId));
    window.location.assign(url);
  }

  function apply(data) {
    var before = connectedCall();
    Object.keys(data.html).forEach(function (part) {
      var box = document.getElementById("live-" + part);
      if (box) { replacePart(box, data.html[part]); }
    });
    root.setAttribute("data-state", data.state);
    showWrapUp(data);
    var now = connectedCall();
    if (now && now !== before) { announce(worded("connected", callerName())); }
    // Screen pop: a connected caller known by number opens their record, unless one is open.
    if (data.pop && !root.getAttribute("data-resident")) { openPop(data.pop); }
    var pending = document.getElementById("pop-pending");
    if (pending && !data.pop) { pending.hidden = true; pending.setAttribute("href", "#pop"); }
    tick();
  }

  // Just opened by a screen pop or by taking a caller: focus goes to the caller's record.
  (function focusThePop() {
    var popped = window.sessionStorage.getItem(POPPED);
    var resident = root.getAttribute("data-resident");
    window.sessionStorage.removeItem(POPPED);
    if (!popped || !resident || (popped !== "taken" && popped !== resident)) { return; }
    var heading = document.querySelector("#pop-resident h2, #pop-resident h3");
    if (!heading) { return; }
    heading.setAttribute("tabindex", "-1");
    if (!typing(document.activeElement)) { heading.focus(); }
    announce(worded("opened", heading.firstChild ? heading.firstChild.textContent.trim() : ""));
  }());

  // Taking a caller by hand leads to their record as well.
  document.addEventListener("submit", function (event) {
    var action = event.target.getAttribute("action") || "";
    if (/\/work\/take(-next)?$/.test(action)) { window.sessionStorage.setItem(POPPED, "taken"); }
  });

  if (window.EventSource) {
    var source = new EventSource(root.getAttribute("data-stream"));
    source.addEventListener("snapshot", function (event) { apply(JSON.parse(event.data)); });
  }
  tick();
  window.setInterval(tick, 1000);

  function visible(el) { return el && !el.disabled && el.offsetParent !== null; }

  var wrapKeys = { a: "wrap-available", b: "wrap-away" };

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing || typing(event.target)) { return; }
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
