// The batch-size rules as the page draws them: which rule a run's text names, whether its batch
// adapts (then its raw m_raw is drawn beside m), and the two terms of its m_raw for the "rule's
// two terms" chart, derived from the step record's logged columns. The engine (src/rules/)
// decides every batch; nothing here decides anything. docs/METHOD.md has each rule's formula.

/** The rule's name: the text before its first ':' ("norm:0.9" → "norm"). */
export const ruleKind = (rule) => String(rule).split(":")[0];

/** Rules whose batch follows the run (m_raw is the rule's own value, not a constant). */
const ADAPTIVE = new Set(["cabs", "norm", "inner", "gns", "adadamp", "grow"]);
export const adaptive = (rule) => ADAPTIVE.has(ruleKind(rule));

/** The rule's numeric parameters (after the name), NaN where absent or not a number. */
const params = (rule) => String(rule).split(":").slice(1).map(Number);

/** Row i of a column the record may not have (older engines): NaN then. */
const cell = (run, field, i) => (run.columns[field] ? run.columns[field].data[i] : NaN);

/**
 * The two terms of a rule's m_raw, {formula, num: {name, at(run, i)}, den: {name, at(run, i)}}, or
 * null for rules without any (fixed batches, the growth schedule). Except for CABS, whose chart
 * keeps the paper's ξ̄ and ℒ̄ (their gap is log(m_raw / α)), num / den = m_raw.
 */
export function ruleTerms(rule) {
  const p = params(rule);
  switch (ruleKind(rule)) {
    case "cabs":
      return { formula: "CABS: m_raw = α · ξ̄ / ℒ̄", num: { name: "ξ̄", at: (r, i) => cell(r, "xiAvg", i) }, den: { name: "ℒ̄", at: (r, i) => cell(r, "lossAvg", i) } };
    case "norm": {
      const t2 = p[0] * p[0];
      return { formula: "norm: m_raw = ξ / (θ² ‖ḡ‖²)", num: { name: "ξ", at: (r, i) => cell(r, "xi", i) }, den: { name: "θ²‖ḡ‖²", at: (r, i) => t2 * cell(r, "gradNormSq", i) } };
    }
    case "inner": {
      const t2 = p[0] * p[0];
      return { formula: "inner: m_raw = Var(gᵢᵀḡ) / (θ² ‖ḡ‖⁴)", num: { name: "Var(gᵢᵀḡ)", at: (r, i) => cell(r, "innerProductVar", i) },
        den: { name: "θ²‖ḡ‖⁴", at: (r, i) => t2 * cell(r, "gradNormSq", i) ** 2 } };
    }
    case "gns": {
      // Ĝ²'s average is not a column: it is K·ξ̄ / m_raw, by the rule's own formula.
      const k = p.length ? p[0] : 1;
      return { formula: "gns: m_raw = K · ξ̄ / Ĝ²̄", num: { name: "K·ξ̄", at: (r, i) => k * cell(r, "xiAvg", i) },
        den: { name: "Ĝ²̄", at: (r, i) => (k * cell(r, "xiAvg", i)) / cell(r, "mRaw", i) } };
    }
    case "adadamp": {
      const m0 = p[0];
      return { formula: "adadamp: m_raw = M0 · ℒ̄₀ / ℒ̄", num: { name: "M0·ℒ̄₀", at: (r) => m0 * cell(r, "lossAvg", 0) }, den: { name: "ℒ̄", at: (r, i) => cell(r, "lossAvg", i) } };
    }
    default:
      return null;
  }
}
