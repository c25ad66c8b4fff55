// Planners' pages of the digital twin. Flood page: the official hazard zones (GeoJSON), the
// illustrative flood overlay for the slider's level and the HAND overlay (PNG image overlays in
// lon/lat bounds); moving the slider fetches the level's figures and image without reloading
// (the form still works without JavaScript). Buildable page: the buildable zones (GeoJSON).
(function () {
  "use strict";

  function fill(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_m, k) { return values[k] == null ? "" : values[k]; });
  }


  function floodPage(el) {
    var info = JSON.parse(el.getAttribute("data-info"));
    var texts = JSON.parse(document.getElementById("planning-texts").textContent);
    var colours = JSON.parse(el.getAttribute("data-hazard-colours") || "{}");
    var lang = document.documentElement.lang || "fr";
    var fmt = new Intl.NumberFormat(lang, { maximumFractionDigits: 2 });
    var whole = new Intl.NumberFormat(lang, { maximumFractionDigits: 0 });
    var bounds = L.latLngBounds(info.overlay.bounds);
    var map = Parvis.baseMap(el);
    map.fitBounds(bounds);
    // the official zones under the what-if pictures: their tint must not change the water's colour
    map.createPane("planning-hazard").style.zIndex = 350;
    var slider = document.getElementById("level-range");
    var out = document.getElementById("level-out");
    var status = document.getElementById("planning-status");
    var handBox = document.getElementById("hand-toggle");
    var level = el.getAttribute("data-level");

    fetch(el.getAttribute("data-hazard"), { headers: { Accept: "application/geo+json" } })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        L.geoJSON(data, {
          pane: "planning-hazard",
          style: function (f) {
            var c = colours[f.properties.hazard_level] || "#6b7570";
            return { color: c, weight: 2, fillColor: c, fillOpacity: 0.12, dashArray: "6 4" };
          },
          onEachFeature: function (f, l) {
            var label = document.createElement("span");
            label.textContent = (texts.hazard[f.properties.hazard_level] || f.properties.name || "");
            l.bindTooltip(label, { sticky: true });
          }
        }).addTo(map);
        el.setAttribute("data-hazard-ready", String(data.features.length));
      }).catch(function () { el.setAttribute("data-hazard-ready", "error"); });

    function pngUrl(v) { return el.getAttribute("data-flood-png") + "?level=" + encodeURIComponent(v); }
    var flood = L.imageOverlay(pngUrl(level), bounds, { opacity: 0.85, interactive: false }).addTo(map);
    var hand = L.imageOverlay(el.getAttribute("data-hand-png"), bounds, { opacity: 0.8, interactive: false });
    function showHand() {
      if (handBox.checked) { hand.addTo(map); flood.bringToFront(); } else { hand.remove(); }
    }
    handBox.addEventListener("change", showHand);
    showHand();

    function figures(data) {
      document.getElementById("flood-level").textContent = fill(texts.metres, { level: fmt.format(data.level) });
      var area = document.getElementById("flood-area");
      area.textContent = fill(texts.area, { area: fmt.format(data.area_ha) });
      area.setAttribute("data-value", String(data.area_m2));
      var b = document.getElementById("flood-buildings");
      b.textContent = whole.format(data.exposure.buildings);
      b.setAttribute("data-value", String(data.exposure.buildings));
      var p = document.getElementById("flood-people");
      p.textContent = whole.format(data.exposure.people);
      p.setAttribute("data-value", String(data.exposure.people));
      var body = document.querySelector("#flood-districts tbody");
      body.textContent = "";
      data.exposure.per_district.forEach(function (row) {
        var tr = document.createElement("tr");
        var th = document.createElement("th");
        th.scope = "row";
        th.textContent = row.district;
        tr.appendChild(th);
        [whole.format(row.buildings), whole.format(row.people)].forEach(function (v) {
          var td = document.createElement("td");
          td.textContent = v;
          tr.appendChild(td);
        });
        body.appendChild(tr);
      });
    }

    var timer = null, asked = 0;
    function update() {
      var v = slider.value;
      var ticket = ++asked;
      status.textContent = fill(texts.computing, { level: fmt.format(+v) });
      fetch(el.getAttribute("data-flood-api") + "?level=" + encodeURIComponent(v), { headers: { Accept: "application/json" } })
        .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
        .then(function (res) {
          if (ticket !== asked) { return; } // a newer level was asked meanwhile
          if (!res.ok) { status.textContent = fill(texts.failed, { detail: res.body.detail || res.body.title || "" }); return; }
          flood.setUrl(pngUrl(res.body.level));
          figures(res.body);
          status.textContent = fill(texts.shown, { level: fmt.format(res.body.level) });
          el.setAttribute("data-level", String(res.body.level));
          if (window.history && history.replaceState) {
            history.replaceState(null, "", "?level=" + encodeURIComponent(res.body.level) + (handBox.checked ? "&hand=1" : ""));
          }
        })
        .catch(function (e) { if (ticket === asked) { status.textContent = fill(texts.failed, { detail: String(e) }); } });
    }
    slider.addEventListener("input", function () {
      out.textContent = fill(texts.metres, { level: fmt.format(+slider.value) });
      if (timer) { clearTimeout(timer); }
      timer = setTimeout(update, 120);
    });
    document.getElementById("planning-form").addEventListener("submit", function (e) { e.preventDefault(); update(); });
    el.setAttribute("data-ready", "1");
  }

  function buildablePage(el) {
    var map = Parvis.baseMap(el);
    map.setView([0, 0], 2);
    fetch(el.getAttribute("data-geojson"), { headers: { Accept: "application/geo+json" } })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        var layer = L.geoJSON(data, { style: { color: "#1e6b31", weight: 1, fillColor: "#2f9e44", fillOpacity: 0.45 } }).addTo(map);
        if (layer.getLayers().length) { map.fitBounds(layer.getBounds(), { padding: [8, 8] }); }
        el.setAttribute("data-ready", String(data.features.length));
      }).catch(function () { el.setAttribute("data-ready", "error"); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!window.L) { return; }
    var flood = document.getElementById("planning-map");
    if (flood) { floodPage(flood); }
    var buildable = document.getElementById("buildable-map");
    if (buildable) { buildablePage(buildable); }
  });
})();
