// Whether the demo can be seen, so that it trains only then ("sleep when unseen"): the tab is
// visible (visibilitychange), the page's frame is in the host page's viewport (an
// IntersectionObserver on a fixed element covering this document's viewport: inside an iframe
// its implicit root is the top-level viewport, so scrolling the host, a slide moving away or a
// `display: none` container all count), and its reveal.js slide is shown (reveal.js posts
// "slide:start" / "slide:stop" to the iframes of the slide it shows / leaves).

const MIN_RATIO = 0.1; // a frame with less than a tenth of it on screen counts as unseen

export class Sight {
  /** onChange(seen) is called whenever `seen` flips. */
  constructor(onChange) {
    this.onChange = onChange;
    this.tab = document.visibilityState !== "hidden";
    this.framed = window.self !== window.top;
    this.inView = !this.framed; // a top-level page is in its own viewport; a frame waits for the observer
    this.slide = true;
    this.last = this.seen;
    document.addEventListener("visibilitychange", () => this.set("tab", document.visibilityState !== "hidden"));
    if (!this.framed) return;
    const sentinel = document.createElement("div");
    sentinel.className = "sight-sentinel";
    sentinel.setAttribute("aria-hidden", "true");
    document.body.append(sentinel);
    new IntersectionObserver((entries) => {
      const e = entries[entries.length - 1];
      this.set("inView", e.isIntersecting && e.intersectionRatio >= MIN_RATIO);
    }, { threshold: [0, MIN_RATIO, 0.5, 1] }).observe(sentinel);
    window.addEventListener("message", (e) => {
      if (e.source !== window.parent) return; // only the host page may say which slide is shown
      if (e.data === "slide:start") this.set("slide", true);
      else if (e.data === "slide:stop") this.set("slide", false);
    });
  }

  get seen() { return this.tab && this.inView && this.slide; }

  set(key, value) {
    this[key] = value;
    if (this.seen === this.last) return;
    this.last = this.seen;
    this.onChange(this.seen);
  }
}
