// Keyboard shortcuts for the frequent actions (listed at the foot of every page),
// and submitting the language choice as soon as it changes.
(function () {
  "use strict";

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  function follow(key) {
    var link = document.querySelector('a[data-shortcut="' + key + '"]');
    if (link) { window.location.assign(link.href); return true; }
    return false;
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) { return; }
    // The search box is often focused already: "/" there starts the search, it is not typed.
    if (event.key === "/" && event.target.hasAttribute && event.target.hasAttribute("data-search-box")
        && event.target.value === "") { event.preventDefault(); return; }
    if (typing(event.target)) { return; }
    if (event.key === "/") {
      var box = document.querySelector("[data-search-box]");
      if (box) { box.focus(); box.select(); } else { follow("r"); }
      event.preventDefault();
    } else if (event.key === "?") {
      var help = document.getElementById("shortcuts");
      if (help) { help.classList.toggle("highlight"); help.scrollIntoView(); }
      event.preventDefault();
    } else if (follow(event.key)) {
      event.preventDefault();
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    var selects = document.querySelectorAll("select[data-autosubmit]");
    Array.prototype.forEach.call(selects, function (select) {
      select.addEventListener("change", function () { select.form.submit(); });
    });
  });
}());
