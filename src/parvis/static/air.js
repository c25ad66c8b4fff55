// The air-quality page's map: each station a circle in its VN_AQI category colour, labelled with
// the index and the category in words (the list below says the same without JavaScript).
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var el = document.querySelector(".air-map");
    if (!el || !window.L) { return; }
    var stations = JSON.parse(el.getAttribute("data-markers") || "[]");
    var map = Parvis.baseMap(el);
    var group = L.featureGroup().addTo(map);
    stations.forEach(function (s) {
      // a text node: Leaflet puts a string in as HTML, and names come from devices
      L.circleMarker([s.lat, s.lon], { radius: 11, weight: 2, color: "#1b1f24", fillColor: s.colour, fillOpacity: 0.9 })
        .bindTooltip(document.createTextNode(s.name + " – " + (s.aqi === null ? "–" : s.aqi) + " " + s.label), { permanent: false })
        .addTo(group);
    });
    if (group.getLayers().length) { map.fitBounds(group.getBounds(), { padding: [30, 30], maxZoom: 15 }); }
    else { map.setView([0, 0], 2); }
    el.setAttribute("data-ready", String(stations.length));
  });
})();
