// The waste page's map (each container a circle: red to collect, orange half full or more, green
// under half; the fill level in the tooltip) and the print button of the printable list.
(function () {
  "use strict";
  var COLOURS = { high: "#b3261e", medium: "#b35c00", low: "#1e6b31", none: "#6b7570" };
  document.addEventListener("DOMContentLoaded", function () {
    var button = document.querySelector("[data-print]");
    if (button) { button.hidden = false; button.addEventListener("click", function () { window.print(); }); }
    var el = document.querySelector(".waste-map");
    if (!el || !window.L) { return; }
    var items = JSON.parse(el.getAttribute("data-markers") || "[]");
    var map = Parvis.baseMap(el);
    var group = L.featureGroup().addTo(map);
    items.forEach(function (c) {
      var colour = c.collect ? COLOURS.high : COLOURS[c.level] || COLOURS.none;
      // a text node: Leaflet puts a string in as HTML, and names come from devices
      L.circleMarker([c.lat, c.lon], { radius: c.collect ? 9 : 6, weight: 2, color: "#fff", fillColor: colour, fillOpacity: 0.95 })
        .bindTooltip(document.createTextNode(c.name + " – " + (c.fill === null ? "?" : c.fill + " %") +
          (c.collect ? " – " + el.getAttribute("data-collect-label") : ""))).addTo(group);
    });
    if (group.getLayers().length) { map.fitBounds(group.getBounds(), { padding: [20, 20], maxZoom: 17 }); }
    else { map.setView([0, 0], 2); }
    el.setAttribute("data-ready", String(items.length));
  });
})();
