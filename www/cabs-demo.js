// <cabs-demo> custom element: the demo page (index.html next to this file) in an iframe, in embed
// mode, with the page's URL-hash keys as attributes (embed defaults to 1) and `height` in px.
//
// What a blog post needs (the host of this file sends no special header; any static host works):
//
//   <script src="https://HOST/PATH/cabs-demo.js"></script>
//   <cabs-demo data="moons" model="mlp:16,16:tanh" lr="2" baselines="const:16" play="1">
//     The CABS demo loads here. If this text stays, its script (cabs-demo.js) could not run:
//     <a href="https://HOST/PATH/#data=moons&model=mlp:16,16:tanh&lr=2&baselines=const:16&play=1">open the demo on its own page</a>.
//   </cabs-demo>
//
// Why a classic script: a classic <script src> from another origin runs without CORS, while a
// <script type="module"> from another origin is fetched in CORS mode and refused (one console
// error, nothing on the page) unless the host sends `Access-Control-Allow-Origin`. So this file
// is written to work both ways: no import, no export, no import.meta; it finds its own folder
// from document.currentScript (classic), else from the <script src> that names it (module), else
// from its own stack trace (a dynamic import()). The module form still works where the host sends
// `Access-Control-Allow-Origin: *` (scripts/serve.mjs --cors) or on the same origin.
// The text inside the element is the host page's own fallback: it shows while the element is
// undefined (script missing, refused, or still loading) and is hidden once the element runs (the
// element draws in its shadow root). In the classic form placed before the element, a working demo
// never shows it.
//
// Attributes get the URL's bounds: the settings together at most 2,000 characters (a link's limit;
// longer: the demo with its defaults), `height` a whole number of px from 200 to 4,000 (outside:
// clamped; not a number: 16:10 of the width, at least 360 px tall). Such a problem is shown in the
// element, above the frame, as "cabs-demo: …" (role=status) and in the console; each value is
// checked again by the page inside, which shows its own notice. Same-origin only: the page's hook as
// element.cabsDemo and its `cabs-progress` events re-dispatched on the element.
// The page inside sleeps while unseen (scrolled away, hidden tab, slide not shown) unless
// autopause="0".
(() => {
  "use strict";
  if (!window.customElements || customElements.get("cabs-demo")) return; // loaded twice: the first wins

  /** The page's URL keys, in the link's order (the settings schema's `url` keys: lib/settings-schema.js;
   *  tests/page/element.test.mjs fails if they differ). Not imported: a classic script cannot. */
  const KEYS = ["data", "model", "rule", "lr", "mmin", "mmax", "mu", "seed", "baselines", "backend", "eval", "x", "embed", "hide", "show", "play", "autopause"];
  const MAX_LINK_CHARS = 2000; // the schema's maxLinkChars: the page refuses a longer hash
  const MIN_HEIGHT = 200;
  const MAX_HEIGHT = 4000; // far below what breaks the charts' canvases, above any sensible post

  /** This file's URL, found while it runs (document.currentScript exists only then). */
  const SCRIPT_URL = (() => {
    const current = document.currentScript;
    if (current && current.src) return current.src;
    for (const s of document.querySelectorAll("script[src]")) if (/\/cabs-demo\.js(?:[?#]|$)/.test(s.src)) return s.src;
    const m = /((?:https?|file):\/\/[^\s()]+?):\d+:\d+/.exec(new Error().stack || "");
    return m ? m[1] : null;
  })();

  const CSS = `:host { display: block; }
    :host([hidden]) { display: none; }
    .notice { margin: 0 0 4px; padding: 6px 10px; border-radius: 6px; background: #fff8e1; color: #5c4400;
      font: 14px/1.4 system-ui, sans-serif; overflow-wrap: anywhere; }
    .notice[hidden] { display: none; }
    iframe { border: 0; width: 100%; display: block; }`;

  const count = (n) => n.toLocaleString("en");
  /** Shorten a value for the notice (shown as text, never as markup). */
  const short = (v) => (v.length > 40 ? `${v.slice(0, 40)}…` : v);

  class CabsDemo extends HTMLElement {
    static get observedAttributes() { return [...KEYS, "height"]; }

    connectedCallback() {
      if (!this.frame) this.build();
      this.render();
    }

    attributeChangedCallback() { if (this.frame) this.render(); }

    /** Shadow root: a notice line and the frame. The element's own children (the host page's
     *  fallback text) are not slotted, so they disappear once the element runs. */
    build() {
      const root = this.shadowRoot || this.attachShadow({ mode: "open" });
      const style = document.createElement("style");
      style.textContent = CSS;
      this.note = document.createElement("p");
      this.note.className = "notice";
      this.note.setAttribute("role", "status");
      this.note.setAttribute("part", "notice");
      this.note.hidden = true;
      this.frame = document.createElement("iframe");
      this.frame.setAttribute("part", "frame");
      this.frame.title = this.getAttribute("title") || "CABS: adaptive batch size demo";
      this.frame.loading = "lazy";
      this.frame.addEventListener("load", () => this.listen());
      root.replaceChildren(style, this.note, this.frame);
    }

    render() {
      const problems = [];
      const given = KEYS.filter((k) => this.hasAttribute(k));
      const params = new URLSearchParams();
      for (const k of given) params.set(k, this.getAttribute(k));
      if (!params.has("embed")) params.set("embed", "1");
      let hash = params.toString().replace(/%3A/gi, ":").replace(/%2C/gi, ",");
      if (hash.length > MAX_LINK_CHARS) {
        const longest = given.reduce((a, b) => (this.getAttribute(b).length > this.getAttribute(a).length ? b : a));
        problems.push(`the settings are ${count(hash.length)} characters long (${longest} alone ${count(this.getAttribute(longest).length)}), ` +
          `more than the ${count(MAX_LINK_CHARS)} a link may hold; showing the demo with its defaults`);
        hash = "embed=1";
      }
      const height = this.height(problems);
      if (height) Object.assign(this.frame.style, { height: `${height}px`, aspectRatio: "", minHeight: "" });
      else Object.assign(this.frame.style, { height: "auto", aspectRatio: "16 / 10", minHeight: "360px" });
      let href = null;
      if (SCRIPT_URL) {
        const url = new URL("index.html", SCRIPT_URL);
        url.hash = hash;
        href = url.href;
      } else {
        problems.push("could not tell where cabs-demo.js was loaded from; load it with <script src=\".../cabs-demo.js\">");
      }
      this.show(problems);
      if (href && this.frame.src !== href) this.frame.src = href;
    }

    /** The height attribute in px, clamped to [MIN_HEIGHT, MAX_HEIGHT]; null: 16:10 of the width. */
    height(problems) {
      const raw = this.getAttribute("height");
      if (raw === null || raw.trim() === "") return null;
      const m = /^\s*(\d+(?:\.\d+)?)\s*(?:px)?\s*$/i.exec(raw);
      if (!m) {
        problems.push(`height='${short(raw)}' is not a number of pixels; using 16:10 of the width`);
        return null;
      }
      const h = Math.round(Number(m[1]));
      if (h > MAX_HEIGHT || h < MIN_HEIGHT) {
        const used = h > MAX_HEIGHT ? MAX_HEIGHT : MIN_HEIGHT;
        problems.push(`height=${short(m[1])} is ${h > MAX_HEIGHT ? "above" : "below"} ${count(used)}; using ${count(used)} px`);
        return used;
      }
      return h;
    }

    /** The element's problems, readable in the element itself (and once in the console). */
    show(problems) {
      const text = problems.length ? `cabs-demo: ${problems.join("; ")}.` : "";
      this.note.hidden = !text;
      this.note.textContent = text;
      if (text && text !== this.warned) console.warn(text);
      this.warned = text;
    }

    /** Same-origin frames: forward progress events and expose the hook as element.cabsDemo. */
    listen() {
      try {
        this.frame.contentWindow.addEventListener("cabs-progress", (e) => this.dispatchEvent(new CustomEvent("cabs-progress", { detail: e.detail })));
      } catch {
        // another origin: the demo still works in its frame, without the hook and events
      }
    }

    get cabsDemo() {
      try { return this.frame?.contentWindow?.cabsDemo; } catch { return undefined; }
    }
  }

  customElements.define("cabs-demo", CabsDemo);
})();
