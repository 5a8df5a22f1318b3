// The archspec viewer (archspec/tools/viewer.py): the blocks view, blocks that open in place into
// their instances and ops, pan, zoom, search and a side panel. It reads the JSON in #data,
// whose layouts Graphviz computed when the page was written, and fetches nothing.
"use strict";
(function () {
  const D = JSON.parse(document.getElementById("data").textContent);
  // Tables keyed by names from the spec have no prototype: a node may be called `constructor`,
  // `toString` or `__proto__`, and a lookup must find that node or nothing, never Object's own.
  const bare = (table) => Object.assign(Object.create(null), table);
  for (const key of ["groups", "steps", "nodes"]) D[key] = bare(D[key]);
  const NS = "http://www.w3.org/2000/svg";
  const view = document.getElementById("view");
  const panel = document.getElementById("panel");
  const results = document.getElementById("results");
  const search = document.getElementById("search");
  const FILL = { changed: "#ffc857", removed: "#f28b82" };
  const PAD = 12, TITLE = 22, GAP = 30, MEMBER_H = 40;
  const open = new Set(); // groups and steps shown open
  const found = new Set(); // node and step names that match the search
  let selected = null; // the id of the selected node, step or group
  let box = null; // the view box: {x, y, w, h}
  const placed = new Map(); // id -> {x, y, w, h} of what is drawn, for centring on it

  function isOpen(gid) {
    return open.has(`g:${gid}`);
  }

  const groupOf = Object.create(null);
  for (const [gid, members] of Object.entries(D.groups)) for (const m of members) groupOf[m] = gid;

  function el(name, attrs, parent, text) {
    const e = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }

  function lines(label) {
    return String(label).split(/\\n|\n/);
  }

  function label(parent, text, x, y, size) {
    const rows = lines(text);
    const top = y - ((rows.length - 1) * (size + 2)) / 2;
    rows.forEach((row, i) => el("text", { x, y: top + i * (size + 2), "font-size": size, "text-anchor": "middle",
      "dominant-baseline": "central" }, parent, row));
  }

  function rect(parent, b, attrs) {
    return el("rect", { x: b.x - b.w / 2, y: b.y - b.h / 2, width: b.w, height: b.h, rx: 6, ...attrs }, parent);
  }

  // -- sizes of what may be open ----------------------------------------------------------------

  function stepOpenSize(name) {
    const l = D.steps[name].layout;
    return { w: l.w + 2 * PAD, h: TITLE + l.h + 2 * PAD };
  }

  function memberSize(name, width) {
    return open.has(`s:${name}`) && D.steps[name].layout ? stepOpenSize(name) : { w: width, h: MEMBER_H };
  }

  function groupSize(gid, node) {
    const members = D.groups[gid];
    if (!members || !isOpen(gid)) return { w: node.w, h: node.h };
    if (members.length === 1) return D.steps[gid].layout ? stepOpenSize(gid) : { w: node.w, h: node.h };
    const sizes = members.map((m) => memberSize(m, node.w));
    const w = Math.max(node.w, ...sizes.map((s) => s.w)) + 2 * PAD;
    const h = TITLE + 2 * PAD + sizes.reduce((a, s) => a + s.h, 0) + GAP * (members.length - 1);
    return { w, h };
  }

  // -- drawing ----------------------------------------------------------------------------------

  function curve(parent, a, b, text) {
    const mid = (a[1] + b[1]) / 2;
    el("path", { d: `M${a[0]},${a[1]} C${a[0]},${mid} ${b[0]},${mid} ${b[0]},${b[1]}`, class: "edge",
      "marker-end": "url(#arrow)" }, parent);
    if (text) el("text", { x: (a[0] + b[0]) / 2 + 6, y: mid, class: "edge-label", "dominant-baseline": "central" },
      parent, text);
  }

  function spline(parent, edge, dx, dy) {
    const p = edge.points.map(([x, y]) => [x + dx, y + dy]);
    if (p.length < 2) return;
    const end = p[p.length - 1];
    let d = `M${p[0][0]},${p[0][1]}`;
    for (let i = 1; i + 2 < p.length; i += 3) d += ` C${p[i]} ${p[i + 1]} ${p[i + 2]}`;
    d += ` L${end[0]},${end[1]}`;
    el("path", { d, class: "edge", "marker-end": "url(#arrow)" }, parent);
    if (edge.label && edge.at) el("text", { x: edge.at[0] + dx, y: edge.at[1] + dy, class: "edge-label",
      "text-anchor": "middle", "dominant-baseline": "central" }, parent, edge.label);
  }

  function clickable(e, id, kind) {
    e.dataset.id = id;
    e.dataset.kind = kind;
    e.classList.add("box");
    if (selected === `${kind}:${id}`) e.classList.add("selected");
    if (found.has(id)) e.classList.add("found");
  }

  function frame(parent, b, title, id) {
    el("rect", { x: b.x - b.w / 2, y: b.y - b.h / 2, width: b.w, height: b.h, rx: 8, class: "frame" }, parent);
    const bar = el("rect", { x: b.x - b.w / 2, y: b.y - b.h / 2, width: b.w, height: TITLE, rx: 6, class: "title" },
      parent);
    bar.dataset.id = id;
    bar.dataset.kind = "title";
    label(parent, `${title}  (click to fold)`, b.x, b.y - b.h / 2 + TITLE / 2, 11);
  }

  function drawStepOpen(parent, name, b) {
    const step = D.steps[name], l = step.layout;
    frame(parent, b, `${step.type}: ${name}`, groupOf[name] === name && D.groups[name].length === 1 ? `g:${name}` : `s:${name}`);
    const dx = b.x - b.w / 2 + PAD, dy = b.y - b.h / 2 + TITLE + PAD;
    for (const e of l.edges) spline(parent, e, dx, dy);
    for (const n of l.nodes) {
      const nb = { x: n.x + dx, y: n.y + dy, w: n.w, h: n.h };
      const node = D.nodes[n.id];
      const r = rect(parent, nb, { fill: node && node.status ? FILL[node.status] : n.fill });
      if (node) {
        clickable(r, n.id, "node");
        placed.set(n.id, nb);
      } else {
        r.setAttribute("rx", 0);
      }
      label(parent, n.label, nb.x, nb.y, 11);
    }
  }

  function drawMember(parent, name, b) {
    if (open.has(`s:${name}`) && D.steps[name].layout) return drawStepOpen(parent, name, b);
    const step = D.steps[name];
    const r = rect(parent, b, { fill: FILL[step.status] || "#fff6d5" });
    clickable(r, name, "step");
    label(parent, `${step.type}\n${name}`, b.x, b.y, 11);
  }

  function drawGroup(parent, gid, node, b) {
    const members = D.groups[gid];
    if (members && isOpen(gid) && members.length === 1 && D.steps[gid].layout) return drawStepOpen(parent, gid, b);
    if (!members || !isOpen(gid) || members.length === 1) {
      const r = rect(parent, b, { fill: node.fill });
      if (members) clickable(r, gid, "group");
      else r.setAttribute("rx", 0);
      label(parent, node.label, b.x, b.y, 12);
      return;
    }
    frame(parent, b, `${members.length} x ${D.steps[members[0]].type}`, `g:${gid}`);
    let y = b.y - b.h / 2 + TITLE + PAD;
    members.forEach((m, i) => {
      const s = memberSize(m, node.w);
      const mb = { x: b.x, y: y + s.h / 2, w: s.w, h: s.h };
      drawMember(parent, m, mb);
      placed.set(m, mb);
      if (i + 1 < members.length) curve(parent, [b.x, y + s.h], [b.x, y + s.h + GAP], D.steps[m].output_shape);
      y += s.h + GAP;
    });
  }

  function draw() {
    view.textContent = "";
    placed.clear();
    const defs = el("defs", {}, view);
    const marker = el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7,
      markerHeight: 7, orient: "auto-start-reverse" }, defs);
    el("path", { d: "M0,0 L10,5 L0,10 z", fill: "#444" }, marker);
    const edges = el("g", {}, view), boxes = el("g", {}, view);
    label(boxes, D.title, D.top.w / 2, -28, 13);
    // An open block pushes everything below it down by as much as it grew.
    const order = [...D.top.nodes].sort((a, b) => a.y - b.y);
    const at = new Map();
    let shift = 0, pending = 0, lastY = -Infinity;
    for (const n of order) {
      if (n.y > lastY + 1) { shift += pending; pending = 0; lastY = n.y; }
      const s = groupSize(n.id, n);
      const grown = s.h - n.h;
      at.set(n.id, { x: n.x, y: n.y + shift + grown / 2, w: s.w, h: s.h, shift, open: grown !== 0 || s.w !== n.w });
      pending = Math.max(pending, grown);
    }
    for (const e of D.top.edges) {
      const a = at.get(e.from), b = at.get(e.to);
      if (!a.open && !b.open && a.shift === b.shift) spline(edges, e, 0, a.shift);
      else curve(edges, [a.x, a.y + a.h / 2], [b.x, b.y - b.h / 2], e.label);
    }
    for (const n of D.top.nodes) {
      const b = at.get(n.id);
      placed.set(n.id, b);
      drawGroup(boxes, n.id, n, b);
    }
    if (!box) fit();
    else setBox();
  }

  // -- view box: fit, pan, zoom ------------------------------------------------------------------

  function setBox() {
    view.setAttribute("viewBox", `${box.x} ${box.y} ${box.w} ${box.h}`);
  }

  function fit() {
    const b = view.getBBox();
    const r = view.getBoundingClientRect();
    const w = Math.max(b.width + 40, 100), h = Math.max(b.height + 40, 100);
    const scale = Math.max(w / r.width, h / r.height);
    box = { w: r.width * scale, h: r.height * scale, x: 0, y: 0 };
    box.x = b.x - 20 - (box.w - w) / 2;
    box.y = b.y - 20;
    setBox();
  }

  function centreOn(id) {
    const b = placed.get(id);
    if (!b) return;
    box.x = b.x - box.w / 2;
    box.y = b.y - box.h / 2;
    setBox();
  }

  let drag = null;
  view.addEventListener("mousedown", (e) => { drag = { x: e.clientX, y: e.clientY, moved: false }; });
  window.addEventListener("mousemove", (e) => {
    if (!drag) return;
    const r = view.getBoundingClientRect(), k = box.w / r.width;
    const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
    if (!drag.moved) return;
    view.classList.add("dragging");
    box.x -= dx * k; box.y -= dy * k;
    drag.x = e.clientX; drag.y = e.clientY;
    setBox();
  });
  window.addEventListener("mouseup", () => { view.classList.remove("dragging"); setTimeout(() => { drag = null; }, 0); });
  view.addEventListener("wheel", (e) => {
    e.preventDefault();
    const r = view.getBoundingClientRect();
    const k = e.deltaY > 0 ? 1.15 : 1 / 1.15;
    const px = box.x + ((e.clientX - r.left) / r.width) * box.w, py = box.y + ((e.clientY - r.top) / r.height) * box.h;
    box = { x: px - (px - box.x) * k, y: py - (py - box.y) * k, w: box.w * k, h: box.h * k };
    setBox();
  }, { passive: false });
  document.getElementById("fit").addEventListener("click", () => { box = null; draw(); });

  // -- selecting, opening, the panel ---------------------------------------------------------------

  view.addEventListener("click", (e) => {
    if (drag && drag.moved) return;
    const t = e.target.closest("[data-id]");
    if (!t) return;
    const { id, kind } = t.dataset;
    if (kind === "title") { open.delete(id); }
    else if (kind === "group") { open.add(`g:${id}`); select(id, kind); }
    else if (kind === "step") { open.add(`s:${id}`); select(id, kind); }
    else if (kind === "node") { select(id, kind); }
    draw();
    if (kind === "group" || kind === "step") centreOn(id); // what opened stays in sight
  });

  function share(n, total) {
    return total ? ` (${((100 * n) / total).toFixed(2)} %)` : "";
  }

  function row(table, name, value, field, raw) {
    const tr = document.createElement("tr");
    const a = document.createElement("td"), b = document.createElement("td");
    a.textContent = name;
    b.textContent = value;
    if (field) { b.dataset.field = field; b.dataset.value = raw; }
    tr.append(a, b);
    table.appendChild(tr);
  }

  function figures(table, f) {
    for (const [key, name] of [["params", "params"], ["macs", "MACs"], ["activation_bytes", "activation bytes"]])
      row(table, name, f[key].toLocaleString("en-US") + share(f[key], D.totals[key]), key, f[key]);
  }

  function select(id, kind) {
    selected = `${kind}:${id}`;
    panel.textContent = "";
    const h = document.createElement("h2");
    h.textContent = id;
    panel.appendChild(h);
    const table = document.createElement("table");
    panel.appendChild(table);
    const node = D.nodes[id];
    if (node) {
      row(table, "op", `${node.op}: ${lines(node.label).join(" ")}`, "op", node.op);
      if (node.status) row(table, "in B", node.status, "status", node.status);
      node.inputs.forEach((input, i) => row(table, i ? "" : "inputs", `${input}  ${node.input_shapes[i]}`));
      row(table, "output", node.output_shape, "output_shape", node.output_shape);
      figures(table, node);
      for (const [k, v] of Object.entries(node.attrs)) row(table, k, typeof v === "string" ? v : JSON.stringify(v));
      row(table, "spec", node.source, "source", node.source);
      return;
    }
    const members = kind === "group" ? D.groups[id] : [id];
    const steps = members.map((m) => D.steps[m]);
    const sum = (k) => steps.reduce((a, s) => a + s[k], 0);
    row(table, "type", steps[0].type + (members.length > 1 ? ` x ${members.length}` : ""), "type", steps[0].type);
    if (members.length > 1) row(table, "steps", `${members[0]} .. ${members[members.length - 1]}`);
    if (steps[0].status) row(table, "in B", steps[0].status, "status", steps[0].status);
    row(table, "output", steps[steps.length - 1].output_shape, "output_shape", steps[steps.length - 1].output_shape);
    figures(table, { params: sum("params"), macs: sum("macs"), activation_bytes: sum("activation_bytes") });
    row(table, "ops", String(steps.reduce((a, s) => a + s.nodes.length, 0)));
    row(table, "spec", steps[0].source, "source", steps[0].source);
  }

  function reveal(id) {
    const step = D.nodes[id] ? D.nodes[id].block : id;
    const gid = groupOf[step];
    if (gid) open.add(`g:${gid}`);
    if (D.nodes[id] && D.steps[step] && D.steps[step].layout) open.add(`s:${step}`);
    select(id, D.nodes[id] ? "node" : "step");
    draw();
    centreOn(id);
  }

  let timer = null;
  search.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(find, 120);
  });

  function find() {
    const q = search.value.trim().toLowerCase();
    found.clear();
    results.textContent = "";
    if (q) {
      const hits = [];
      for (const [name, n] of Object.entries(D.nodes))
        if (name.toLowerCase().includes(q) || n.op === q) hits.push([name, n.op]);
      for (const [name, s] of Object.entries(D.steps))
        if (!D.nodes[name] && (name.toLowerCase().includes(q) || s.type.toLowerCase() === q)) hits.push([name, s.type]);
      for (const [name, what] of hits.slice(0, 80)) {
        found.add(name);
        const li = document.createElement("li");
        li.textContent = `${name}  (${what})`;
        li.dataset.id = name;
        li.addEventListener("click", () => { results.textContent = ""; reveal(name); });
        results.appendChild(li);
      }
      if (hits.length > 80) {
        const li = document.createElement("li");
        li.textContent = `and ${hits.length - 80} more`;
        results.appendChild(li);
      }
    }
    draw();
  }

  document.getElementById("legend").textContent =
    `${D.totals.params.toLocaleString("en-US")} params, ${(D.totals.macs / 1e9).toFixed(3)} GMACs` +
    (D.legend ? `; ${D.legend}` : "");
  const started = performance.now();
  draw();
  window.archspecDrawMs = performance.now() - started;
  window.archspecReady = true;
})();
