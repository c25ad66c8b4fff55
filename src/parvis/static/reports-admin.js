// Back office for reports: progressive enhancement only; every form works without this file.
(function () {
  "use strict";
  // The queue's map lives inside the results htmx swaps in: draw the new one (map.js draws
  // every fresh .map[data-geojson] when it runs).
  document.body.addEventListener("htmx:afterSettle", function () {
    var fresh = document.querySelector(".map[data-geojson]:not(.leaflet-container)");
    if (!fresh) { return; }
    var script = document.createElement("script");
    script.src = "/static/map.js";
    document.body.appendChild(script);
    script.onload = function () { script.remove(); };
  });
  // "To be located": a click on the map fills in the latitude and longitude fields.
  var box = document.querySelector(".map[data-locate]");
  if (!box || !window.L) { return; }
  box.hidden = false;
  var lat = document.getElementById("l-lat");
  var lon = document.getElementById("l-lon");
  var map = Parvis.baseMap(box);
  map.setView([0, 0], 2);
  fetch(box.getAttribute("data-locate"), { headers: { Accept: "application/geo+json" } })
    .then(function (r) { return r.json(); })
    .then(function (data) {
      var layer = L.geoJSON(data, { style: { color: "#0b5d4b", weight: 2, fillOpacity: 0.1 } }).addTo(map);
      if (layer.getLayers().length) { map.fitBounds(layer.getBounds(), { padding: [8, 8] }); }
    })
    .catch(function () {});
  var marker = null;
  map.on("click", function (e) {
    lat.value = e.latlng.lat.toFixed(6);
    lon.value = e.latlng.lng.toFixed(6);
    if (marker) { marker.setLatLng(e.latlng); } else { marker = L.marker(e.latlng).addTo(map); }
  });
})();
