/* Kiosk mode: one tablet, many respondents in a row, online or not.

   - Send: the answers go into the device's queue (IndexedDB) first, then the
     thank-you screen shows, then the queue is sent to /k/api/responses with
     the kiosk's token in a header. Each response carries a submission id made
     here, so sending it twice stores it once. Refused items (revoked kiosk,
     invalid) stay in the queue, visible, with the server's reason.
   - Reset: after the thank-you screen, or when nobody touched a half-filled
     form for KIOSK_IDLE_SECONDS and nobody answered "Are you still there?",
     the page is replaced (location.replace: Back cannot return to it) by a
     fresh copy of /k/, from the server or the service worker's cache.
   - The token moves from the address bar into the device's storage at once.
   All texts come from the server in the page's language (data-msg-*). */
(function () {
  "use strict";
  var root = document.getElementById("kiosk");
  if (!root) return;
  var cfg = root.dataset;
  var DB = window.KioskDB;
  var mode = cfg.mode || "page";
  var token = null;
  var RETRY_MS = 5000;   // a waiting response is tried again this often (only an IndexedDB read when none waits)

  function msg(name, values) {
    var text = cfg["msg" + name.charAt(0).toUpperCase() + name.slice(1)] || "";
    Object.keys(values || {}).forEach(function (key) { text = text.split("{" + key + "}").join(values[key]); });
    return text;
  }

  function show(el, on) { if (el) el.hidden = !on; }

  function nowIso() { return new Date().toISOString().replace(/\.\d{3}Z$/, "Z"); }

  function uuid4() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function homeUrl(lang) { return "/k/" + (lang && lang !== "vi" ? "?lang=" + lang : ""); }

  /* ------------------------------------------------------------ token */

  function keepToken() {
    var fromPage = cfg.token || null;
    var stored = null;
    try { stored = localStorage.getItem("kiosk.token"); } catch (e) { /* storage off */ }
    token = fromPage || stored;
    if (fromPage) {
      try { localStorage.setItem("kiosk.token", fromPage); } catch (e) { /* keep it in the page only */ }
      delete root.dataset.token;
    }
    // A new token (the tablet was set up again): stored copies of the page carry the old one.
    var stale = fromPage && stored && stored !== fromPage && window.caches
      ? caches.delete("kiosk-pages").catch(function () {}) : Promise.resolve();
    var saved = stale.then(function () {
      return token && DB ? DB.put("meta", token, "token").catch(function () {}) : null;
    });
    if (fromPage && window.history && history.replaceState && mode !== "boot") {
      history.replaceState(null, "", homeUrl(cfg.lang));
    }
    return saved;
  }

  /* ------------------------------------------------------------ queue */

  var flushing = false;
  var refusedItems = [];

  function renderQueue() {
    if (!DB) return Promise.resolve();
    return DB.all("queue").then(function (items) {
      var waiting = items.filter(function (i) { return i.state === "waiting"; }).length;
      refusedItems = items.filter(function (i) { return i.state === "refused"; });
      var bar = document.getElementById("kiosk-queue");
      var w = document.getElementById("kiosk-waiting");
      var r = document.getElementById("kiosk-refused");
      if (w) { w.textContent = waiting ? msg("waiting", {n: waiting}) : ""; show(w, waiting > 0); }
      if (r) {
        var reason = refusedItems.length ? (refusedItems[0].message || refusedItems[0].reason) : "";
        r.textContent = refusedItems.length ? msg("refused", {n: refusedItems.length, reason: reason}) : "";
        show(r, refusedItems.length > 0);
      }
      show(document.getElementById("kiosk-download"), refusedItems.length > 0);
      show(bar, waiting > 0 || refusedItems.length > 0);
      root.dataset.waiting = String(waiting);
      root.dataset.refused = String(refusedItems.length);
    }).catch(function () {});
  }

  function send(item) {
    return fetch(cfg.api, {
      method: "POST", cache: "no-store", credentials: "omit",
      headers: {"Content-Type": "application/json", "Authorization": "Kiosk " + token},
      body: JSON.stringify(item.payload)
    });
  }

  /* Send what is waiting, oldest first. Stops at the first network failure
     or server trouble (5xx, 429): the rest waits for the next round. */
  function flush() {
    if (flushing || !DB || !token) return renderQueue();
    flushing = true;
    return DB.all("queue").then(function (items) {
      var waiting = items.filter(function (i) { return i.state === "waiting"; })
        .sort(function (a, b) { return a.queued_at < b.queued_at ? -1 : 1; });
      var chain = Promise.resolve(true);
      waiting.forEach(function (item) {
        chain = chain.then(function (go) {
          if (!go) return false;
          item.attempts = (item.attempts || 0) + 1;
          item.tried_at = nowIso();
          return send(item).then(function (response) {
            if (response.status === 200 || response.status === 201) {
              return DB.del("queue", item.submission_id).then(function () { return true; });
            }
            if (response.status >= 500 || response.status === 429 || response.status === 408) return false;
            return response.json().catch(function () { return {}; }).then(function (body) {
              item.state = "refused";
              item.reason = body.reason || "http_" + response.status;
              item.message = body.message || "";
              return DB.put("queue", item).then(function () { return true; });
            });
          }, function () { return false; });
        });
      });
      return chain;
    }).catch(function () {}).then(function () {
      flushing = false;
      return renderQueue();
    });
  }

  function download() {
    var blob = new Blob([JSON.stringify(refusedItems, null, 2)], {type: "application/json"});
    var a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = "kiosk-refused-" + nowIso().replace(/[:]/g, "") + ".json";
    document.body.appendChild(a);
    a.click();
    setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  }

  /* ------------------------------------------------------------ the form */

  var form = document.getElementById("survey");
  var survey = document.getElementById("kiosk-survey");
  var startedAt = null;
  var dirty = false;
  var submitting = false;

  function codes(list) { return (list || "").split(" ").filter(Boolean); }

  function checkedValue(name) {
    var el = form.querySelector("input[name=\"" + name + "\"]:checked");
    return el ? el.value : null;
  }

  /* The same rules the server applies: every radio group marked required has
     an answer. Returns the first fieldset without one. */
  function unanswered() {
    var missing = [];
    var seen = {};
    Array.prototype.forEach.call(form.querySelectorAll("input[type=radio][required]"), function (input) {
      if (seen[input.name]) return;
      seen[input.name] = true;
      var fieldset = input.closest("fieldset");
      var bad = !checkedValue(input.name);
      if (fieldset) fieldset.classList.toggle("k-missing", bad);
      if (bad) missing.push(fieldset || input);
    });
    return missing;
  }

  function payload() {
    var answers = {};
    codes(cfg.criteria).forEach(function (code) {
      var v = checkedValue(code);
      answers[code] = v === null ? null : v;
    });
    var respondent = {};
    codes(cfg.respondent).forEach(function (code) {
      var v = checkedValue(code);
      if (v !== null) respondent[code] = v;
    });
    var comment = form.querySelector("[name=comment]");
    var submitted = nowIso();
    return {
      submission_id: uuid4(),
      questionnaire_id: cfg.questionnaire,
      version: parseInt(cfg.version, 10),
      unit: cfg.unit,
      lang: cfg.lang,
      started_at: startedAt || submitted,
      submitted_at: submitted,
      answers: answers,
      respondent: respondent,
      comment: comment && comment.value.trim() ? comment.value : null
    };
  }

  /* After a refused send, the banner follows the answers: it counts down as
     the person answers and disappears when nothing is missing. */
  var flagged = false;
  function recheck() {
    if (!flagged || submitting) return;
    var missing = unanswered();
    var error = document.getElementById("kiosk-error");
    if (!error) return;
    if (missing.length) {
      error.textContent = msg("unanswered", {n: missing.length});
    } else {
      flagged = false;
      error.textContent = "";
      show(error, false);
    }
  }

  function onSubmit(event) {
    event.preventDefault();
    if (submitting) return;
    var missing = unanswered();
    var error = document.getElementById("kiosk-error");
    flagged = missing.length > 0;
    if (missing.length) {
      if (error) { error.textContent = msg("unanswered", {n: missing.length}); show(error, true); }
      var first = missing[0];
      first.scrollIntoView({block: "center"});
      var input = first.querySelector ? first.querySelector("input") : null;
      if (input) input.focus({preventScroll: true});
      return;
    }
    show(error, false);
    submitting = true;
    var body = payload();
    var item = {submission_id: body.submission_id, payload: body, state: "waiting", attempts: 0,
                queued_at: body.submitted_at};
    var queued = DB ? DB.put("queue", item) : Promise.reject(new Error("no storage"));
    queued.then(function () {
      thanks();
      flush();
    }, function () {
      /* No durable storage (private window?): send directly, and only thank when it was stored. */
      send(item).then(function (response) {
        if (response.status === 200 || response.status === 201) { thanks(); return; }
        throw new Error("refused");
      }).catch(function () {
        submitting = false;
        if (error) { error.textContent = msg("notSaved"); show(error, true); }
      });
    });
  }

  /* ------------------------------------------------------------ reset */

  function clearForm() {
    if (!form) return;
    form.reset();
    Array.prototype.forEach.call(form.querySelectorAll("input[type=radio]"), function (i) { i.checked = false; });
    Array.prototype.forEach.call(form.querySelectorAll("textarea"), function (t) { t.value = ""; });
    Array.prototype.forEach.call(form.querySelectorAll(".k-missing"), function (f) { f.classList.remove("k-missing"); });
    startedAt = null;
    dirty = false;
    flagged = false;
    var error = document.getElementById("kiosk-error");
    if (error) { error.textContent = ""; show(error, false); }
  }

  /* A fresh page: new CSRF token, session and questionnaire version when the
     server answers, the stored copy when it does not. Without a service
     worker and a stored copy, an offline kiosk clears the form in place. */
  function reset() {
    clearForm();
    submitting = false;
    var controlled = navigator.serviceWorker && navigator.serviceWorker.controller;
    var stored = controlled && window.caches
      ? caches.match("/k/__page__?lang=vi").then(function (hit) { return !!hit; }, function () { return false; })
      : Promise.resolve(false);
    stored.then(function (ok) {
      if (ok) return true;
      return fetch(cfg.api.replace(/responses$/, "ping"), {cache: "no-store"})
        .then(function (r) { return r.ok; }, function () { return false; });
    }).then(function (reload) {
      if (reload) {
        location.replace(homeUrl("vi"));
      } else {
        show(document.getElementById("kiosk-thanks"), false);
        show(survey, true);
        var button = form.querySelector("button[type=submit]");
        if (button) button.disabled = false;
        window.scrollTo(0, 0);
        root.dataset.state = "form";
        armIdle();
      }
    });
  }

  /* ------------------------------------------------------------ thank-you */

  var countdown = null;

  function thanks() {
    disarmIdle();
    clearForm();
    root.dataset.state = "thanks";
    var panel = document.getElementById("kiosk-thanks");
    var count = document.getElementById("kiosk-thanks-count");
    show(survey, false);
    show(panel, true);
    window.scrollTo(0, 0);
    var left = parseInt(cfg.thanks, 10) || 5;
    var tick = function () {
      if (count) count.textContent = msg("next", {n: left});
      if (left-- <= 0) { clearInterval(countdown); reset(); }
    };
    tick();
    countdown = setInterval(tick, 1000);
  }

  /* ------------------------------------------------------------ idle */

  var idleTimer = null;
  var askTimer = null;
  var dialog = document.getElementById("kiosk-idle");

  function disarmIdle() {
    clearTimeout(idleTimer);
    clearInterval(askTimer);
    if (dialog && dialog.open) dialog.close();
  }

  function armIdle() {
    disarmIdle();
    var seconds = parseFloat(cfg.idle) || 60;
    idleTimer = setTimeout(function () { if (dirty) ask(); }, seconds * 1000);
  }

  function ask() {
    if (!dialog) { reset(); return; }
    var left = parseInt(cfg.stillThere, 10) || 15;
    var count = document.getElementById("kiosk-idle-count");
    root.dataset.state = "asking";
    var tick = function () {
      if (count) count.textContent = msg("resetIn", {n: left});
      if (left-- <= 0) { clearInterval(askTimer); dialog.close(); reset(); }
    };
    if (!dialog.open) dialog.showModal();
    tick();
    askTimer = setInterval(tick, 1000);
  }

  function stay() {
    clearInterval(askTimer);
    if (dialog && dialog.open) dialog.close();
    root.dataset.state = "form";
    armIdle();
  }

  function touched(event) {
    if (root.dataset.state === "asking") return;   // the dialog's own buttons decide
    if (root.dataset.state !== "form") return;
    if (!startedAt) startedAt = nowIso();
    if (event && (event.type === "input" || event.type === "change")) dirty = true;
    armIdle();
  }

  /* ------------------------------------------------------------ start */

  function languageLinks() {
    Array.prototype.forEach.call(document.querySelectorAll("a[hreflang]"), function (a) {
      a.href = homeUrl(a.getAttribute("hreflang"));
    });
  }

  function startWorker() {
    if (!("serviceWorker" in navigator) || !cfg.sw) return;
    navigator.serviceWorker.register(cfg.sw, {scope: "/k/"}).then(function () {
      return navigator.serviceWorker.ready;
    }).then(function (registration) {
      if (registration.active) registration.active.postMessage({type: "warm"});
    }).catch(function () { /* no offline copy; online use is unaffected */ });
    navigator.serviceWorker.addEventListener("message", function (event) {
      if (event.data && event.data.type === "warmed") root.dataset.warm = "1";
    });
  }

  function start() {
    keepToken().then(function () {
      if (mode === "boot") {
        if (token) location.replace("/k/" + token + (cfg.lang && cfg.lang !== "vi" ? "?lang=" + cfg.lang : ""));
        return;
      }
      if (mode === "page") {
        startWorker();
        languageLinks();
      }
      flush();
    });
    setInterval(flush, RETRY_MS);
    window.addEventListener("online", flush);
    var dl = document.getElementById("kiosk-download");
    if (dl) dl.addEventListener("click", download);
    if (mode !== "page" || !form) { renderQueue(); return; }
    form.addEventListener("submit", onSubmit);
    form.addEventListener("change", recheck);
    ["pointerdown", "keydown", "touchstart", "input", "change", "wheel"].forEach(function (type) {
      document.addEventListener(type, touched, {passive: true, capture: true});
    });
    if (dialog) {
      document.getElementById("kiosk-stay").addEventListener("click", stay);
      document.getElementById("kiosk-restart").addEventListener("click", function () {
        clearInterval(askTimer);
        dialog.close();
        reset();
      });
      dialog.addEventListener("cancel", function (event) { event.preventDefault(); stay(); });
    }
    var again = document.getElementById("kiosk-again");
    if (again) again.addEventListener("click", function () { clearInterval(countdown); reset(); });
    root.dataset.state = "form";
    if (form.dataset.restored) {        // answers carried over a language switch count as a form in use
      startedAt = nowIso();
      dirty = true;
    }
    armIdle();
    root.dataset.ready = "1";
  }

  start();
})();
