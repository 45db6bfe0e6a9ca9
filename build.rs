//! Build script: the WGSL kernels as the engine embeds them. `shaders/*.wgsl` are the documented
//! source; the binaries (the page's wasm above all) carry them without comments and blank lines,
//! ≈ 10 KB less of the page's gzipped first load. The engine includes them from `OUT_DIR` through
//! `gpu::wgsl!`; tests that read the files themselves read `shaders/`.

use std::{env, fs, path::Path};

fn main() {
    let out = Path::new(&env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("shaders");
    fs::create_dir_all(&out).expect("OUT_DIR/shaders can be made");
    println!("cargo:rerun-if-changed=shaders");
    let mut files: Vec<_> = fs::read_dir("shaders").expect("shaders/ is there").map(|e| e.expect("shaders/ can be read").path()).collect();
    files.sort();
    for path in files.into_iter().filter(|p| p.extension().is_some_and(|e| e == "wgsl")) {
        println!("cargo:rerun-if-changed={}", path.display());
        let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        fs::write(out.join(path.file_name().expect("a file name")), strip_comments(&text)).expect("OUT_DIR/shaders can be written");
    }
}

/// WGSL without its comments, blank lines and indentation. WGSL has no string or character
/// literals, so `//` always starts a line comment; block comments (`/* … */`) nest. A comment
/// becomes a space (`a/* */b` stays two tokens).
fn strip_comments(src: &str) -> String {
    let b = src.as_bytes();
    let mut code = Vec::with_capacity(b.len());
    let (mut i, mut depth) = (0, 0usize);
    while i < b.len() {
        let pair = (b[i], b.get(i + 1).copied().unwrap_or(0));
        if depth > 0 {
            match pair {
                (b'*', b'/') => (depth, i) = (depth - 1, i + 2),
                (b'/', b'*') => (depth, i) = (depth + 1, i + 2),
                _ => {
                    if b[i] == b'\n' {
                        code.push(b'\n'); // the lines around a block comment stay apart
                    }
                    i += 1;
                }
            }
            if depth == 0 {
                code.push(b' ');
            }
            continue;
        }
        match pair {
            (b'/', b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            (b'/', b'*') => (depth, i) = (1, i + 2),
            _ => {
                code.push(b[i]);
                i += 1;
            }
        }
    }
    assert!(depth == 0, "an unclosed block comment in a shader");
    let code = String::from_utf8(code).expect("a shader is UTF-8");
    let mut out = String::with_capacity(code.len());
    for line in code.lines().map(str::trim).filter(|l| !l.is_empty()) {
        out.push_str(line);
        out.push('\n');
    }
    out
}
