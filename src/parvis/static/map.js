// Draws every .map element: districts (or report markers) from a GeoJSON URL; tiles only if the
// city set a URL. data-pick="1" turns the map into a location picker for the report form.
(function () {
  "use strict";
  var COLORS = { new: "#b3261e", acknowledged: "#b35c00", in_progress: "#1f5fa8",
    resolved: "#1e6b31", closed: "#4a5560", rejected: "#4a5560" };

  function pointLayer(data) {
    var group = window.L.markerClusterGroup ? L.markerClusterGroup({ maxClusterRadius: 45 }) : L.featureGroup();
    L.geoJSON(data, {
      pointToLayer: function (f, latlng) {
        var p = f.properties || {};
        return L.circleMarker(latlng, { radius: 7, weight: 2, color: "#fff",
          fillColor: COLORS[p.status] || "#1b1f24", fillOpacity: 0.95 });
      },
      onEachFeature: function (f, l) {
        var link = document.createElement("a");
        link.href = "/reports/" + f.properties.id;
        link.textContent = "#" + f.properties.id;
        l.bindPopup(link);
      }
    }).eachLayer(function (l) { group.addLayer(l); });
    return group;
  }

  function draw(el) {
    if (!window.L) { return; }
    var map = Parvis.baseMap(el);
    map.setView([0, 0], 2);
    var sources = [el.getAttribute("data-geojson")];
    if (el.getAttribute("data-points")) { sources.push(el.getAttribute("data-points")); }
    Promise.all(sources.map(function (url) {
      return fetch(url, { headers: { Accept: "application/geo+json" } }).then(function (r) { return r.json(); });
    })).then(function (all) {
      var districts = L.geoJSON(all[0], {
        style: { color: "#0b5d4b", weight: 2, fillOpacity: 0.12 },
        onEachFeature: function (f, l) {
          var p = f.properties || {};
          if (p.name) {
            var label = document.createElement("span");
            label.textContent = p.name + (p.name_local ? " (" + p.name_local + ")" : "");
            l.bindTooltip(label, { sticky: true });
          }
        }
      }).addTo(map);
      map.invalidateSize();
      if (districts.getLayers().length) { map.fitBounds(districts.getBounds(), { padding: [8, 8] }); }
      if (all[1]) {
        var points = pointLayer(all[1]).addTo(map);
        el.setAttribute("data-markers", String(all[1].features.length));
        if (!districts.getLayers().length && points.getLayers().length) { map.fitBounds(points.getBounds()); }
      }
      el.setAttribute("data-ready", String(districts.getLayers().length));
    }).catch(function (e) { el.setAttribute("data-ready", "error"); if (window.console) { console.error(e); } });
    if (el.getAttribute("data-pick")) { picker(el, map); }
  }

  function picker(el, map) {
    var form = el.closest("form");
    var lon = form.querySelector("[name=lon]"), lat = form.querySelector("[name=lat]");
    var marker = null;
    function place(latlng, pan) {
      if (marker) { marker.setLatLng(latlng); } else {
        marker = L.circleMarker(latlng, { radius: 9, color: "#fff", weight: 3, fillColor: "#b3261e",
          fillOpacity: 1 }).addTo(map);
      }
      lon.value = latlng.lng.toFixed(6);
      lat.value = latlng.lat.toFixed(6);
      lon.dispatchEvent(new Event("change", { bubbles: true }));
      if (pan) { map.setView(latlng, 17); }
    }
    map.on("click", function (e) { place(e.latlng, false); });
    if (lon.value && lat.value) { place(L.latLng(+lat.value, +lon.value), false); }
    var button = form.querySelector("[data-locate]");
    if (button && navigator.geolocation) {
      button.hidden = false;
      button.addEventListener("click", function () {
        navigator.geolocation.getCurrentPosition(function (pos) {
          place(L.latLng(pos.coords.latitude, pos.coords.longitude), true);
        }, function () { button.setAttribute("aria-invalid", "true"); }, { enableHighAccuracy: true, timeout: 15000 });
      });
    }
  }

  document.querySelectorAll(".map[data-geojson]").forEach(draw);

  // The report form shows only the questions of the chosen category.
  var select = document.querySelector("select[data-category-select]");
  if (select) {
    var sync = function () {
      document.querySelectorAll("fieldset[data-category]").forEach(function (fs) {
        fs.hidden = fs.getAttribute("data-category") !== select.value;
        fs.disabled = fs.hidden;
      });
    };
    select.addEventListener("change", sync);
    sync();
  }
})();
