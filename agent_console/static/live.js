// The supervisors' live board: every "board" event from the server replaces the tiles' text,
// level and notes, the staffing advice and the alerts. EventSource reconnects by itself.
(function () {
  "use strict";

  function setText(element, text) {
    if (element && element.textContent !== text) { element.textContent = text; }
  }

  function setLevel(element, level) {
    element.className = element.className.replace(/\blevel-\w+/, "level-" + level);
    element.setAttribute("data-level", level);
  }

  function applyTiles(root, tiles) {
    Object.keys(tiles).forEach(function (key) {
      var tile = root.querySelector('[data-tile="' + key + '"]');
      if (!tile) { return; }
      var item = tiles[key];
      ["text", "level_text", "note"].forEach(function (part) {
        setText(tile.querySelector('[data-part="' + part + '"]'), item[part]);
      });
      setLevel(tile, item.level);
    });
  }

  function applyStaffing(root, staffing) {
    var section = root.querySelector("#live-staffing");
    Object.keys(staffing).forEach(function (key) {
      setText(section.querySelector('[data-staffing="' + key + '"]'), staffing[key]);
    });
    setLevel(section, staffing.level);
  }

  function applyAlerts(list, alerts) {
    while (list.firstChild) { list.removeChild(list.firstChild); }
    if (alerts.length === 0) {
      var none = document.createElement("li");
      none.className = "alert-none";
      none.textContent = list.getAttribute("data-none");
      list.appendChild(none);
    }
    alerts.forEach(function (alert) {
      var item = document.createElement("li");
      item.className = "alert level-" + alert.level;
      item.textContent = alert.text;
      list.appendChild(item);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("live-board");
    if (!root || !window.EventSource) { return; }
    var stale = document.getElementById("live-stale");
    var source = new EventSource(root.getAttribute("data-stream"));
    source.addEventListener("board", function (event) {
      var board = JSON.parse(event.data);
      stale.hidden = true;
      setText(root.querySelector('[data-field="updated"]'), board.updated);
      applyTiles(root, board.tiles);
      applyStaffing(root, board.staffing);
      applyAlerts(document.getElementById("live-alerts"), board.alerts);
    });
    source.addEventListener("error", function () { stale.hidden = false; });
  });
}());
