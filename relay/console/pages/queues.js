// Queues and dead letters: each queue with its depth and oldest envelope
// (live), and the dead letters with their reason and header (never the
// body), each with a Replay button (POST /v1/deadletters/{seq}/replay).
"use strict";
(function () {
  var flow = ui.rates(function (q) { return q.name; }), order = {};
  function loadDead(main) {
    var holder = main.querySelector("#dead");
    ui.api("/v1/deadletters").then(function (list) {
      holder.textContent = "";
      holder.appendChild(ui.table([
        {title: "Seq", value: function (d) { return d.seq; }},
        {title: "At", value: function (d) { return d.at; }, render: function (d) { return ui.time(d.at); }},
        {title: "Reason", value: function (d) { return d.reason; }},
        {title: "Envelope", value: function (d) { return d.id; }},
        {title: "From", value: function (d) { return d.from; }},
        {title: "To", value: function (d) { return d.to; }},
        {title: "Command", value: function (d) { return d.command; }},
        {title: "", value: function () { return ""; }, render: function (d) {
          return ui.el("button", {type: "button", class: "replay", "data-seq": d.seq, onclick: function () { replay(main, d.seq); }}, "Replay");
        }},
      ], list, {label: "Dead letters", empty: "no dead letters", rowAttrs: function (d) { return {"data-seq": d.seq}; }}));
    }).catch(function (err) { holder.textContent = "Could not list dead letters: " + err.message; });
  }
  function replay(main, seq) {
    var out = main.querySelector("#replay-result");
    out.className = "result";
    out.textContent = "Replaying dead letter " + seq + "…";
    ui.api("/v1/deadletters/" + seq + "/replay", {method: "POST"}).then(function (res) {
      out.className = "result ok";
      out.textContent = "Dead letter " + res.seq + " replayed: queued for " + res.queue + ".";
      loadDead(main);
    }).catch(function (err) {
      out.className = "result bad";
      out.textContent = "Dead letter " + seq + " not replayed: " + err.message;
    });
  }
  ui.page("queues", {
    draw: function (main) {
      main.appendChild(ui.el("h1", null, "Queues and dead letters"));
      main.appendChild(ui.el("div", {id: "queues"}, ui.el("p", {class: "muted"}, "waiting for the relay…")));
      main.appendChild(ui.el("h2", null, "Dead letters"));
      main.appendChild(ui.el("p", {class: "muted"}, "Envelopes this relay could not deliver: the header only, never the body. Replay routes one again once its cause is gone (its relay has joined, say)."));
      main.appendChild(ui.el("button", {type: "button", class: "secondary", onclick: function () { loadDead(main); }}, "Refresh"));
      main.appendChild(ui.el("div", {id: "replay-result", role: "status", "aria-live": "polite"}));
      main.appendChild(ui.el("div", {id: "dead"}));
      loadDead(main);
    },
    live: function (doc, main) {
      var now = new Date(doc.at).getTime();
      flow.update(doc.queues, doc.at);
      var holder = main.querySelector("#queues");
      holder.textContent = "";
      holder.appendChild(ui.table([
        {title: "Queue", value: function (q) { return q.name; }},
        {title: "Depth", value: function (q) { return q.depth; }},
        {title: "Oldest", value: function (q) { return q.oldest || ""; }, render: function (q) { return q.oldest ? [ui.age(q.oldest, now), " (", ui.time(q.oldest), ")"] : "—"; }},
        {title: "In/s", value: function (q) { return Number(flow.rate(q, "in")) || 0; }, render: function (q) { return flow.rate(q, "in"); }},
        {title: "Out/s", value: function (q) { return Number(flow.rate(q, "out")) || 0; }, render: function (q) { return flow.rate(q, "out"); }},
        {title: "Since start", value: function (q) { return q.in; }, render: function (q) { return q.in + " in, " + q.out + " out"; }},
      ], doc.queues, {label: "Queues", state: order, empty: "every queue is empty", rowAttrs: function (q) { return {"data-queue": q.name}; }}));
      var dl = main.querySelector("#dead-count");
      if (!dl) { dl = ui.el("p", {id: "dead-count"}); holder.appendChild(dl); }
      dl.textContent = ui.plural(doc.dead_letters, "dead letter");
      var shown = main.querySelectorAll("#dead tbody tr[data-seq]").length;
      if (shown !== Math.min(doc.dead_letters, 1000) && !main.dataset.loading) {
        main.dataset.loading = "1";
        setTimeout(function () { delete main.dataset.loading; loadDead(main); }, 0);
      }
    },
  });
})();
