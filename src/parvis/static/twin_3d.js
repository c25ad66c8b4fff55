// The twin's 3D view (/twin/3d): buildings extruded with MapLibre GL JS (vendored under
// /static/vendor/maplibre-gl, no CDN), loaded from /api/v1/twin/3d/buildings for the visible box
// (and again when the view moves), coloured by the server's "color" for the chosen mode. A click on
// a building fills the info panel with its figures and a link to its solar page. Without WebGL the
// page's message and its 2D links are shown instead.
(function () {
  "use strict";

  function webglSupported() {
    try {
      var canvas = document.createElement("canvas");
      return !!(window.WebGLRenderingContext &&
        (canvas.getContext("webgl2") || canvas.getContext("webgl") || canvas.getContext("experimental-webgl")));
    } catch (_e) {
      return false;
    }
  }

  function label(el, name) { return el.getAttribute("data-label-" + name) || ""; }

  function noWebgl(el) {
    el.hidden = true;
    var message = document.getElementById("twin3d-nowebgl");
    if (message) { message.hidden = false; }
    document.documentElement.setAttribute("data-twin3d", "no-webgl");
  }

  function style(el) {
    var sources = {};
    var layers = [{ id: "background", type: "background", paint: { "background-color": "#eef2f0" } }];
    var tiles = el.getAttribute("data-tiles");
    if (tiles) {
      sources.base = { type: "raster", tiles: [tiles.replace("{s}", "a")], tileSize: 256, maxzoom: 19,
        attribution: el.getAttribute("data-attribution") || "" };
      layers.push({ id: "base", type: "raster", source: "base" });
    }
    sources.buildings = { type: "geojson", data: { type: "FeatureCollection", features: [] } };
    layers.push({ id: "buildings", type: "fill-extrusion", source: "buildings", paint: {
      "fill-extrusion-color": ["get", "color"],
      "fill-extrusion-height": ["get", "top_m"],
      "fill-extrusion-base": ["get", "base_m"],
      "fill-extrusion-opacity": 0.92 } });
    layers.push({ id: "chosen", type: "line", source: "buildings", filter: ["==", ["id"], -1],
      paint: { "line-color": "#111", "line-width": 3 } });
    return { version: 8, sources: sources, layers: layers };
  }

  function text(value) { return document.createTextNode(value == null ? "" : String(value)); }

  function showInfo(el, props) {
    var panel = document.getElementById("twin3d-info");
    if (!panel) { return; }
    panel.textContent = "";
    var title = document.createElement("h2");
    title.appendChild(text(props.address || label(el, "noaddress")));
    panel.appendChild(title);
    var list = document.createElement("dl");
    function row(name, value) {
      var dt = document.createElement("dt"); dt.appendChild(text(label(el, name)));
      var dd = document.createElement("dd"); dd.appendChild(text(value));
      list.appendChild(dt); list.appendChild(dd);
    }
    var unknown = label(el, "unknown");
    row("height", props.height_m != null ? props.height_m + " " + label(el, "unit-m") : unknown);
    row("storeys", props.storeys != null ? props.storeys : unknown);
    row("roof", props.roof_type || unknown);
    row("period", props.construction_period ? props.construction_period.replace("_", "–") : unknown);
    row("potential", props.annual_kwh_m2 != null ? Math.round(props.annual_kwh_m2) + " " + label(el, "unit-kwh")
      : label(el, "notcomputed"));
    if (props.level_shown) { row("level", props.heat_loss_level != null ? props.heat_loss_level + " / 6" : unknown); }
    panel.appendChild(list);
    var link = document.createElement("a");
    link.href = props.url;
    link.className = "twin3d-solar-link";
    link.appendChild(text(label(el, "link")));
    var p = document.createElement("p"); p.appendChild(link);
    panel.appendChild(p);
    var home = document.createElement("a");
    home.href = "/twin/home?building=" + encodeURIComponent(props.id);
    home.appendChild(text(label(el, "home")));
    var q = document.createElement("p"); q.appendChild(home);
    panel.appendChild(q);
  }

  function start(el) {
    if (!window.maplibregl || !webglSupported()) { noWebgl(el); return; }
    var bounds = JSON.parse(el.getAttribute("data-bounds") || "null");
    var mode = el.getAttribute("data-mode") || "solar";
    var status = document.getElementById("twin3d-status");
    var map;
    try {
      map = new maplibregl.Map({ container: el, style: style(el), pitch: 55, bearing: -20, maxPitch: 75,
        bounds: bounds || undefined, fitBoundsOptions: { padding: 20 }, attributionControl: false });
    } catch (_e) {
      noWebgl(el);
      return;
    }
    window.parvisTwin3dMap = map;  // for the browser tests and for people exploring from the console
    map.addControl(new maplibregl.NavigationControl({ visualizePitch: true }));
    if (el.getAttribute("data-tiles")) { map.addControl(new maplibregl.AttributionControl({ compact: true })); }

    var pending = null;
    var generation = 0;
    function load() {
      var b = map.getBounds();
      var box = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) { return v.toFixed(6); });
      var url = el.getAttribute("data-api") + "?mode=" + encodeURIComponent(mode) + "&bbox=" + box.join(",") +
        "&limit=" + (el.getAttribute("data-limit") || "3000");
      var mine = ++generation;
      el.setAttribute("aria-busy", "true");
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/geo+json" } })
        .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
        .then(function (data) {
          if (mine !== generation) { return; }
          map.getSource("buildings").setData(data);
          el.setAttribute("data-loaded", String(data.count));
          if (status) { status.textContent = data.truncated ? label(el, "truncated") : ""; }
        })
        .catch(function () { if (status) { status.textContent = label(el, "failed"); } })
        .then(function () { if (mine === generation) { el.removeAttribute("aria-busy"); } });
    }
    function later() { clearTimeout(pending); pending = setTimeout(load, 250); }

    map.on("load", function () {
      load();
      map.on("moveend", later);
      document.documentElement.setAttribute("data-twin3d", "drawn");
    });
    map.on("click", "buildings", function (e) {
      var f = e.features && e.features[0];
      if (!f) { return; }
      map.setFilter("chosen", ["==", ["id"], f.id]);
      showInfo(el, f.properties);
    });
    map.on("mouseenter", "buildings", function () { map.getCanvas().style.cursor = "pointer"; });
    map.on("mouseleave", "buildings", function () { map.getCanvas().style.cursor = ""; });
  }

  function init() {
    var el = document.getElementById("twin3d-map");
    if (el) { start(el); }
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
