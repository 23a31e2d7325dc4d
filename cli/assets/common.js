"use strict";
// Helpers for every page. Text from a protocol (names, prompts, answers,
// tool results, errors) comes from the outside world: it reaches the page
// only through textContent and text nodes, never as markup.
const RP = (() => {
  /** An element with a class and text (as text). */
  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  /** Appends nodes, and strings as text nodes; skips null. */
  function add(parent, ...children) {
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      parent.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return parent;
  }
  /** The page's data, from its JSON script element. */
  function data() {
    return JSON.parse(document.getElementById("run-data").textContent);
  }
  /** 850 ms, 12.3 s, 4m05s, 2h03m — as the command line writes them. */
  function dur(ms) {
    if (ms === null || ms === undefined || !isFinite(ms) || ms < 0) return "–";
    if (ms < 1) return ms.toFixed(2) + " ms";
    if (ms < 1000) return Math.round(ms) + " ms";
    if (ms < 60000) return (ms / 1000).toFixed(1) + " s";
    const s = Math.floor(ms / 1000);
    if (s < 3600) return Math.floor(s / 60) + "m" + String(s % 60).padStart(2, "0") + "s";
    return Math.floor(s / 3600) + "h" + String(Math.floor((s % 3600) / 60)).padStart(2, "0") + "m";
  }
  /** A signed duration, for deltas. */
  function signedDur(ms) {
    if (ms === null || ms === undefined || !isFinite(ms)) return "–";
    return (ms > 0 ? "+" : ms < 0 ? "−" : "±") + dur(Math.abs(ms));
  }
  /** 12,345 */
  function num(n) {
    return n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US");
  }
  /** +12 / −3 / ±0 */
  function signed(n) {
    if (n === null || n === undefined) return "–";
    return (n > 0 ? "+" : n < 0 ? "−" : "±") + Math.abs(n).toLocaleString("en-US");
  }
  /** 2026-11-27 03:00:00.123 UTC, from the entries' RFC 3339 text. */
  function time(iso) {
    if (typeof iso !== "string") return "–";
    const m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(\.\d{1,3})?/.exec(iso);
    return m ? m[1] + " " + m[2] + (m[3] || "") + " UTC" : iso;
  }
  /** 1.2 MB, 48 KB, 312 B */
  function size(chars) {
    if (chars >= 1e6) return (chars / 1e6).toFixed(1) + " MB";
    if (chars >= 1e3) return Math.round(chars / 1e3) + " KB";
    return chars + " B";
  }
  /** One figure of a header: a label over a value. */
  function fact(list, label, value, cls, title) {
    const box = el("div", "fact" + (cls ? " " + cls : ""));
    add(box, el("dt", null, label), el("dd", null, value));
    if (title) box.title = title;
    list.appendChild(box);
    return box;
  }
  /** A file name made of safe characters. */
  function fileName(text, extension) {
    return String(text).replace(/[^A-Za-z0-9._-]+/g, "_").slice(0, 100) + extension;
  }
  /** Offers text for download under a file name. */
  function download(text, name, type) {
    const url = URL.createObjectURL(new Blob([text], { type }));
    const link = el("a");
    link.href = url;
    link.download = name;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }
  /** JSON from the server this page came from (the `ui` pages). */
  async function getJson(url) {
    const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
    if (!response.ok) throw new Error(url + " answered " + response.status);
    return response.json();
  }
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  /**
   * Calls onChange whenever the server's protocol changes: a long poll that
   * the server answers at once when the generation differs from ours, else
   * after at most ~25 s. Retries slowly while the server is away.
   */
  async function follow(url, generation, onChange, onState) {
    let gen = generation;
    for (;;) {
      try {
        const update = await getJson(url + (url.includes("?") ? "&" : "?") + "after=" + encodeURIComponent(gen));
        onState(true);
        if (update.generation !== gen) {
          gen = update.generation;
          await onChange(gen);
        }
      } catch (e) {
        onState(false);
        await sleep(3000);
      }
    }
  }
  return { el, add, data, dur, signedDur, num, signed, time, size, fact, fileName, download, getJson, follow, sleep };
})();
