/* The kiosk's service worker, served at /k/sw.js (scope /k/).

   - Kiosk pages (navigations under /k/) come from the network when the server
     answers, and from the last good copy in CacheStorage when it does not, so
     a reload or a browser restart while offline still shows the empty form.
     "/k/" is the kiosk page of the token kept on the device: the token never
     has to be in the address bar again after the first visit.
   - The page's scripts and styles are precached at install, cache first.
   - /k/api/ is never touched: the page itself queues and sends responses.

   The server fills in CONFIG: the asset list and a version that changes with
   any asset, so a new deployment installs a new worker and new caches. */
"use strict";
var CONFIG = /*CONFIG*/{"version": "dev", "assets": [], "idb": "/static/kiosk/idb.js"}/*END*/;
importScripts(CONFIG.idb);

var ASSETS = "kiosk-assets-" + CONFIG.version;
var PAGES = "kiosk-pages";
var NETWORK_TIMEOUT_MS = 5000;
var TOKEN = /^\/k\/([A-Za-z0-9_-]{20,})\/?$/;

function pageKey(lang) { return "/k/__page__?lang=" + lang; }

function withTimeout(url, ms) {
  var controller = new AbortController();
  var timer = setTimeout(function () { controller.abort(); }, ms);
  return fetch(url, {credentials: "same-origin", cache: "no-store", signal: controller.signal})
    .finally(function () { clearTimeout(timer); });
}

function fetchPage(token, lang) {
  return withTimeout("/k/" + token + "?lang=" + lang, NETWORK_TIMEOUT_MS).then(function (response) {
    if (response.ok && response.headers.get("X-Kiosk-Page") === "1") {
      var copy = response.clone();
      return caches.open(PAGES).then(function (cache) { return cache.put(pageKey(lang), copy); })
        .then(function () { return response; });
    }
    return response;
  });
}

function cachedPage(lang) {
  return caches.open(PAGES).then(function (cache) {
    return cache.match(pageKey(lang)).then(function (hit) { return hit || cache.match(pageKey("vi")); });
  });
}

var OFFLINE = "<!doctype html><meta charset=utf-8><title>Kiosk</title>" +
  "<p>Không kết nối được máy chủ và chưa có bản lưu của trang. / " +
  "The server cannot be reached and no copy of the page is stored yet.</p>";

function kioskPage(request) {
  var url = new URL(request.url);
  var lang = url.searchParams.get("lang") === "en" ? "en" : "vi";
  var inUrl = TOKEN.exec(url.pathname);
  var token = inUrl ? Promise.resolve(inUrl[1]) : KioskDB.get("meta", "token").catch(function () { return null; });
  return token.then(function (token) {
    if (!token) return fetch(request);   // not set up yet: the server explains
    return fetchPage(token, lang).then(function (response) {
      if (response.ok || response.status === 401 || response.status === 403) return response;
      return cachedPage(lang).then(function (hit) { return hit || response; });   // 5xx: last good copy
    }, function () {
      return cachedPage(lang).then(function (hit) {
        return hit || new Response(OFFLINE, {status: 503, headers: {"Content-Type": "text/html; charset=utf-8"}});
      });
    });
  });
}

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(ASSETS).then(function (cache) { return cache.addAll(CONFIG.assets); })
    .then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) {
      return name.indexOf("kiosk-assets-") === 0 && name !== ASSETS;
    }).map(function (name) { return caches.delete(name); }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin || request.method !== "GET") return;
  if (url.pathname.indexOf("/k/api/") === 0 || url.pathname === "/k/sw.js") return;
  if (request.mode === "navigate" && url.pathname.indexOf("/k/") === 0) {
    event.respondWith(kioskPage(request));
    return;
  }
  if (CONFIG.assets.indexOf(url.pathname) !== -1) {
    event.respondWith(caches.open(ASSETS).then(function (cache) {
      return cache.match(url.pathname).then(function (hit) { return hit || fetch(request); });
    }));
  }
});

/* The page asks for both languages to be stored as soon as it is set up, so
   the very first reload or language switch can already happen offline. Only
   missing copies are fetched: every navigation refreshes its own. */
self.addEventListener("message", function (event) {
  if (!event.data || event.data.type !== "warm") return;
  event.waitUntil(Promise.all([KioskDB.get("meta", "token"), caches.open(PAGES)]).then(function (found) {
    var token = found[0], cache = found[1];
    if (!token) return null;
    return Promise.all(["vi", "en"].map(function (lang) {
      return cache.match(pageKey(lang)).then(function (hit) {
        return hit || fetchPage(token, lang).catch(function () { return null; });
      });
    }));
  }).then(function () {
    if (event.source) event.source.postMessage({type: "warmed"});
  }));
});
