/* The kiosk's durable storage on the device (IndexedDB), shared by the page and
   its service worker (importScripts). Two stores:
     meta   key/value: "token" (the kiosk's credential), "kiosk" (its names)
     queue  responses not yet accepted by the server, keyed by submission_id:
            {submission_id, payload, state: "waiting" | "refused", reason,
             message, attempts, queued_at, tried_at}
   Writes ask for strict durability: a queued response must survive the
   browser being killed right after the thank-you screen. */
(function (global) {
  "use strict";
  var NAME = "sipas-kiosk";
  var VERSION = 1;

  function open() {
    return new Promise(function (resolve, reject) {
      var request = global.indexedDB.open(NAME, VERSION);
      request.onupgradeneeded = function () {
        var db = request.result;
        if (!db.objectStoreNames.contains("meta")) db.createObjectStore("meta");
        if (!db.objectStoreNames.contains("queue")) db.createObjectStore("queue", {keyPath: "submission_id"});
      };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
      request.onblocked = function () { reject(new Error("kiosk storage is blocked by another tab")); };
    });
  }

  function run(storeName, mode, work) {
    return open().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = mode === "readwrite"
          ? db.transaction(storeName, mode, {durability: "strict"})
          : db.transaction(storeName, mode);
        var request = work(tx.objectStore(storeName));
        var result;
        if (request) request.onsuccess = function () { result = request.result; };
        tx.oncomplete = function () { db.close(); resolve(result); };
        tx.onerror = tx.onabort = function () { db.close(); reject(tx.error || new Error("storage failed")); };
      });
    });
  }

  global.KioskDB = {
    get: function (store, key) { return run(store, "readonly", function (s) { return s.get(key); }); },
    all: function (store) { return run(store, "readonly", function (s) { return s.getAll(); }); },
    put: function (store, value, key) {
      return run(store, "readwrite", function (s) { return key === undefined ? s.put(value) : s.put(value, key); });
    },
    del: function (store, key) { return run(store, "readwrite", function (s) { return s.delete(key); }); }
  };
})(self);
