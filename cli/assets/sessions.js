// The sessions list of the `ui` server: newest first, errors and cost in
// view, a filter box, and new runs appearing as they are written.
(() => {
  const { el, add, dur, num, time } = RP;
  let data = RP.data();
  const app = document.getElementById("app");
  const header = el("header", "top");
  const h1 = el("h1");
  const source = el("span", "source");
  add(h1, el("span", "what", "sessions"), el("span", "run-id", "Agent runs"), source);
  const facts = el("dl", "facts");
  add(header, h1, facts);

  const toolbar = el("div", "toolbar");
  const filter = el("input");
  filter.type = "search";
  filter.id = "filter";
  filter.placeholder = "Filter by session, agent or error  ( / )";
  filter.setAttribute("aria-label", "Filter sessions");
  const count = el("span", "count");
  const liveState = el("span", "live", "● live");
  add(toolbar, filter, count, el("span", "spring"), liveState);

  const page = el("div", "page");
  const table = el("table", "list");
  table.id = "sessions";
  const head = el("tr");
  const columns = [["Last activity", ""], ["Session", ""], ["Wall", "num"], ["Agents", ""], ["Model", "num"],
    ["Tools", "num"], ["Tokens in / out", "num"], ["Cost", "num"], ["Errors", "num"]];
  for (const [title, cls] of columns) head.appendChild(el("th", cls || null, title));
  const body = el("tbody");
  add(table, el("thead"), body);
  table.tHead.appendChild(head);
  const empty = el("div", "empty", "No runs yet. They appear here as they are written.");
  add(page, table, empty);
  add(app, header, toolbar, page);

  let known = null; // ids shown before, to mark new ones

  function draw() {
    source.textContent = data.source;
    facts.replaceChildren();
    const failed = data.sessions.filter((s) => s.errors > 0).length;
    RP.fact(facts, "Sessions", num(data.sessions.length) + (data.sessions.length >= data.limit ? " newest" : ""));
    RP.fact(facts, "With errors", failed ? num(failed) : "none", failed ? "bad" : "good");
    RP.fact(facts, "Latest", data.sessions.length ? time(data.sessions[0].last) : "–");
    const query = filter.value.trim().toLowerCase();
    body.replaceChildren();
    let shown = 0;
    for (const s of data.sessions) {
      const text = [s.id, s.kind, ...s.agents].join("\n").toLowerCase();
      if (query && !text.includes(query) && !(query === "error" && s.errors > 0)) continue;
      shown++;
      const row = el("tr", s.errors ? "failed" : null);
      row.dataset.id = s.id;
      if (known && !known.has(s.id)) row.classList.add("fresh");
      const link = el("a", null, s.id);
      link.href = "run/" + encodeURIComponent(s.id);
      const idCell = add(el("td"), link);
      if (s.kind !== "session") add(idCell, " ", el("span", "muted", "(" + s.kind + ")"));
      const cost = el("td", "num" + (s.cost.usd === null && s.cost.unpriced_calls ? " muted" : ""), s.cost.label);
      add(row, el("td", "muted", time(s.last)), idCell, el("td", "num", dur(s.wall_ms)),
        el("td", null, s.agents.join(", ")), el("td", "num", num(s.model_calls)), el("td", "num", num(s.tool_calls)),
        el("td", "num", num(s.input_tokens) + " / " + num(s.output_tokens)), cost,
        el("td", "num" + (s.errors ? " bad" : ""), s.errors ? num(s.errors) : "0"));
      body.appendChild(row);
    }
    table.dataset.rows = String(shown);
    count.textContent = query ? shown + " of " + data.sessions.length + " shown" : "";
    empty.style.display = data.sessions.length ? "none" : "";
    known = new Set(data.sessions.map((s) => s.id));
  }
  filter.addEventListener("input", draw);
  document.addEventListener("keydown", (event) => {
    if (event.key === "/" && event.target !== filter) { event.preventDefault(); filter.focus(); }
    if (event.key === "Escape" && event.target === filter) { filter.value = ""; draw(); }
  });
  draw();
  window.__runView = { ready: true };
  RP.follow("api/updates", data.generation, async () => {
    data = await RP.getJson("api/sessions");
    draw();
  }, (up) => {
    liveState.textContent = up ? "● live" : "○ reconnecting…";
    liveState.className = up ? "live" : "live off";
  });
})();
