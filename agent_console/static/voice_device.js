// The operator's browser phone: registers a Twilio.Device with a token from the console,
// renews the token before it runs out, rings for incoming calls (answer / decline), mute and
// hang up, and says plainly in the status line when something does not work.
// Words come from the data-msg-* attributes of #softphone (the operator's language).
// Other scripts may listen for the "softphone:state" event on document.
(function () {
  "use strict";

  var root = document.getElementById("softphone");
  if (!root) { return; }

  var statusLine = root.querySelector("[data-softphone-status]");
  var ringingBox = root.querySelector("[data-softphone-ringing]");
  var callBox = root.querySelector("[data-softphone-call]");
  var muteButton = root.querySelector("[data-softphone-mute]");
  var retryButton = root.querySelector("[data-softphone-retry]");
  // Still not registered after this long: say so instead of "starting" forever.
  var REGISTER_PATIENCE_MS = 20000;
  var device = null;
  var call = null;
  var watchdog = null;

  function message(name) {
    return root.getAttribute("data-msg-" + name) || name;
  }

  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (whole, key) {
      return Object.prototype.hasOwnProperty.call(values, key) ? String(values[key]) : whole;
    });
  }

  function show(state, text) {
    root.setAttribute("data-state", state);
    statusLine.textContent = text;
    ringingBox.hidden = state !== "ringing";
    callBox.hidden = state !== "in_call";
    retryButton.hidden = state !== "error";
    document.dispatchEvent(new CustomEvent("softphone:state", { detail: { state: state } }));
  }

  // Twilio's error codes, grouped into what the operator can do about them.
  function reasonFor(error) {
    var code = error && (error.code || (error.twilioError && error.twilioError.code));
    if (error && error.softphoneReason) { return message("reason-" + error.softphoneReason); }
    if (error && error.softphoneText) { return error.softphoneText; }
    if (code === 31401 || code === 31402 || code === 31208 || (error && error.name === "NotAllowedError")) {
      return message("reason-microphone");
    }
    if ((code >= 20101 && code <= 20160) || (code >= 31202 && code <= 31207)) {
      return message("reason-token");
    }
    if (code === 31000 || code === 31005 || code === 31009 || code === 53000 || code === 53405) {
      return message("reason-network");
    }
    var detail = (error && (error.message || error.explanation)) || String(error);
    return fill(message("reason-other"), { code: code || "-", detail: detail });
  }

  function fail(error) {
    clearTimeout(watchdog);
    var text = fill(message("error"), { reason: reasonFor(error) });
    // A warning during a live call must not take away the hang-up and mute buttons.
    if (call && root.getAttribute("data-state") === "in_call") {
      statusLine.textContent = text;
      return;
    }
    show("error", text);
  }

  function problem(reason) {
    var error = new Error(reason);
    error.softphoneReason = reason;
    return error;
  }

  function fetchToken() {
    return fetch(root.getAttribute("data-token-url"), {
      credentials: "same-origin",
      cache: "no-store",
      headers: { Accept: "application/json" }
    }).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      // A lapsed session is redirected to the login page, which is not JSON.
      if (response.redirected || type.indexOf("application/json") === -1) {
        throw problem("logged-out");
      }
      return response.json().then(function (body) {
        if (!response.ok) {
          // The console's own refusal is already a sentence in the operator's language.
          var refused = new Error(body.message || body.error);
          refused.softphoneText = body.message || body.error;
          throw refused;
        }
        root.setAttribute("data-identity", body.identity);
        root.setAttribute("data-token-expires", String(body.expires_at));
        return body.token;
      });
    });
  }

  function idle(text) {
    call = null;
    show("ready", text || message("ready"));
  }

  function setMuted(muted) {
    muteButton.setAttribute("aria-pressed", muted ? "true" : "false");
    muteButton.firstChild.nodeValue = (muted ? message("unmute") : message("mute")) + " ";
    show("in_call", muted ? message("muted") : message("in-call"));
  }

  function ring(incoming) {
    if (call) { incoming.reject(); return; }
    call = incoming;
    show("ringing", message("incoming"));
    incoming.on("accept", function () { setMuted(false); });
    incoming.on("cancel", function () { idle(message("missed")); });
    incoming.on("reject", function () { idle(); });
    incoming.on("disconnect", function () { idle(message("ended")); });
    incoming.on("error", fail);
  }

  function sounds() {
    var ownTone = root.getAttribute("data-sound-key");
    var chosen = {
      incoming: root.getAttribute("data-sound-ring"),
      outgoing: root.getAttribute("data-sound-ringback"),
      disconnect: root.getAttribute("data-sound-hangup")
    };
    // Every sound is ours: nothing is fetched from a CDN.
    ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "s", "h"].forEach(function (key) {
      chosen["dtmf" + key] = ownTone;
    });
    return chosen;
  }

  function start() {
    if (!window.Twilio || !window.Twilio.Device) { fail(problem("sdk")); return; }
    show("starting", message("starting"));
    clearTimeout(watchdog);
    watchdog = setTimeout(function () {
      if (root.getAttribute("data-state") === "starting") { fail(problem("network")); }
    }, REGISTER_PATIENCE_MS);
    fetchToken().then(function (token) {
      if (device) { device.destroy(); }
      device = new window.Twilio.Device(token, {
        sounds: sounds(),
        closeProtection: message("close-warning"),
        codecPreferences: ["opus", "pcmu"],
        logLevel: "warn"
      });
      device.on("registered", function () { clearTimeout(watchdog); if (!call) { idle(); } });
      device.on("error", function (error) { fail(error); });
      device.on("incoming", ring);
      device.on("tokenWillExpire", function () {
        fetchToken().then(function (fresh) { device.updateToken(fresh); }).catch(fail);
      });
      return device.register();
    }).catch(fail);
  }

  function answer() { if (call && root.getAttribute("data-state") === "ringing") { call.accept(); } }
  function decline() { if (call && root.getAttribute("data-state") === "ringing") { call.reject(); } }
  function hangUp() { if (call) { call.disconnect(); } }
  function toggleMute() {
    if (call && root.getAttribute("data-state") === "in_call") {
      call.mute(!call.isMuted());
      setMuted(call.isMuted());
    }
  }

  root.querySelector("[data-softphone-accept]").addEventListener("click", answer);
  root.querySelector("[data-softphone-decline]").addEventListener("click", decline);
  root.querySelector("[data-softphone-hangup]").addEventListener("click", hangUp);
  muteButton.addEventListener("click", toggleMute);
  retryButton.addEventListener("click", start);

  // A (answer) and D (decline) while it rings, M (mute) and H (hang up) during a call.
  var keys = { ringing: { a: answer, d: decline }, in_call: { m: toggleMute, h: hangUp } };
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    var tag = event.target && event.target.tagName;
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT") { return; }
    var action = (keys[root.getAttribute("data-state")] || {})[event.key.toLowerCase()];
    if (action) {
      event.preventDefault();
      event.stopImmediatePropagation();
      action();
    }
  }, true);

  start();
}());
