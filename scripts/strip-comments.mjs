// Strip the comments from generated JavaScript (wasm-bindgen's glue www/pkg/cabs.js and its
// snippet, a copy of src/wasm_guard.js), in place: they are build output that no reader of the
// page opens (the API is documented in npm/index.d.ts and docs/API.md, the guard in its source),
// and they are 5.7 KB of a first load gzipped. TypeScript's own printer does it (the
// `typescript` package, installed by scripts/setup.sh), so nothing else changes: no renaming, no
// reordering, imports kept verbatim. The page's own sources stay as written.
//   node scripts/strip-comments.mjs FILE.js …
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";

const ts = createRequire(import.meta.url)("typescript");
for (const file of process.argv.slice(2)) {
  const source = readFileSync(file, "utf8");
  const { outputText, diagnostics } = ts.transpileModule(source, {
    fileName: file,
    reportDiagnostics: true,
    compilerOptions: { allowJs: true, target: ts.ScriptTarget.ESNext, module: ts.ModuleKind.ESNext, removeComments: true, verbatimModuleSyntax: true },
  });
  if (diagnostics.length) throw new Error(`${file}: ${ts.flattenDiagnosticMessageText(diagnostics[0].messageText, "\n")}`);
  writeFileSync(file, outputText);
}
