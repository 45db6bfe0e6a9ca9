// The deck of slides.html: a 16:9 reveal.js deck (1280×720, scaled to the screen). reveal.js
// posts "slide:start" / "slide:stop" to the iframes of the slide it shows / leaves, which the
// demo page inside uses to train only while its slide is shown. `window.deck` is the Reveal
// instance (for the tests and the browser console).
import Reveal from "../vendor/reveal/reveal.mjs";

const deck = new Reveal({ width: 1280, height: 720, margin: 0.04, hash: true, viewDistance: 2, preloadIframes: null, transition: "slide" });
window.deck = deck;
deck.initialize();
