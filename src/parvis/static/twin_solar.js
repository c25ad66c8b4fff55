// Roof solar potential: the map of buildings coloured by the yearly irradiation of their best roof
// face, loaded from the JSON API for the map's current view (bbox) as it moves; a click opens the
// building's page. Without JavaScript (or Leaflet) the address search still works.
(function () {
  "use strict";

  function colourOf(classes, value) {
    if (value === null || value === undefined) { return classes.none; }
    var k = 0;
    classes.thresholds.forEach(function (t) { if (value >= t) { k += 1; } });
    return classes.colours[k];
  }

  function draw(el) {
    if (!window.L) { return; }
    var classes = JSON.parse(el.getAttribute("data-classes"));
    var bounds = el.getAttribute("data-bounds");
    var link = el.getAttribute("data-link");
    var map = Parvis.baseMap(el, { maxZoom: 20 });
    var layer = L.geoJSON(null, {
      style: function (f) {
        return { color: "#374151", weight: 0.5, fillOpacity: 0.9, fillColor: colourOf(classes, f.properties.annual_kwh_m2) };
      },
      onEachFeature: function (f, l) {
        var label = (f.properties.address || f.properties.ref) +
          (f.properties.annual_kwh_m2 === null ? "" : " – " + Math.round(f.properties.annual_kwh_m2) + " kWh/m²");
        l.bindTooltip(document.createTextNode(label));  // a text node: addresses are data, not HTML
        l.on("click", function () { window.location.href = link + f.id; });
      }
    }).addTo(map);
    var pending = null;
    function load() {
      var b = map.getBounds();
      var bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) { return v.toFixed(6); }).join(",");
      if (pending) { pending.abort(); }
      pending = new AbortController();
      fetch(el.getAttribute("data-geojson") + "?bbox=" + bbox, { signal: pending.signal, headers: { Accept: "application/geo+json" } })
        .then(function (r) { return r.ok ? r.json() : { features: [] }; })
        .then(function (data) {
          layer.clearLayers();
          layer.addData(data);
          el.setAttribute("data-ready", String(data.features.length));
        })
        .catch(function () { /* a newer view replaced this one */ });
    }
    if (bounds) {
      var bb = JSON.parse(bounds);
      map.fitBounds([[bb[1], bb[0]], [bb[3], bb[2]]]);
    } else {
      map.setView([0, 0], 2);
    }
    map.on("moveend", load);
    load();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".solar-map").forEach(draw);
  });
})();
