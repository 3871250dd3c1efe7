// The room dashboard's script: reads the link's token from the URL fragment (never sent to a
// server by the browser), asks the bot for the figures with the token in a header, and writes them
// into the page as text (textContent: names from users and agents are never parsed as HTML). The
// chart is SVG drawn and escaped by the bot. Nothing is loaded from anywhere but the bot.
"use strict";

(() => {
  const HEADER = "X-Dashboard-Token";
  const token = new URLSearchParams(window.location.hash.slice(1)).get("token") || "";
  const $ = (id) => document.getElementById(id);
  const state = { period: "month", by: "agent", timer: null, every: 60, stopped: false };

  class Refused extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  async function call(path, params) {
    const url = new URL(path, window.location.href);
    url.hash = "";
    url.search = new URLSearchParams(params).toString();
    const response = await fetch(url, {
      headers: { [HEADER]: token }, cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer",
    });
    if (!response.ok) {
      let message = `the bot answered ${response.status}`;
      try {
        message = (await response.json()).error || message;
      } catch (_) { /* not JSON: keep the status */ }
      throw new Refused(response.status, message);
    }
    return response;
  }

  function table(headers, rows, align, id, withTotal) {
    const wrap = el("div", null, "scroll");
    const t = el("table");
    if (id) t.id = id;
    const head = el("tr");
    headers.forEach((h, i) => {
      const th = el("th", h, align[i] === "r" ? "num" : "");
      th.scope = "col";
      head.append(th);
    });
    const thead = el("thead");
    thead.append(head);
    t.append(thead);
    const body = el("tbody");
    rows.forEach((cells, n) => {
      const tr = el("tr", null, withTotal && n === rows.length - 1 ? "total" : "");
      cells.forEach((c, i) => {
        const td = el(i === 0 ? "th" : "td", c, align[i] === "r" ? "num" : "");
        if (i === 0) { td.scope = "row"; td.dir = "auto"; }
        tr.append(td);
      });
      body.append(tr);
    });
    t.append(body);
    wrap.append(t);
    return wrap;
  }

  function showChart(chart) {
    const parsed = new DOMParser().parseFromString(chart.svg, "image/svg+xml");
    const box = $("chart");
    box.replaceChildren();
    if (!parsed.querySelector("parsererror")) box.append(document.importNode(parsed.documentElement, true));
    $("chart-caption").textContent = chart.caption;
    $("legend").replaceChildren(...chart.legend.map((s) => {
      const li = el("li");
      li.append(el("span", null, `swatch ${s.class}`), el("bdi", s.name), el("span", ` ${s.cost}`, "muted"));
      return li;
    }));
  }

  function show(view) {
    $("room").textContent = view.room;
    $("zone").textContent = `· times in ${view.timezone}`;
    $("period-label").textContent = view.period.label;
    $("tiles").replaceChildren(...view.tiles.map((t) => {
      const div = el("div", null, "tile");
      const dd = el("dd", t.value);
      dd.title = t.exact;
      div.append(el("dt", t.label), dd);
      return div;
    }));
    showChart(view.chart);
    $("projection").textContent = view.projection || "No projection: this month has no priced usage yet.";
    const q = view.quotas;
    const quotas = q.rows.length ? [table(q.headers, q.rows, q.align, "table-quotas", false)]
      : [el("p", "This room has no quotas of its own.")];
    if (q.note) quotas.push(el("p", q.note, "muted"));
    $("quotas").replaceChildren(...quotas);
    $("advice").replaceChildren(...(view.advice.length ? view.advice.map((a) => {
      const li = el("li");
      li.append(el("strong", a.title), document.createTextNode(` ${a.text}`));
      return li;
    }) : [el("li", "Nothing to suggest for this period.", "muted")]));
    $("tables").replaceChildren(...view.tables.map((t) => {
      const section = el("section");
      section.append(el("h2", t.title));
      section.append(view.empty ? el("p", "No usage in this period.", "muted")
        : table(t.headers, t.rows, t.align, `table-${t.id}`, true));
      return section;
    }));
    state.every = view.refresh_seconds;
    state.filename = view.export.filename;
    $("content").hidden = false;
    $("status").textContent = `Updated ${view.updated}; refreshes every ${view.refresh_seconds} s while open.`;
  }

  function refuse(error) {
    $("content").hidden = true;
    ["tiles", "chart", "legend", "quotas", "advice", "tables"].forEach((id) => $(id).replaceChildren());
    $("status").textContent = `Refused: ${error.message}`;
    $("status").classList.add("error");
    state.stopped = true;
  }

  async function load() {
    if (state.stopped) return;
    const width = Math.max(280, Math.round($("chart").clientWidth || document.querySelector("main").clientWidth));
    try {
      const response = await call("api/view", { period: state.period, by: state.by, width });
      show(await response.json());
      $("status").classList.remove("error");
    } catch (error) {
      if (error instanceof Refused && (error.status === 401 || error.status === 403)) refuse(error);
      else $("status").textContent = `Could not refresh: ${error.message}`;
    }
  }

  function schedule() {
    clearTimeout(state.timer);
    state.timer = setTimeout(async () => {
      if (document.visibilityState === "visible") await load();
      schedule();
    }, state.every * 1000);
  }

  async function download() {
    try {
      const response = await call("api/export.csv", { period: state.period });
      const link = el("a");
      link.href = URL.createObjectURL(await response.blob());
      link.download = state.filename || "usage.csv";
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10000);
    } catch (error) {
      if (error instanceof Refused && (error.status === 401 || error.status === 403)) refuse(error);
      else $("status").textContent = `Could not download: ${error.message}`;
    }
  }

  function start() {
    if (!token) {
      refuse(new Refused(401, "this page needs the link that !usage dashboard gives in the room."));
      return;
    }
    const form = $("controls");
    form.addEventListener("change", (event) => {
      if (event.target.name === "period") {
        $("custom").hidden = event.target.value !== "custom";
        if (event.target.value === "custom") return;
        state.period = event.target.value;
      } else if (event.target.id === "by") {
        state.by = event.target.value;
      } else {
        return;
      }
      load();
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const from = $("from").value;
      const to = $("to").value || from;
      if (!from) return;
      state.period = from === to ? from : `${from}..${to}`;
      load();
    });
    $("download").addEventListener("click", download);
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") load();
    });
    let resized = null;
    window.addEventListener("resize", () => {
      clearTimeout(resized);
      resized = setTimeout(load, 300);
    });
    load().then(schedule);
  }

  start();
})();
