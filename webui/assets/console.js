// console.js: the shared library of medrelay's web consoles (package
// webui). Plain JavaScript, no build step. It draws the layout, asks for
// the admin token when the API needs one (kept in sessionStorage, sent as
// "Authorization: Bearer"), reads live updates from a Server-Sent Events
// stream (polling when the stream fails), and offers small helpers for
// tables, times (local, UTC on hover) and sizes. Pages register with
// ui.page(id, {draw, live}).
"use strict";
var ui = (function () {
  var pages = {}, current = null, lastDoc = null, started = false;
  var body = document.body;
  var cfg = {
    auth: body.dataset.auth === "true",
    events: body.dataset.events || "",
    poll: body.dataset.poll || "",
  };
  var TOKEN_KEY = "medrelay.token";

  function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }

  // el makes an element: el("td", {class: "x"}, "text", child, ...).
  function el(tag, attrs) {
    var e = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v === undefined || v === null || v === false) return;
        if (k === "onclick" || k === "onsubmit" || k === "oninput") e.addEventListener(k.slice(2), v);
        else if (k === "text") e.textContent = v;
        else e.setAttribute(k, v === true ? "" : v);
      });
    }
    for (var i = 2; i < arguments.length; i++) append(e, arguments[i]);
    return e;
  }
  function append(e, c) {
    if (c === undefined || c === null || c === false) return;
    if (Array.isArray(c)) { c.forEach(function (x) { append(e, x); }); return; }
    e.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }

  // ApiError carries the HTTP status of a refused request.
  function ApiError(status, message) { this.status = status; this.message = message; }
  ApiError.prototype = Object.create(Error.prototype);

  // api calls the JSON API with the token. It resolves to the parsed JSON
  // (or the text, for text/NDJSON answers with {raw: true}); a refusal
  // rejects with an ApiError, and a 401 also asks for the token again.
  function api(path, opts) {
    opts = opts || {};
    if (cfg.auth && !token()) {
      showLogin("This relay's API needs an admin token.");
      return Promise.reject(new ApiError(401, "no token"));
    }
    var headers = {};
    if (token()) headers["Authorization"] = "Bearer " + token();
    if (opts.body !== undefined) headers["Content-Type"] = "application/json";
    return fetch(path, {method: opts.method || "GET", headers: headers, signal: opts.signal,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body)})
      .then(function (resp) {
        return resp.text().then(function (text) {
          if ((resp.status === 401 || resp.status === 403) && cfg.auth) showLogin("The token was refused: " + text.trim());
          if (!resp.ok) throw new ApiError(resp.status, text.trim() || resp.statusText);
          if (opts.raw) return text;
          var ct = resp.headers.get("Content-Type") || "";
          if (ct.indexOf("ndjson") >= 0) return text.split("\n").filter(Boolean).map(function (l) { return JSON.parse(l); });
          return text ? JSON.parse(text) : null;
        });
      });
  }

  // time shows t (RFC 3339) in local time, with UTC on hover.
  function time(t) {
    if (!t || t.indexOf("0001-") === 0) return el("span", {class: "muted"}, "—");
    var d = new Date(t);
    return el("time", {datetime: d.toISOString(), title: d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC")}, d.toLocaleString());
  }
  // age says how long ago t was, like "3 min".
  function age(t, now) {
    if (!t || t.indexOf("0001-") === 0) return "—";
    var s = Math.max(0, ((now || Date.now()) - new Date(t).getTime()) / 1000);
    if (s < 60) return Math.round(s) + " s";
    if (s < 3600) return Math.round(s / 60) + " min";
    if (s < 172800) return (s / 3600).toFixed(1) + " h";
    return Math.round(s / 86400) + " days";
  }
  // plural says "1 record", "2 records".
  function plural(n, word) { return n + " " + word + (n === 1 ? "" : "s"); }
  // size shows a byte count, like "1.5 MiB".
  function size(n) {
    var units = ["B", "KiB", "MiB", "GiB", "TiB"], i = 0;
    n = Number(n) || 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i === 0 ? n : n.toFixed(1)) + " " + units[i];
  }

  // rates returns a function giving a row's per-second rate of counter
  // field (like "in") between the previous and the current snapshot,
  // matching rows by key. A page keeps one per table.
  function rates(key) {
    var prev = null, prevAt = 0, cur = null, curAt = 0;
    return {
      update: function (rows, at) {
        prev = cur; prevAt = curAt;
        cur = {}; curAt = new Date(at).getTime();
        rows.forEach(function (r) { cur[key(r)] = r; });
      },
      rate: function (r, field) {
        var p = prev && prev[key(r)];
        if (!p || curAt <= prevAt || r[field] < p[field]) return "";
        var v = (r[field] - p[field]) * 1000 / (curAt - prevAt);
        return v >= 10 ? String(Math.round(v)) : v.toFixed(1);
      },
    };
  }

  // table draws rows under columns [{title, value(row), render(row)?}].
  // Headers are buttons that sort by the column (keyboard too); pass the
  // same opts.state object to each redraw to keep the chosen order.
  function table(columns, rows, opts) {
    opts = opts || {};
    var st = opts.state || {};
    if (st.col === undefined) { st.col = opts.sort === undefined ? -1 : opts.sort; st.asc = true; }
    var t = el("table", {class: "data", "aria-label": opts.label});
    var wrap = el("div", {class: "scroll"}, t);
    function draw() {
      t.textContent = "";
      var head = el("tr");
      columns.forEach(function (c, i) {
        var label = c.title + (i === st.col ? (st.asc ? " ▲" : " ▼") : "");
        head.appendChild(el("th", {scope: "col", "aria-sort": i === st.col ? (st.asc ? "ascending" : "descending") : undefined},
          el("button", {type: "button", onclick: function () { st.asc = st.col === i ? !st.asc : true; st.col = i; draw(); }}, label)));
      });
      t.appendChild(el("thead", null, head));
      var sorted = rows.slice();
      if (st.col >= 0) {
        var v = columns[st.col].value;
        sorted.sort(function (a, b) { var x = v(a), y = v(b); return (x < y ? -1 : x > y ? 1 : 0) * (st.asc ? 1 : -1); });
      }
      var tb = el("tbody");
      sorted.forEach(function (r) {
        var tr = el("tr", opts.rowAttrs ? opts.rowAttrs(r) : null);
        columns.forEach(function (c) { tr.appendChild(el("td", null, c.render ? c.render(r) : c.value(r))); });
        tb.appendChild(tr);
      });
      if (!rows.length) tb.appendChild(el("tr", null, el("td", {colspan: columns.length, class: "muted"}, opts.empty || "nothing")));
      t.appendChild(tb);
    }
    draw();
    return wrap;
  }

  // page registers a page: spec.draw(main) draws it when shown,
  // spec.live(doc, main) gets each live update while it is shown.
  function page(id, spec) { pages[id] = spec; }

  function navLinks() { return Array.prototype.slice.call(document.querySelectorAll("nav a[data-page]")); }

  function show() {
    if (cfg.auth && !token()) { showLogin(); return; }
    var links = navLinks();
    var id = location.hash.slice(1) || (links[0] && links[0].dataset.page);
    if (!pages[id]) id = links[0].dataset.page;
    links.forEach(function (a) { if (a.dataset.page === id) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current"); });
    current = id;
    var main = document.getElementById("main");
    main.textContent = "";
    main.dataset.page = id;
    pages[id].draw(main);
    if (lastDoc && pages[id].live) pages[id].live(lastDoc, main);
    if (!started) { started = true; startLive(); }
  }

  function showLogin(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    stopLive();
    var main = document.getElementById("main");
    main.textContent = "";
    main.dataset.page = "login";
    document.getElementById("logout").hidden = true;
    setLive("login needed", "down");
    var input = el("input", {id: "token", type: "password", autocomplete: "off", required: true});
    var form = el("form", {class: "login", onsubmit: function (ev) {
      ev.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, input.value.trim());
      document.getElementById("logout").hidden = false;
      started = false;
      show();
    }},
      el("h1", null, "Log in"),
      el("p", {id: "login-message", role: "alert"}, message || "This console needs an admin token (medrelay credentials add --role admin)."),
      el("label", {for: "token"}, "Admin token"), input,
      el("button", {type: "submit"}, "Log in"));
    main.appendChild(form);
    input.focus();
  }

  // Live updates: a Server-Sent Events stream read with fetch (so the
  // token goes in a header, which EventSource cannot send); when it fails,
  // the poll path every 2 s until the stream works again.
  var liveAbort = null, pollTimer = null, downSince = null;
  function setLive(text, state) {
    var e = document.getElementById("live");
    e.textContent = text;
    e.dataset.state = state;
  }
  function deliver(doc) {
    lastDoc = doc;
    downSince = null;
    var p = pages[current];
    if (p && p.live) p.live(doc, document.getElementById("main"));
  }
  function stopLive() {
    if (liveAbort) liveAbort.abort();
    liveAbort = null;
    clearTimeout(pollTimer);
  }
  function startLive() {
    stopLive();
    if (!cfg.events) return;
    if (cfg.auth && token()) document.getElementById("logout").hidden = false;
    var ctrl = new AbortController();
    liveAbort = ctrl;
    var headers = {"Accept": "text/event-stream"};
    if (token()) headers["Authorization"] = "Bearer " + token();
    fetch(cfg.events, {headers: headers, signal: ctrl.signal}).then(function (resp) {
      if ((resp.status === 401 || resp.status === 403) && cfg.auth) {
        return resp.text().then(function (text) { if (liveAbort === ctrl) showLogin("The token was refused: " + text.trim()); });
      }
      if (!resp.ok || !resp.body || !resp.body.getReader) throw new Error("no stream: " + resp.status);
      setLive("live", "up");
      var reader = resp.body.getReader(), dec = new TextDecoder(), buf = "";
      function pump() {
        return reader.read().then(function (r) {
          if (r.done) throw new Error("stream ended");
          buf += dec.decode(r.value, {stream: true});
          var i;
          while ((i = buf.indexOf("\n\n")) >= 0) {
            var block = buf.slice(0, i); buf = buf.slice(i + 2);
            var data = block.split("\n").filter(function (l) { return l.indexOf("data:") === 0; })
              .map(function (l) { return l.slice(5).trim(); }).join("\n");
            if (data) deliver(JSON.parse(data));
          }
          return pump();
        });
      }
      return pump();
    }).catch(function () {
      if (ctrl.signal.aborted) return;
      fallback(ctrl);
    });
  }
  function fallback(ctrl) {
    if (!downSince) downSince = new Date();
    function poll() {
      if (liveAbort !== ctrl) return;
      api(cfg.poll).then(function (doc) {
        setLive("polling (live stream unavailable)", "poll");
        deliver(doc);
      }).catch(function (err) {
        if (err.status === 401 || err.status === 403) return;
        setLive("unreachable since " + (downSince || new Date()).toLocaleTimeString(), "down");
      }).then(function () {
        if (liveAbort !== ctrl) return;
        pollTimer = setTimeout(function () { if (liveAbort === ctrl) startLive(); }, 2000);
      });
    }
    if (cfg.poll) poll(); else pollTimer = setTimeout(startLive, 2000);
  }

  function start() {
    window.addEventListener("hashchange", show);
    document.getElementById("logout").addEventListener("click", function () { showLogin("Logged out."); });
    // Keys 1–9 switch pages when no field has the focus.
    document.addEventListener("keydown", function (ev) {
      var tag = (ev.target && ev.target.tagName) || "";
      if (ev.altKey || ev.ctrlKey || ev.metaKey || /INPUT|TEXTAREA|SELECT/.test(tag)) return;
      var n = parseInt(ev.key, 10), links = navLinks();
      if (n >= 1 && n <= links.length) { location.hash = links[n - 1].dataset.page; }
    });
    show();
  }

  return {page: page, api: api, el: el, table: table, rates: rates, plural: plural, time: time, age: age, size: size,
    start: start, last: function () { return lastDoc; }, ApiError: ApiError};
})();
