// Progressive enhancement only: the form works the same without it.
(function () {
  var form = document.getElementById("survey");
  if (!form) return;
  // A page restored from the back-forward cache may hold the previous person's answers.
  window.addEventListener("pageshow", function (e) { if (e.persisted) location.reload(); });
  // A page that answered a POST (errors, a renewed page) becomes a plain GET entry in the history:
  // Back or reload then fetches a fresh, empty form instead of asking to resubmit the form.
  if (window.history && history.replaceState) {
    try { history.replaceState(history.state, "", location.href); } catch (e) { /* keep the entry */ }
  }

  // Switching language keeps the answers: they ride along in this tab's sessionStorage for the
  // moment the page in the other language takes (and are removed as soon as it has them).
  var CARRY = "survey.carry";
  var CARRY_MS = 120000;
  function answers() {
    var values = [];
    form.querySelectorAll("input[type=radio]:checked").forEach(function (i) { values.push([i.name, i.value]); });
    var comment = form.querySelector("textarea[name=comment]");
    return {values: values, comment: comment ? comment.value : ""};
  }
  function hidden(name) {
    var el = form.querySelector("input[type=hidden][name=" + name + "]");
    return el ? el.value : "";
  }
  document.querySelectorAll("a.lang, a[hreflang]").forEach(function (link) {
    link.addEventListener("click", function () {
      var a = answers();
      if (!a.values.length && !a.comment.trim()) return;
      try {
        sessionStorage.setItem(CARRY, JSON.stringify({key: form.dataset.key, at: Date.now(), values: a.values,
          comment: a.comment, submission_id: hidden("submission_id"), started: hidden("started")}));
      } catch (e) { /* storage off: the answers cannot ride along */ }
    });
  });
  (function restore() {
    var carried = null;
    try {
      carried = JSON.parse(sessionStorage.getItem(CARRY) || "null");
      sessionStorage.removeItem(CARRY);
    } catch (e) { return; }
    if (!carried || carried.key !== form.dataset.key || !(Date.now() - carried.at < CARRY_MS)) return;
    (carried.values || []).forEach(function (pair) {
      form.querySelectorAll("input[type=radio]").forEach(function (i) {
        if (i.name === pair[0] && i.value === pair[1]) i.checked = true;
      });
    });
    var comment = form.querySelector("textarea[name=comment]");
    if (comment && carried.comment) comment.value = carried.comment;
    // The same submission (its id and start ticket) goes on in the other language.
    ["submission_id", "started"].forEach(function (name) {
      var el = form.querySelector("input[type=hidden][name=" + name + "]");
      if (el && carried[name]) el.value = carried[name];
    });
    form.dataset.restored = "1";
  })();
  var summary = document.getElementById("errsum");
  if (summary) summary.focus({ preventScroll: true });
  // Every required question counts (the ratings and the required "about you" ones), as the intro says.
  var count = document.getElementById("count");
  var required = [];
  form.querySelectorAll("input[type=radio][required]").forEach(function (i) {
    if (required.indexOf(i.name) < 0) required.push(i.name);
  });
  function update() {
    var done = required.filter(function (name) {
      return form.querySelector("input[name=\"" + name + "\"]:checked");
    }).length;
    count.textContent = form.dataset.answered.replace("{done}", done).replace("{total}", required.length);
  }
  if (count && required.length) { count.hidden = false; update(); form.addEventListener("change", update);
    form.addEventListener("reset", function () { setTimeout(update, 0); }); }
  // One part per screen: the parts sit side by side in a scroller that snaps to one; "Next part"
  // and "Back" move along it, and so do a swipe, the Tab key and the error summary's links (the
  // browser scrolls the part into view). Without JavaScript the form is one page with every part.
  var steps = document.getElementById("steps");
  if (steps && form.dataset.paged) {
    var parts = Array.prototype.slice.call(steps.children);
    var progress = document.getElementById("progress");
    var progressText = document.getElementById("progress-t");
    var progressBar = progress ? progress.querySelector(".progress-bar span") : null;
    var shown = -1;
    form.classList.add("paged");
    if (progress) progress.hidden = false;
    form.querySelectorAll(".step-nav").forEach(function (nav) { nav.hidden = false; });
    var current = function () {
      var left = steps.scrollLeft, best = 0;
      parts.forEach(function (part, i) {
        if (Math.abs(part.offsetLeft - left) < Math.abs(parts[best].offsetLeft - left)) best = i;
      });
      return best;
    };
    var fit = function () {
      var i = current();
      steps.style.height = parts[i].offsetHeight + 16 + "px";   // the part and its margins, no more
      if (steps.scrollTop) steps.scrollTop = 0;
      if (i === shown) return;
      shown = i;
      form.dataset.part = String(i + 1);
      if (progressText) {
        progressText.textContent = form.dataset.step.replace("{n}", i + 1).replace("{total}", parts.length);
      }
      if (progressBar) progressBar.style.width = Math.round(100 * (i + 1) / parts.length) + "%";
    };
    var pending = false;
    var later = function () {
      if (pending) return;
      pending = true;
      requestAnimationFrame(function () { pending = false; fit(); });
    };
    var go = function (i) {
      i = Math.max(0, Math.min(parts.length - 1, i));
      steps.scrollLeft = parts[i].offsetLeft;
      fit();
      var top = (progress || steps).getBoundingClientRect().top + window.pageYOffset - 8;
      window.scrollTo(0, top);
      var heading = parts[i].querySelector("h2");
      if (heading) heading.focus({preventScroll: true});
    };
    steps.addEventListener("scroll", later, {passive: true});
    window.addEventListener("resize", function () { steps.scrollLeft = parts[shown < 0 ? 0 : shown].offsetLeft; later(); });
    form.addEventListener("click", function (e) {
      var button = e.target.closest ? e.target.closest("[data-go]") : null;
      if (button) go(current() + parseInt(button.dataset.go, 10));
    });
    // Focus or a link moving to a question in another part: show that part.
    form.addEventListener("focusin", later);
    window.addEventListener("hashchange", later);
    // Returned with errors: open the part of the first one (the summary above keeps the focus).
    var firstBad = form.querySelector(".bad");
    var start = firstBad ? parts.indexOf(firstBad.closest(".part")) : 0;
    steps.scrollLeft = parts[Math.max(start, 0)].offsetLeft;
    fit();
  }

  // One tap, one submission (the server also refuses a repeated submission id).
  var button = form.querySelector("button[type=submit]");
  // Only a submission that really leaves the page disables the button: a script that stops it
  // (the kiosk checks the answers first) has called preventDefault by the time this timer runs,
  // and the person must be able to tap again once they have answered.
  form.addEventListener("submit", function (e) {
    setTimeout(function () { if (!e.defaultPrevented) button.disabled = true; }, 0);
  });
  window.addEventListener("pageshow", function () { button.disabled = false; });
})();
