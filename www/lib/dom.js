// DOM helpers: build elements from tag, properties and children. Text always goes in through
// textContent / text nodes, never through innerHTML, so no data can become markup.

/** el("button", {class: "x", onclick: f, "aria-label": "…"}, "text", child, …) */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
    else if (k in node && typeof v !== "string") node[k] = v;
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/**
 * An integer with thousands separators ("1,234,567"), as toLocaleString("en") writes it, but
 * without Intl: Intl's first use in a fresh tab sets up ICU, 14–24 ms of the page's thread here,
 * and the page's first step would wait for it. Anything but an integer is written as String does.
 */
export function grouped(n) {
  return Number.isInteger(n) ? String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",") : String(n);
}

/** Format a number for display: compact, fixed significant digits, "–" for missing. */
export function fmt(v, digits = 3) {
  if (v === undefined || v === null || !Number.isFinite(v)) return "–";
  if (Number.isInteger(v) && Math.abs(v) < 1e6) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(digits - 1);
  return String(Number(v.toPrecision(digits)));
}

/**
 * Text as nodes with <wbr> break points before "[" and after "|": a narrow column then wraps a
 * code-like word such as "const:M[:step:EVERY:FACTOR|:invtime:K]" between its parts instead of
 * mid-word (the help text's overflow-wrap: anywhere would otherwise cut "invtime" anywhere).
 */
export function breakable(text) {
  const nodes = [];
  for (const piece of String(text).split(/(?=\[)|(?<=\|)/)) {
    if (nodes.length) nodes.push(document.createElement("wbr"));
    nodes.push(piece);
  }
  return nodes;
}
