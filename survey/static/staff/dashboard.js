// Refreshes the dashboard's figures without reloading the page: every
// data-refresh-seconds it fetches the same figures as an HTML fragment
// (data-live-url) and swaps them in. Without JavaScript the page is complete
// and has a "Refresh now" link. No inline script: this file is all there is.
(function () {
  "use strict";
  var box = document.getElementById("dashboard");
  if (!box || !window.fetch) { return; }
  var url = box.getAttribute("data-live-url");
  var seconds = parseInt(box.getAttribute("data-refresh-seconds"), 10);
  var status = document.getElementById("live-status");
  if (!url || !(seconds > 0)) { return; }
  var timer = null;
  var failures = 0;
  var stopped = false;

  // The texts come from the page (data-* attributes), in the staff member's language.
  function text(name) { return (status && status.getAttribute("data-" + name)) || ""; }
  function say(text) { if (status) { status.textContent = text; } }

  function schedule() {
    window.clearTimeout(timer);
    if (!stopped) { timer = window.setTimeout(refresh, seconds * 1000 * Math.min(8, Math.pow(2, failures))); }
  }

  function refresh() {
    // Do not pull the content from under a reader who is using it, nor work for a hidden tab.
    if (document.hidden || (document.activeElement && document.activeElement !== document.body &&
                            box.contains(document.activeElement))) { schedule(); return; }
    fetch(url, { credentials: "same-origin", redirect: "manual", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (response.type === "opaqueredirect" || response.status === 401 || response.status === 403) {
          stopped = true;
          say(text("ended"));
          return null;
        }
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.text();
      })
      .then(function (html) {
        if (html === null) { return; }
        box.innerHTML = html;
        failures = 0;
        say(text("updated") + " " + new Date().toLocaleTimeString(document.documentElement.lang || undefined));
        schedule();
      })
      .catch(function () {
        failures += 1;
        say(text("failed"));
        schedule();
      });
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && !stopped) { refresh(); }
  });
  schedule();
}());
