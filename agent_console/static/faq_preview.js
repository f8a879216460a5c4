// The FAQ editor's preview, heard: the recorded answer when the city recorded one, else the
// preview's sentences spoken by the browser's own voice in the entry's language.
(function () {
  "use strict";

  var playing = null;

  function stop() {
    if (window.speechSynthesis) { window.speechSynthesis.cancel(); }
    if (playing) { playing.pause(); playing = null; }
    document.querySelectorAll("[data-listen-stop]").forEach(function (b) { b.hidden = true; });
  }

  function speak(preview, done) {
    var lines = Array.prototype.map.call(preview.querySelectorAll(".spoken"),
                                         function (p) { return p.textContent.trim(); });
    var lang = preview.getAttribute("data-speech-lang");
    var voices = window.speechSynthesis.getVoices();
    var voice = voices.filter(function (v) { return v.lang === lang; })[0]
      || voices.filter(function (v) { return v.lang.split("-")[0] === lang.split("-")[0]; })[0];
    lines.forEach(function (text, index) {
      var utterance = new SpeechSynthesisUtterance(text);
      utterance.lang = lang;
      if (voice) { utterance.voice = voice; }
      utterance.rate = 0.9;  // the line's own slower pace
      if (index === lines.length - 1) { utterance.onend = done; utterance.onerror = done; }
      window.speechSynthesis.speak(utterance);
    });
    preview.setAttribute("data-spoken", String(lines.length));
  }

  document.querySelectorAll(".preview").forEach(function (preview) {
    var listen = preview.querySelector("[data-listen]");
    var stopButton = preview.querySelector("[data-listen-stop]");
    if (!listen) { return; }
    var recording = preview.getAttribute("data-recording");
    if (!recording && !("speechSynthesis" in window)) {
      listen.disabled = true;
      preview.querySelector(".listen-unavailable").hidden = false;
      return;
    }
    listen.addEventListener("click", function () {
      stop();
      stopButton.hidden = false;
      var done = function () { stopButton.hidden = true; };
      if (recording) {
        playing = new Audio(recording);
        playing.addEventListener("ended", done);
        playing.play();
        preview.setAttribute("data-playing", "recording");
      } else {
        speak(preview, done);
        preview.setAttribute("data-playing", "speech");
      }
    });
    stopButton.addEventListener("click", stop);
  });
})();
