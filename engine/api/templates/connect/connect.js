// lmsync Connect page: progressive enhancement only (every step works without it).
(function () {
  "use strict";
  function copyButtons() {
    document.querySelectorAll("button.copy[data-copy]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        var text = document.getElementById(button.dataset.copy).textContent;
        var done = function () { button.textContent = button.dataset.done; };
        if (navigator.clipboard) { navigator.clipboard.writeText(text).then(done, function () {}); }
      });
    });
  }
  function tellTheApp() {
    var connected = document.getElementById("connected");
    var token = connected && connected.dataset.exchangeToken;
    if (!token) { return; }
    var message = { type: "lmsync-connect-success", token: token };
    [window.opener, window.parent !== window ? window.parent : null].forEach(function (target) {
      if (target) { target.postMessage(message, "*"); }
    });
  }
  function poll() {
    var section = document.getElementById("progress");
    if (!section || section.dataset.finished === "true") { return; }
    fetch(section.dataset.statusUrl, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) {
        if (!s) { return; }
        var state = document.getElementById("sync-state");
        state.textContent = s.sync.label;
        state.dataset.state = s.sync.status;
        s.models.forEach(function (m) {
          var row = section.querySelector('tr[data-model="' + m.model + '"]');
          if (!row) { return; }
          row.dataset.state = m.state;
          row.querySelector(".state").textContent = m.label;
          row.querySelector(".records").textContent = String(m.records);
        });
        section.dataset.finished = s.finished ? "true" : "false";
        if (!s.finished) { window.setTimeout(poll, 1000); }
      }, function () { window.setTimeout(poll, 3000); });
  }
  document.addEventListener("DOMContentLoaded", function () { copyButtons(); tellTheApp(); window.setTimeout(poll, 500); });
})();
