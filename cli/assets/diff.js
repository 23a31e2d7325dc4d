// The diff page: two runs' figures side by side, where they first diverge,
// and their steps aligned by kind and name.
(() => {
  const { el, add, dur, signedDur, num, signed } = RP;
  const c = RP.data();
  const app = document.getElementById("app");
  const header = el("header", "top");
  const h1 = el("h1");
  add(h1, el("span", "what", "diff"), el("span", "run-id", c.a.id + "  ·  " + c.b.id));
  const facts = el("dl", "facts");
  RP.fact(facts, "A", c.a.kind + " " + c.a.id, null, c.a.file).id = "side-a";
  RP.fact(facts, "B", c.b.kind + " " + c.b.id, null, c.b.file).id = "side-b";
  RP.fact(facts, "Aligned steps", num(c.rows.length));
  RP.fact(facts, "First divergence", c.first_divergence ? "step " + (c.first_divergence.row + 1) : "none",
    c.first_divergence ? "bad" : "good");
  add(header, h1, facts);

  const page = el("div", "page");
  const note = el("div", c.first_divergence ? "note" : "note same",
    c.first_divergence ? "First divergence: " + c.first_divergence.reason : "The runs match step for step (by kind and name).");
  note.id = "divergence";

  const summary = el("table", "list");
  summary.id = "summary";
  const head = el("tr");
  for (const [title, cls] of [["", ""], ["A", "num"], ["B", "num"], ["B − A", "num"]]) head.appendChild(el("th", cls || null, title));
  summary.appendChild(head);
  const worse = (n) => (n > 0 ? "plus" : n < 0 ? "minus" : null);
  const figure = (label, a, b, delta, cls) => {
    const row = el("tr");
    add(row, el("td", null, label), el("td", "num", a), el("td", "num", b), el("td", "num" + (cls ? " " + cls : ""), delta));
    summary.appendChild(row);
  };
  figure("wall time", dur(c.a.wall_ms), dur(c.b.wall_ms), signedDur(c.delta.wall_ms));
  figure("steps", num(c.a.steps), num(c.b.steps), signed(c.delta.steps));
  figure("model calls", num(c.a.model_calls), num(c.b.model_calls), signed(c.delta.model_calls));
  figure("tool calls", num(c.a.tool_calls), num(c.b.tool_calls), signed(c.delta.tool_calls));
  figure("tokens in", num(c.a.input_tokens), num(c.b.input_tokens), signed(c.delta.input_tokens), worse(c.delta.input_tokens));
  figure("tokens out", num(c.a.output_tokens), num(c.b.output_tokens), signed(c.delta.output_tokens), worse(c.delta.output_tokens));
  figure("cost", c.a.cost, c.b.cost, c.delta.cost_usd === null ? "unknown"
    : (c.delta.cost_usd < 0 ? "−$" : "+$") + Math.abs(c.delta.cost_usd).toPrecision(3));
  figure("errors", num(c.a.errors), num(c.b.errors), signed(c.delta.errors), worse(c.delta.errors));

  const steps = el("table", "list");
  steps.id = "steps";
  const stepsHead = el("tr");
  for (const [title, cls] of [["#", "num"], ["", ""], ["Step in A", ""], ["Step in B", ""], ["A time", "num"], ["B time", "num"], ["Δ time", "num"], ["Δ tokens", "num"]]) {
    stepsHead.appendChild(el("th", cls || null, title));
  }
  steps.appendChild(stepsHead);
  const stepCell = (s) => {
    const cell = el("td");
    if (!s) { cell.appendChild(el("span", "muted", "—")); return cell; }
    cell.style.paddingLeft = 10 + Math.min(s.depth, 12) * 14 + "px";
    add(cell, el("span", "kind " + s.kind, s.kind), " ", el("span", s.failed ? "bad" : null, s.name));
    if (s.failed) {
      add(cell, " ", el("span", "badge fail", "✕ failed"));
      if (s.error) cell.title = s.error;
    }
    if (s.open) add(cell, " ", el("span", "badge open", "open"));
    return cell;
  };
  c.rows.forEach((r, i) => {
    const row = el("tr", "op-" + (r.op === "only_a" ? "delete" : r.op === "only_b" ? "insert" : "same"));
    if (r.outcome_changed) row.classList.add("changed");
    if (c.first_divergence && c.first_divergence.row === i) { row.classList.add("diverge"); row.id = "first-divergence"; }
    const mark = r.op === "only_a" ? "−" : r.op === "only_b" ? "+" : r.outcome_changed ? "≠" : "";
    add(row, el("td", "num muted", i + 1), el("td", r.outcome_changed ? "bad" : null, mark), stepCell(r.a), stepCell(r.b),
      el("td", "num", r.a && r.a.duration_ms !== null ? dur(r.a.duration_ms) : ""),
      el("td", "num", r.b && r.b.duration_ms !== null ? dur(r.b.duration_ms) : ""),
      el("td", "num", r.duration_delta_ms !== null ? signedDur(r.duration_delta_ms) : ""),
      el("td", "num " + (worse(r.tokens_delta) || ""), r.tokens_delta !== null ? signed(r.tokens_delta) : ""));
    steps.appendChild(row);
  });
  add(page, note, summary, el("h3", null, "Steps, aligned"), steps);
  add(app, header, page);
  const first = document.getElementById("first-divergence");
  if (first) first.scrollIntoView({ block: "center" });
  window.__runView = { ready: true };
})();
