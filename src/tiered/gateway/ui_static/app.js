// tiered operator dashboard: plain DOM and SVG, no build step, no third-party code.
// Every figure comes from /v1/tiered/dashboard/<view>, authorised by the admin key kept in sessionStorage.
"use strict";

const TIER_COLOURS = { haiku: "#5b9bd5", sonnet: "#3559c7", opus: "#7b3fb8", none: "#b0b5c0", "": "#b0b5c0" };
const PALETTE = ["#3559c7", "#d9822b", "#2e9e6b", "#b3261e", "#7b3fb8", "#5b9bd5", "#c9a227", "#8a6d5b", "#b0b5c0"];
const $ = (id) => document.getElementById(id);
let loads = 0;

function el(tag, attrs, ...children) {
  const svg = ["svg", "rect", "line", "text", "g", "title", "circle", "path"].includes(tag);
  const node = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.setAttribute("class", v);
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

const usd = (x) => (x == null ? "-" : x >= 1 ? x.toFixed(2) : x.toFixed(6));
const pct = (x) => (x == null ? "-" : (100 * x).toFixed(1) + "%");
const ms = (x) => (x == null ? "-" : Math.round(x).toString());

async function api(view) {
  const q = new URLSearchParams({ since: $("since").value });
  if ($("route").value) q.set("route", $("route").value);
  if ($("key").value) q.set("key", $("key").value);
  const r = await fetch(`/v1/tiered/dashboard/${view}?${q}`, {
    headers: { authorization: "Bearer " + sessionStorage.getItem("tiered-admin-key") },
  });
  const body = await r.json();
  if (!r.ok) throw new Error((body.error && body.error.message) || r.statusText);
  return body;
}

function card(label, value, note) {
  return el("div", { class: "card" }, el("small", { text: label }), el("b", { text: value }), el("small", { text: note || "" }));
}

function stackedBars(svg, legend, points, seriesOf, colourOf, bucket) {
  svg.replaceChildren();
  legend.replaceChildren();
  const W = 560, H = 220, L = 56, B = 22, T = 8;
  const times = [...new Set(points.map((p) => p.t))].sort((a, b) => a - b);
  const series = [...new Set(points.map(seriesOf))];
  if (!times.length) {
    svg.append(el("text", { x: W / 2, y: H / 2, "text-anchor": "middle", text: "no requests in this window" }));
    return;
  }
  const totals = new Map(times.map((t) => [t, 0]));
  for (const p of points) totals.set(p.t, totals.get(p.t) + p.usd);
  const max = Math.max(...totals.values()) || 1;
  const slot = (W - L) / times.length, barW = Math.max(2, slot * 0.8);
  for (let i = 0; i <= 4; i++) {
    const y = T + (H - B - T) * (1 - i / 4);
    svg.append(el("line", { x1: L, x2: W, y1: y, y2: y, stroke: "#e4e7ee" }));
    svg.append(el("text", { x: L - 4, y: y + 3, "text-anchor": "end", text: usd((max * i) / 4) }));
  }
  const base = new Map(times.map((t) => [t, 0]));
  for (const s of series) {
    for (const p of points.filter((q) => seriesOf(q) === s)) {
      const i = times.indexOf(p.t);
      const h = ((H - B - T) * p.usd) / max;
      const y = H - B - base.get(p.t) - h;
      base.set(p.t, base.get(p.t) + h);
      const rect = el("rect", { class: "bar", x: L + i * slot + (slot - barW) / 2, y, width: barW, height: Math.max(0, h),
                                fill: colourOf(s), "data-series": s });
      rect.append(el("title", { text: `${new Date(p.t * 1000).toISOString().slice(0, 16)} ${s}: $${usd(p.usd)}` }));
      svg.append(rect);
    }
  }
  const every = Math.ceil(times.length / 8);
  times.forEach((t, i) => {
    if (i % every) return;
    const d = new Date(t * 1000).toISOString();
    svg.append(el("text", { x: L + i * slot + slot / 2, y: H - 6, "text-anchor": "middle",
                            text: bucket < 86400 ? d.slice(11, 16) : d.slice(5, 10) }));
  });
  for (const s of series) legend.append(el("span", {}, el("i", { class: "swatch", "data-colour": colourOf(s) }), s || "(none)"));
  for (const sw of legend.querySelectorAll(".swatch")) sw.style.background = sw.dataset.colour;
}

function renderOverview(o) {
  $("cards").replaceChildren(
    card("requests", o.requests.toLocaleString()),
    card("spend", "$" + usd(o.cost_usd)),
    card("errors", pct(o.error_rate)),
    card("escalated", pct(o.escalation_rate)),
    card("fell back", pct(o.fallback_rate)),
    card("latency p50 / p95", `${ms(o.p50_ms)} / ${ms(o.p95_ms)} ms`),
    card("TTFT p50 / p95", `${ms(o.ttft_p50_ms)} / ${ms(o.ttft_p95_ms)} ms`, "streamed requests"),
  );
  stackedBars($("chart-tier"), $("legend-tier"), o.spend_by_tier, (p) => p.tier, (s) => TIER_COLOURS[s] || "#888", o.bucket_s);
  const keys = [...new Set(o.spend_by_key.map((p) => p.key))];
  stackedBars($("chart-key"), $("legend-key"), o.spend_by_key, (p) => p.key, (s) => PALETTE[keys.indexOf(s) % PALETTE.length], o.bucket_s);
}

function renderRoutes(rows) {
  const body = $("routes").tBodies[0];
  body.replaceChildren();
  for (const r of rows) {
    const mix = el("div", { class: "mix", title: Object.entries(r.tier_mix).map(([t, v]) => `${t} ${pct(v)}`).join(", ") });
    for (const [t, v] of Object.entries(r.tier_mix)) {
      const part = el("i", {});
      part.style.width = 100 * v + "%";
      part.style.background = TIER_COLOURS[t] || "#888";
      mix.append(part);
    }
    const quality = r.quality == null ? `- (${r.labelled})` : `${r.quality.toFixed(2)} (${r.labelled})`;
    body.append(el("tr", { "data-route": r.route },
      el("td", { text: r.route }), el("td", { text: [r.router, r.policy].filter(Boolean).join(" / ") }),
      el("td", { class: "num", text: r.requests.toLocaleString() }), el("td", { class: "num", text: usd(r.cost_usd) }),
      el("td", {}, mix), el("td", { class: "num", text: pct(r.escalation_rate) }),
      el("td", { class: "num", text: pct(r.fallback_rate) }), el("td", { class: "num", text: pct(r.error_rate) }),
      el("td", { class: "num", text: `${ms(r.p50_ms)} / ${ms(r.p95_ms)}` }),
      el("td", { class: "num", text: `${ms(r.ttft_p50_ms)} / ${ms(r.ttft_p95_ms)}` }),
      el("td", { class: "num", text: quality })));
  }
}

const when = (t) => (t == null ? "-" : new Date(t * 1000).toISOString().slice(0, 16).replace("T", " "));
const fix = (x, d) => (x == null ? "-" : x.toFixed(d));

function learningCurve(svg, legend, routes) {
  svg.replaceChildren();
  legend.replaceChildren();
  const W = 560, H = 220, L = 56, R = 28, B = 22, T = 14;
  const points = routes.flatMap((r) => r.curve.map((p) => ({ ...p, route: r.route })));
  if (!points.length) {
    svg.append(el("text", { x: W / 2, y: H / 2, "text-anchor": "middle", text: "no router version with a held-out check yet" }));
    return;
  }
  const ys = points.flatMap((p) => [p.apgr, ...(p.apgr_ci || [])]);
  const lo = Math.max(0, Math.min(...ys) - 0.02), hi = Math.min(1, Math.max(...ys) + 0.02);
  const span = hi - lo || 0.1;
  const t0 = Math.min(...points.map((p) => p.t)), t1 = Math.max(...points.map((p) => p.t));
  const x = (t) => (t1 > t0 ? L + ((W - L - R) * (t - t0)) / (t1 - t0) : L + (W - L - R) / 2);
  const y = (v) => T + (H - B - T) * (1 - (v - lo) / span);
  for (let i = 0; i <= 4; i++) {
    const v = lo + (span * i) / 4;
    svg.append(el("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: "#e4e7ee" }));
    svg.append(el("text", { x: L - 4, y: y(v) + 3, "text-anchor": "end", text: v.toFixed(3) }));
  }
  routes.forEach((r, k) => {
    if (!r.curve.length) return;
    const colour = PALETTE[k % PALETTE.length];
    const line = el("path", { class: "curve", stroke: colour, "data-route": r.route,
                              d: r.curve.map((p, i) => `${i ? "L" : "M"}${x(p.t)},${y(p.apgr)}`).join(" ") });
    svg.append(line);
    for (const p of r.curve) {
      if (p.apgr_ci) {
        svg.append(el("line", { class: "ci", x1: x(p.t), x2: x(p.t), y1: y(p.apgr_ci[0]), y2: y(p.apgr_ci[1]), stroke: colour }));
      }
      const hollow = p.state === "rolled back";
      const dot = el("circle", { class: "point", cx: x(p.t), cy: y(p.apgr), r: p.state === "current" ? 5 : 3.5,
                                 fill: hollow ? "#fff" : colour, stroke: colour, "stroke-width": 1.5,
                                 "data-route": r.route, "data-version": p.version, "data-apgr": p.apgr });
      dot.append(el("title", { text: `${r.route} ${p.version} (${p.state}): APGR ${fix(p.apgr, 3)}`
                                     + (p.apgr_ci ? ` [${fix(p.apgr_ci[0], 3)}, ${fix(p.apgr_ci[1], 3)}]` : "")
                                     + `, ${p.labels ?? "?"} labels, ${when(p.t)}` }));
      svg.append(dot);
      if (p.state === "current" || hollow) {
        svg.append(el("text", { x: x(p.t) - 6, y: y(p.apgr) + (k % 2 ? 14 : -8), "text-anchor": "end",
                                text: `${p.version}${hollow ? " (rolled back)" : ""}` }));
      }
    }
    legend.append(el("span", {}, el("i", { class: "swatch", "data-colour": colour }), r.route));
  });
  const ticks = t1 > t0 ? [0, 1, 2, 3].map((i) => t0 + ((t1 - t0) * i) / 3) : [t0];
  ticks.forEach((t, i) => {
    const anchor = ticks.length === 1 ? "middle" : i === 0 ? "start" : i === ticks.length - 1 ? "end" : "middle";
    svg.append(el("text", { x: x(t), y: H - 6, "text-anchor": anchor, text: when(t).slice(5) }));
  });
  for (const sw of legend.querySelectorAll(".swatch")) sw.style.background = sw.dataset.colour;
}

function renderLearning(l) {
  $("learning-note").textContent = !l.enabled
    ? "Learning is off: the gateway's config has no [learning] table (docs/learning.md)."
    : `${l.routes.length} learning route${l.routes.length === 1 ? "" : "s"} · target: ${l.target}`
      + ` · registry: ${l.registry || "none ([learning] registry not set)"}`;
  learningCurve($("chart-learning"), $("legend-learning"), l.routes);
  const body = $("learning").tBodies[0];
  body.replaceChildren();
  for (const r of l.routes) {
    const inUse = r.in_use + (r.registry_current && r.registry_current !== r.in_use ? ` (registry: ${r.registry_current})` : "")
      + (r.has_router ? "" : " (no complexity router in this route)");
    if (!r.versions.length) {
      body.append(el("tr", { "data-route": r.route }, el("td", { text: r.route }), el("td", { text: inUse }),
        el("td", { colspan: 7, text: "no router versions yet" })));
      continue;
    }
    for (const v of [...r.versions].reverse()) {
      const interval = v.apgr_ci ? ` [${fix(v.apgr_ci[0], 3)}, ${fix(v.apgr_ci[1], 3)}]` : "";
      const vs = v.replaced_apgr != null ? ` vs ${fix(v.replaced_apgr, 3)} replaced` : "";
      const window = v.window ? ` (${when(v.window[0]).slice(5)} → ${when(v.window[1]).slice(5)})` : "";
      const cost = v.cost_ratio_at_target == null ? "-"
        : `${pct(v.cost_ratio_at_target)}${v.target != null ? ` at ${pct(v.target)} quality` : ""}`;
      body.append(el("tr", { "data-route": r.route, "data-version": v.id, "data-state": v.state,
                             class: v.state === "current" ? "current" : "" },
        el("td", { text: r.route }), el("td", { text: inUse }), el("td", { text: v.id }), el("td", { text: v.state }),
        el("td", { text: when(v.created_at) }), el("td", { text: `${v.labels ?? "-"}${window}` }),
        el("td", { class: "num", text: `${fix(v.apgr, 3)}${interval}${vs}` }), el("td", { class: "num", text: cost }),
        el("td", { text: v.prior || "-" })));
    }
  }
}

function usage(spent, budget) {
  const cell = el("td", {});
  if (budget == null) { cell.textContent = `$${usd(spent)} (no budget)`; return cell; }
  const share = budget > 0 ? spent / budget : 1;
  const bar = el("span", { class: share >= 1 ? "meter over" : "meter" }, el("i", {}));
  bar.firstChild.style.width = Math.min(100, 100 * share) + "%";
  cell.append(bar, `$${usd(spent)} of $${usd(budget)} (${pct(share)})`);
  return cell;
}

function renderBudgets(rows) {
  const body = $("budgets").tBodies[0];
  body.replaceChildren();
  for (const b of rows) {
    body.append(el("tr", { "data-who": b.who },
      el("td", { text: (b.kind === "team" ? "team " : "") + b.who }), el("td", { text: b.team || "-" }),
      el("td", { text: b.status }), usage(b.spent_day, b.usd_per_day), usage(b.spent_month, b.usd_per_month)));
  }
}

function renderRecent(rows) {
  const body = $("recent").tBodies[0];
  body.replaceChildren();
  for (const r of rows) {
    const trail = el("details", {}, el("summary", { text: r.decision_reason || "(no reason)" }));
    const list = el("ol", {});
    for (const a of r.attempts) {
      list.append(el("li", { text: `${a.kind}: ${a.model} (${a.purpose}) -> ${a.outcome}, ${ms(a.latency_ms)} ms, `
                                   + `$${a.cost_usd}${a.reason ? " - " + a.reason : ""}` }));
    }
    trail.append(list);
    body.append(el("tr", { "data-trace": r.trace_id },
      el("td", { text: new Date(r.created_at * 1000).toISOString().slice(0, 19).replace("T", " ") }),
      el("td", { text: r.key_name || "-" }), el("td", { text: r.route }),
      el("td", { text: `${r.tier || "-"} ${r.model || ""}` }),
      el("td", { class: r.outcome === "ok" ? "ok" : "bad", text: r.outcome + (r.escalated ? " ↑" : "") + (r.fell_back ? " ↪" : "") }),
      el("td", { class: "num", text: r.cost_usd }), el("td", { class: "num", text: ms(r.latency_ms) }),
      el("td", {}, trail)));
  }
}

function fillSelect(select, values) {
  const keep = select.value;
  const first = select.options[0];
  select.replaceChildren(first, ...values.map((v) => el("option", { value: v, text: v })));
  select.value = values.includes(keep) ? keep : "";
}

async function load() {
  const status = $("status");
  status.className = "";
  status.textContent = "Loading…";
  const started = performance.now();
  try {
    const [filters, overview, routes, budgets, recent, learning] = await Promise.all(
      ["filters", "overview", "routes", "budgets", "recent", "learning"].map(api));
    fillSelect($("route"), filters.routes);
    fillSelect($("key"), filters.keys);
    renderOverview(overview);
    renderRoutes(routes);
    renderBudgets(budgets);
    renderRecent(recent);
    renderLearning(learning);
    status.textContent = `${overview.requests.toLocaleString()} requests since ${new Date(overview.since * 1000).toISOString().slice(0, 16)} UTC`
      + ` · loaded in ${Math.round(performance.now() - started)} ms`;
    loads += 1;
    document.body.dataset.loaded = String(loads);
  } catch (e) {
    status.className = "error";
    status.textContent = "Could not load: " + e.message;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("key-input").value = sessionStorage.getItem("tiered-admin-key") || "";
  $("filters").addEventListener("submit", (e) => {
    e.preventDefault();
    if ($("key-input").value) sessionStorage.setItem("tiered-admin-key", $("key-input").value);
    load();
  });
  for (const id of ["since", "route", "key"]) $(id).addEventListener("change", load);
  if (sessionStorage.getItem("tiered-admin-key")) load();
});
