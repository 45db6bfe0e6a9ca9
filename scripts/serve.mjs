// A tiny static file server on 127.0.0.1 (PORT or 8080) for www/ or the hostable bundle dist/site:
//   node scripts/serve.mjs [--cors] [ROOT]      (ROOT: www by default)
// No dependencies. It sends the MIME types a static host must send (application/wasm for the
// engine — browsers compile wasm while it streams only with that type — and text/javascript for
// modules, which browsers refuse under any non-script type), redirects a folder without its
// trailing slash (so the page's relative URLs resolve inside it) and refuses paths outside ROOT.
// --cors (or CORS=1) adds `Access-Control-Allow-Origin: *`: what a host needs for other sites to
// load <cabs-demo> from it (module scripts are fetched with CORS).
import { createServer } from "node:http";
import { readFile, stat } from "node:fs/promises";
import { extname, join, normalize, resolve, sep } from "node:path";

const args = process.argv.slice(2);
const cors = args.includes("--cors") || process.env.CORS === "1";
const root = resolve(args.find((a) => !a.startsWith("--")) ?? "www");
const port = Number(process.env.PORT ?? 8080);
const TYPES = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8", ".wasm": "application/wasm", ".json": "application/json", ".bin": "application/octet-stream",
  ".png": "image/png", ".svg": "image/svg+xml", ".csv": "text/csv; charset=utf-8", ".txt": "text/plain; charset=utf-8",
  ".md": "text/markdown; charset=utf-8", ".ico": "image/x-icon", ".woff": "font/woff", ".woff2": "font/woff2", ".ttf": "font/ttf",
  ".gz": "application/gzip", ".tgz": "application/gzip",
};
const common = { "cache-control": "no-cache", ...(cors ? { "access-control-allow-origin": "*" } : {}) };

createServer(async (req, res) => {
  try {
    const url = new URL(req.url, "http://x");
    const path = normalize(decodeURIComponent(url.pathname));
    let file = join(root, path);
    if (file !== root && !file.startsWith(root + sep)) throw new Error("outside root");
    if ((await stat(file)).isDirectory()) {
      if (!url.pathname.endsWith("/")) {
        res.writeHead(301, { location: `${url.pathname}/${url.search}`, ...common });
        return res.end();
      }
      file = join(file, "index.html");
    }
    const body = await readFile(file);
    res.writeHead(200, { "content-type": TYPES[extname(file).toLowerCase()] ?? "application/octet-stream", "content-length": body.length, ...common });
    res.end(req.method === "HEAD" ? undefined : body);
  } catch {
    res.writeHead(404, { "content-type": "text/plain; charset=utf-8", ...common });
    res.end("not found");
  }
}).listen(port, "127.0.0.1", () => console.log(`serving ${root} at http://127.0.0.1:${port}/${cors ? " (Access-Control-Allow-Origin: *)" : ""}`));
