// Progressive enhancement only: the form works the same without it.
(function () {
  var form = document.getElementById("survey");
  if (!form) return;
  // A page restored from the back-forward cache may hold the previous person's answers.
  window.addEventListener("pageshow", function (e) { if (e.persisted) location.reload(); });
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
