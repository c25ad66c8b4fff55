// The parking pages: "use my location" fills the form's coordinates from the browser's
// geolocation and submits it; the small map shows the car parks (and the person) when Leaflet
// is there. Without JavaScript the form still works with a district or typed coordinates.
(function () {
  "use strict";

  function locate(form) {
    var button = form.querySelector("[data-locate]");
    var status = form.querySelector("[data-locate-status]");
    if (!button || !navigator.geolocation) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      button.disabled = true;
      navigator.geolocation.getCurrentPosition(function (pos) {
        form.querySelector("[name=lat]").value = pos.coords.latitude.toFixed(6);
        form.querySelector("[name=lon]").value = pos.coords.longitude.toFixed(6);
        var district = form.querySelector("[name=district_id]");
        if (district) { district.value = ""; }
        form.submit();
      }, function (err) {
        button.disabled = false;
        if (status) { status.textContent = err.message || ""; }
      }, { enableHighAccuracy: true, timeout: 10000, maximumAge: 60000 });
    });
  }

  function draw(el) {
    if (!window.L) { return; }
    var markers = JSON.parse(el.getAttribute("data-markers") || "[]");
    var origin = el.getAttribute("data-origin");
    var map = Parvis.baseMap(el);
    var group = L.featureGroup().addTo(map);
    markers.forEach(function (m) {
      var label = m.name + " – " + (m.free === null ? "?" : m.free + " / " + (m.total === null ? "?" : m.total)) +
        " " + (m.full ? el.getAttribute("data-full-label") : el.getAttribute("data-free-label"));
      // a text node: Leaflet puts a string in as HTML, and names come from devices
      L.circleMarker([m.lat, m.lon], { radius: 8, weight: 2, color: "#fff",
        fillColor: m.full ? "#b3261e" : "#1e6b31", fillOpacity: 0.95 })
        .bindTooltip(document.createTextNode(label)).addTo(group);
    });
    if (origin) {
      var o = JSON.parse(origin);
      L.circleMarker([o[1], o[0]], { radius: 6, weight: 3, color: "#1f5fa8", fillColor: "#fff", fillOpacity: 1 })
        .addTo(group);
    }
    if (group.getLayers().length) {
      map.fitBounds(group.getBounds(), { padding: [20, 20], maxZoom: 17 });
    } else {
      map.setView([0, 0], 2);
    }
    el.setAttribute("data-ready", String(markers.length));
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector(".parking-form");
    if (form) { locate(form); }
    Array.prototype.forEach.call(document.querySelectorAll(".parking-map"), draw);
  });
})();
