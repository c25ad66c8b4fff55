// Crisis alerts: maps of the areas under alert, and the area editor of the compose form (a click
// on the map adds a point to the polygon, places the circle's centre, or selects a district).
// Progressive enhancement only: without this file the pages list the alerts and the form takes the
// polygon as text, one "longitude latitude" point per line.
(function () {
  "use strict";
  var AREA = { color: "#a4161a", weight: 2, fillColor: "#d62828", fillOpacity: 0.25 };
  var DISTRICT = { color: "#0b5d4b", weight: 1, fillColor: "#0b5d4b", fillOpacity: 0.06 };
  var CHOSEN = { color: "#0b5d4b", weight: 3, fillColor: "#0b5d4b", fillOpacity: 0.3 };

  function number(value) { return parseFloat(String(value).replace(",", ".")); }

  // The template menu fills the form as soon as a template is chosen (the button stays for no-JS).
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });

  // "Languages still missing" follows what is typed.
  var missing = document.querySelector("[data-missing]");
  if (missing) {
    var headlines = document.querySelectorAll("input[data-headline]");
    var refresh = function () {
      var names = [];
      headlines.forEach(function (input) {
        if (!input.value.trim()) { names.push(input.getAttribute("data-language-name")); }
      });
      missing.querySelector("[data-missing-list]").textContent = names.join(", ");
      missing.hidden = !names.length;
    };
    headlines.forEach(function (input) { input.addEventListener("input", refresh); });
  }

  // The subscription form: a tap on the map (map.js fills lon/lat) means "a point".
  var subscribe = document.querySelector("form[data-subscribe]");
  if (subscribe) {
    var point = subscribe.querySelector("input[name=place][value=point]");
    subscribe.querySelector("[name=lon]").addEventListener("change", function () { point.checked = true; });
  }

  if (!window.L) { return; }

  function baseMap(el) {
    var map = Parvis.baseMap(el);
    map.setView([0, 0], 2);
    return map;
  }

  function districts(el) {
    return fetch(el.getAttribute("data-districts"), { headers: { Accept: "application/geo+json" } })
      .then(function (r) { return r.json(); });
  }

  function failed(el) {
    return function (e) { el.setAttribute("data-ready", "error"); if (window.console) { console.error(e); } };
  }

  function label(p) {
    var node = document.createElement(p.url ? "a" : "span");
    if (p.url) { node.href = p.url; }
    node.textContent = p.name;
    return node;
  }

  // Areas under alert over the districts; each area links to its alert.
  function areaMap(el) {
    var map = baseMap(el);
    var data = null;
    try { data = JSON.parse(el.getAttribute("data-areas") || "null"); } catch (e) { data = null; }
    var areas = L.geoJSON(data, {
      style: AREA,
      onEachFeature: function (f, l) { if (f.properties && f.properties.name) { l.bindPopup(label(f.properties)); } }
    });
    districts(el).then(function (geojson) {
      var layer = L.geoJSON(geojson, { style: DISTRICT, interactive: false }).addTo(map);
      areas.addTo(map);
      map.invalidateSize();
      var bounds = areas.getLayers().length ? areas.getBounds() : layer.getBounds();
      if (bounds.isValid()) { map.fitBounds(bounds, { padding: [12, 12] }); }
      el.setAttribute("data-ready", String(layer.getLayers().length));
    }).catch(failed(el));
  }

  // The compose form's editor: the polygon lives in the textarea, the circle in its three fields,
  // the districts in their checkboxes; the map only draws them and writes into them.
  function editor(el) {
    var form = el.closest("form");
    el.hidden = false;
    var tools = form.querySelector("[data-editor-tools]");
    tools.hidden = false;
    var text = form.querySelector("[name=polygon]");
    var lon = form.querySelector("[name=circle_lon]"), lat = form.querySelector("[name=circle_lat]");
    var radius = form.querySelector("[name=circle_radius_km]");
    var map = baseMap(el);
    var ring = L.polygon([], { color: "#a4161a", weight: 2, fillColor: "#d62828", fillOpacity: 0.2,
      interactive: false }).addTo(map);
    var dots = L.layerGroup().addTo(map);
    var circle = null;
    var shapes = {};

    function points() {
      var out = [];
      text.value.split(/[\n;]+/).forEach(function (line) {
        var parts = line.trim().split(/[\s,]+/);
        if (parts.length === 2 && parts[0] !== "" && isFinite(number(parts[0])) && isFinite(number(parts[1]))) {
          out.push([number(parts[1]), number(parts[0])]);
        }
      });
      return out;
    }
    function drawPolygon() {
      var latlngs = points();
      ring.setLatLngs(latlngs);
      dots.clearLayers();
      latlngs.forEach(function (ll) {
        L.circleMarker(ll, { radius: 4, color: "#a4161a", weight: 2, fillOpacity: 1, interactive: false }).addTo(dots);
      });
      el.setAttribute("data-points", String(latlngs.length));
    }
    function drawCircle() {
      if (circle) { map.removeLayer(circle); circle = null; }
      var x = number(lon.value), y = number(lat.value), r = number(radius.value);
      if (isFinite(x) && isFinite(y)) {
        circle = (r > 0 ? L.circle([y, x], { radius: r * 1000, color: "#a4161a", weight: 2, fillOpacity: 0.15,
          interactive: false }) : L.circleMarker([y, x], { radius: 5, color: "#a4161a", interactive: false })).addTo(map);
      }
    }
    function box(id) { return form.querySelector("input[name=district_ids][value='" + id + "']"); }
    function restyle() {
      Object.keys(shapes).forEach(function (id) {
        var input = box(id);
        shapes[id].setStyle(input && input.checked ? CHOSEN : DISTRICT);
      });
    }
    function mode() {
      var chosen = form.querySelector("input[name=click_mode]:checked");
      return chosen ? chosen.value : "polygon";
    }

    map.on("click", function (e) {
      var m = mode();
      if (m === "polygon") {
        var line = e.latlng.lng.toFixed(6) + " " + e.latlng.lat.toFixed(6);
        var current = text.value.replace(/\s+$/, "");
        text.value = current ? current + "\n" + line : line;
        drawPolygon();
      } else if (m === "circle") {
        lon.value = e.latlng.lng.toFixed(6);
        lat.value = e.latlng.lat.toFixed(6);
        if (!radius.value) { radius.value = "1"; }
        drawCircle();
      }
    });
    form.querySelector("[data-undo]").addEventListener("click", function () {
      var lines = text.value.replace(/\s+$/, "").split("\n");
      lines.pop();
      text.value = lines.join("\n");
      drawPolygon();
    });
    form.querySelector("[data-clear]").addEventListener("click", function () { text.value = ""; drawPolygon(); });
    text.addEventListener("input", drawPolygon);
    [lon, lat, radius].forEach(function (input) { input.addEventListener("input", drawCircle); });
    form.querySelectorAll("input[name=district_ids]").forEach(function (input) {
      input.addEventListener("change", restyle);
    });
    drawPolygon();
    drawCircle();

    districts(el).then(function (geojson) {
      var layer = L.geoJSON(geojson, {
        style: DISTRICT,
        onEachFeature: function (f, l) {
          shapes[f.id] = l;
          if (f.properties && f.properties.name) {
            var name = document.createElement("span");
            name.textContent = f.properties.name;
            l.bindTooltip(name, { sticky: true });
          }
          l.on("click", function () {
            var input = box(f.id);
            if (mode() === "district" && input) { input.checked = !input.checked; restyle(); }
          });
        }
      }).addTo(map);
      ring.bringToFront();
      restyle();
      map.invalidateSize();
      var bounds = layer.getBounds();
      if (ring.getLatLngs()[0] && ring.getLatLngs()[0].length) { bounds = ring.getBounds().extend(bounds); }
      if (bounds.isValid()) { map.fitBounds(bounds, { padding: [8, 8] }); }
      el.setAttribute("data-ready", String(layer.getLayers().length));
    }).catch(failed(el));
  }

  document.querySelectorAll(".map[data-areas]").forEach(areaMap);
  document.querySelectorAll(".map[data-editor]").forEach(editor);
})();
