// Serbero web view: refresh the page's main part every N seconds (data-refresh on <main>),
// unless the operator is typing in a form. Plain JavaScript, no library, no build step.
(function () {
  "use strict";
  var main = document.getElementById("page");
  var seconds = main && parseInt(main.getAttribute("data-refresh"), 10);
  if (!seconds || seconds < 5) { return; }
  function busy() {
    var el = document.activeElement;
    return el && (el.tagName === "INPUT" || el.tagName === "SELECT" || el.tagName === "TEXTAREA");
  }
  function refresh() {
    if (document.hidden || busy()) { return; }
    fetch(window.location.href, { credentials: "same-origin", cache: "no-store" })
      .then(function (reply) { return reply.ok ? reply.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("page");
        if (fresh && !busy()) { main.innerHTML = fresh.innerHTML; }
      })
      .catch(function () { /* the next round tries again */ });
  }
  window.setInterval(refresh, seconds * 1000);
})();
