// Audit (main): search what main routed by time, from, to, command and
// outcome (GET /v1/audit; the outcome filter applies to what it returns),
// each record's route, the hash-chain check (GET /v1/audit/verify), and
// the search's export as NDJSON.
"use strict";
(function () {
  function relayOf(addr) { return (addr || "").split("/")[0]; }
  // route says which way an envelope went: through main, or a node's
  // shortcut (the record's outcome says "shortcut at NODE: ...").
  function route(r) {
    var m = /^shortcut at ([^:]+):/.exec(r.outcome);
    var via = m ? m[1] + " (shortcut)" : "main";
    var to = r.outcome.indexOf("dead:") === 0 || /: dead:/.test(r.outcome) ? "✗ dead letter" : relayOf(r.to);
    return relayOf(r.from) + " → " + via + " → " + to;
  }
  function query(form) {
    var q = new URLSearchParams();
    var since = form.querySelector("#a-since").value;
    if (since) q.set("since", new Date(since).toISOString());
    ["from", "to", "command"].forEach(function (k) {
      var v = form.querySelector("#a-" + k).value.trim();
      if (v) q.set(k, v);
    });
    q.set("limit", "1000");
    return "/v1/audit?" + q.toString();
  }
  function filterOutcome(form, recs) {
    var o = form.querySelector("#a-outcome").value.trim();
    var until = form.querySelector("#a-until").value;
    var u = until ? new Date(until).getTime() : 0;
    return recs.filter(function (r) {
      return (!o || r.outcome.indexOf(o) >= 0) && (!u || new Date(r.routed_at).getTime() <= u);
    });
  }
  function search(main) {
    var form = main.querySelector("form"), out = main.querySelector("#a-results");
    out.textContent = "searching…";
    ui.api(query(form)).then(function (recs) {
      recs = filterOutcome(form, recs || []);
      out.textContent = "";
      out.appendChild(ui.el("p", {id: "a-count"}, ui.plural(recs.length, "record")));
      out.appendChild(ui.table([
        {title: "Routed", value: function (r) { return r.routed_at; }, render: function (r) { return ui.time(r.routed_at); }},
        {title: "Envelope", value: function (r) { return r.id; }, render: function (r) { return ui.el("span", {class: "nowrap"}, r.id); }},
        {title: "From", value: function (r) { return r.from; }},
        {title: "To", value: function (r) { return r.to; }},
        {title: "Command", value: function (r) { return r.command; }},
        {title: "Size", value: function (r) { return r.bytes + r.file_bytes; }, render: function (r) {
          return ui.size(r.bytes) + (r.files ? " + " + r.files + " files, " + ui.size(r.file_bytes) : "");
        }},
        {title: "Route", value: route, render: function (r) { return ui.el("span", {class: "route"}, route(r)); }},
        {title: "Outcome", value: function (r) { return r.outcome; }},
      ], recs, {label: "Audit records", empty: "no record matches", rowAttrs: function (r) { return {"data-id": r.id}; }}));
    }).catch(function (err) { out.textContent = "Search failed: " + err.message; });
  }
  function verify(main) {
    var out = main.querySelector("#a-verify");
    out.className = "result";
    out.textContent = "checking the chain…";
    ui.api("/v1/audit/verify").then(function (c) {
      out.className = "result " + (c.ok ? "ok" : "bad");
      out.dataset.ok = String(c.ok);
      out.textContent = "";
      if (c.ok) {
        out.appendChild(ui.el("span", null, "Chain OK: " + ui.plural(c.records, "record") + "; head " + c.head + " (note it down: a later check proves nothing before it changed)."));
      } else {
        out.appendChild(ui.el("span", null, "Chain BROKEN at record " + (c.records + 1) + ", routed ", ui.time(c.broken_at), ": " + c.problem +
          (c.records ? " (the " + c.records + " before it check out)" : "")));
      }
    }).catch(function (err) { out.className = "result bad"; out.textContent = "Verify failed: " + err.message; });
  }
  function exportNDJSON(main) {
    var form = main.querySelector("form");
    ui.api(query(form), {raw: true}).then(function (text) {
      var recs = filterOutcome(form, text.split("\n").filter(Boolean).map(function (l) { return JSON.parse(l); }));
      var blob = new Blob([recs.map(function (r) { return JSON.stringify(r); }).join("\n") + (recs.length ? "\n" : "")], {type: "application/x-ndjson"});
      var a = ui.el("a", {href: URL.createObjectURL(blob), download: "audit-" + new Date().toISOString().slice(0, 19).replace(/:/g, "") + ".ndjson"});
      document.body.appendChild(a); a.click(); a.remove();
    }).catch(function (err) { main.querySelector("#a-results").textContent = "Export failed: " + err.message; });
  }
  function field(id, label, type, placeholder) {
    return ui.el("label", {for: id}, label, ui.el("input", {id: id, name: id, type: type || "text", placeholder: placeholder}));
  }
  ui.page("audit", {
    draw: function (main) {
      main.appendChild(ui.el("h1", null, "Audit"));
      var form = ui.el("form", {class: "inline", onsubmit: function (ev) { ev.preventDefault(); search(main); }},
        field("a-since", "From time (local)", "datetime-local"),
        field("a-until", "Until (local)", "datetime-local"),
        field("a-from", "Sender", "text", "county-a or county-a/clinic-12"),
        field("a-to", "Target", "text", "relay or relay/client"),
        field("a-command", "Command", "text", "consult.request"),
        field("a-outcome", "Outcome contains", "text", "dead"),
        ui.el("button", {type: "submit"}, "Search"),
        ui.el("button", {type: "button", class: "secondary", onclick: function () { exportNDJSON(main); }}, "Export NDJSON"),
        ui.el("button", {type: "button", id: "a-verify-btn", class: "secondary", onclick: function () { verify(main); }}, "Verify chain"));
      main.appendChild(form);
      main.appendChild(ui.el("div", {id: "a-verify", role: "status", "aria-live": "polite"}));
      main.appendChild(ui.el("div", {id: "a-results"}));
    },
  });
})();
