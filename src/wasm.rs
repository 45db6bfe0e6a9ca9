//! The JavaScript API (wasm32 only): the one place with `#[wasm_bindgen]` exports.
//! Every export returns a `Result` (a rejected promise or a thrown `Error` in JavaScript);
//! nothing panics across the boundary, because a wasm module that panicked is unusable.
//!
//! Errors are JS `Error`s whose `name` says the kind: `ConfigError`, `DataError`, `GpuError`,
//! `DivergedError` (with a numeric `step`), `IoError`, `TypeError` for arguments of the wrong
//! type and `RangeError` for numeric arguments out of range. Arguments are read through
//! `wasm_guard.js`, which turns throwing getters, Proxies and look-alike typed arrays into
//! TypeErrors before the engine sees them; every length is checked, and every copy of user
//! data is a fallible allocation.
//!
//! No exception crosses a wasm frame of this module: one unwinding through them would skip
//! Rust's destructors and the shadow-stack reset (each one leaks; a trainer stays borrowed;
//! after about 2,000 every export traps). JavaScript a user can influence (getters, Proxy traps,
//! setters on Object.prototype, replaced built-ins) runs only inside the guard's functions,
//! which keep what they catch for `settle`. So results leave as JSON text that the guard
//! parses, errors and arrays are made by the guard, lists of keys go over as one string, and
//! the guard checks every trainer handle before a method reaches Rust (see `wasm_guard.js`).

// A trainer's RefCell stays borrowed across the awaits of a step on purpose: that borrow is what
// makes a second call while one runs a prompt "still running" error instead of interleaving.
#![allow(clippy::await_holding_refcell_ref)]

use crate::data::{bundle, try_with_capacity, DataName};
use crate::error::CabsError;
use crate::run_state::{EvalSchedule, RunState};
use crate::settings::{LearningRate, Settings};
use crate::trainer::{EvalStats, StepStats, Trainer as Engine, TrainerConfig};
use js_sys::{Float32Array, Promise, Uint8Array};
use serde::Serialize;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::future_to_promise;

#[wasm_bindgen(module = "/src/wasm_guard.js")]
extern "C" {
    // None of these throws (an exception through wasm frames is what this module avoids, and a
    // `catch` import leaks a table slot per exception): the fallible ones keep what was thrown,
    // and `settle` collects it right after each call.
    fn describe(v: &JsValue) -> String;
    fn is_array(v: &JsValue) -> bool;
    fn read_keys(obj: &JsValue, keys: &str, what: &str) -> JsValue;
    fn typed_view(v: &JsValue, tag: &str, what: &str) -> JsValue;
    fn read_files(files: &JsValue, max: u32) -> JsValue;
    fn copy_into(dst: &JsValue, src: &JsValue);
    fn adopt(obj: &JsValue, live: bool);
    fn parse_json(text: &str) -> JsValue;
    fn pair(a: &JsValue, b: &JsValue) -> JsValue;
    fn make_error(name: &str, message: &str, step: Option<f64>, settings: bool) -> JsValue;
    fn failed() -> bool;
    fn take_failure() -> JsValue;
    // Async and never rejecting: the bytes, or the browser's complaint as a string.
    fn gunzip(bytes: &Uint8Array, limit: f64) -> Promise;
}

/// `value`, the result of the guard call just made, or what that call threw.
fn settle<T>(value: T) -> Result<T, JsValue> {
    if failed() {
        Err(take_failure())
    } else {
        Ok(value)
    }
}

/// Most values one `predict` call takes or returns (64 MiB of f32): a decision-boundary grid is
/// far smaller; larger inputs are split by the caller.
const MAX_PREDICT_VALUES: usize = 1 << 24;
/// Longest string setting (model and rule strings are short).
const MAX_SETTING_CHARS: u32 = 1000;

#[wasm_bindgen(start)]
pub fn start() {
    // Last resort only: a panic is a bug, but if one happens the console should say where.
    console_error_panic_hook::set_once();
    // Guard the class's methods now, before any trainer exists, through a placeholder object.
    // It cannot fail short of a broken JS realm; then methods stay unguarded, nothing else.
    adopt(&JsValue::from(Trainer { inner: None }), false);
    let _ = settle(());
}

/// The engine of a trainer; the placeholder made at start-up has none.
fn engine(inner: &Option<Rc<RefCell<Engine>>>) -> Result<Rc<RefCell<Engine>>, JsValue> {
    inner.clone().ok_or_else(|| type_error("this is not a live Trainer; create one with Trainer.create"))
}

/// A CabsError as a JS `Error` whose `name` tells the kind (see the module docs).
fn js_error(e: CabsError) -> JsValue {
    let name = match &e {
        CabsError::Config(_) => "ConfigError",
        CabsError::Data(_) => "DataError",
        CabsError::Gpu(_) => "GpuError",
        CabsError::Diverged { .. } => "DivergedError",
        CabsError::Io(_) => "IoError",
    };
    let step = match e {
        CabsError::Diverged { step, .. } => Some(step as f64),
        _ => None,
    };
    named(name, &e.to_string(), step, false)
}

/// A JS error made by the guard; if even that fails, what it threw (still an exception, never
/// a trap). `settings`: it refuses the settings object (`invalidSettings: true`).
fn named(name: &str, message: &str, step: Option<f64>, settings: bool) -> JsValue {
    settle(make_error(name, message, step, settings)).unwrap_or_else(|thrown| thrown)
}

fn type_error(msg: &str) -> JsValue {
    named("TypeError", msg, None, false)
}

fn range_error(msg: &str) -> JsValue {
    named("RangeError", msg, None, false)
}

/// A value of the settings object refused: a ConfigError marked `invalidSettings: true`, so that
/// a caller (the page's worker) tells "change a setting" from a failure of the run itself
/// without checking the settings again.
fn refused(e: CabsError) -> JsValue {
    match e {
        CabsError::Config(_) => named("ConfigError", &e.to_string(), None, true),
        other => js_error(other),
    }
}

fn config_error(msg: String) -> JsValue {
    js_error(CabsError::Config(msg))
}

fn busy() -> JsValue {
    config_error("a step or evaluation of this trainer is still running; await it first".into())
}

/// `v` as a JS object, made by the guard from JSON text so that no setter runs (see the module
/// docs). Non-finite floats become `null`; the engine's records are finite (a step with a
/// non-finite statistic is a DivergedError). `what` names the result in the error when it
/// cannot be delivered, e.g. because JSON.parse was replaced: a TypeError, after which the
/// trainer is as usable as before.
fn to_js<T: Serialize>(v: &T, what: &str) -> Result<JsValue, JsValue> {
    let text = serde_json::to_string(v).map_err(|e| type_error(&format!("{what} could not be written as JSON: {e}")))?;
    settle(parse_json(&text)).map_err(|thrown| {
        let why = describe_thrown(&thrown);
        type_error(&format!("{what} could not be delivered to JavaScript ({why}); the trainer still works"))
    })
}

/// The message of something thrown by JavaScript, read through the guard.
fn describe_thrown(thrown: &JsValue) -> String {
    let msg =
        settle(read_keys(thrown, "message", "the exception")).ok().and_then(|v| v.unchecked_into::<js_sys::Array>().get(0).as_string());
    msg.unwrap_or_else(|| describe(thrown))
}

/// The settings object as the JavaScript API's one check of it: read here (every key once,
/// through the guard, for its type: the schema's engine keys `data, model, rule, lr, mmin,
/// mmax, mu, c, eps, unbiased, biasCorrection, seed, backend, convNorms, chunk`; missing or
/// undefined keys take the defaults), then checked by [`Settings::trainer_config`] and, with
/// `data`, for a known data set. What comes out is trusted by everything after it. Every
/// refusal quotes the value (see [`refused`]).
fn checked_settings(v: &JsValue, data: bool) -> Result<(Settings, TrainerConfig), JsValue> {
    let s = read_settings(v)?;
    let cfg = s.trainer_config().map_err(refused)?;
    if data {
        crate::data::DataName::parse(&s.data).map_err(refused)?;
    }
    Ok((s, cfg))
}

/// The settings object's values, each of the right JavaScript type (a string, a number, a
/// whole number, a flag); their meaning is checked by [`checked_settings`].
fn read_settings(v: &JsValue) -> Result<Settings, JsValue> {
    let mut s = Settings::default();
    if v.is_undefined() || v.is_null() {
        return Ok(s);
    }
    if !v.is_object() || is_array(v) {
        return Err(type_error(&format!("settings must be an object such as {{model: \"mlp:64\"}}, got {}", describe(v))));
    }
    // The engine's keys, as the settings schema lists them (its test checks they are `Settings`).
    let schema = crate::settings::schema::schema();
    let engine_keys: Vec<&str> = schema.keys.iter().filter(|k| k.engine).map(|k| k.key).collect();
    let values: js_sys::Array = settle(read_keys(v, &engine_keys.join(","), "settings"))?.unchecked_into();
    for (i, key) in engine_keys.iter().enumerate() {
        let x = values.get(i as u32);
        if x.is_undefined() {
            continue;
        }
        let bad = |msg: String| refused(CabsError::Config(msg));
        let text = || -> Result<String, JsValue> {
            match x.dyn_ref::<js_sys::JsString>() {
                Some(t) if t.length() <= MAX_SETTING_CHARS => Ok(String::from(t)),
                Some(t) => Err(bad(format!("{key} is {} characters long; at most {MAX_SETTING_CHARS}", t.length()))),
                None => Err(bad(format!("{key} must be a string, got {}", describe(&x)))),
            }
        };
        let number = || x.as_f64().ok_or_else(|| bad(format!("{key} must be a number, got {}", describe(&x))));
        let whole = |max: f64| -> Result<f64, JsValue> {
            let n = number()?;
            if n.fract() == 0.0 && (0.0..=max).contains(&n) {
                Ok(n)
            } else {
                Err(bad(format!("{key} must be a whole number from 0 to {max}, got {n}")))
            }
        };
        let flag = || x.as_bool().ok_or_else(|| bad(format!("{key} must be true or false, got {}", describe(&x))));
        match *key {
            "data" => s.data = text()?,
            "model" => s.model = text()?,
            "rule" => s.rule = text()?,
            "backend" => s.backend = text()?,
            "convNorms" => s.conv_norms = text()?,
            "lr" => s.lr = number()?,
            "mu" => s.mu = number()?,
            "c" => s.c = number()?,
            "eps" => s.eps = number()?,
            "mmin" => s.mmin = whole(u32::MAX as f64)? as u32,
            "mmax" => s.mmax = whole(u32::MAX as f64)? as u32,
            "seed" => s.seed = whole(9007199254740991.0)? as u64,
            "chunk" => s.chunk = Some(whole(u32::MAX as f64)? as u32),
            "unbiased" => s.unbiased = flag()?,
            "biasCorrection" => s.bias_correction = flag()?,
            _ => return Err(config_error(format!("the settings schema's key {key} is not read here"))),
        }
    }
    Ok(s)
}

/// A copy of a JS typed array view (from `typed_view`) in Rust memory, allocated fallibly.
fn copy_bytes(view: &Uint8Array, what: &str) -> Result<Vec<u8>, JsValue> {
    let n = view.length() as usize;
    let mut v: Vec<u8> = try_with_capacity(what, n).map_err(js_error)?;
    // Copied into the spare capacity, not into zeros first: zero-filling the ≈ 8 MB MNIST bundle
    // before overwriting it took ≈ 10 ms of a page's first `Trainer.create` in Chromium.
    // SAFETY: the view covers the n bytes of `v`'s capacity and is used before any other
    // allocation; `set_len` follows only once the copy has written all n of them.
    let dst = unsafe { Uint8Array::view_mut_raw(v.as_mut_ptr(), n) };
    settle(copy_into(&dst, view))?;
    unsafe { v.set_len(n) };
    Ok(v)
}

fn copy_floats(view: &Float32Array) -> Result<Vec<f32>, JsValue> {
    let n = view.length() as usize;
    let mut v: Vec<f32> = try_with_capacity("predict input", n).map_err(js_error)?;
    v.resize(n, 0.0);
    // SAFETY: as in `copy_bytes`.
    let dst = unsafe { Float32Array::view_mut_raw(v.as_mut_ptr(), n) };
    settle(copy_into(&dst, view))?;
    Ok(v)
}

/// The bytes of a Uint8Array argument, refusing an empty (or detached) one with a reason.
fn file_bytes(v: &JsValue, what: &str) -> Result<Vec<u8>, JsValue> {
    view_bytes(&settle(typed_view(v, "Uint8Array", what))?.unchecked_into(), what)
}

/// The bytes of a checked Uint8Array view, refusing an empty (or detached) one with a reason.
fn view_bytes(view: &Uint8Array, what: &str) -> Result<Vec<u8>, JsValue> {
    if view.length() == 0 {
        return Err(js_error(CabsError::Data(format!(
            "{what} is empty (0 bytes): an empty file, or a Uint8Array whose buffer was transferred (detached)"
        ))));
    }
    copy_bytes(view, what)
}

/// A gzip'd IDX file, inflated by the browser (`gunzip` in src/wasm_guard.js) and checked as
/// the native reader checks one (`crate::data::idx`): the header first, then exactly the size
/// it declares (one byte more is asked for, to see a longer stream), so a gzip bomb is refused
/// before it is inflated and the messages are the native ones.
async fn inflated_idx(gz: &Uint8Array, what: &str) -> Result<Vec<u8>, JsValue> {
    use crate::data::idx;
    let header = |e| js_error(idx::gzip_error(what, e));
    let first = inflated(gz, 4, what).await?;
    let head_len = idx::header_len(what, &first).map_err(header)?;
    let head = inflated(gz, head_len, what).await?;
    let (_, _, body) = idx::read_header(what, &mut &head[..]).map_err(header)?;
    let all = inflated(gz, head_len + body + 1, what).await?;
    idx::check_inflated(what, all.len(), head_len + body).map_err(js_error)?;
    Ok(all)
}

/// At most `limit` bytes of the gzip stream `gz`, inflated by the browser.
async fn inflated(gz: &Uint8Array, limit: usize, what: &str) -> Result<Vec<u8>, JsValue> {
    let out = wasm_bindgen_futures::JsFuture::from(gunzip(gz, limit as f64)).await.unwrap_or_else(|e| e);
    if let Some(why) = out.as_string() {
        return Err(js_error(CabsError::Data(format!("{what}: not a valid gzip file ({why})"))));
    }
    match out.dyn_into::<Uint8Array>() {
        Ok(bytes) => copy_bytes(&bytes, what),
        Err(other) => Err(type_error(&format!("{what}: inflating gave {}", describe(&other)))),
    }
}

/// The largest whole number a JS number holds exactly (2⁵³ − 1): step counts beyond it could
/// not come back unchanged.
const MAX_SAFE: f64 = 9007199254740991.0;

/// `exportState`'s optional `{every, nextStep}`: whole numbers, `every` at least 1, checked here
/// (a TypeError for a non-number, a RangeError quoting a number out of range; nothing coerced).
fn read_eval_schedule(v: &JsValue) -> Result<Option<EvalSchedule>, JsValue> {
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    if !v.is_object() || is_array(v) {
        return Err(type_error(&format!("exportState(evalSchedule) needs an object {{every, nextStep}}, got {}", describe(v))));
    }
    let values: js_sys::Array = settle(read_keys(v, "every,nextStep", "evalSchedule"))?.unchecked_into();
    let mut out = [0u64; 2];
    for (i, (key, min)) in [("every", 1.0), ("nextStep", 0.0)].into_iter().enumerate() {
        let x = values.get(i as u32);
        let want = format!("evalSchedule.{key} needs a whole number from {min} to {MAX_SAFE}");
        let n = x.as_f64().ok_or_else(|| type_error(&format!("{want}, got {}", describe(&x))))?;
        if !(n.fract() == 0.0 && (min..=MAX_SAFE).contains(&n)) {
            return Err(range_error(&format!("{want}, got {}", describe(&x))));
        }
        out[i] = n as u64;
    }
    Ok(Some(EvalSchedule { every: out[0], next_step: out[1] }))
}

/// A run state from a Uint8Array argument: not a Uint8Array is a TypeError, an empty or
/// detached one, another kind of file or a damaged state a DataError.
fn read_state(v: &JsValue) -> Result<RunState, JsValue> {
    let bytes = file_bytes(v, "the run state")?;
    RunState::from_bytes(&bytes).map_err(js_error)
}

/// The data set `settings.data` names; `mnist` is the bundle's Uint8Array (or undefined/null).
/// The bundle's copy in wasm memory is handed to the parser, which keeps the training pixels in
/// it rather than copying them again ([`bundle::parse_owned`]).
fn dataset(s: &Settings, mnist: &JsValue) -> Result<crate::data::Dataset, JsValue> {
    let bytes = if mnist.is_undefined() || mnist.is_null() { None } else { Some(file_bytes(mnist, "the MNIST bundle")?) };
    match (DataName::parse(&s.data), bytes) {
        (Ok(DataName::Mnist), Some(bytes)) => bundle::parse_owned(bytes),
        (_, bytes) => s.dataset(bytes.as_deref()),
    }
    .map_err(js_error)
}

/// A new trainer as its JS object, registered with the guard so that its methods refuse a
/// foreign or freed `this` with a TypeError (see `wasm_guard.js`). With `state`, the trainer
/// continues that run (on the engine `settings.backend` picks). `cfg` comes from
/// [`checked_settings`].
async fn build(cfg: TrainerConfig, data: crate::data::Dataset, state: Option<&RunState>) -> Result<JsValue, JsValue> {
    let t = match state {
        Some(state) => Engine::with_state(cfg, data, state).await,
        None => Engine::new(cfg, data).await,
    }
    .map_err(js_error)?;
    let obj = JsValue::from(Trainer { inner: Some(Rc::new(RefCell::new(t))) });
    settle(adopt(&obj, true))?;
    Ok(obj)
}

/// A training run. Create with `await Trainer.create(settings, mnistBytes?)`.
#[wasm_bindgen]
pub struct Trainer {
    inner: Option<Rc<RefCell<Engine>>>,
}

#[wasm_bindgen]
impl Trainer {
    /// `settings`: an object with any of the keys `data, model, rule, lr, mmin, mmax, mu, c,
    /// eps, unbiased, biasCorrection, seed, backend, convNorms, chunk` (missing keys take the
    /// defaults); `mnist`: the bytes of `data/mnist.bin` (a Uint8Array), needed when `data` is
    /// `"mnist"`. A bad setting rejects with a ConfigError marked `invalidSettings: true`.
    pub async fn create(settings: JsValue, mnist: JsValue) -> Result<JsValue, JsValue> {
        let (s, cfg) = checked_settings(&settings, true)?;
        let data = dataset(&s, &mnist)?;
        build(cfg, data, None).await
    }

    /// A trainer that continues the run whose state `state` holds (the bytes of `exportState`,
    /// a Uint8Array), on the engine `settings.backend` picks: this is how a run moves between
    /// the CPU engine and WebGPU. `settings` and `mnist` are as for `create` and must describe
    /// the state's run (data, model, rule, seed, statistics); `backend`, `chunk` and `lr` may
    /// differ (the state's live α is used). Another run's state is a ConfigError naming every
    /// difference; a damaged or foreign file a DataError.
    #[wasm_bindgen(js_name = createFromState)]
    pub async fn create_from_state(settings: JsValue, state: JsValue, mnist: JsValue) -> Result<JsValue, JsValue> {
        let (s, cfg) = checked_settings(&settings, true)?;
        let state = read_state(&state)?;
        let data = dataset(&s, &mnist)?;
        build(cfg, data, Some(&state)).await
    }

    /// Like `create`, on the user's own files: `files` is an array of `{name, bytes: Uint8Array}`
    /// holding IDX image/label files (MNIST, Fashion-MNIST; raw or gzip) or CIFAR-10 binary
    /// batches. The format is recognised from names and contents; `settings.data` is ignored.
    /// The files never leave the browser.
    #[wasm_bindgen(js_name = createWithFiles)]
    pub async fn create_with_files(settings: JsValue, files: JsValue) -> Result<JsValue, JsValue> {
        let (_, cfg) = checked_settings(&settings, false)?;
        let flat: js_sys::Array = settle(read_files(&files, crate::data::files::MAX_FILES as u32))?.unchecked_into();
        let mut named = Vec::new();
        for i in (0..flat.length()).step_by(2) {
            let name = flat.get(i).as_string().unwrap_or_default();
            let view: Uint8Array = settle(typed_view(&flat.get(i + 1), "Uint8Array", &name))?.unchecked_into();
            let gzip = view.length() >= 2 && view.get_index(0) == 0x1f && view.get_index(1) == 0x8b;
            let bytes = if gzip { inflated_idx(&view, &name).await? } else { view_bytes(&view, &name)? };
            named.push((name, bytes));
        }
        let data = crate::data::files::from_named_files(&named).map_err(js_error)?;
        drop(named);
        build(cfg, data, None).await
    }

    /// One SGD step; resolves to the step's statistics (see the README's field list).
    pub fn step(&self) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let inner = engine(&inner)?;
            let mut t = inner.try_borrow_mut().map_err(|_| busy())?;
            let s: StepStats = t.step().await.map_err(js_error)?;
            to_js(&s, &format!("the result of step {}", s.step))
        })
    }

    /// Test loss and accuracy at the current weights: `{step, testLoss, testAccuracy}`. Without
    /// a test split (a tiny data set) both are `null`: there is no test loss, not a zero one.
    pub fn evaluate(&self) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let inner = engine(&inner)?;
            let mut t = inner.try_borrow_mut().map_err(|_| busy())?;
            match t.evaluate().await {
                Ok(e) => to_js::<EvalStats>(&e, "the evaluation's result"),
                // "no test set" (a failed trainer still reports its failure first)
                Err(CabsError::Data(_)) if t.data().test.is_empty() => {
                    to_js(&records::NoTest { step: t.steps_done(), test_loss: None, test_accuracy: None }, "the evaluation's result")
                }
                Err(e) => Err(js_error(e)),
            }
        })
    }

    /// Change α without resetting: the live α setter (`Trainer::set_lr` in Rust). Not a
    /// number: a TypeError; not a positive number that is finite and normal in 32-bit floats: a
    /// RangeError; both quote the value. The α is checked here, once ([`LearningRate::new`]).
    #[wasm_bindgen(js_name = setLearningRate)]
    pub fn set_learning_rate(&self, lr: JsValue) -> Result<(), JsValue> {
        let value = lr.as_f64().ok_or_else(|| type_error(&format!("setLearningRate(lr) needs a number, got {}", describe(&lr))))?;
        let checked = LearningRate::new(value).map_err(|e| range_error(&format!("setLearningRate(lr), got {}: {e}", describe(&lr))))?;
        let e = engine(&self.inner)?;
        let mut t = e.try_borrow_mut().map_err(|_| busy())?;
        t.set_lr(checked);
        Ok(())
    }

    /// The engine's `BackendInfo`, camelCase: `{kind: "gpu"|"cpu", adapter: {name, backend,
    /// deviceType, driver} | null, fallbackReason: string | null, dispatchesPerStep, chunk,
    /// chunkReason, choice: {requested, how, reason, trial: {batch, steps, cpuMsPerStep,
    /// gpuMsPerStep, totalMs} | null}}`.
    pub fn backend(&self) -> Result<JsValue, JsValue> {
        let e = engine(&self.inner)?;
        let t = e.try_borrow().map_err(|_| busy())?;
        to_js(t.backend(), "the backend's description")
    }

    /// Class probabilities for `points` (Float32Array, `dim` values per point, e.g. x,y pairs for
    /// the 2-D sets): resolves to a Float32Array with `classes` values per point. The length is
    /// checked against the model before anything is copied.
    pub fn predict(&self, points: JsValue) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let inner = engine(&inner)?;
            let view: Float32Array = settle(typed_view(&points, "Float32Array", "predict's points"))?.unchecked_into();
            let mut t = inner.try_borrow_mut().map_err(|_| busy())?;
            let l = t.layout();
            let (n, dim, classes) = (view.length() as usize, l.input_dim() as usize, l.classes() as usize);
            if !n.is_multiple_of(dim) {
                return Err(config_error(format!("predict needs a multiple of {dim} values ({dim} per point), got {n}")));
            }
            let max_points = MAX_PREDICT_VALUES / dim.max(classes);
            if n / dim > max_points {
                return Err(config_error(format!(
                    "predict takes at most {max_points} points per call for this model, got {}; split them into smaller calls",
                    n / dim
                )));
            }
            let pts = copy_floats(&view)?;
            let p = t.predict(&pts).await.map_err(js_error)?;
            Ok(Float32Array::from(p.as_slice()).into())
        })
    }

    /// Up to `max` test points of a 2-D data set as `[Float32Array of x,y pairs, Uint8Array of
    /// labels]`, for drawing the data over decision-boundary maps. Errors for image data.
    /// `max` is a whole number from 0 to 2³² − 1 (a RangeError otherwise, a TypeError for a
    /// non-number): nothing is coerced, so `-1` or `"7"` cannot silently mean something else.
    #[wasm_bindgen(js_name = testPoints)]
    pub fn test_points(&self, max: JsValue) -> Result<JsValue, JsValue> {
        let limit = u32::MAX as f64;
        let n = max
            .as_f64()
            .ok_or_else(|| type_error(&format!("testPoints(max) needs a whole number from 0 to {limit}, got {}", describe(&max))))?;
        if !(n.fract() == 0.0 && (0.0..=limit).contains(&n)) {
            return Err(range_error(&format!("testPoints(max) needs a whole number from 0 to {limit}, got {}", describe(&max))));
        }
        let max = n as u32;
        let e = engine(&self.inner)?;
        let t = e.try_borrow().map_err(|_| busy())?;
        let d = t.data();
        let crate::data::Features::F32(xy) = &d.test.features else {
            return Err(config_error("test points exist only for the 2-D data sets".into()));
        };
        if d.dim != 2 {
            return Err(config_error("test points exist only for the 2-D data sets".into()));
        }
        let n = d.test.len().min(max as usize);
        let labels: Vec<u8> = d.test.labels[..n].iter().map(|&y| y as u8).collect();
        Ok(pair(&js_sys::Float32Array::from(&xy[..2 * n]).into(), &js_sys::Uint8Array::from(labels.as_slice()).into()))
    }

    /// `{inputDim, classes, paramCount, dataset, trainSize, testSize}`.
    pub fn info(&self) -> Result<JsValue, JsValue> {
        let e = engine(&self.inner)?;
        let t = e.try_borrow().map_err(|_| busy())?;
        let l = t.layout();
        let d = t.data();
        to_js(
            &records::Info {
                input_dim: l.input_dim(),
                classes: l.classes(),
                param_count: l.param_count,
                dataset: d.name.clone(),
                train_size: d.train.len() as u32,
                test_size: d.test.len() as u32,
            },
            "the trainer's info",
        )
    }

    /// GPU time of each kernel of one step at the current batch size (α = 0, so the run is
    /// unchanged): resolves to `[{kernel, ms}]`, or `null` on the CPU engine or when the adapter
    /// has no timestamp queries. Take one step first.
    #[wasm_bindgen(js_name = profileStep)]
    pub fn profile_step(&self) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let inner = engine(&inner)?;
            let mut t = inner.try_borrow_mut().map_err(|_| busy())?;
            let times = t.profile_step().await.map_err(js_error)?;
            let rows: Option<Vec<records::KernelTime>> = times
                .map(|v| v.into_iter().map(|(kernel, shape, ms)| records::KernelTime { kernel: kernel.to_string(), shape, ms }).collect());
            to_js(&rows, "the kernel profile")
        })
    }

    /// The run's state after the last finished step, as bytes (`RunState::to_bytes`: weights,
    /// the rule's averages, the sampler, α, the next batch size, the engines used) for
    /// `importState` or `createFromState`, on either engine. `evalSchedule`, optional, is the
    /// caller's `{every, nextStep}` (whole numbers), carried in the bytes and never used here.
    #[wasm_bindgen(js_name = exportState)]
    pub fn export_state(&self, eval_schedule: JsValue) -> Promise {
        let inner = self.inner.clone();
        // Read now, while the caller's object is as it was passed.
        let eval = read_eval_schedule(&eval_schedule);
        future_to_promise(async move {
            let inner = engine(&inner)?;
            let eval = eval?;
            // Exclusive on purpose: a step must not start while the weights are read back.
            let t = inner.try_borrow_mut().map_err(|_| busy())?;
            let mut state = t.export_state().await.map_err(js_error)?;
            drop(t);
            state.eval = eval;
            let bytes = state.to_bytes().map_err(js_error)?;
            Ok(Uint8Array::from(bytes.as_slice()).into())
        })
    }

    /// Continue from `state` (the bytes of `exportState`, from this or another trainer of the
    /// same run, either engine) between two steps. Another run's state is a ConfigError, a
    /// damaged one a DataError, and the trainer is unchanged by a refusal.
    #[wasm_bindgen(js_name = importState)]
    pub fn import_state(&self, state: JsValue) -> Promise {
        let inner = self.inner.clone();
        let state = read_state(&state);
        future_to_promise(async move {
            let inner = engine(&inner)?;
            let state = state?;
            let mut t = inner.try_borrow_mut().map_err(|_| busy())?;
            t.import_state(&state).map_err(js_error)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// The engines this run has used, oldest first: `[{fromStep, engine}]`, `engine` "cpu" or
    /// "gpu", running the steps after `fromStep` (so a run moved to WebGPU after step 212 reads
    /// `[{fromStep: 0, engine: "cpu"}, {fromStep: 212, engine: "gpu"}]`).
    pub fn engines(&self) -> Result<JsValue, JsValue> {
        let e = engine(&self.inner)?;
        let t = e.try_borrow().map_err(|_| busy())?;
        let spans: Vec<records::EngineSpan> =
            t.engines().iter().map(|s| records::EngineSpan { from_step: s.from_step, engine: s.engine.clone() }).collect();
        to_js(&spans, "the engines' list")
    }

    /// Steps done so far.
    #[wasm_bindgen(js_name = stepsDone)]
    pub fn steps_done(&self) -> Result<f64, JsValue> {
        let e = engine(&self.inner)?;
        let t = e.try_borrow().map_err(|_| busy())?;
        Ok(t.steps_done() as f64)
    }
}

/// What the page found when it asked the browser for a WebGPU adapter itself: `false` (none) spares
/// the engine asking again before it falls back to the CPU engine, with the same reason as if it
/// had asked (≈ 5 ms of a trainer's making in Chromium without WebGPU); `true` lets it ask as usual.
/// Anything but a boolean is a TypeError.
#[wasm_bindgen(js_name = noteBrowserAdapter)]
pub fn note_browser_adapter(present: JsValue) -> Result<(), JsValue> {
    let present =
        present.as_bool().ok_or_else(|| type_error(&format!("noteBrowserAdapter needs true or false, got {}", describe(&present))))?;
    crate::gpu::context::note_browser_adapter(present);
    Ok(())
}

/// The CSV header shared with the native runner (the columns of `src/record.rs`).
#[wasm_bindgen(js_name = csvHeader)]
pub fn csv_header() -> String {
    crate::record::header()
}

/// One CSV row (the native runner's `--csv` format, byte for byte) from a step record: an object
/// with any of the record's fields (a step's result, `wallMs`, `testLoss`, `testAccuracy`);
/// missing, `null` and non-finite values are empty cells. A value of the wrong type (a number
/// field that is not a number, an `engine` that is not "cpu" or "gpu") is a TypeError quoting it.
#[wasm_bindgen(js_name = csvRow)]
pub fn csv_row(record: JsValue) -> Result<String, JsValue> {
    use crate::record::{Input, Record, FIELDS};
    if !record.is_object() || is_array(&record) {
        return Err(type_error(&format!("csvRow needs a step record (an object), got {}", describe(&record))));
    }
    let names: Vec<&str> = FIELDS.iter().map(|f| f.js).collect();
    let values: js_sys::Array = settle(read_keys(&record, &names.join(","), "record"))?.unchecked_into();
    let mut i = 0;
    let rec = Record::read(|_| {
        let v = values.get(i);
        i += 1;
        if v.is_undefined() || v.is_null() {
            Input::Missing
        } else if let Some(x) = v.as_f64() {
            Input::Number(x)
        } else if let Some(t) = v.as_string() {
            Input::Text(t)
        } else {
            Input::Other(describe(&v))
        }
    });
    Ok(rec.map_err(|e| type_error(&e))?.row())
}

/// The settings schema (`src/settings/schema.rs`): every key's type, default, limits and help,
/// and the page's presets; the same object as the page's `lib/settings-schema.js`.
#[wasm_bindgen(js_name = settingsSchema)]
pub fn settings_schema() -> Result<JsValue, JsValue> {
    to_js(&crate::settings::schema::schema(), "the settings schema")
}

/// The settings the engine would use for `settings` (defaults filled in), or the error
/// `Trainer.create` would reject with for them (the same check, [`checked_settings`]), naming
/// the first invalid value. Checks settings without building a trainer.
#[wasm_bindgen(js_name = checkSettings)]
pub fn check_settings(settings: JsValue) -> Result<JsValue, JsValue> {
    let (s, _) = checked_settings(&settings, true)?;
    to_js(&s, "the checked settings")
}

mod records {
    //! Plain records returned to JavaScript.
    #[derive(serde::Serialize)]
    pub struct KernelTime {
        pub kernel: String,
        /// The layer or stage ("layer 784→256"), empty for whole-model kernels.
        pub shape: String,
        pub ms: f64,
    }

    /// `evaluate()` without a test split: no test loss (null), not a zero one.
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct NoTest {
        pub step: u64,
        pub test_loss: Option<f64>,
        pub test_accuracy: Option<f64>,
    }

    /// One entry of `engines()`.
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct EngineSpan {
        pub from_step: u64,
        pub engine: String,
    }

    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Info {
        pub input_dim: u32,
        pub classes: u32,
        pub param_count: u32,
        pub dataset: String,
        pub train_size: u32,
        pub test_size: u32,
    }
}
