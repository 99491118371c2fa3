// Files: which storage this relay serves (GET /v1/files/store), what it
// holds by age (GET /v1/files/list: sizes and times only, never keys on
// screen), the last gc run (GET /v1/files/gc) and a gc form (POST
// /v1/files/gc, a dry run first).
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
  function describe(run) {
    var r = run.result, q = run.request || {};
    return [q.dry_run ? "Dry run" : "Run", " at ", ui.time(run.at), q.older_than_seconds ? " (also objects older than " + ui.plural(Math.round(q.older_than_seconds / 86400), "day") + ")" : "",
      ": scanned " + r.Scanned + ", " + (q.dry_run ? "would remove " : "removed ") + r.Removed + " (" + ui.size(r.RemovedBytes) + "), kept " + r.Kept + " still in use."];
  }
  function loadLast(main) {
    var out = main.querySelector("#f-gc");
    ui.api("/v1/files/gc").then(function (run) {
      out.className = "result ok";
      out.textContent = "";
      out.appendChild(ui.el("span", null, "Last gc: ", describe(run)));
    }).catch(function (err) {
      out.className = "result";
      out.textContent = err.status === 404 ? "No gc has run since this relay started (medrelayctl files gc runs it too)." : "Last gc: " + err.message;
    });
  }
  function gc(main, dry) {
    var out = main.querySelector("#f-gc"), days = Number(main.querySelector("#f-older").value) || 0;
    var req = {dry_run: dry};
    if (days > 0) req.older_than_seconds = Math.round(days * 86400);
    out.className = "result";
    out.textContent = "running…";
    ui.api("/v1/files/gc", {method: "POST", body: req}).then(function () {
      loadLast(main);
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
      main.appendChild(ui.el("div", {id: "f-gc", class: "result", role: "status", "aria-live": "polite"}));
      load(main);
      loadLast(main);
    },
  });
})();
