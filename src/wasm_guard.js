// The JavaScript side of the wasm boundary (src/wasm.rs imports this file; wasm-bindgen ships it
// next to cabs.js). One rule: no exception crosses a wasm frame. Code a user can influence (a
// getter, a Proxy trap, a replaced built-in) runs only inside the exported functions below, and
// none of them throws: each keeps what was thrown for Rust to collect (`failed`, `take_failure`). A JS exception
// that unwinds through wasm frames skips Rust's destructors and leaves the shadow-stack pointer
// where it was: each one leaks a slot, a borrowed trainer stays borrowed (its promise never
// settles), and after about 2,000 of them every export traps. So:
// - arguments are read here (throwing getters, Proxies, detached or look-alike typed arrays
//   become TypeErrors with a readable message);
// - results leave Rust as JSON text and become objects here (`parse_json`): JSON.parse defines
//   own properties, so setters on Object.prototype or Array.prototype never run;
// - errors are made here (`make_error`), with `name` defined rather than assigned;
// - trainers are checked here before any method reaches Rust: a freed, foreign or forged
//   `this` (its `__wbg_ptr` changed) is a TypeError, and `free()` twice is a no-op.
// Why not wasm-bindgen's `catch` imports: they survive the exception, but leak the table slot
// of the value the call would have returned (one per exception, for good).
// The built-ins used below are taken once, at load time, so replacing them later changes
// nothing here. The typed-array accessors come from the prototype, so an own `length` property
// on an argument cannot lie about its size.

const TYPED = Object.getPrototypeOf(Uint8Array.prototype);
const accessor = (name) => Object.getOwnPropertyDescriptor(TYPED, name).get;
const LENGTH = accessor("length");
const BUFFER = accessor("buffer");
const OFFSET = accessor("byteOffset");
const TAG = accessor(Symbol.toStringTag);
const MAX_NAME = 200;
/** Longest string quoted in full in a message. */
const MAX_QUOTE = 40;
const { apply } = Reflect;
const { defineProperty, getOwnPropertyDescriptor, getOwnPropertyNames, getOwnPropertySymbols, getPrototypeOf } = Object;
const { isArray } = Array;
const ErrorCtor = Error;
const TypeErrorCtor = TypeError;
const RangeErrorCtor = RangeError;
const WeakMapCtor = WeakMap;
const WeakSetCtor = WeakSet;
const wm = WeakMap.prototype;
const ws = WeakSet.prototype;
const [wmGet, wmSet, wmDelete] = [wm.get, wm.set, wm.delete];
const [wsAdd, wsHas] = [ws.add, ws.has];
const stringify = JSON.stringify;
const ArrayCtor = Array;
const arrayFrom = Array.from;
const split = String.prototype.split;

/** What a value is, in words, without running any of its code. */
export function describe(v) {
  try {
    return describeUnguarded(v);
  } catch {
    return "a value that cannot be described";
  }
}

function describeUnguarded(v) {
  if (v === null) return "null";
  const t = typeof v;
  if (t === "undefined") return "undefined";
  if (t === "string") return v.length <= MAX_QUOTE ? `the string ${stringify(v)}` : `a string of ${v.length} characters`;
  if (t === "number" || t === "boolean") return `${t} ${String(v)}`;
  if (t === "bigint") return `the bigint ${String(v)}n`;
  if (t !== "object") return `a ${t}`;
  try {
    if (isArray(v)) return "an array";
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
    return isArray(v);
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

/** A new array of `n` values `f(i)`. Array.from defines its elements, so a setter on
 *  Object.prototype["0"] does not run (as it would for push or `a[i] = v`). */
const list = (n, f) => apply(arrayFrom, ArrayCtor, [{ length: n }, (_, i) => f(i)]);

/** `obj[key]` for each key of `keys` ("lr,mu,…"), each read guarded: a throwing getter or
 *  Proxy trap is a TypeError naming `what.key` ("settings.lr", "record.loss"). The keys come
 *  as one string because building a JS array in Rust would run such setters with wasm frames
 *  on the stack. */
function readKeys(obj, keys, what) {
  const names = apply(split, keys, [","]);
  return list(names.length, (i) => {
    const k = names[i];
    try {
      return obj[k];
    } catch (e) {
      throw new TypeErrorCtor(`${what}.${k} could not be read: ${message(e)}`);
    }
  });
}

/** A fresh, untampered view of a genuine typed array of kind `tag` ("Uint8Array",
 *  "Float32Array"), or a TypeError naming `what`. A detached array gives an empty view. */
function typedView(v, tag, what) {
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
function readFiles(files, max) {
  if (!is_array(files)) throw new TypeError(`files must be an array of {name, bytes: Uint8Array}, got ${describe(files)}`);
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
  const out = list(2 * n, () => undefined);
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
    defineProperty(out, 2 * i, { value: name });
    defineProperty(out, 2 * i + 1, { value: typedView(bytes, "Uint8Array", `${name}: bytes`) });
  }
  return out;
}

/** Copy `src` into `dst` (a view of the engine's memory made just before this call); the
 *  lengths were checked by the caller, but a copy that cannot happen is an error, not a crash. */
function copyInto(dst, src) {
  if (dst.length !== src.length) throw new TypeError(`the input changed size while it was read (${src.length} instead of ${dst.length} values)`);
  dst.set(src);
}


/** The object that Rust's JSON text `text` describes. JSON.parse defines own properties, so no
 *  setter of Object.prototype or Array.prototype runs. It is looked up at call time on purpose:
 *  whatever a replaced JSON.parse does is caught like everything else here, so it can only make
 *  one result undeliverable (a TypeError saying so), never leave the engine in a bad state. */
function parseJson(text) {
  return JSON.parse(text);
}

/** `[a, b]` (an array literal defines its elements: no setter runs). */
export function pair(a, b) {
  return [a, b];
}

/** A JS error of kind `name` (TypeError and RangeError are the built-in classes, other names an
 *  Error with `name` set) with `message`, `step` when given (DivergedError), and
 *  `invalidSettings: true` when `settings` (a ConfigError refusing the settings object). The
 *  properties are defined, not assigned: an accessor on Error.prototype.name cannot intercept. */
function makeError(name, msg, step, settings) {
  const Ctor = name === "TypeError" ? TypeErrorCtor : name === "RangeError" ? RangeErrorCtor : ErrorCtor;
  const e = new Ctor(msg);
  if (Ctor === ErrorCtor) defineProperty(e, "name", { value: name, writable: true, enumerable: true, configurable: true });
  if (step !== undefined) defineProperty(e, "step", { value: step, writable: true, enumerable: true, configurable: true });
  if (settings) defineProperty(e, "invalidSettings", { value: true, writable: true, enumerable: true, configurable: true });
  return e;
}

// Trainers. wasm-bindgen's generated class hands `this.__wbg_ptr` to Rust unchecked: a freed
// trainer (pointer 0), a foreign `this` (`Trainer.prototype.step.call({})`) or a forged pointer
// would reach Rust as a null or dangling pointer (a throw through wasm, or a panic that kills the
// module). The class cannot be imported from here, so the engine hands over a placeholder
// instance at start-up, and its prototype's methods are wrapped once: each checks `this`
// against LIVE (a trainer → the pointer Rust gave it) before the generated code runs.
const LIVE = new WeakMapCtor();
const FREED = new WeakSetCtor();
let guarded = null;

/** Register a new trainer (a JS object made by wasm-bindgen; `live` false for the placeholder
 *  made at start-up) and guard its class once. */
function adoptTrainer(obj, live) {
  const proto = getPrototypeOf(obj);
  if (guarded !== proto) guard(proto);
  if (!live) return;
  const ptr = obj.__wbg_ptr;
  if (typeof ptr !== "number" || ptr === 0) throw new TypeErrorCtor("a new trainer has no handle");
  // Writable (free() zeroes it) but not configurable: it cannot become a getter that shows the
  // check one pointer and the generated code another.
  defineProperty(obj, "__wbg_ptr", { value: ptr, writable: true, enumerable: true, configurable: false });
  apply(wmSet, LIVE, [obj, ptr]);
}

/** Why `self` may not be used as a trainer, or null when it may. */
function refusal(self, className) {
  const ptr = apply(wmGet, LIVE, [self]); // undefined for anything not registered, primitives too
  if (ptr === undefined) return apply(wsHas, FREED, [self]) ? `a freed ${className}` : `${describe(self)}, not a live ${className}`;
  if (self.__wbg_ptr !== ptr) return `a ${className} whose handle (__wbg_ptr) was changed`;
  return null;
}

function guard(proto) {
  guarded = proto;
  const className = (getOwnPropertyDescriptor(proto, "constructor")?.value?.name) || "Trainer";
  // __wrap assigns `obj.__wbg_ptr = ptr`; with this inherited writable data property, that
  // assignment defines an own property and never runs a setter a user put on Object.prototype.
  if (!getOwnPropertyDescriptor(proto, "__wbg_ptr")) defineProperty(proto, "__wbg_ptr", { value: 0, writable: true, configurable: false });
  const free = getOwnPropertyDescriptor(proto, "free")?.value;
  for (const key of [...getOwnPropertyNames(proto), ...getOwnPropertySymbols(proto)]) {
    const d = getOwnPropertyDescriptor(proto, key);
    if (key === "constructor" || (typeof key === "string" && key.startsWith("__")) || typeof d.value !== "function") continue;
    const method = d.value;
    const name = typeof key === "string" ? key : "free";
    let wrapped;
    if (method === free) {
      // Idempotent on a trainer already freed; a TypeError for anything else that is not a live trainer.
      wrapped = {
        [name]() {
          const why = refusal(this, className);
          if (why !== null) {
            if (apply(wsHas, FREED, [this])) return;
            throw new TypeErrorCtor(`${className}.free called on ${why}`);
          }
          apply(wmDelete, LIVE, [this]);
          apply(wsAdd, FREED, [this]);
          return apply(method, this, []);
        },
      }[name];
    } else {
      wrapped = {
        [name](...args) {
          const why = refusal(this, className);
          if (why !== null) throw new TypeErrorCtor(`${className}.${name} called on ${why}`);
          return apply(method, this, args);
        },
      }[name];
    }
    defineProperty(proto, key, { ...d, value: wrapped });
  }
}

// Gzip'd files are inflated by the browser's own DecompressionStream: the wasm carries no
// inflater (10 KB gzipped of a first load). src/wasm.rs asks for a prefix of at most `limit`
// bytes (the IDX header first, then exactly the size it declares, plus one byte to see whether
// there is more), so a gzip bomb is refused before it is inflated. Resolves to the bytes, or to
// the browser's complaint as a string; it never rejects, and nothing of it runs inside a wasm frame.
const Decompression = globalThis.DecompressionStream;
const BlobCtor = globalThis.Blob;
const blobStream = BlobCtor?.prototype.stream;
const pipeThrough = globalThis.ReadableStream?.prototype.pipeThrough;
const getReader = globalThis.ReadableStream?.prototype.getReader;
const readChunk = globalThis.ReadableStreamDefaultReader?.prototype.read;
const cancelReading = globalThis.ReadableStreamDefaultReader?.prototype.cancel;
const [typedSet, typedSubarray] = [TYPED.set, TYPED.subarray];
const Uint8ArrayCtor = Uint8Array;
export async function gunzip(bytes, limit) {
  if (!Decompression || !blobStream) return "this browser has no DecompressionStream; unpack the file first";
  let reader;
  try {
    const inflated = apply(pipeThrough, apply(blobStream, new BlobCtor([bytes]), []), [new Decompression("gzip")]);
    reader = apply(getReader, inflated, []);
    const parts = [];
    let n = 0;
    while (n < limit) {
      const { done, value } = await apply(readChunk, reader, []);
      if (done) break;
      defineProperty(parts, parts.length, { value, enumerable: true });
      n += apply(LENGTH, value, []);
    }
    const size = n < limit ? n : limit;
    const out = new Uint8ArrayCtor(size);
    for (let i = 0, at = 0; i < parts.length && at < size; i++) {
      const part = parts[i];
      const length = apply(LENGTH, part, []);
      const take = length < size - at ? length : size - at;
      apply(typedSet, out, [take === length ? part : apply(typedSubarray, part, [0, take]), at]);
      at += take;
    }
    return out;
  } catch (e) {
    return message(e);
  } finally {
    if (reader) apply(cancelReading, reader, []).catch(() => {});
  }
}

// The exports src/wasm.rs calls. Each returns its value, or undefined after keeping what was
// thrown; Rust asks `failed()` right after every call and then takes the exception.
let failure = null;
const attempt = (f) =>
  function guarded(...args) {
    failure = null;
    try {
      return apply(f, undefined, args);
    } catch (e) {
      failure = { thrown: e };
      return undefined;
    }
  };
export const read_keys = attempt(readKeys);
export const typed_view = attempt(typedView);
export const read_files = attempt(readFiles);
export const copy_into = attempt(copyInto);
export const parse_json = attempt(parseJson);
export const make_error = attempt(makeError);
export const adopt = attempt(adoptTrainer);

/** Whether the last call above threw. */
export function failed() {
  return failure !== null;
}

/** What the last call above threw (then forgotten). */
export function take_failure() {
  const f = failure;
  failure = null;
  return f === null ? undefined : f.thrown;
}
