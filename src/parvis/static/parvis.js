// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";
  // The base of every map page: zoom buttons at the start of the reading direction (right in
  // Arabic), the city's tiles only when it set a tile URL (data-tiles; without, the page's own
  // layers are drawn on a plain background), attribution from data-attribution.
  window.Parvis = window.Parvis || {};
  window.Parvis.baseMap = function (el, options) {
    var map = L.map(el, Object.assign({ zoomControl: false, zoomSnap: 0.25, maxZoom: 19 }, options || {}));
    L.control.zoom({ position: document.dir === "rtl" ? "topright" : "topleft" }).addTo(map);
    var tiles = el.getAttribute("data-tiles");
    if (tiles) {
      L.tileLayer(tiles, { maxZoom: 19, attribution: el.getAttribute("data-attribution") || "" }).addTo(map);
    }
    return map;
  };
  if ("serviceWorker" in navigator) {
    window.addEventListener("load", function () {
      navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () {});
    });
  }
  // The language menu submits itself when changed (the button stays for keyboards and no-JS).
  var select = document.getElementById("lang-select");
  if (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  }
  // Offline drafts: a report written without network is kept in IndexedDB and sent when the
  // network returns (on this page or any later one).
  var DB = "parvis-drafts";
  function store(mode, fn) {
    return new Promise(function (resolve, reject) {
      var open = indexedDB.open(DB, 1);
      open.onupgradeneeded = function () { open.result.createObjectStore("drafts", { autoIncrement: true }); };
      open.onerror = function () { reject(open.error); };
      open.onsuccess = function () {
        var tx = open.result.transaction("drafts", mode);
        var result = fn(tx.objectStore("drafts"));
        tx.oncomplete = function () { resolve(result && result.result); };
        tx.onerror = function () { reject(tx.error); };
      };
    });
  }
  var sending = false;  // one resend at a time, or two "online" events would send a draft twice
  function sendDrafts() {
    if (!window.indexedDB || !navigator.onLine || sending) { return; }
    sending = true;
    var entries = [];
    store("readonly", function (os) {
      var req = os.openCursor();
      req.onsuccess = function () {
        var cursor = req.result;
        if (cursor) { entries.push({ key: cursor.key, value: cursor.value }); cursor.continue(); }
      };
    }).then(function () {
      return Promise.all(entries.map(function (entry) {
        var body = new FormData();
        entry.value.fields.forEach(function (f) {
          if (f.length > 2) { body.append(f[0], f[1], f[2]); } else { body.append(f[0], f[1]); }
        });
        return fetch(entry.value.action, { method: "POST", body: body, credentials: "same-origin" })
          .then(function (r) {
            // Keep the draft when the server is busy or failing; drop it when it was refused
            // (the person is told and can write it again).
            var refused = r.status >= 400 && r.status < 500 && r.status !== 429;
            if (!r.ok && !refused) { return null; }
            var main = document.getElementById("main");
            var note = document.createElement("p");
            note.className = refused ? "alert" : "flash";
            note.setAttribute("role", "status");
            var link = document.createElement("a");
            link.href = refused ? entry.value.action : r.url;
            // Without an account, a report waits for the code sent to the phone or e-mail.
            var waiting = !refused && r.url.indexOf("/reports/confirm/") !== -1;
            link.textContent = main.getAttribute(
              refused ? "data-draft-refused" : waiting ? "data-draft-confirm" : "data-draft-sent");
            note.appendChild(link);
            main.insertBefore(note, main.firstChild);
            return store("readwrite", function (os) { os.delete(entry.key); });
          }).catch(function () {});
      }));
    }).catch(function () {}).then(function () { sending = false; });
  }
  document.querySelectorAll("form[data-offline-draft]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (navigator.onLine || !window.indexedDB) { return; }
      event.preventDefault();
      var fields = [];
      new FormData(form).forEach(function (value, name) {
        if (value instanceof File) {
          if (value.size) { fields.push([name, value, value.name]); }
        } else { fields.push([name, value]); }
      });
      store("readwrite", function (os) { return os.add({ action: form.action, fields: fields }); })
        .then(function () {
          var status = document.querySelector("[data-draft-status]");
          status.textContent = form.getAttribute("data-saved");
          status.hidden = false;
          status.className = "flash";
          window.scrollTo(0, 0);
        });
    });
  });
  window.addEventListener("online", sendDrafts);
  sendDrafts();

  // Web push: offered on "My account" when the browser supports it.
  var box = document.getElementById("push");
  if (box && "serviceWorker" in navigator && "PushManager" in window) {
    box.hidden = false;
    var status = box.querySelector("[data-push-status]");
    var token = document.querySelector('meta[name="csrf-token"]').content;
    var keyBytes = function (b64) {
      var pad = "=".repeat((4 - (b64.length % 4)) % 4);
      var raw = atob((b64 + pad).replace(/-/g, "+").replace(/_/g, "/"));
      return Uint8Array.from(raw, function (c) { return c.charCodeAt(0); });
    };
    box.querySelector("[data-push-subscribe]").addEventListener("click", function () {
      Notification.requestPermission().then(function (permission) {
        if (permission !== "granted") { status.textContent = status.dataset.denied; return null; }
        return fetch("/api/v1/notify/push/key").then(function (r) { return r.json(); })
          .then(function (key) {
            return navigator.serviceWorker.ready.then(function (reg) {
              return reg.pushManager.subscribe({ userVisibleOnly: true,
                applicationServerKey: keyBytes(key.publicKey) });
            });
          })
          .then(function (sub) {
            return fetch("/api/v1/notify/push/subscriptions", { method: "POST",
              headers: { "Content-Type": "application/json", "X-CSRF-Token": token },
              body: JSON.stringify(sub) });
          })
          .then(function (r) {
            status.textContent = r.ok ? status.dataset.ok : status.dataset.failed;
          });
      }).catch(function () { status.textContent = status.dataset.failed; });
    });
  }
})();
