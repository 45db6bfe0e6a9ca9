// Generated from src/settings/schema.rs (the settings schema) — do not edit. Regenerate with
// CABS_BLESS=1 cargo test --release --test cli settings_schema; that test fails while this file is stale.
export default {
  "version": 1,
  "maxLinkChars": 2000,
  "numberSyntax": "^[-+]?(?:\\d+\\.?\\d*|\\.\\d+)(?:[eE][-+]?\\d+)?$",
  "flagWords": {
    "true": [
      "1",
      "true"
    ],
    "false": [
      "0",
      "false"
    ]
  },
  "keys": [
    {
      "key": "data",
      "engine": true,
      "url": true,
      "always": true,
      "live": false,
      "type": "choice",
      "values": [
        "mnist",
        "spirals",
        "moons",
        "blobs"
      ],
      "default": "mnist",
      "help": "MNIST digits or a 2-D teaching set",
      "expect": "one of mnist, spirals, moons, blobs",
      "control": {
        "label": "Data set"
      }
    },
    {
      "key": "model",
      "engine": true,
      "url": true,
      "always": true,
      "live": false,
      "type": "text",
      "pattern": "^(?:(?:logreg|mlp:(?:[1-9]|[1-9]\\d|[1-9]\\d{2}|1\\d{3}|20[0-3]\\d|204[0-8])(?:,(?:[1-9]|[1-9]\\d|[1-9]\\d{2}|1\\d{3}|20[0-3]\\d|204[0-8])){0,3})(?::(?:relu|tanh))?|cnn-mnist|cnn-cifar|cnn-small)$",
      "default": "mlp:256",
      "help": "logreg, mlp:H1[,H2…][:tanh], or a CNN for images: cnn-small, cnn-mnist, cnn-cifar",
      "expect": "logreg, mlp:H1[,H2…][:tanh] (widths 1–2048, at most 4 layers), or one of cnn-mnist, cnn-cifar, cnn-small",
      "control": {
        "label": "Model",
        "suggestions": [
          "logreg",
          "mlp:64",
          "mlp:256",
          "mlp:64,32",
          "mlp:16",
          "mlp:16,16:tanh",
          "mlp:32,32:tanh",
          "cnn-small",
          "cnn-mnist",
          "cnn-cifar"
        ]
      }
    },
    {
      "key": "rule",
      "engine": true,
      "url": true,
      "always": true,
      "live": false,
      "type": "text",
      "pattern": "^(?:cabs|const:(?:[1-9]|[1-9]\\d|[1-9]\\d{2}|[1-7]\\d{3}|80\\d{2}|81[0-8]\\d|819[0-2])(?::step:(?:[1-9]|[1-9]\\d|[1-9]\\d{2}|[1-9]\\d{3}|[1-9]\\d{4}|[1-9]\\d{5}|[1-9]\\d{6}):(?:1(?:\\.0{1,8})?|0?\\.(?=\\d{0,7}[1-9])\\d{1,8})|:invtime:(?:\\d{1,6}(?:\\.\\d{1,8})?|\\.\\d{1,8})(?:[eE][-+]?\\d{1,2})?)?|norm:(?=\\d*\\.?\\d*[1-9])(?:\\d{1,6}(?:\\.\\d{1,8})?|\\.\\d{1,8})(?:[eE][-+]?\\d{1,2})?|inner:(?=\\d*\\.?\\d*[1-9])(?:\\d{1,6}(?:\\.\\d{1,8})?|\\.\\d{1,8})(?:[eE][-+]?\\d{1,2})?|gns(?::(?=\\d*\\.?\\d*[1-9])(?:\\d{1,6}(?:\\.\\d{1,8})?|\\.\\d{1,8})(?:[eE][-+]?\\d{1,2})?)?|adadamp:(?:[1-9]|[1-9]\\d|[1-9]\\d{2}|[1-7]\\d{3}|80\\d{2}|81[0-8]\\d|819[0-2])|grow:(?:[1-9]|[1-9]\\d|[1-9]\\d{2}|[1-7]\\d{3}|80\\d{2}|81[0-8]\\d|819[0-2]):(?:[1-9]|[1-9]\\d|[1-9]\\d{2}|[1-9]\\d{3}|[1-9]\\d{4}|[1-9]\\d{5}|[1-9]\\d{6}|[1-9]\\d{7}|[1-9]\\d{8}|[1-9]\\d{9}):[1-9]\\d{0,5}(?:\\.\\d{1,8})?)$",
      "default": "cabs",
      "help": "cabs; a fixed batch const:M[:step:EVERY:FACTOR|:invtime:K]; or another adaptive rule: the norm test norm:THETA, the inner-product test inner:THETA, the gradient noise scale gns[:K], adadamp:M0, a growth schedule grow:M0:EVERY:FACTOR (docs/METHOD.md)",
      "expect": "cabs, const:M, const:M:step:EVERY:FACTOR, const:M:invtime:K (M 1–8192, EVERY ≥ 1, 0 < FACTOR ≤ 1, K ≥ 0), norm:THETA, inner:THETA, gns[:K] (THETA, K > 0), adadamp:M0 or grow:M0:EVERY:FACTOR (M0 within mmin–mmax, EVERY ≥ 1 examples, FACTOR ≥ 1)",
      "control": {
        "label": "Rule",
        "suggestions": [
          "cabs",
          "const:16",
          "const:64",
          "const:64:step:200:0.5",
          "const:64:invtime:0.01",
          "norm:0.9",
          "gns",
          "adadamp:16",
          "grow:16:20000:5"
        ]
      }
    },
    {
      "key": "lr",
      "engine": true,
      "url": true,
      "always": true,
      "live": true,
      "type": "number",
      "min": 0.0,
      "max": 100.0,
      "exclusiveMin": true,
      "integer": false,
      "default": 0.5,
      "help": "changes apply live, without a reset",
      "expect": "a number > 0 and ≤ 100",
      "control": {
        "label": "Learning rate α",
        "step": "0.05"
      }
    },
    {
      "key": "mmin",
      "engine": true,
      "url": true,
      "always": true,
      "live": false,
      "type": "number",
      "min": 1.0,
      "max": 8192.0,
      "exclusiveMin": false,
      "integer": true,
      "notAbove": "mmax",
      "default": 16,
      "help": "smallest batch an adaptive rule may pick",
      "expect": "a whole number 1–8192",
      "control": {
        "label": "m_min",
        "step": "1"
      }
    },
    {
      "key": "mmax",
      "engine": true,
      "url": true,
      "always": true,
      "live": false,
      "type": "number",
      "min": 1.0,
      "max": 8192.0,
      "exclusiveMin": false,
      "integer": true,
      "default": 2048,
      "help": "largest batch an adaptive rule may pick",
      "expect": "a whole number 1–8192, not below mmin",
      "control": {
        "label": "m_max",
        "step": "1"
      }
    },
    {
      "key": "mu",
      "engine": true,
      "url": true,
      "always": true,
      "live": false,
      "type": "number",
      "min": 0.0,
      "max": 0.9999,
      "exclusiveMin": false,
      "integer": false,
      "default": 0.95,
      "help": "running-average factor of ξ̄ and ℒ̄",
      "expect": "a number from 0 to 0.9999",
      "control": {
        "label": "μ (averaging)",
        "step": "0.01"
      }
    },
    {
      "key": "seed",
      "engine": true,
      "url": true,
      "always": true,
      "live": false,
      "type": "number",
      "min": 0.0,
      "max": 4294967295.0,
      "exclusiveMin": false,
      "integer": true,
      "default": 1,
      "help": "same seed: same initial weights and data order for every run",
      "expect": "a whole number 0–4294967295",
      "control": {
        "label": "Seed",
        "step": "1"
      }
    },
    {
      "key": "baselines",
      "engine": false,
      "url": true,
      "always": true,
      "live": false,
      "type": "text",
      "pattern": "^(?:(?:cabs|const:(?:[1-9]|[1-9]\\d|[1-9]\\d{2}|[1-7]\\d{3}|80\\d{2}|81[0-8]\\d|819[0-2])(?::step:(?:[1-9]|[1-9]\\d|[1-9]\\d{2}|[1-9]\\d{3}|[1-9]\\d{4}|[1-9]\\d{5}|[1-9]\\d{6}):(?:1(?:\\.0{1,8})?|0?\\.(?=\\d{0,7}[1-9])\\d{1,8})|:invtime:(?:\\d{1,6}(?:\\.\\d{1,8})?|\\.\\d{1,8})(?:[eE][-+]?\\d{1,2})?)?|norm:(?=\\d*\\.?\\d*[1-9])(?:\\d{1,6}(?:\\.\\d{1,8})?|\\.\\d{1,8})(?:[eE][-+]?\\d{1,2})?|inner:(?=\\d*\\.?\\d*[1-9])(?:\\d{1,6}(?:\\.\\d{1,8})?|\\.\\d{1,8})(?:[eE][-+]?\\d{1,2})?|gns(?::(?=\\d*\\.?\\d*[1-9])(?:\\d{1,6}(?:\\.\\d{1,8})?|\\.\\d{1,8})(?:[eE][-+]?\\d{1,2})?)?|adadamp:(?:[1-9]|[1-9]\\d|[1-9]\\d{2}|[1-7]\\d{3}|80\\d{2}|81[0-8]\\d|819[0-2])|grow:(?:[1-9]|[1-9]\\d|[1-9]\\d{2}|[1-7]\\d{3}|80\\d{2}|81[0-8]\\d|819[0-2]):(?:[1-9]|[1-9]\\d|[1-9]\\d{2}|[1-9]\\d{3}|[1-9]\\d{4}|[1-9]\\d{5}|[1-9]\\d{6}|[1-9]\\d{7}|[1-9]\\d{8}|[1-9]\\d{9}):[1-9]\\d{0,5}(?:\\.\\d{1,8})?)(?:,(?:cabs|const:(?:[1-9]|[1-9]\\d|[1-9]\\d{2}|[1-7]\\d{3}|80\\d{2}|81[0-8]\\d|819[0-2])(?::step:(?:[1-9]|[1-9]\\d|[1-9]\\d{2}|[1-9]\\d{3}|[1-9]\\d{4}|[1-9]\\d{5}|[1-9]\\d{6}):(?:1(?:\\.0{1,8})?|0?\\.(?=\\d{0,7}[1-9])\\d{1,8})|:invtime:(?:\\d{1,6}(?:\\.\\d{1,8})?|\\.\\d{1,8})(?:[eE][-+]?\\d{1,2})?)?|norm:(?=\\d*\\.?\\d*[1-9])(?:\\d{1,6}(?:\\.\\d{1,8})?|\\.\\d{1,8})(?:[eE][-+]?\\d{1,2})?|inner:(?=\\d*\\.?\\d*[1-9])(?:\\d{1,6}(?:\\.\\d{1,8})?|\\.\\d{1,8})(?:[eE][-+]?\\d{1,2})?|gns(?::(?=\\d*\\.?\\d*[1-9])(?:\\d{1,6}(?:\\.\\d{1,8})?|\\.\\d{1,8})(?:[eE][-+]?\\d{1,2})?)?|adadamp:(?:[1-9]|[1-9]\\d|[1-9]\\d{2}|[1-7]\\d{3}|80\\d{2}|81[0-8]\\d|819[0-2])|grow:(?:[1-9]|[1-9]\\d|[1-9]\\d{2}|[1-7]\\d{3}|80\\d{2}|81[0-8]\\d|819[0-2]):(?:[1-9]|[1-9]\\d|[1-9]\\d{2}|[1-9]\\d{3}|[1-9]\\d{4}|[1-9]\\d{5}|[1-9]\\d{6}|[1-9]\\d{7}|[1-9]\\d{8}|[1-9]\\d{9}):[1-9]\\d{0,5}(?:\\.\\d{1,8})?)){0,3})?$",
      "empty": "none",
      "default": "const:16",
      "help": "runs trained beside the main rule, same seed and α: fixed batches or other rules, comma-separated",
      "expect": "up to 4 rules separated by commas, or none; each cabs, const:M, const:M:step:EVERY:FACTOR, const:M:invtime:K (M 1–8192, EVERY ≥ 1, 0 < FACTOR ≤ 1, K ≥ 0), norm:THETA, inner:THETA, gns[:K] (THETA, K > 0), adadamp:M0 or grow:M0:EVERY:FACTOR (M0 within mmin–mmax, EVERY ≥ 1 examples, FACTOR ≥ 1)",
      "control": {
        "label": "Baselines",
        "suggestions": [
          "const:16",
          "const:16,const:128",
          "const:64:step:300:0.5",
          "norm:0.9",
          "gns,adadamp:16",
          "none"
        ]
      }
    },
    {
      "key": "backend",
      "engine": true,
      "url": true,
      "always": false,
      "live": false,
      "type": "choice",
      "values": [
        "auto",
        "gpu",
        "cpu"
      ],
      "default": "auto",
      "help": "auto: WebGPU on a hardware GPU; on a software one the faster engine, timed at start; without WebGPU the CPU twin",
      "expect": "one of auto, gpu, cpu",
      "control": {
        "label": "Backend"
      }
    },
    {
      "key": "eval",
      "engine": false,
      "url": true,
      "always": false,
      "live": false,
      "type": "number",
      "min": 0.0,
      "max": 100000.0,
      "exclusiveMin": false,
      "integer": true,
      "default": 0,
      "help": "steps between test evaluations (0 = automatic)",
      "expect": "a whole number of steps (0 = automatic)",
      "control": {
        "label": "Evaluate every",
        "step": "1"
      }
    },
    {
      "key": "x",
      "engine": false,
      "url": true,
      "always": false,
      "live": false,
      "type": "choice",
      "values": [
        "step",
        "examples",
        "seconds"
      ],
      "labels": [
        "steps",
        "examples seen",
        "seconds"
      ],
      "default": "examples",
      "help": "the charts' x-axis: steps, examples seen, or seconds (the run's own compute time)",
      "expect": "one of step, examples, seconds",
      "control": null
    },
    {
      "key": "embed",
      "engine": false,
      "url": true,
      "always": false,
      "live": false,
      "type": "flag",
      "default": false,
      "help": "1: charts and a minimal bar only, filling the frame",
      "expect": "0 or 1",
      "control": null
    },
    {
      "key": "hide",
      "engine": false,
      "url": true,
      "always": false,
      "live": false,
      "type": "parts",
      "values": [
        "header",
        "controls",
        "stats",
        "bar",
        "boundary",
        "loss",
        "accuracy",
        "batch",
        "terms",
        "noise",
        "notes"
      ],
      "default": "",
      "help": "parts of the page to leave out",
      "expect": "any of header, controls, stats, bar, boundary, loss, accuracy, batch, terms, noise, notes, separated by commas",
      "control": null
    },
    {
      "key": "show",
      "engine": false,
      "url": true,
      "always": false,
      "live": false,
      "type": "parts",
      "values": [
        "loss",
        "accuracy",
        "batch",
        "terms",
        "noise"
      ],
      "default": "",
      "help": "the charts a frame narrower than 800 px shows, in this order (at most two; default: loss, batch)",
      "expect": "any of loss, accuracy, batch, terms, noise, separated by commas",
      "control": null
    },
    {
      "key": "play",
      "engine": false,
      "url": true,
      "always": false,
      "live": false,
      "type": "flag",
      "default": false,
      "help": "1: start training as soon as the engine is ready (and the demo is seen)",
      "expect": "0 or 1",
      "control": null
    },
    {
      "key": "autopause",
      "engine": false,
      "url": true,
      "always": false,
      "live": false,
      "type": "flag",
      "default": true,
      "help": "0: keep training while the demo cannot be seen; 1: pause then, and create the engine only once seen",
      "expect": "0 or 1",
      "control": null
    },
    {
      "key": "c",
      "engine": true,
      "url": false,
      "always": false,
      "live": false,
      "type": "number",
      "min": 0.0,
      "max": null,
      "exclusiveMin": true,
      "integer": false,
      "default": 1.0,
      "help": "multiplier of CABS's batch size m = c·α·ξ̄/ℒ̄",
      "expect": "a number > 0",
      "control": null
    },
    {
      "key": "eps",
      "engine": true,
      "url": false,
      "always": false,
      "live": false,
      "type": "number",
      "min": 0.0,
      "max": null,
      "exclusiveMin": false,
      "integer": false,
      "default": 0.0,
      "help": "added to ℒ̄ in the rule's denominator",
      "expect": "a number ≥ 0",
      "control": null
    },
    {
      "key": "unbiased",
      "engine": true,
      "url": false,
      "always": false,
      "live": false,
      "type": "flag",
      "default": false,
      "help": "use the unbiased ξ·m/(m−1) instead of the reference code's biased ξ",
      "expect": "0 or 1",
      "control": null
    },
    {
      "key": "biasCorrection",
      "engine": true,
      "url": false,
      "always": false,
      "live": false,
      "type": "flag",
      "default": false,
      "help": "start both averages at 0 and divide by 1 − μᵗ (Adam-style) instead of ξ̄₀ = 0, ℒ̄₀ = 1",
      "expect": "0 or 1",
      "control": null
    },
    {
      "key": "convNorms",
      "engine": true,
      "url": false,
      "always": false,
      "live": false,
      "type": "choice",
      "values": [
        "exact",
        "both",
        "reference"
      ],
      "default": "exact",
      "help": "per-example norms of convolutions: exact, the reference code's approximation, or both (the CSV's conv_xi columns)",
      "expect": "one of exact, both, reference",
      "control": null
    },
    {
      "key": "chunk",
      "engine": true,
      "url": false,
      "always": false,
      "live": false,
      "type": "number",
      "min": 1.0,
      "max": 4294967295.0,
      "exclusiveMin": false,
      "integer": true,
      "default": null,
      "help": "examples per chunk of a step; absent: chosen from the device limits or memory budget",
      "expect": "a whole number 1–4294967295",
      "control": null
    }
  ],
  "presets": [
    {
      "label": "MNIST · MLP 256 · α 0.5 (default)",
      "state": {
        "data": "mnist",
        "model": "mlp:256",
        "rule": "cabs",
        "mmax": 2048,
        "lr": 0.5,
        "mu": 0.95,
        "baselines": "const:16"
      }
    },
    {
      "label": "MNIST · CABS vs m = 16 and m = 128",
      "state": {
        "data": "mnist",
        "model": "mlp:256",
        "rule": "cabs",
        "mmax": 2048,
        "lr": 0.5,
        "mu": 0.95,
        "baselines": "const:16,const:128"
      }
    },
    {
      "label": "MNIST · α = 0.1 (batch stays small)",
      "state": {
        "data": "mnist",
        "model": "mlp:256",
        "rule": "cabs",
        "mmax": 2048,
        "lr": 0.1,
        "mu": 0.95,
        "baselines": "const:16"
      }
    },
    {
      "label": "MNIST · α = 1: a fixed m = 16 stalls, CABS grows the batch",
      "state": {
        "data": "mnist",
        "model": "mlp:256",
        "rule": "cabs",
        "mmax": 2048,
        "lr": 1.0,
        "mu": 0.95,
        "baselines": "const:16"
      }
    },
    {
      "label": "MNIST · small CNN (cnn-small) · α 0.3",
      "state": {
        "data": "mnist",
        "model": "cnn-small",
        "rule": "cabs",
        "mmax": 2048,
        "lr": 0.3,
        "mu": 0.95,
        "baselines": "const:16"
      }
    },
    {
      "label": "MNIST · the paper's CNN (cnn-mnist) · α 0.1 · needs a GPU",
      "state": {
        "data": "mnist",
        "model": "cnn-mnist",
        "rule": "cabs",
        "mmax": 1024,
        "lr": 0.1,
        "mu": 0.95,
        "baselines": ""
      }
    },
    {
      "label": "Blobs · fast, batch grows in seconds",
      "state": {
        "data": "blobs",
        "model": "mlp:16",
        "rule": "cabs",
        "mmax": 2048,
        "lr": 4.0,
        "mu": 0.9,
        "baselines": "const:16"
      }
    },
    {
      "label": "Moons · tanh MLP",
      "state": {
        "data": "moons",
        "model": "mlp:16,16:tanh",
        "rule": "cabs",
        "mmax": 2048,
        "lr": 2.0,
        "mu": 0.9,
        "baselines": "const:16"
      }
    },
    {
      "label": "Spirals · tanh MLP 64,64 · α 2 (slow: batch grows after ~1,000 steps)",
      "state": {
        "data": "spirals",
        "model": "mlp:64,64:tanh",
        "rule": "cabs",
        "mmax": 2048,
        "lr": 2.0,
        "mu": 0.95,
        "baselines": "const:16"
      }
    },
    {
      "label": "MNIST · CABS vs the norm test (θ = 0.9)",
      "state": {
        "data": "mnist",
        "model": "mlp:256",
        "rule": "cabs",
        "mmax": 2048,
        "lr": 0.5,
        "mu": 0.95,
        "baselines": "norm:0.9,const:16"
      }
    },
    {
      "label": "MNIST · CABS vs the noise scale (gns) and AdaDamp",
      "state": {
        "data": "mnist",
        "model": "mlp:256",
        "rule": "cabs",
        "mmax": 2048,
        "lr": 0.5,
        "mu": 0.95,
        "baselines": "gns,adadamp:16"
      }
    },
    {
      "label": "MNIST · Don't decay, grow: ×5 batch vs α/5 every 20,000 examples",
      "state": {
        "data": "mnist",
        "model": "mlp:256",
        "rule": "grow:16:20000:5",
        "mmax": 2048,
        "lr": 0.5,
        "mu": 0.95,
        "baselines": "const:16:step:1250:0.2,const:16"
      }
    }
  ]
};
