// The live traffic map: road segments (GeoJSON lines) coloured and lettered by level of service,
// fetched again every data-refresh milliseconds; the table of segments follows the same data.
(function () {
  "use strict";
  // the operations room's colours (static/operations.js), so that a level looks the same on both maps
  var COLORS = { A: "#237032", B: "#4d7c0f", C: "#8a6d00", D: "#b35c00", E: "#c2410c", F: "#b00020" };
  var NONE = "#6b7570";

  function texts() {
    var el = document.getElementById("traffic-texts");
    return el ? JSON.parse(el.textContent) : { levels: {} };
  }

  function fill(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_m, k) { return values[k] == null ? "" : values[k]; });
  }

  function letterIcon(level) {
    return L.divIcon({ className: "los-marker", iconSize: [22, 22],
      html: '<span class="los los-' + (level || "none") + '">' + (level || "?") + "</span>" });
  }

  function middle(coords) {
    var c = coords[Math.floor(coords.length / 2)];
    return L.latLng(c[1], c[0]);
  }

  function start(el) {
    if (!window.L) { return; }
    var t = texts();
    var map = Parvis.baseMap(el);
    map.setView([0, 0], 2);
    var layer = L.layerGroup().addTo(map);
    var status = document.getElementById("traffic-status");
    var fitted = false;

    fetch(el.getAttribute("data-districts"), { headers: { Accept: "application/geo+json" } })
      .then(function (r) { return r.json(); })
      .then(function (d) {
        var districts = L.geoJSON(d, { style: { color: "#0b5d4b", weight: 1, fillOpacity: 0.05 }, interactive: false });
        districts.addTo(map);
        if (!fitted && districts.getLayers().length) { map.fitBounds(districts.getBounds(), { padding: [8, 8] }); }
      }).catch(function () { /* the segments still draw */ });

    function popup(p) {
      var box = document.createElement("div");
      var title = document.createElement("strong");
      title.textContent = p.name;
      var level = document.createElement("p");
      level.textContent = p.level ? t.levels[p.level] : t.no_data;
      box.appendChild(title);
      box.appendChild(level);
      if (p.speed != null) {
        var speed = document.createElement("p");
        speed.textContent = fill(t.speed, { speed: p.speed });
        box.appendChild(speed);
      }
      var link = document.createElement("a");
      link.href = p.url;
      link.textContent = t.open;
      box.appendChild(link);
      return box;
    }

    function updateTable(features) {
      features.forEach(function (f) {
        var row = document.querySelector('#traffic-table tr[data-segment="' + CSS.escape(f.properties.id) + '"]');
        var badge = row && row.querySelector(".los");
        if (badge) {
          var level = f.properties.level;
          badge.className = "los los-" + (level || "none");
          badge.textContent = level || "?";
          badge.title = level ? t.levels[level] : t.no_data;
        }
      });
    }

    function draw(data) {
      layer.clearLayers();
      var levels = {};
      var bounds = L.latLngBounds([]);
      data.features.forEach(function (f) {
        var p = f.properties || {};
        levels[p.id] = p.level || "";
        var color = COLORS[p.level] || NONE;
        var casing = L.geoJSON(f, { style: { color: "#fff", weight: 9, opacity: 0.9 }, interactive: false });
        var line = L.geoJSON(f, { style: { color: color, weight: 5, opacity: 1, className: "segment los-line-" + (p.level || "none") } });
        line.bindPopup(function () { return popup(p); });
        // a text node: Leaflet puts a string in as HTML, and names come from devices
        line.bindTooltip(document.createTextNode(p.name + " · " + (p.level || "?")), { sticky: true });
        casing.addTo(layer);
        line.addTo(layer);
        if (f.geometry && f.geometry.type === "LineString") {
          L.marker(middle(f.geometry.coordinates), { icon: letterIcon(p.level), keyboard: false, interactive: false }).addTo(layer);
        }
        bounds.extend(line.getBounds());
      });
      if (!fitted && bounds.isValid()) { map.fitBounds(bounds, { padding: [16, 16] }); fitted = true; }
      el.setAttribute("data-levels", JSON.stringify(levels));
      el.setAttribute("data-ready", String(data.features.length));
      updateTable(data.features);
      if (status && data.generatedAt) {
        status.textContent = fill(t.updated, { time: new Date(data.generatedAt).toLocaleTimeString(document.documentElement.lang) });
      }
    }

    function refresh() {
      fetch(el.getAttribute("data-segments"), { headers: { Accept: "application/geo+json" }, cache: "no-store" })
        .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.json(); })
        .then(draw)
        .catch(function () { if (status) { status.textContent = t.lost; } });
    }

    refresh();
    setInterval(refresh, Math.max(2000, parseInt(el.getAttribute("data-refresh"), 10) || 10000));
  }

  document.addEventListener("DOMContentLoaded", function () {
    var el = document.getElementById("traffic-map");
    if (el) { start(el); }
  });
}());
