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
})();
