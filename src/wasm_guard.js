// Argument intake of the JavaScript API (src/wasm.rs imports this file; wasm-bindgen ships it
// next to cabs.js). Hostile values — throwing getters, Proxies, detached or look-alike typed
// arrays — are read here, where a throw is caught and turned into a TypeError with a readable
// message, instead of inside the engine, where a JS exception unwinding through wasm leaves a
// promise that never settles. The typed-array accessors are taken from the prototype once, at
// load time, so an own `length` property on an argument cannot lie about its size.

const TYPED = Object.getPrototypeOf(Uint8Array.prototype);
const accessor = (name) => Object.getOwnPropertyDescriptor(TYPED, name).get;
const LENGTH = accessor("length");
const BUFFER = accessor("buffer");
const OFFSET = accessor("byteOffset");
const TAG = accessor(Symbol.toStringTag);
const MAX_NAME = 200;

/** What a value is, in words, without running any of its code. */
export function describe(v) {
  if (v === null) return "null";
  const t = typeof v;
  if (t === "undefined") return "undefined";
  if (t === "string") return `a string of ${v.length} characters`;
  if (t === "number" || t === "boolean") return `${t} ${String(v)}`;
  if (t !== "object") return `a ${t}`;
  try {
    if (Array.isArray(v)) return "an array";
  } catch {
    return "a revoked Proxy";
  }
  if (ArrayBuffer.isView(v)) return TAG.call(v) ? `a ${TAG.call(v)}` : "a DataView";
  try {
    if (v instanceof ArrayBuffer) return "an ArrayBuffer";
  } catch {
    // a Proxy whose getPrototypeOf throws
  }
  return "an object";
}

/** Array.isArray that does not throw (a revoked Proxy is not an array). */
export function is_array(v) {
  try {
    return Array.isArray(v);
  } catch {
    return false;
  }
}

function message(e) {
  try {
    return e instanceof Error ? String(e.message) : String(e);
  } catch {
    return "(an exception that cannot be printed)";
  }
}

/** `obj[key]` for each key, each read guarded: a throwing getter or Proxy trap is a TypeError
 *  naming `what.key` ("settings.lr", "record.loss"). */
export function read_keys(obj, keys, what) {
  return keys.map((k) => {
    try {
      return obj[k];
    } catch (e) {
      throw new TypeError(`${what}.${k} could not be read: ${message(e)}`);
    }
  });
}

/** A fresh, untampered view of a genuine typed array of kind `tag` ("Uint8Array",
 *  "Float32Array"), or a TypeError naming `what`. A detached array gives an empty view. */
export function typed_view(v, tag, what) {
  if (!ArrayBuffer.isView(v) || TAG.call(v) !== tag) {
    let hint = "";
    try {
      if (v instanceof ArrayBuffer) hint = ` (wrap it: new ${tag}(buffer))`;
    } catch {
      // a Proxy whose getPrototypeOf throws: no hint
    }
    throw new TypeError(`${what} must be a ${tag}, got ${describe(v)}${hint}`);
  }
  const n = LENGTH.call(v); // 0 when detached
  if (n === 0) return tag === "Uint8Array" ? new Uint8Array(0) : new Float32Array(0);
  return tag === "Uint8Array" ? new Uint8Array(BUFFER.call(v), OFFSET.call(v), n) : new Float32Array(BUFFER.call(v), OFFSET.call(v), n);
}

/** The user's file list as a flat array [name, Uint8Array, name, Uint8Array, …], at most `max`
 *  files; anything else is a TypeError. */
export function read_files(files, max) {
  let isArray = false;
  try {
    isArray = Array.isArray(files);
  } catch {
    // a revoked Proxy
  }
  if (!isArray) throw new TypeError(`files must be an array of {name, bytes: Uint8Array}, got ${describe(files)}`);
  let n;
  try {
    n = files.length;
  } catch (e) {
    throw new TypeError(`the file list could not be read: ${message(e)}`);
  }
  if (!Number.isSafeInteger(n) || n < 0) throw new TypeError("the file list has no valid length");
  if (n > max) {
    const e = new Error(`bad data: ${n} files given: a data set is at most ${max} files (IDX: 2 or 4, CIFAR-10: up to 6)`);
    e.name = "DataError";
    throw e;
  }
  const out = [];
  for (let i = 0; i < n; i++) {
    let f, name, bytes;
    try {
      f = files[i];
      if (f === null || typeof f !== "object") throw new TypeError(`file ${i + 1} must be an object {name, bytes: Uint8Array}, got ${describe(f)}`);
      name = f.name;
      bytes = f.bytes;
    } catch (e) {
      throw e instanceof TypeError ? e : new TypeError(`file ${i + 1} could not be read: ${message(e)}`);
    }
    if (typeof name !== "string") name = `file ${i + 1}`;
    if (name.length > MAX_NAME) name = `${name.slice(0, MAX_NAME)}…`;
    out.push(name, typed_view(bytes, "Uint8Array", `${name}: bytes`));
  }
  return out;
}

/** Copy `src` into `dst` (a view of the engine's memory made just before this call); the
 *  lengths were checked by the caller, but a copy that cannot happen is an error, not a crash. */
export function copy_into(dst, src) {
  if (dst.length !== src.length) throw new TypeError(`the input changed size while it was read (${src.length} instead of ${dst.length} values)`);
  dst.set(src);
}

// Method calls on something that is not a live trainer (`Trainer.prototype.step.call({})`, a
// freed trainer) would hand wasm-bindgen a null or forged pointer. The generated class cannot
// be imported from here, so the engine hands over a placeholder instance at start-up and its
// prototype's methods are wrapped once with a check against the set of genuine instances.
const LIVE = new WeakSet();
let guarded = null;

/** Register a new trainer (a JS object made by wasm-bindgen; `live` false for the placeholder
 *  made at start-up) and guard its class once. */
export function adopt(obj, live) {
  if (live) LIVE.add(obj);
  const proto = Object.getPrototypeOf(obj);
  if (guarded === proto) return obj;
  guarded = proto;
  const className = proto.constructor?.name || "Trainer";
  for (const name of Object.getOwnPropertyNames(proto)) {
    const d = Object.getOwnPropertyDescriptor(proto, name);
    if (name === "constructor" || name === "free" || name.startsWith("__") || typeof d.value !== "function") continue;
    const method = d.value;
    const wrapped = {
      [name](...args) {
        if (!LIVE.has(this) || !this.__wbg_ptr) {
          throw new TypeError(`${className}.${name} called on ${LIVE.has(this) ? "a freed trainer" : describe(this)}, not a live ${className}`);
        }
        return method.apply(this, args);
      },
    }[name];
    Object.defineProperty(proto, name, { ...d, value: wrapped });
  }
  return obj;
}
