// The operations room: draws the sensors' snapshot on a Leaflet map, then follows the live stream
// (Server-Sent Events) without reloading. Every marker carries its state in text (the level letter,
// the free spaces, the index, the fill) as well as in colour; the legend says what each means.
(function () {
  "use strict";
  var el = document.getElementById("ops-map");
  if (!el || !window.L || !window.EventSource || !window.fetch) { return; }
  var labels = JSON.parse(document.getElementById("ops-labels").textContent);
  var texts = labels.texts;
  // White text on each of these is at least 4.5:1 (WCAG AA); the legend's swatches are the same.
  var COLORS = {
    traffic: { A: "#237032", B: "#4d7c0f", C: "#8a6d00", D: "#b35c00", E: "#c2410c", F: "#b00020" },
    parking: { free: "#237032", few: "#b35c00", full: "#b00020" },
    air: { good: "#237032", moderate: "#8a6d00", poor: "#b35c00", bad: "#b00020", very_bad: "#862e9c",
      hazardous: "#5c0a0a" },
    waste: { low: "#237032", medium: "#8a6d00", high: "#b00020" }
  };
  var NONE = "#6c757d";
  var status = document.getElementById("ops-status");
  var byId = {};
  var groups = {};

  function fmt(text, params) {
    return text.replace(/%\((\w+)\)s/g, function (_m, k) {
      return params[k] === undefined || params[k] === null ? "—" : String(params[k]);
    }).replace(/%%/g, "%");
  }

  // The status line is a live region: it changes at most once a minute while live (no chatter).
  function say(state, text) {
    status.setAttribute("data-state", state);
    if (status.textContent !== text) { status.textContent = text; }
  }

  function now() {
    return new Date().toLocaleTimeString(document.documentElement.lang, { hour: "2-digit", minute: "2-digit" });
  }

  function color(p) { return (COLORS[p.layer] || {})[p.level] || NONE; }

  function levelText(p) {
    return p.level ? ((labels.levels[p.layer] || {})[p.level] || p.level) : labels.no_data;
  }

  // The short text shown on the marker itself.
  function badge(p) {
    if (p.layer === "traffic") { return p.level || "?"; }
    if (p.layer === "parking") { return p.free === null || p.free === undefined ? "P" : String(p.free); }
    if (p.layer === "air") {
      if (p.aqi !== null && p.aqi !== undefined) { return String(p.aqi); }
      return p.pm25 === null || p.pm25 === undefined ? "?" : String(Math.round(p.pm25));
    }
    return p.fill === null || p.fill === undefined ? "?" : p.fill + "%";
  }

  function describe(p) {
    var parts = [labels.layers[p.layer] + " · " + p.name, levelText(p)];
    if (p.layer === "traffic" && p.speed !== null && p.speed !== undefined) {
      parts.push(fmt(texts.speed, { speed: p.speed }));
    } else if (p.layer === "parking" && p.free !== null) {
      parts.push(fmt(texts.free, { free: p.free, total: p.total }));
    } else if (p.layer === "air") {
      if (p.aqi !== null && p.aqi !== undefined) { parts.push(fmt(texts.aqi, { value: p.aqi })); }
      if (p.pm25 !== null && p.pm25 !== undefined) { parts.push(fmt(texts.pm25, { value: p.pm25 })); }
    } else if (p.layer === "waste" && p.fill !== null) {
      parts.push(fmt(texts.fill, { fill: p.fill }));
    }
    return parts.join(" · ");
  }

  function mark(node, f) {
    if (!node) { return; }
    node.setAttribute("data-entity-id", f.id);
    node.setAttribute("data-layer", f.properties.layer);
    node.setAttribute("data-level", f.properties.level || "");
  }

  function icon(f) {
    var p = f.properties;
    var span = document.createElement("span");
    span.className = "ops-pin ops-pin-" + p.layer;
    span.style.background = color(p);
    span.textContent = badge(p);
    mark(span, f);
    return L.divIcon({ className: "ops-icon", html: span.outerHTML, iconSize: [30, 30], iconAnchor: [15, 15] });
  }

  function create(f) {
    var layer;
    if (f.geometry.type === "Point") {
      var c = f.geometry.coordinates;
      layer = L.marker([c[1], c[0]], { icon: icon(f), title: describe(f.properties), keyboard: true });
    } else {
      layer = L.geoJSON(f.geometry, { style: style(f) }).getLayers()[0];
      layer.on("add", function () { mark(layer.getElement(), layer.feature); });
    }
    layer.feature = f;
    layer.bindTooltip(describe(f.properties));
    return layer;
  }

  function style(f) {
    var p = f.properties;
    return { color: color(p), weight: p.level === "F" || p.level === "E" ? 8 : 6, opacity: 0.95,
      dashArray: p.level === "F" ? "10 6" : null };
  }

  function update(f) {
    if (!f.geometry || !groups[f.properties.layer]) { return; }
    var old = byId[f.id];
    if (old && (old.feature.geometry.type === "Point") === (f.geometry.type === "Point")) {
      old.feature = f;
      old.setTooltipContent(describe(f.properties));
      if (f.geometry.type === "Point") {
        var c = f.geometry.coordinates;
        old.setLatLng([c[1], c[0]]);
        old.setIcon(icon(f));
        if (old.getElement()) { old.getElement().title = describe(f.properties); }
      } else {
        old.setStyle(style(f));
        mark(old.getElement(), f);
      }
      return;
    }
    if (old) { groups[old.feature.properties.layer].removeLayer(old); }
    byId[f.id] = create(f);
    groups[f.properties.layer].addLayer(byId[f.id]);
  }

  function eventItem(e) {
    var li = document.createElement("li");
    li.className = "ops-event severity-" + e.severity;
    li.setAttribute("data-event-id", e.id);
    li.setAttribute("data-entity-id", e.entity_id);
    var head = document.createElement("p");
    var strong = document.createElement("strong");
    strong.textContent = e.kind_label;
    head.appendChild(strong);
    head.appendChild(document.createTextNode(" · " + e.severity_label));
    var summary = document.createElement("p");
    summary.textContent = e.summary;
    var meta = document.createElement("p");
    meta.className = "meta";
    var time = document.createElement("time");
    time.setAttribute("datetime", e.raised_at);
    time.textContent = e.time;
    meta.appendChild(time);
    meta.appendChild(document.createTextNode((e.place ? " · " + e.place : "") + " · " + e.department));
    li.appendChild(head);
    li.appendChild(summary);
    li.appendChild(meta);
    return li;
  }

  // The list is a live region: the events still open keep their item (its summary refreshed), so
  // that a screen reader announces the new or graver events, not the whole list again.
  function renderEvents(list) {
    var ol = document.getElementById("ops-events");
    var old = {};
    Array.prototype.forEach.call(ol.children, function (li) { old[li.getAttribute("data-event-id")] = li; });
    var items = list.map(function (e) {
      var li = old[String(e.id)];
      if (!li || !li.classList.contains("severity-" + e.severity)) { return eventItem(e); }
      delete old[String(e.id)];
      var summary = li.children[1];
      if (summary && summary.textContent !== e.summary) { summary.textContent = e.summary; }
      return li;
    });
    Object.keys(old).forEach(function (id) { ol.removeChild(old[id]); });
    items.forEach(function (li, i) {
      if (ol.children[i] !== li) { ol.insertBefore(li, ol.children[i] || null); }
    });
    document.getElementById("ops-events-empty").hidden = list.length > 0;
    addFocusButtons(list);
  }

  var eventGeometry = {};
  function addFocusButtons(list) {
    (list || []).forEach(function (e) { eventGeometry[e.id] = e.geometry; });
    document.querySelectorAll("#ops-events li[data-entity-id]").forEach(function (li) {
      if (li.querySelector("button.ops-focus")) { return; }
      var button = document.createElement("button");
      button.type = "button";
      button.className = "link ops-focus";
      button.textContent = texts.show;
      button.addEventListener("click", function () { focusOn(li.getAttribute("data-entity-id"),
        eventGeometry[li.getAttribute("data-event-id")]); });
      li.appendChild(button);
    });
  }

  function focusOn(entityId, geometry) {
    var layer = byId[entityId];
    el.scrollIntoView({ block: "nearest" });
    if (layer) {
      var group = groups[layer.feature.properties.layer];
      if (!map.hasLayer(group)) { group.addTo(map); }
      if (layer.getLatLng) { map.setView(layer.getLatLng(), Math.max(map.getZoom(), 16)); } else {
        map.fitBounds(layer.getBounds(), { maxZoom: 17 });
      }
      layer.openTooltip();
      el.setAttribute("data-focused", entityId);
    } else if (geometry) {
      var shape = L.geoJSON(geometry);
      map.fitBounds(shape.getBounds(), { maxZoom: 16 });
      el.setAttribute("data-focused", entityId);
    }
  }

  el.hidden = false;
  var map = Parvis.baseMap(el);
  map.setView([0, 0], 2);
  var overlays = {};
  ["traffic", "parking", "air", "waste"].forEach(function (layer) {
    groups[layer] = L.featureGroup().addTo(map);
    overlays[labels.layers[layer]] = groups[layer];
  });
  var control = L.control.layers(null, overlays, { collapsed: false }).addTo(map);
  addFocusButtons([]);

  function json(url) {
    return fetch(url, { headers: { Accept: "application/geo+json" }, credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error(url + " " + r.status); } return r.json(); });
  }

  var districts = json(el.getAttribute("data-districts")).then(function (data) {
    var layer = L.geoJSON(data, { style: { color: "#0b5d4b", weight: 1.5, fillOpacity: 0.06 }, interactive: false });
    layer.addTo(map).bringToBack();
    control.addOverlay(layer, texts.districts);
    return layer;
  }).catch(function () { return null; });

  var source = null;
  var cursor = null;  // the last cursor received: where a new connection starts from
  var backoff = 3000;
  var leaving = false;
  function listen() {
    if (leaving) { return; }
    var url = el.getAttribute("data-stream") + (cursor ? "?since=" + encodeURIComponent(cursor) : "");
    say("connecting", texts.connecting);
    var es = source = new EventSource(url);
    function follow(msg) { if (msg.lastEventId) { cursor = msg.lastEventId; } }
    source.addEventListener("open", function () {
      backoff = 3000;
      say("live", fmt(texts.live, { time: now() }));
    });
    source.addEventListener("features", function (msg) {
      follow(msg);
      var data = JSON.parse(msg.data);
      data.features.forEach(update);
      el.setAttribute("data-updates", String(+(el.getAttribute("data-updates") || 0) + 1));
      say("live", fmt(texts.live, { time: now() }));
    });
    source.addEventListener("events", function (msg) { follow(msg); renderEvents(JSON.parse(msg.data).events); });
    var planned = false;  // the server ends each connection after a while: not a loss
    source.addEventListener("reconnect", function () { planned = true; });
    source.addEventListener("error", function () {
      if (es.readyState === EventSource.CLOSED) {
        // The browser gives up on an answer other than 200 (a proxy's 502 while the server restarts,
        // a signed-out session): the page tries again itself, ever more slowly, from its cursor.
        es.close();
        say("lost", texts.lost);
        window.setTimeout(listen, backoff);
        backoff = Math.min(backoff * 2, 60000);
        return;
      }
      if (planned) { planned = false; say("connecting", texts.connecting); } else { say("lost", texts.lost); }
    });
  }

  Promise.all([json(el.getAttribute("data-snapshot")), districts]).then(function (all) {
    var snapshot = all[0];
    snapshot.features.forEach(update);
    map.invalidateSize();
    var bounds = all[1] && all[1].getLayers().length ? all[1].getBounds() : null;
    Object.keys(groups).forEach(function (k) {
      if (groups[k].getLayers().length) {
        bounds = bounds ? bounds.extend(groups[k].getBounds()) : groups[k].getBounds();
      }
    });
    if (bounds) { map.fitBounds(bounds, { padding: [8, 8] }); }
    el.setAttribute("data-ready", String(snapshot.features.length));
    cursor = snapshot.cursor;
    listen();
  }).catch(function (e) {
    el.setAttribute("data-ready", "error");
    say("lost", texts.lost);
    if (window.console) { console.error(e); }
  });
  window.addEventListener("pagehide", function () { leaving = true; if (source) { source.close(); } });
  // Back to the page from the browser's history cache: its stream was closed on leaving, so follow again.
  window.addEventListener("pageshow", function (e) {
    if (e.persisted && leaving) { leaving = false; if (cursor) { listen(); } }
  });
})();
