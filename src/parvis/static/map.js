// Draws every .map element: districts from a GeoJSON URL, tiles only if the city set a URL.
(function () {
  "use strict";
  function draw(el) {
    if (!window.L) { return; }
    var map = L.map(el, { attributionControl: true, zoomControl: false, zoomSnap: 0.25 });
    L.control.zoom({ position: document.dir === "rtl" ? "topright" : "topleft" }).addTo(map);
    var tiles = el.getAttribute("data-tiles");
    if (tiles) {
      L.tileLayer(tiles, { maxZoom: 19, attribution: el.getAttribute("data-attribution") || "" }).addTo(map);
    }
    map.setView([0, 0], 2);
    fetch(el.getAttribute("data-geojson"), { headers: { Accept: "application/geo+json" } })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        var layer = L.geoJSON(data, {
          style: { color: "#0b5d4b", weight: 2, fillOpacity: 0.15 },
          onEachFeature: function (f, l) {
            var p = f.properties || {};
            var label = document.createElement("span");
            label.textContent = p.name + (p.name_local ? " (" + p.name_local + ")" : "");
            l.bindTooltip(label, { sticky: true });
          }
        }).addTo(map);
        map.invalidateSize();
        if (layer.getLayers().length) { map.fitBounds(layer.getBounds(), { padding: [8, 8] }); }
        el.setAttribute("data-ready", String(layer.getLayers().length));
      })
      .catch(function () { el.setAttribute("data-ready", "error"); });
  }
  document.querySelectorAll(".map[data-geojson]").forEach(draw);
})();
