// Files: which storage this relay serves (GET /v1/files/store), what it
// holds by age (GET /v1/files/list: sizes and times only, never keys on
// screen) and the last gc run this console started or saw (POST
// /v1/files/gc with dry_run first).
"use strict";
(function () {
  var buckets = [["under a day", 86400], ["1–7 days", 7 * 86400], ["7–30 days", 30 * 86400], ["over 30 days", Infinity]];
  function load(main) {
    var info = main.querySelector("#f-info"), objs = main.querySelector("#f-objects");
    ui.api("/v1/files/store").then(function (si) {
      info.textContent = "";
      info.appendChild(ui.el("p", null, "Storage: ", ui.el("strong", null, si.kind), si.bucket ? " bucket " + si.bucket : "",
        ", held by ", ui.el("strong", null, si.holder), ", mode ", si.mode, si.via ? " (this relay uses it through its parent)" : ""));
      if (si.kind === "parent" || (si.via && si.holder !== si.via)) {
        objs.textContent = "This relay keeps no files: see the console of " + si.holder + ".";
        return;
      }
      return ui.api("/v1/files/list").then(function (list) {
        list = list || [];
        var now = Date.now(), total = 0, rows = buckets.map(function (b) { return {label: b[0], max: b[1], n: 0, bytes: 0}; });
        list.forEach(function (o) {
          total += o.size;
          var a = (now - new Date(o.modified || 0).getTime()) / 1000;
          for (var i = 0; i < rows.length; i++) if (a < rows[i].max) { rows[i].n++; rows[i].bytes += o.size; break; }
        });
        objs.textContent = "";
        objs.appendChild(ui.el("div", {class: "cards"},
          ui.el("div", {class: "card"}, ui.el("div", {class: "muted"}, "In use"), ui.el("div", {class: "v", id: "f-total"}, ui.size(total))),
          ui.el("div", {class: "card"}, ui.el("div", {class: "muted"}, "Objects"), ui.el("div", {class: "v", id: "f-count"}, String(list.length)))));
        objs.appendChild(ui.table([
          {title: "Age", value: function (r) { return r.max; }, render: function (r) { return r.label; }},
          {title: "Objects", value: function (r) { return r.n; }},
          {title: "Size", value: function (r) { return r.bytes; }, render: function (r) { return ui.size(r.bytes); }},
        ], rows, {label: "Objects by age"}));
      });
    }).catch(function (err) { info.textContent = "Could not read the file service: " + err.message; });
  }
  function gc(main, dry) {
    var out = main.querySelector("#f-gc"), days = Number(main.querySelector("#f-older").value) || 0;
    var req = {dry_run: dry};
    if (days > 0) req.older_than_seconds = Math.round(days * 86400);
    ui.api("/v1/files/gc", {method: "POST", body: req}).then(function (r) {
      out.className = "result ok";
      out.textContent = (dry ? "Dry run at " : "GC run at ") + new Date().toLocaleString() + ": scanned " + r.Scanned + ", " +
        (dry ? "would remove " : "removed ") + r.Removed + " (" + ui.size(r.RemovedBytes) + "), kept " + r.Kept + " still in use.";
      sessionStorage.setItem("medrelay.lastgc", out.textContent);
      if (!dry) load(main);
    }).catch(function (err) { out.className = "result bad"; out.textContent = "GC failed: " + err.message; });
  }
  ui.page("files", {
    draw: function (main) {
      main.appendChild(ui.el("h1", null, "Files"));
      main.appendChild(ui.el("div", {id: "f-info"}));
      main.appendChild(ui.el("div", {id: "f-objects"}));
      main.appendChild(ui.el("h2", null, "Garbage collection"));
      main.appendChild(ui.el("form", {class: "inline", onsubmit: function (ev) { ev.preventDefault(); gc(main, true); }},
        ui.el("label", {for: "f-older"}, "Also objects older than (days, 0: only expired)", ui.el("input", {id: "f-older", type: "number", min: "0", value: "0"})),
        ui.el("button", {type: "submit"}, "Dry run"),
        ui.el("button", {type: "button", class: "secondary", onclick: function () { if (confirm("Remove these objects?")) gc(main, false); }}, "Run gc")));
      var last = sessionStorage.getItem("medrelay.lastgc");
      main.appendChild(ui.el("div", {id: "f-gc", class: "result", role: "status"}, last ? "Last run from this console: " + last : "No gc run from this console yet (medrelayctl files gc runs it too)."));
      load(main);
    },
  });
})();
