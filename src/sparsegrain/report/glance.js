// The report's interactive fronts: one chart per machine of the sweep's points (accuracy against
// the machine's gain), the Pareto front of the patterns shown, the budget lines; controls toggle
// machines, patterns and budgets and switch between speedup and energy gain.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("sg-data").textContent);
  const root = document.getElementById("sg-glance");
  const state = {
    kind: "speedup", near: true,
    panels: new Set(data.panels.map((p) => p.key)),
    patterns: new Set(data.patterns.map((p) => p.name)),
    budgets: new Set(data.budgets.map((b) => b.points)),
  };
  const better = (a, b) => (data.higher_is_better ? a > b : a < b);

  function element(tag, attrs, text) {
    const e = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => e.setAttribute(k, v));
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function toggles(title, items, set, label) {
    const box = element("fieldset", { class: "sg-toggles" });
    box.appendChild(element("legend", {}, title));
    items.forEach((item) => {
      const key = item.key !== undefined ? item.key : item;
      const lab = element("label");
      const input = element("input", { type: "checkbox", "data-key": String(key) });
      input.checked = true;
      input.addEventListener("change", () => {
        if (input.checked) set.add(key); else set.delete(key);
        draw();
      });
      lab.appendChild(input);
      if (item.colour) lab.appendChild(element("span", { class: "sg-swatch", style: "background:" + item.colour }));
      lab.appendChild(document.createTextNode(label(item)));
      box.appendChild(lab);
    });
    return box;
  }

  // a choice of one among options: sets state[field] and redraws
  function choice(title, field, options) {
    const box = element("fieldset", { class: "sg-toggles" });
    box.appendChild(element("legend", {}, title));
    options.forEach(([value, text]) => {
      const lab = element("label");
      const input = element("input", { type: "radio", name: "sg-" + field, value: String(value) });
      input.checked = value === state[field];
      input.addEventListener("change", () => { state[field] = value; draw(); });
      lab.appendChild(input);
      lab.appendChild(document.createTextNode(text));
      box.appendChild(lab);
    });
    return box;
  }

  // round gains for a log axis's ticks: at most seven, each read as "2x"
  const NICE = [0.1, 0.2, 0.3, 0.5, 0.7, 1, 1.5, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100, 150,
    200, 300, 500, 700, 1000];
  function ticks(values) {
    if (!values.length) return {};
    const lo = Math.min(...values) / 1.05, hi = Math.max(...values) * 1.05;
    let vals = NICE.filter((v) => v >= lo && v <= hi);
    while (vals.length > 7) vals = vals.filter((_, i) => i % 2 === 0);
    if (vals.length < 2) return {};  // a narrow span: the library's own ticks
    return { tickvals: vals, ticktext: vals.map((v) => v + "x") };
  }

  // the metric's range near the budgets: from dense to four times the widest budget below it
  function nearRange() {
    const widest = Math.max(...data.budgets.map((b) => Math.abs(b.y - data.dense)), 0.005);
    const lo = data.dense - 4 * widest, hi = data.dense + 0.6 * widest;
    return data.higher_is_better ? [lo, hi] : [data.dense - 0.6 * widest, data.dense + 4 * widest];
  }

  // indices of the points on the front (gain and metric both better), as pareto_front decides
  function front(idx, key) {
    const order = idx.slice().sort((a, b) => {
      const d = data.points[b].x[key] - data.points[a].x[key];
      return d !== 0 ? d : (better(data.points[a].accuracy, data.points[b].accuracy) ? -1 : 1);
    });
    const out = [];
    let best = null;
    order.forEach((i) => {
      const y = data.points[i].accuracy;
      const last = out.length ? data.points[out[out.length - 1]] : null;
      if (best === null || better(y, best) ||
          (last && last.x[key] === data.points[i].x[key] && last.accuracy === y)) {
        out.push(i);
        if (best === null || better(y, best)) best = y;
      }
    });
    return out.reverse();
  }

  function figure(panel) {
    const kinds = panel.kinds.map((k) => k[0]);
    const [kind, axis] = panel.kinds[Math.max(0, kinds.indexOf(state.kind))];
    const key = panel.key + "/" + kind;
    const traces = [];
    const shown = [];
    data.patterns.forEach((p) => {
      if (!state.patterns.has(p.name)) return;
      const idx = data.points.map((_, i) => i).filter(
        (i) => data.points[i].pattern === p.name && data.points[i].x[key] !== undefined);
      shown.push(...idx);
      traces.push({
        type: "scatter", mode: "markers", name: p.name, meta: "points",
        x: idx.map((i) => data.points[i].x[key]), y: idx.map((i) => data.points[i].accuracy),
        text: idx.map((i) => data.points[i].hover[panel.key]), hovertemplate: "%{text}<extra></extra>",
        marker: { color: p.colour, symbol: p.symbol, size: 9, line: { width: 0.5, color: "#333" } },
      });
    });
    const f = front(shown, key);
    traces.push({
      type: "scatter", mode: "lines+markers", name: "Pareto front", meta: "front", hoverinfo: "skip",
      x: f.map((i) => data.points[i].x[key]), y: f.map((i) => data.points[i].accuracy),
      line: { color: "black", width: 1, shape: "hv" },
      marker: { size: 15, color: "rgba(0,0,0,0)", line: { color: "black", width: 1.2 } },
    });
    const lines = [{ y: data.dense, text: "dense", dash: "dash", left: true }].concat(
      data.budgets.filter((b) => state.budgets.has(b.points))
        .map((b) => ({ y: b.y, text: (data.higher_is_better ? "-" : "+") + b.points + " pt",
          dash: "dot" })));
    const xs = traces.flatMap((t) => t.x);
    return {
      traces: traces,
      layout: {
        title: { text: panel.title, font: { size: 14 }, x: 0.01, xanchor: "left" }, height: 330, showlegend: false,
        margin: { l: 55, r: 10, t: 35, b: 45 },
        xaxis: Object.assign({ type: "log", title: { text: axis }, ticksuffix: "x",
          exponentformat: "none" }, ticks(xs)),
        yaxis: state.near ? { title: { text: data.metric }, range: nearRange() }
          : { title: { text: data.metric }, autorange: true },
        shapes: lines.map((l) => ({
          type: "line", xref: "paper", x0: 0, x1: 1, y0: l.y, y1: l.y,
          line: { color: "#666", width: 1, dash: l.dash } })),
        annotations: lines.map((l) => ({
          xref: "paper", x: l.left ? 0 : 1, xanchor: l.left ? "left" : "right", y: l.y,
          yanchor: "bottom", text: l.text,
          showarrow: false, font: { size: 10, color: "#666" } })),
      },
    };
  }

  const grid = element("div", { class: "sg-grid" });
  const charts = {};

  function draw() {
    data.panels.forEach((panel) => {
      const div = charts[panel.key];
      div.style.display = state.panels.has(panel.key) ? "" : "none";
      if (!state.panels.has(panel.key)) return;
      const fig = figure(panel);
      Plotly.react(div, fig.traces, fig.layout, { displaylogo: false, responsive: true });
    });
  }

  const controls = element("div", { class: "sg-controls" });
  controls.appendChild(toggles("machines", data.panels, state.panels, (p) => p.title));
  controls.appendChild(toggles("patterns", data.patterns.map((p) => ({ key: p.name, colour: p.colour })),
    state.patterns, (p) => p.key));
  controls.appendChild(toggles("budgets", data.budgets.map((b) => ({ key: b.points })),
    state.budgets, (b) => b.key + " pt"));
  controls.appendChild(choice("machines' axis", "kind",
    [["speedup", "speedup"], ["energy_gain", "energy gain"]]));
  controls.appendChild(choice(data.metric + " shown", "near",
    [[true, "near the budgets"], [false, "every point"]]));
  root.appendChild(controls);
  data.panels.forEach((panel) => {
    charts[panel.key] = element("div", { class: "sg-chart", "data-panel": panel.key });
    grid.appendChild(charts[panel.key]);
  });
  root.appendChild(grid);
  if (data.folded.length) {
    root.appendChild(element("p", { class: "sg-note" }, "Not drawn (no point gains on them): " +
      data.folded.join(", ") + "; their figures are in the tables below."));
  }
  draw();
})();
