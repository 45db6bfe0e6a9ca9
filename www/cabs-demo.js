// <cabs-demo> custom element: one <script type="module" src=".../cabs-demo.js"> tag, then
// <cabs-demo data="moons" lr="2" baselines="const:16"></cabs-demo>. Attributes are the URL-hash
// keys of index.html, as the settings schema lists them (lib/settings-schema.js, generated from
// the engine's src/settings/schema.rs; embed defaults to 1); the element shows the page in an iframe
// next to this file and re-dispatches its `cabs-progress` events on itself. The page inside
// sleeps while unseen (scrolled away, hidden tab, slide not shown) unless autopause="0".
// Without a height attribute the element is 16:10 of its width (at least 360 px tall).
import SCHEMA from "./lib/settings-schema.js";

const KEYS = SCHEMA.keys.filter((k) => k.url).map((k) => k.key);

class CabsDemo extends HTMLElement {
  static get observedAttributes() { return [...KEYS, "height"]; }

  connectedCallback() {
    if (!this.frame) {
      this.frame = document.createElement("iframe");
      this.frame.title = this.getAttribute("title") || "CABS: adaptive batch size demo";
      this.frame.loading = "lazy";
      this.frame.style.cssText = "border:0;width:100%;display:block";
      this.frame.addEventListener("load", () => this.listen());
      this.append(this.frame);
    }
    this.render();
  }

  attributeChangedCallback() { if (this.frame) this.render(); }

  render() {
    const params = new URLSearchParams();
    for (const k of KEYS) if (this.hasAttribute(k)) params.set(k, this.getAttribute(k));
    if (!params.has("embed")) params.set("embed", "1");
    const url = new URL("index.html", import.meta.url);
    url.hash = params.toString().replace(/%3A/gi, ":").replace(/%2C/gi, ",");
    const h = Number.parseInt(this.getAttribute("height") || "", 10);
    if (Number.isFinite(h) && h > 100) Object.assign(this.frame.style, { height: `${h}px`, aspectRatio: "", minHeight: "" });
    else Object.assign(this.frame.style, { height: "auto", aspectRatio: "16 / 10", minHeight: "360px" });
    if (this.frame.src !== url.href) this.frame.src = url.href;
  }

  /** Same-origin frames: forward progress events and expose the hook as element.cabsDemo. */
  listen() {
    let win;
    try { win = this.frame.contentWindow; win.addEventListener("cabs-progress", (e) => this.dispatchEvent(new CustomEvent("cabs-progress", { detail: e.detail }))); }
    catch { return; } // another origin: the iframe still works, without the hook
  }

  get cabsDemo() {
    try { return this.frame?.contentWindow?.cabsDemo; } catch { return undefined; }
  }
}

if (!customElements.get("cabs-demo")) customElements.define("cabs-demo", CabsDemo);
export { CabsDemo };
