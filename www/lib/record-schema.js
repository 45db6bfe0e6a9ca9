// Generated from src/record.rs (the step record's schema) — do not edit. Regenerate with
// CABS_BLESS=1 cargo test --release --test cli record_schema; that test fails while this file is stale.
export default {
  "fields": [
    {
      "name": "step",
      "js": "step",
      "kind": "count",
      "unit": "",
      "meaning": "1-based index of this step",
      "origin": "step",
      "column": true,
      "decimals": null,
      "nullable": false
    },
    {
      "name": "examples_seen",
      "js": "examplesSeen",
      "kind": "count",
      "unit": "examples",
      "meaning": "training examples processed so far, this step included",
      "origin": "step",
      "column": true,
      "decimals": null,
      "nullable": false
    },
    {
      "name": "epoch",
      "js": "epoch",
      "kind": "count",
      "unit": "",
      "meaning": "passes over the training set completed before this step's batch",
      "origin": "step",
      "column": false,
      "decimals": null,
      "nullable": false
    },
    {
      "name": "batch_size",
      "js": "batchSize",
      "kind": "count",
      "unit": "examples",
      "meaning": "size of this step's batch",
      "origin": "step",
      "column": true,
      "decimals": null,
      "nullable": false
    },
    {
      "name": "next_batch_size",
      "js": "nextBatchSize",
      "kind": "count",
      "unit": "examples",
      "meaning": "size the rule chose for the next batch",
      "origin": "step",
      "column": true,
      "decimals": null,
      "nullable": false
    },
    {
      "name": "m_raw",
      "js": "mRaw",
      "kind": "number",
      "unit": "examples",
      "meaning": "the rule's size before rounding and clipping (constant rules: the constant)",
      "origin": "step",
      "column": true,
      "decimals": null,
      "nullable": false
    },
    {
      "name": "loss",
      "js": "loss",
      "kind": "number",
      "unit": "nats",
      "meaning": "mean cross-entropy of this batch at the pre-update weights",
      "origin": "step",
      "column": true,
      "decimals": null,
      "nullable": false
    },
    {
      "name": "loss_avg",
      "js": "lossAvg",
      "kind": "number",
      "unit": "nats",
      "meaning": "running average of the loss used by the rule",
      "origin": "step",
      "column": true,
      "decimals": null,
      "nullable": false
    },
    {
      "name": "xi",
      "js": "xi",
      "kind": "number",
      "unit": "",
      "meaning": "ξ, the gradient variance (trace of the per-example gradients' covariance) of this batch",
      "origin": "step",
      "column": true,
      "decimals": null,
      "nullable": false
    },
    {
      "name": "xi_avg",
      "js": "xiAvg",
      "kind": "number",
      "unit": "",
      "meaning": "running average of ξ used by the rule",
      "origin": "step",
      "column": true,
      "decimals": null,
      "nullable": false
    },
    {
      "name": "grad_norm_sq",
      "js": "gradNormSq",
      "kind": "number",
      "unit": "",
      "meaning": "‖ḡ‖², the squared norm of the batch's mean gradient",
      "origin": "step",
      "column": true,
      "decimals": null,
      "nullable": false
    },
    {
      "name": "noise_scale",
      "js": "noiseScale",
      "kind": "number",
      "unit": "examples",
      "meaning": "gradient noise scale B_simple = ξ / ‖ḡ‖²",
      "origin": "step",
      "column": true,
      "decimals": null,
      "nullable": false
    },
    {
      "name": "lr",
      "js": "lr",
      "kind": "number",
      "unit": "",
      "meaning": "α used for this step's update",
      "origin": "step",
      "column": true,
      "decimals": null,
      "nullable": false
    },
    {
      "name": "batch_accuracy",
      "js": "batchAccuracy",
      "kind": "number",
      "unit": "",
      "meaning": "fraction of this batch classified correctly before the update",
      "origin": "step",
      "column": false,
      "decimals": null,
      "nullable": false
    },
    {
      "name": "sum_sq_norms",
      "js": "sumSqNorms",
      "kind": "number",
      "unit": "",
      "meaning": "Σᵢ ‖gᵢ‖² over the batch's per-example gradients",
      "origin": "step",
      "column": false,
      "decimals": null,
      "nullable": false
    },
    {
      "name": "test_loss",
      "js": "testLoss",
      "kind": "number",
      "unit": "nats",
      "meaning": "mean cross-entropy on the test set after this step (evaluated steps only)",
      "origin": "eval",
      "column": true,
      "decimals": null,
      "nullable": false
    },
    {
      "name": "test_accuracy",
      "js": "testAccuracy",
      "kind": "number",
      "unit": "",
      "meaning": "fraction of the test set classified correctly after this step (evaluated steps only)",
      "origin": "eval",
      "column": true,
      "decimals": null,
      "nullable": false
    },
    {
      "name": "wall_ms",
      "js": "wallMs",
      "kind": "number",
      "unit": "ms",
      "meaning": "the run's time from its start to the end of this step",
      "origin": "runner",
      "column": true,
      "decimals": 3,
      "nullable": false
    },
    {
      "name": "conv_xi_exact",
      "js": "convXiExact",
      "kind": "number",
      "unit": "",
      "meaning": "the convolution tensors' share of ξ, exact (only with --conv-norms both)",
      "origin": "step",
      "column": true,
      "decimals": null,
      "nullable": true
    },
    {
      "name": "conv_xi_approx",
      "js": "convXiApprox",
      "kind": "number",
      "unit": "",
      "meaning": "the same share by the reference code's approximation (only with --conv-norms both)",
      "origin": "step",
      "column": true,
      "decimals": null,
      "nullable": true
    },
    {
      "name": "engine",
      "js": "engine",
      "kind": {
        "text": {
          "values": [
            "cpu",
            "gpu"
          ]
        }
      },
      "unit": "",
      "meaning": "the engine that ran this step: cpu or gpu (a run can move between them)",
      "origin": "step",
      "column": true,
      "decimals": null,
      "nullable": false
    },
    {
      "name": "inner_product_var",
      "js": "innerProductVar",
      "kind": "number",
      "unit": "",
      "meaning": "Var_i(g_iᵀḡ): the sample variance over the batch of the per-example inner products with the batch's mean gradient (only for rules that read it: inner:THETA)",
      "origin": "step",
      "column": true,
      "decimals": null,
      "nullable": true
    }
  ],
  "reproduceExtra": [
    {
      "name": "train_ms",
      "js": "trainMs",
      "kind": "number",
      "unit": "ms",
      "meaning": "the run's training time up to this step, evaluations excluded",
      "origin": "runner",
      "column": true,
      "decimals": 3,
      "nullable": false
    }
  ]
};
