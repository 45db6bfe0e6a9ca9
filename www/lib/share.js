// The "Share / embed" dialog: the link to this exact run, an <iframe> snippet, and the
// <cabs-demo> custom-element snippet, each with a copy button.
import { el } from "./dom.js";
import { toHash } from "./state.js";

export function pageUrl(state, extra = {}) {
  const url = new URL(location.href);
  url.hash = toHash({ ...state, ...extra });
  return url.href;
}

function attrs(state) {
  const hash = new URLSearchParams(toHash(state));
  return [...hash].map(([k, v]) => ` ${k}="${v.replace(/[&"<>]/g, (c) => `&#${c.charCodeAt(0)};`)}"`).join("");
}

/**
 * The three snippets. Embeds start training (play=1; the page still waits until it is seen).
 * The element is loaded with a classic <script src> (no CORS header needed on the demo's host),
 * and its content is the host page's fallback, shown only if the element's script cannot run.
 */
export function snippets(state) {
  const link = pageUrl(state, { embed: false });
  const embedUrl = pageUrl(state, { embed: true, play: true });
  const iframe = `<iframe src="${embedUrl.replace(/"/g, "&quot;")}" title="CABS: adaptive batch size demo" width="100%" height="540" style="border:0;height:auto;aspect-ratio:16/10;min-height:360px" loading="lazy"></iframe>`;
  const script = new URL("../cabs-demo.js", import.meta.url).href;
  const own = pageUrl(state, { embed: false, play: true }).replace(/[&"<>]/g, (c) => `&#${c.charCodeAt(0)};`);
  const element = `<script src="${script}"></script>\n<cabs-demo${attrs({ ...state, embed: false, play: true })}>\n  ${FALLBACK_BEFORE}<a href="${own}">${FALLBACK_LINK}</a>.\n</cabs-demo>`;
  return { link, iframe, element };
}

/** The element's fallback text (www/cabs-demo.js documents the same words). */
export const FALLBACK_BEFORE = "The CABS demo loads here. If this text stays, its script (cabs-demo.js) could not run: ";
export const FALLBACK_LINK = "open the demo on its own page";

export class ShareDialog {
  constructor(host) {
    this.dialog = el("dialog", { class: "share", "aria-labelledby": "share-title" });
    host.append(this.dialog);
  }

  /** note: a warning shown above the snippets (e.g. that a link cannot carry the user's files). */
  open(state, note = "") {
    const s = snippets(state);
    const block = (label, text, rows) => {
      const id = `share-${label.replace(/\W+/g, "-").toLowerCase()}`;
      const area = el("textarea", { id, readOnly: true, rows, spellcheck: "false" });
      area.value = text;
      const status = el("span", { class: "note", "aria-live": "polite" });
      const copy = el("button", { type: "button", text: "Copy", onclick: async () => {
        area.select();
        try { await navigator.clipboard.writeText(text); status.textContent = "copied"; } catch { status.textContent = "press Ctrl+C to copy"; }
      } });
      return el("div", { class: "field" }, el("label", { for: id, text: label }), area, el("div", {}, copy, " ", status));
    };
    this.dialog.replaceChildren(
      el("h2", { id: "share-title", text: "Share / embed this run" }),
      ...(note ? [el("p", { class: "notice", text: note })] : []), // replaceChildren would print a null as "null"
      block("Link (reproduces these settings)", s.link, 2),
      block("Embed with an iframe", s.iframe, 3),
      block("Or with the custom element", s.element, 5),
      el("form", { method: "dialog" }, el("button", { text: "Close", value: "close" })),
    );
    this.dialog.showModal();
  }
}
