// The run page: header, waterfall (only the rows in view are in the page,
// so a run of any size scrolls smoothly), and the selected step's details.
(() => {
  const { el, add, dur, num, time, size, fact } = RP;
  const ROW = 26; // px, as --row in the style sheet
  const OVERSCAN = 10; // rows drawn beyond the view on each side
  const TEXT_LIMIT = 20000; // characters of one text shown before "Show all"
  const MSG_LIMIT = 6; // messages shown before "Show earlier messages"
  const KIND_NAMES = { agent: "agent", llm: "model", tool: "tool", guardrail: "guard", handoff: "handoff", span: "span" };

  let run = RP.data();
  let steps = run.steps;
  let entries = run.entries;
  let keys = []; // step index → "trace:span", to keep state across live updates
  let posOf = new Int32Array(0); // step index → row position, or −1
  let visible = []; // the step indices shown, in order
  let selected = -1;
  let collapsed = new Set(); // keys of collapsed steps
  let matches = null; // step indices matching the search, or null
  let context = null; // their ancestors, shown dimmed
  let haystacks = null; // lower-case searchable text per step, built on the first search
  let rememberSelection = false; // whether selecting updates the address
  const drawn = new Map(); // step index → its row element

  // ---- the page's frame ---------------------------------------------------
  const app = document.getElementById("app");
  const header = el("header", "top");
  const toolbar = el("div", "toolbar");
  const search = el("input");
  search.type = "search";
  search.id = "search";
  search.placeholder = "Search names and content  ( / )";
  search.setAttribute("aria-label", "Search steps by name and content");
  const count = el("span", "count");
  count.id = "match-count";
  const expandAll = el("button", null, "Expand all");
  const collapseAll = el("button", null, "Collapse all");
  const downloadButton = el("button", null, "Download .jsonl");
  downloadButton.id = "download";
  downloadButton.title = "The raw entries as JSON Lines (reagentic-protocol convert reads them)";
  const liveState = el("span", "live off");
  const legend = el("span", "legend");
  for (const [kind, label] of [["agent", "agent"], ["llm", "model call"], ["tool", "tool"], ["guardrail", "guardrail"], ["handoff", "handoff"]]) {
    const item = el("span");
    const swatch = el("i");
    swatch.style.background = "var(--" + kind + ")";
    add(legend, add(item, swatch, label));
  }
  const failedKey = el("span");
  const failedSwatch = el("i");
  failedSwatch.style.background = "var(--fail)";
  add(legend, add(failedKey, failedSwatch, "failed"));
  add(toolbar, search, count, expandAll, collapseAll, el("span", "spring"), legend, liveState, downloadButton);

  const split = el("div", "split");
  const waterfall = el("section", "waterfall");
  const axisRow = el("div", "axis-row");
  const axis = el("div", "axis");
  add(axisRow, el("div", "name-col", "Step"), axis);
  const rows = el("div", "rows");
  rows.id = "rows";
  rows.tabIndex = 0;
  rows.setAttribute("role", "tree");
  rows.setAttribute("aria-label", "Steps of the run");
  const spacer = el("div", "spacer");
  const grid = el("div", "grid");
  const links = el("div", "links");
  add(spacer, grid, links);
  rows.appendChild(spacer);
  add(waterfall, axisRow, rows);
  const detail = el("aside", "detail");
  detail.id = "detail";
  add(split, waterfall, detail);
  add(app, header, toolbar, split);

  // ---- header -------------------------------------------------------------
  function drawHeader() {
    header.replaceChildren();
    const s = run.summary;
    const h1 = el("h1");
    add(h1, el("span", "what", run.kind), el("span", "run-id", run.id), run.source ? el("span", "source", run.source) : null);
    const facts = el("dl", "facts");
    facts.id = "facts";
    fact(facts, "Start", time(run.first));
    fact(facts, "Wall time", dur(run.wall_ms));
    fact(facts, "Agents", s.agents.length ? s.agents.join(", ") : "–", null, s.agents.join(", "));
    fact(facts, "Model calls", num(s.model_calls));
    fact(facts, "Tool calls", num(s.tool_calls));
    fact(facts, "Tokens in / out", num(s.input_tokens) + " / " + num(s.output_tokens));
    fact(facts, "Cost", s.cost.label, s.cost.usd === null ? "unknown" : null,
      s.cost.unpriced_calls ? num(s.cost.unpriced_tokens) + " tokens of " + s.cost.unpriced_calls
        + " model call(s) could not be priced: the cost leaves them out" : null);
    fact(facts, "Errors", s.errors ? s.errors + " failed" : "none", s.errors ? "bad" : "good").id = "errors";
    if (s.open_steps) fact(facts, "Open", s.open_steps + " without end", "bad", "started, and no end recorded: still running, or crashed");
    if (s.traces > 1) fact(facts, "Traces", num(s.traces));
    fact(facts, "Steps", num(s.steps));
    add(header, h1, facts);
    document.title = run.kind + " " + run.id + " — reagentic-protocol";
  }

  // ---- time axis ----------------------------------------------------------
  const pct = (ms) => (run.wall_ms > 0 ? Math.min(100, Math.max(0, (ms / run.wall_ms) * 100)) : 0);
  function drawAxis() {
    axis.replaceChildren();
    grid.replaceChildren();
    const wall = run.wall_ms;
    if (!(wall > 0)) return;
    let step = Math.pow(10, Math.floor(Math.log10(wall / 6)));
    for (const f of [1, 2, 5, 10]) {
      if (wall / (step * f) <= 7) { step *= f; break; }
    }
    for (let t = 0; t <= wall + 1e-9; t += step) {
      const left = pct(t) + "%";
      const tick = el("div", "tick", t === 0 ? "0" : dur(t));
      tick.style.left = left;
      axis.appendChild(tick);
      const line = el("div", "tick");
      line.style.left = left;
      grid.appendChild(line);
    }
  }

  // ---- which rows are shown ----------------------------------------------
  function entryOf(i) {
    const s = steps[i];
    return entries[s.end !== null ? s.end : s.start];
  }
  function rebuildKeys() {
    keys = steps.map((s, i) => {
      const e = entryOf(i);
      return e.trace_id + ":" + e.span_id;
    });
  }
  function rebuildVisible() {
    visible = [];
    if (matches) {
      for (let i = 0; i < steps.length; i++) if (matches.has(i) || context.has(i)) visible.push(i);
    } else {
      for (let i = 0; i < steps.length; i++) {
        visible.push(i);
        if (steps[i].descendants && collapsed.has(keys[i])) i += steps[i].descendants;
      }
    }
    posOf = new Int32Array(steps.length).fill(-1);
    visible.forEach((s, v) => { posOf[s] = v; });
    spacer.style.height = visible.length * ROW + "px";
    rows.dataset.rows = String(visible.length);
    for (const row of drawn.values()) row.remove();
    drawn.clear();
    draw();
  }

  // ---- drawing only what is in view ----------------------------------------
  let pending = false;
  function scheduleDraw() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; draw(); });
  }
  function draw() {
    const top = rows.scrollTop;
    const height = rows.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / ROW) - OVERSCAN);
    const last = Math.min(visible.length, Math.ceil((top + height) / ROW) + OVERSCAN);
    for (const [s, row] of drawn) {
      const v = posOf[s];
      if (v < first || v >= last) { row.remove(); drawn.delete(s); }
    }
    const fragment = document.createDocumentFragment();
    for (let v = first; v < last; v++) {
      const s = visible[v];
      if (!drawn.has(s)) {
        const row = makeRow(s, v);
        drawn.set(s, row);
        fragment.appendChild(row);
      }
    }
    spacer.appendChild(fragment);
    drawLinks(first, last);
  }

  function makeRow(i, v) {
    const s = steps[i];
    const row = el("div", "row kind-" + s.kind);
    row.dataset.step = String(i);
    row.setAttribute("role", "treeitem");
    if (s.failed) row.classList.add("failed");
    if (s.open) row.classList.add("open");
    if (i === selected) row.classList.add("selected");
    if (matches && !matches.has(i)) row.classList.add("context");
    if (matches && matches.has(i)) row.classList.add("match");
    row.style.top = v * ROW + "px";

    const name = el("div", "name");
    name.style.paddingLeft = 4 + s.depth * 14 + "px";
    const twisty = el("button", "twisty", s.descendants ? (isCollapsed(i) ? "▸" : "▾") : "");
    twisty.tabIndex = -1;
    if (s.descendants) {
      twisty.title = isCollapsed(i) ? "Expand" : "Collapse";
      row.setAttribute("aria-expanded", String(!isCollapsed(i)));
      twisty.addEventListener("click", (event) => { event.stopPropagation(); toggle(i); });
    }
    add(name, twisty, el("span", "kind " + s.kind, KIND_NAMES[s.kind] || s.kind), el("span", "label", s.label));
    if (s.failed) add(name, el("span", "badge fail", "✕ failed"));
    if (s.open) add(name, el("span", "badge open", "open"));
    const e = entryOf(i);
    if (s.kind === "llm" && (e.input_tokens != null || e.output_tokens != null)) {
      add(name, el("span", "meta", num(e.input_tokens || 0) + "→" + num(e.output_tokens || 0)));
    } else if (s.descendants && isCollapsed(i)) {
      add(name, el("span", "meta", "+" + num(s.descendants)));
    }

    const track = el("div", "track");
    const bar = el("div", "bar " + s.kind);
    const left = pct(s.start_ms);
    bar.style.left = left + "%";
    if (s.kind !== "handoff") {
      const right = s.end_ms === null ? 100 : pct(s.end_ms);
      bar.style.width = Math.max(0, right - left) + "%";
      if (s.failed) bar.classList.add("failed");
      if (s.open) bar.classList.add("open");
      const label = el("span", "dur", s.open ? "open" : dur(s.end_ms - s.start_ms));
      if (right > 78 && left > 22) {
        label.style.right = 100 - left + "%";
        label.style.paddingRight = "5px";
      } else if (right > 78) {
        // A bar across the whole axis carries its label inside.
        label.classList.add("inside");
        label.style.right = 100 - right + "%";
        label.style.paddingRight = "6px";
      } else {
        label.style.left = right + "%";
      }
      add(track, bar, label);
    } else {
      bar.title = "handoff " + s.label;
      track.appendChild(bar);
    }
    add(row, name, track);
    row.addEventListener("click", () => { select(i); rows.focus({ preventScroll: true }); });
    return row;
  }

  // Handoffs: a dashed arrow from the handoff down (or up) to the agent taking over.
  function drawLinks(first, last) {
    links.replaceChildren();
    for (let h = 0; h < steps.length; h++) {
      const s = steps[h];
      if (s.kind !== "handoff" || s.target === null) continue;
      const a = posOf[h], b = posOf[s.target];
      if (a < 0 || b < 0 || a === b) continue;
      const lo = Math.min(a, b), hi = Math.max(a, b);
      if (hi < first || lo > last) continue;
      const link = el("div", "link" + (b < a ? " up" : ""));
      link.style.left = pct(s.start_ms) + "%";
      link.style.top = lo * ROW + ROW / 2 + 6 + "px";
      link.style.height = (hi - lo) * ROW - 12 + "px";
      links.appendChild(link);
    }
  }

  // ---- collapse, selection, keyboard ------------------------------------------
  function isCollapsed(i) { return collapsed.has(keys[i]); }
  function toggle(i) {
    if (!steps[i].descendants || matches) return;
    if (isCollapsed(i)) collapsed.delete(keys[i]); else collapsed.add(keys[i]);
    rebuildVisible();
  }
  function setAll(collapse) {
    collapsed = new Set();
    if (collapse) steps.forEach((s, i) => { if (s.descendants) collapsed.add(keys[i]); });
    rebuildVisible();
    if (selected >= 0 && posOf[selected] < 0) {
      let i = selected;
      while (posOf[i] < 0 && steps[i].parent !== null) i = steps[i].parent;
      select(i);
    }
  }
  function select(i) {
    if (i === null || i === undefined || i < 0 || i >= steps.length) return;
    const old = drawn.get(selected);
    if (old) old.classList.remove("selected");
    selected = i;
    const row = drawn.get(i);
    if (row) row.classList.add("selected");
    const v = posOf[i];
    if (v >= 0) {
      if (v * ROW < rows.scrollTop) rows.scrollTop = v * ROW;
      else if ((v + 1) * ROW > rows.scrollTop + rows.clientHeight) rows.scrollTop = (v + 1) * ROW - rows.clientHeight;
      scheduleDraw();
    }
    drawDetail(i);
    if (rememberSelection) history.replaceState(null, "", "#step=" + i);
  }
  function move(by) {
    if (!visible.length) return;
    const v = selected >= 0 ? posOf[selected] : -1;
    const next = v < 0 ? 0 : Math.min(visible.length - 1, Math.max(0, v + by));
    select(visible[next]);
  }
  document.addEventListener("keydown", (event) => {
    if (event.target === search) {
      if (event.key === "Escape") { search.value = ""; applySearch(); rows.focus(); }
      else if (event.key === "Enter" || event.key === "ArrowDown") {
        event.preventDefault();
        rows.focus();
        if (visible.length && (selected < 0 || posOf[selected] < 0)) select(matches ? visible.find((i) => matches.has(i)) : visible[0]);
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target instanceof HTMLInputElement || event.target instanceof HTMLButtonElement && event.key === "Enter") return;
    const page = Math.max(1, Math.floor(rows.clientHeight / ROW) - 1);
    const s = selected >= 0 ? steps[selected] : null;
    switch (event.key) {
      case "ArrowDown": case "j": move(1); break;
      case "ArrowUp": case "k": move(-1); break;
      case "PageDown": move(page); break;
      case "PageUp": move(-page); break;
      case "Home": if (visible.length) select(visible[0]); break;
      case "End": if (visible.length) select(visible[visible.length - 1]); break;
      case "ArrowRight": case "l":
        if (s && s.descendants && isCollapsed(selected)) toggle(selected); else move(1);
        break;
      case "ArrowLeft": case "h":
        if (s && s.descendants && !isCollapsed(selected) && !matches) toggle(selected);
        else if (s && s.parent !== null) select(s.parent);
        break;
      case "Enter": case " ": if (selected >= 0) toggle(selected); break;
      case "/": search.focus(); search.select(); break;
      case "Escape": if (matches) { search.value = ""; applySearch(); } break;
      default: return;
    }
    event.preventDefault();
  });
  rows.addEventListener("scroll", scheduleDraw, { passive: true });
  window.addEventListener("resize", scheduleDraw);
  expandAll.addEventListener("click", () => setAll(false));
  collapseAll.addEventListener("click", () => setAll(true));

  // ---- search -----------------------------------------------------------------
  function stringify(value) {
    if (value === null || value === undefined) return "";
    return typeof value === "string" ? value : JSON.stringify(value);
  }
  function haystackOf(i) {
    const s = steps[i];
    const parts = [s.label];
    for (const at of [s.start, s.end]) {
      if (at === null) continue;
      const e = entries[at];
      parts.push(e.name, e.model, e.tool_name, e.agent_name, e.tool_call_id, stringify(e.input), stringify(e.output));
      if (e.error) parts.push(e.error.type, e.error.message);
    }
    return parts.filter(Boolean).join("\n").toLowerCase();
  }
  function applySearch() {
    const query = search.value.trim().toLowerCase();
    if (!query) {
      matches = null;
      context = null;
      count.textContent = "";
    } else {
      if (!haystacks) haystacks = steps.map((_, i) => haystackOf(i));
      matches = new Set();
      context = new Set();
      haystacks.forEach((text, i) => { if (text.includes(query)) matches.add(i); });
      for (const i of matches) {
        for (let p = steps[i].parent; p !== null && !context.has(p); p = steps[p].parent) context.add(p);
      }
      count.textContent = matches.size + " of " + steps.length + " steps match";
    }
    rebuildVisible();
  }
  let searchTimer = 0;
  search.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(applySearch, steps.length > 2000 ? 200 : 60);
  });

  // ---- the detail pane ----------------------------------------------------------
  function textBlock(text, cls) {
    const node = el(cls === "text" ? "div" : "pre", cls || "block");
    if (text.length <= TEXT_LIMIT) {
      node.textContent = text;
      return node;
    }
    // A long text is cut until asked for, so a huge message never stalls the page.
    node.textContent = text.slice(0, TEXT_LIMIT) + "…";
    const wrap = el("div");
    const more = el("button", "more", "Show all (" + size(text.length) + ")");
    more.addEventListener("click", () => { node.textContent = text; more.remove(); });
    return add(wrap, node, more);
  }
  function pretty(value) {
    try { return JSON.stringify(value, null, 2); } catch (e) { return String(value); }
  }
  function parseJson(text) {
    const t = text.trim();
    if (t.length < 2 || (t[0] !== "{" && t[0] !== "[")) return undefined;
    try { return JSON.parse(t); } catch (e) { return undefined; }
  }
  function isMessage(m) {
    return m !== null && typeof m === "object" && !Array.isArray(m) && typeof m.role === "string";
  }
  function asMessages(value) {
    if (Array.isArray(value) && value.length && value.every(isMessage)) return value;
    if (isMessage(value) && ("content" in value || "parts" in value)) return [value];
    if (value && typeof value === "object" && Array.isArray(value.messages) && value.messages.length && value.messages.every(isMessage)) return value.messages;
    return null;
  }
  /** Content: messages with roles, JSON pretty-printed, or text. */
  function content(value) {
    let v = value;
    if (typeof v === "string") {
      const parsed = parseJson(v);
      if (parsed === undefined) return textBlock(v);
      v = parsed;
    }
    const messages = asMessages(v);
    if (messages) return messageList(messages);
    return textBlock(pretty(v));
  }
  function messageList(list) {
    const box = el("div", "msgs");
    const hidden = list.length > MSG_LIMIT ? list.length - (MSG_LIMIT - 1) : 0;
    if (hidden) {
      const more = el("button", "more", "Show " + hidden + " earlier messages");
      more.addEventListener("click", () => {
        const all = list.slice(0, hidden).map(message);
        more.replaceWith(...all);
      });
      box.appendChild(more);
    }
    for (const m of list.slice(hidden)) box.appendChild(message(m));
    return box;
  }
  function message(m) {
    const role = String(m.role);
    const box = el("div", "msg role-" + role.toLowerCase().replace(/[^a-z0-9_-]/g, ""));
    const head = el("div", "role", role);
    if (typeof m.name === "string") head.appendChild(el("span", "extra", m.name));
    if (typeof m.tool_call_id === "string") head.appendChild(el("span", "extra", "answers " + m.tool_call_id));
    if (typeof m.finish_reason === "string") head.appendChild(el("span", "extra", "finish: " + m.finish_reason));
    const body = el("div", "body");
    const c = m.content;
    if (typeof c === "string") body.appendChild(textBlock(c, "text"));
    else if (Array.isArray(c)) c.forEach((p) => body.appendChild(part(p)));
    else if (c !== null && c !== undefined) body.appendChild(textBlock(pretty(c)));
    if (Array.isArray(m.parts)) m.parts.forEach((p) => body.appendChild(part(p)));
    if (Array.isArray(m.tool_calls)) {
      for (const call of m.tool_calls) {
        const fn = call && call.function ? call.function : call || {};
        body.appendChild(toolCall(fn.name, fn.arguments, call && call.id));
      }
    }
    if (!body.childNodes.length) body.appendChild(el("span", "hint", "(no content)"));
    return add(box, head, body);
  }
  function part(p) {
    if (typeof p === "string") return textBlock(p, "text");
    if (p === null || typeof p !== "object") return textBlock(pretty(p));
    const text = typeof p.content === "string" ? p.content : typeof p.text === "string" ? p.text : null;
    if ((p.type === "text" || p.type === undefined) && text !== null) return textBlock(text, "text");
    if (p.type === "tool_call") return toolCall(p.name, p.arguments, p.id);
    if (p.type === "tool_call_response") {
      return add(el("div"), el("div", "part-label", "tool result" + (p.id ? " for " + p.id : "")), content(p.response));
    }
    return add(el("div"), el("div", "part-label", String(p.type || "part")), textBlock(pretty(p)));
  }
  function toolCall(name, args, id) {
    const label = "calls tool " + (name || "?") + (id ? " (" + id + ")" : "");
    return add(el("div"), el("div", "part-label", label), args === undefined ? null : content(args));
  }

  function kv(list, label, value, cls) {
    if (value === null || value === undefined || value === "") return;
    add(list, el("dt", null, label), el("dd", cls || null, value));
  }
  function section(title, node) {
    if (!node) return;
    add(detail, el("h3", null, title), node);
  }
  function drawDetail(i) {
    detail.replaceChildren();
    if (i < 0) {
      add(detail, el("h2", null, "Select a step"),
        el("p", "hint", "Click a row, or use the keyboard: ↑/↓ (j/k) move, ←/→ (h/l) collapse and expand, Enter toggles, / searches, Esc clears the search."));
      return;
    }
    const s = steps[i];
    const start = s.start !== null ? entries[s.start] : null;
    const end = s.end !== null ? entries[s.end] : null;
    const e = end || start;
    const title = el("h2");
    add(title, el("span", "kind " + s.kind, KIND_NAMES[s.kind] || s.kind), el("span", "step-label", s.label));
    const status = s.failed ? "failed" : s.open ? "open" : "ok";
    if (s.kind !== "handoff" || s.failed) add(title, el("span", "status " + status, s.failed ? "FAILED" : s.open ? "no end recorded" : "ok"));
    detail.appendChild(title);
    const facts = el("dl", "kv");
    kv(facts, "Started", "+" + dur(s.start_ms) + "  ·  " + time(start ? start.timestamp : e.timestamp));
    if (s.kind !== "handoff") {
      kv(facts, "Duration", s.open ? "open — started, no end recorded (still running, or crashed)"
        : dur(end && end.duration_ms != null ? end.duration_ms : s.end_ms - s.start_ms));
    }
    if (s.kind !== "agent") kv(facts, "Agent", e.agent_name);
    const asked = start && start.model, answered = end && end.model;
    kv(facts, "Model", asked && answered && asked !== answered ? asked + " → " + answered : asked || answered);
    kv(facts, "Provider", e.provider);
    kv(facts, "Operation", e.operation);
    kv(facts, "Tool call id", e.tool_call_id);
    if (end && (end.input_tokens != null || end.output_tokens != null)) {
      let tokens = num(end.input_tokens) + " in / " + num(end.output_tokens) + " out";
      const extra = [];
      if (end.cache_read_input_tokens != null) extra.push(num(end.cache_read_input_tokens) + " cache read");
      if (end.cache_creation_input_tokens != null) extra.push(num(end.cache_creation_input_tokens) + " cache write");
      if (end.reasoning_tokens != null) extra.push(num(end.reasoning_tokens) + " reasoning");
      if (extra.length) tokens += " (" + extra.join(", ") + ")";
      kv(facts, "Tokens", tokens);
    }
    kv(facts, "Cost", s.cost);
    if (end && end.cost_source) {
      kv(facts, "Cost from", end.cost_source + (end.price_model ? " (price " + end.price_model + ", " + end.price_rule + ")" : ""));
    }
    if (end && Array.isArray(end.finish_reasons)) kv(facts, "Finish", end.finish_reasons.join(", "));
    if (end && end.time_to_first_chunk_ms != null) kv(facts, "First chunk", dur(end.time_to_first_chunk_ms));
    if (s.descendants) kv(facts, "Inside", num(s.descendants) + " steps");
    kv(facts, "Service", e.service_name);
    kv(facts, "Span", e.span_id + (e.parent_span_id ? "  (parent " + e.parent_span_id + ")" : ""), "mono");
    kv(facts, "Trace", e.trace_id, "mono");
    detail.appendChild(facts);
    if (s.kind === "handoff" && s.target !== null) {
      const go = el("button", "more", "Go to " + steps[s.target].label);
      go.addEventListener("click", () => select(s.target));
      detail.appendChild(go);
    }

    const error = (end && end.error) || (start && start.error);
    if (s.failed || error) {
      const box = el("div", "error-box");
      box.id = "step-error";
      add(box, el("div", "etype", (error && error.type) || "error"),
        el("div", "emsg", (error && error.message) || "the step ended with status error"));
      if (error && error.stacktrace) add(box, el("div", "part-label", "stack trace"), textBlock(error.stacktrace));
      section("Error", box);
    }
    const input = start && start.input !== null ? start.input : end ? end.input : null;
    if (input !== null && input !== undefined) section(s.kind === "tool" ? "Arguments" : "Input", content(input));
    if (end && end.output !== null && end.output !== undefined) section(s.kind === "tool" ? "Result" : "Output", content(end.output));

    const attributes = Object.assign({}, start && start.attributes, end && end.attributes);
    const names = Object.keys(attributes).sort();
    if (names.length) {
      const table = el("table", "attrs");
      for (const name of names) {
        const value = attributes[name];
        const row = el("tr");
        const cell = el("td");
        cell.appendChild(typeof value === "string" ? textBlock(value, "text") : textBlock(pretty(value), "text"));
        add(row, el("td", null, name), cell);
        table.appendChild(row);
      }
      section("Attributes", table);
    }
    const raw = el("details", "raw");
    raw.appendChild(el("summary", null, "Raw entries"));
    raw.addEventListener("toggle", () => {
      if (raw.open && raw.childNodes.length === 1) {
        for (const entry of [start, end]) if (entry) raw.appendChild(textBlock(pretty(entry)));
      }
    });
    detail.appendChild(raw);
    detail.scrollTop = 0;
  }

  // ---- download -----------------------------------------------------------------
  downloadButton.addEventListener("click", () => {
    const text = entries.map((e) => JSON.stringify(e)).join("\n") + "\n";
    RP.download(text, RP.fileName(run.id, ".jsonl"), "application/x-ndjson");
  });

  // ---- start, and follow a served run -----------------------------------------
  function show() {
    steps = run.steps;
    entries = run.entries;
    haystacks = null;
    rebuildKeys();
    drawHeader();
    drawAxis();
    if (search.value.trim()) applySearch(); else rebuildVisible();
    if (!steps.length) add(detail, el("div", "empty", "This run has no steps yet."));
  }
  show();
  // `#step=N` in the address selects step N (and selecting updates it), so
  // a step can be linked to.
  const linked = /^#step=(\d+)$/.exec(location.hash);
  if (linked && Number(linked[1]) < steps.length) {
    let i = Number(linked[1]);
    for (let p = steps[i].parent; p !== null; p = steps[p].parent) collapsed.delete(keys[p]);
    select(i);
  } else if (steps.length) select(visible[0]);
  rememberSelection = true;
  window.__runView = { ready: true };
  performance.mark("run-view-drawn");

  if (run.live) {
    liveState.textContent = "● live";
    liveState.className = "live";
    liveState.title = "Steps appear as they are written";
    const home = el("a", null, "All sessions");
    home.href = run.live.home;
    toolbar.insertBefore(home, toolbar.firstChild);
    RP.follow(run.live.updates, run.live.generation, async () => {
      const selectedKey = selected >= 0 ? keys[selected] : null;
      const scroll = rows.scrollTop;
      run = await RP.getJson(run.live.run);
      show();
      const again = selectedKey ? keys.indexOf(selectedKey) : -1;
      rows.scrollTop = scroll;
      if (again >= 0) select(again); else if (steps.length) select(visible[0]);
    }, (up) => {
      liveState.textContent = up ? "● live" : "○ reconnecting…";
      liveState.className = up ? "live" : "live off";
    });
  }
})();
