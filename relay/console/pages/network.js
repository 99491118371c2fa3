// The Network page: this relay, its parent link, and the relays below it
// with their link state, transport, since when, and what waits for them
// here, and envelopes/s in and out of that queue (for this relay: of all
// its queues). Redrawn on every live update (GET /v1/events).
"use strict";
(function () {
var flow = ui.rates(function (r) { return r.id; }), order = {};
function ms(v) { return v >= 10 ? Math.round(v) + " ms" : v.toFixed(1) + " ms"; }
function ackText(v, at, now) { return " · acknowledges in " + ms(v) + " (" + ui.age(at, now) + " ago)"; }
ui.page("network", {
  draw: function (main) {
    main.appendChild(ui.el("h1", null, "Network"));
    main.appendChild(ui.el("div", {id: "net-parent"}));
    main.appendChild(ui.el("div", {id: "net-table"}, ui.el("p", {class: "muted"}, "waiting for the relay…")));
  },
  live: function (doc, main) {
    var now = new Date(doc.at).getTime();
    flow.update(doc.relays, doc.at);
    var parent = main.querySelector("#net-parent");
    parent.textContent = "";
    if (doc.parent) {
      var p = doc.parent, up = p.state === "connected";
      parent.appendChild(ui.el("p", {class: up ? "state-up" : "state-down", "data-parent-state": p.state},
        "Parent ", ui.el("strong", null, p.parent || p.url), ": ",
        ui.el("span", {class: "badge"}, p.state), " ", p.transport ? "over " + p.transport + " " : "",
        "since ", ui.time(p.since), doc.parent_ack_ms ? ackText(doc.parent_ack_ms, doc.parent_ack_at, now) : "",
        p.last_error ? " — " + p.last_error : ""));
    }
    var depth = function (r) { return r.state === "self" ? 0 : r.via === r.id ? 1 : 2; };
    var cols = [
      {title: "Relay", value: function (r) { return r.id; }, render: function (r) {
        return ui.el("span", {class: "tree"}, (depth(r) ? "  ".repeat(depth(r)) + "└ " : ""), ui.el("strong", null, r.id));
      }},
      {title: "State", value: function (r) { return r.state; }, render: function (r) {
        var label = {self: "this relay", up: "up", down: "down", reported: "via " + r.via, unreachable: "unreachable (" + r.via + " down)"}[r.state] || r.state;
        return ui.el("span", {class: "badge"}, label);
      }},
      {title: "Transport", value: function (r) { return r.transport || ""; }},
      {title: "Since", value: function (r) { return r.since || ""; }, render: function (r) {
        return r.since ? [ui.time(r.since), ui.el("span", {class: "muted"}, " (" + ui.age(r.since, now) + ")")] : "";
      }},
      {title: "Queued here", value: function (r) { return r.depth; }, render: function (r) { return r.queue ? String(r.depth) : ""; }},
      {title: "Oldest queued", value: function (r) { return r.oldest || ""; }, render: function (r) { return r.oldest ? ui.age(r.oldest, now) : ""; }},
      {title: "Ack time", value: function (r) { return r.ack_ms || 0; }, render: function (r) {
        return r.ack_ms ? ui.el("span", {title: "how long the last batch sent to " + r.id + " took to be acknowledged (round trip and its durable store), measured " + ui.age(r.ack_at, now) + " ago"}, ms(r.ack_ms)) : "";
      }},
      {title: "In/s", value: function (r) { return Number(flow.rate(r, "in")) || 0; }, render: function (r) { return r.queue || r.state === "self" ? flow.rate(r, "in") : ""; }},
      {title: "Out/s", value: function (r) { return Number(flow.rate(r, "out")) || 0; }, render: function (r) { return r.queue || r.state === "self" ? flow.rate(r, "out") : ""; }},
      {title: "Clients", value: function (r) { return r.clients; }, render: function (r) { return r.state === "self" ? String(r.clients) : ""; }},
    ];
    var t = ui.table(cols, doc.relays, {label: "Relays", state: order, rowAttrs: function (r) {
      return {class: "state-" + r.state, "data-relay": r.id, "data-state": r.state};
    }});
    var holder = main.querySelector("#net-table");
    holder.textContent = "";
    holder.appendChild(t);
    holder.appendChild(ui.el("p", {class: "muted"}, ui.plural(doc.relays.length, "relay") + " · updated ", ui.time(doc.at),
      " · relays below a child report their own state on their own console"));
  },
});
})();
