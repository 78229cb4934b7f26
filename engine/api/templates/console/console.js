// lmsync console: progressive enhancement only — polls a running sync's progress (the page
// refreshes itself through <noscript> without it).
(function () {
  "use strict";
  function poll(tries) {
    var section = document.getElementById("progress");
    if (!section || section.dataset.finished === "true" || tries > 600) { return; }
    fetch(section.dataset.statusUrl, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (p) {
        if (!p) { return; }
        var state = document.getElementById("run-state");
        if (p.run) {
          state.textContent = p.run.kind + " " + p.run.status + " (" + p.run.id + ")";
          state.dataset.state = p.run.status;
        }
        var body = section.querySelector("tbody");
        if (!body) {
          var table = document.createElement("table");
          table.className = "models";
          table.innerHTML = "<thead><tr><th scope=\"col\">Model</th><th scope=\"col\">State</th><th scope=\"col\">Records</th></tr></thead><tbody></tbody>";
          section.appendChild(table);
          body = table.querySelector("tbody");
        }
        p.models.forEach(function (m) {
          var row = body.querySelector('tr[data-model="' + m.model + '"]');
          if (!row) {
            row = document.createElement("tr");
            row.dataset.model = m.model;
            var th = document.createElement("th");
            th.scope = "row";
            th.textContent = m.model;
            var st = document.createElement("td");
            st.className = "state";
            var rc = document.createElement("td");
            rc.className = "records";
            row.append(th, st, rc);
            body.appendChild(row);
          }
          row.dataset.state = m.state;
          row.querySelector(".state").textContent = m.state;
          row.querySelector(".records").textContent = String(m.records);
        });
        var waitFor = section.dataset.waitFor;
        var done = p.finished && (!waitFor || (p.run && p.run.id === waitFor));
        section.dataset.finished = done ? "true" : "false";
        if (!done) { window.setTimeout(function () { poll(tries + 1); }, 1000); }
      }, function () { window.setTimeout(function () { poll(tries + 1); }, 3000); });
  }
  document.addEventListener("DOMContentLoaded", function () { window.setTimeout(function () { poll(0); }, 500); });
})();
