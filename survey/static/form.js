// Progressive enhancement only: the form works the same without it.
(function () {
  var form = document.getElementById("survey");
  if (!form) return;
  // A page restored from the back-forward cache may hold the previous person's answers.
  window.addEventListener("pageshow", function (e) { if (e.persisted) location.reload(); });
  var summary = document.getElementById("errsum");
  if (summary) summary.focus({ preventScroll: true });
  var count = document.getElementById("count");
  var groups = form.querySelectorAll(".scale");
  function update() {
    var done = 0;
    groups.forEach(function (g) { if (g.querySelector("input:checked")) done++; });
    count.textContent = form.dataset.answered.replace("{done}", done).replace("{total}", groups.length);
  }
  if (count && groups.length) { count.hidden = false; update(); form.addEventListener("change", update); }
  // One tap, one submission (the server also refuses a repeated submission id).
  var button = form.querySelector("button[type=submit]");
  form.addEventListener("submit", function () { setTimeout(function () { button.disabled = true; }, 0); });
  window.addEventListener("pageshow", function () { button.disabled = false; });
})();
