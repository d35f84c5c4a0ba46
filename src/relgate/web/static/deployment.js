// The deployment page's live log: keep it to a bounded size and follow its end.
// (No inline script: the CSP allows scripts only from this server.)
(function () {
  "use strict";
  // characters the page keeps; older output is dropped from the top
  var MAX_CHARS = 200000;

  function trim(log) {
    // a gap mark means what came before it does not continue: drop that
    var gaps = log.querySelectorAll(".log-gap");
    if (gaps.length) {
      var last = gaps[gaps.length - 1];
      while (log.firstChild && log.firstChild !== last) log.removeChild(log.firstChild);
    }
    var size = log.textContent.length;
    while (size > MAX_CHARS && log.firstChild && log.firstChild.nextSibling) {
      size -= (log.firstChild.textContent || "").length;
      log.removeChild(log.firstChild);
    }
  }

  document.addEventListener("htmx:sseBeforeMessage", function (event) {
    var log = document.getElementById("deployment-log");
    if (!log || event.target !== log) return;
    log.dataset.follow = log.scrollHeight - log.scrollTop - log.clientHeight < 24 ? "1" : "";
  });

  document.addEventListener("htmx:sseMessage", function (event) {
    var log = document.getElementById("deployment-log");
    if (!log || event.target !== log) return;
    trim(log);
    if (log.dataset.follow) log.scrollTop = log.scrollHeight;
  });

  document.addEventListener("DOMContentLoaded", function () {
    var log = document.getElementById("deployment-log");
    if (log) log.scrollTop = log.scrollHeight;
  });
})();
