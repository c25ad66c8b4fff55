// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";
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
