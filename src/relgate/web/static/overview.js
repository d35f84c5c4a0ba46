// The overview: every <time data-ago> says how long ago, kept current (the server sends the
// absolute time, so that a row it rendered once stays right).
(function () {
  "use strict";
  function ago(seconds) {
    var steps = [[86400, "d"], [3600, "h"], [60, "min"]];
    for (var i = 0; i < steps.length; i++) {
      if (seconds >= steps[i][0]) { return Math.floor(seconds / steps[i][0]) + " " + steps[i][1] + " ago"; }
    }
    return Math.floor(seconds) + " s ago";
  }
  function update() {
    var now = Date.now();
    document.querySelectorAll("time[data-ago]").forEach(function (element) {
      var at = Date.parse(element.getAttribute("datetime"));
      if (isNaN(at)) { return; }
      if (!element.title) { element.title = element.textContent; }
      element.textContent = ago(Math.max(0, (now - at) / 1000));
    });
  }
  document.addEventListener("DOMContentLoaded", update);
  document.addEventListener("htmx:afterSettle", update);
  document.addEventListener("htmx:oobAfterSwap", update);
  document.addEventListener("htmx:sseMessage", function () { window.setTimeout(update, 0); });
  window.setInterval(update, 20000);
}());
