//! The JavaScript API (wasm32 only): the one place with `#[wasm_bindgen]` exports.
//! Every export returns a `Result` (a rejected promise or a thrown `Error` in JavaScript);
//! nothing panics across the boundary, because a wasm module that panicked is unusable.

use crate::settings::Settings;
use crate::trainer::{EvalStats, StepStats, Trainer as Engine};
use js_sys::{Promise, Uint8Array};
use serde::Serialize;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::future_to_promise;

#[wasm_bindgen(start)]
pub fn start() {
    // Last resort only: a panic is a bug, but if one happens the console should say where.
    console_error_panic_hook::set_once();
}

fn to_js<T: Serialize>(v: &T) -> Result<JsValue, JsError> {
    v.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).map_err(|e| JsError::new(&e.to_string()))
}

fn err(e: impl std::fmt::Display) -> JsValue {
    JsError::new(&e.to_string()).into()
}

/// A training run. Create with `await Trainer.create(settings, mnistBytes?)`.
#[wasm_bindgen]
pub struct Trainer {
    inner: Rc<RefCell<Engine>>,
}

#[wasm_bindgen]
impl Trainer {
    /// `settings`: an object with any of the keys `data, model, rule, lr, mmin, mmax, mu, c,
    /// eps, unbiased, biasCorrection, seed, backend` (missing keys take the defaults);
    /// `mnist`: the bytes of `data/mnist.bin`, needed when `data` is `"mnist"`.
    pub async fn create(settings: JsValue, mnist: Option<Uint8Array>) -> Result<Trainer, JsError> {
        let s: Settings = if settings.is_undefined() || settings.is_null() {
            Settings::default()
        } else {
            serde_wasm_bindgen::from_value(settings).map_err(|e| JsError::new(&format!("invalid settings: {e}")))?
        };
        let bytes = mnist.map(|a| a.to_vec());
        let data = s.dataset(bytes.as_deref()).map_err(|e| JsError::new(&e.to_string()))?;
        let cfg = s.trainer_config().map_err(|e| JsError::new(&e.to_string()))?;
        let t = Engine::new(cfg, data).await.map_err(|e| JsError::new(&e.to_string()))?;
        Ok(Trainer { inner: Rc::new(RefCell::new(t)) })
    }

    /// Like `create`, on the user's own files: `files` is an array of `{name, bytes: Uint8Array}`
    /// holding IDX image/label files (MNIST, Fashion-MNIST; raw or gzip) or CIFAR-10 binary
    /// batches. The format is recognised from names and contents; `settings.data` is ignored.
    /// The files never leave the browser.
    #[wasm_bindgen(js_name = createWithFiles)]
    pub async fn create_with_files(settings: JsValue, files: js_sys::Array) -> Result<Trainer, JsError> {
        let s: Settings = if settings.is_undefined() || settings.is_null() {
            Settings::default()
        } else {
            serde_wasm_bindgen::from_value(settings).map_err(|e| JsError::new(&format!("invalid settings: {e}")))?
        };
        let mut named = Vec::new();
        for f in files.iter() {
            let name = js_sys::Reflect::get(&f, &"name".into()).ok().and_then(|v| v.as_string()).unwrap_or_default();
            let bytes = js_sys::Reflect::get(&f, &"bytes".into()).map_err(|_| JsError::new("each file needs {name, bytes}"))?;
            let bytes: Uint8Array = bytes.dyn_into().map_err(|_| JsError::new(&format!("{name}: bytes must be a Uint8Array")))?;
            named.push((name, bytes.to_vec()));
        }
        let data = crate::data::files::from_named_files(&named).map_err(|e| JsError::new(&e.to_string()))?;
        let cfg = s.trainer_config().map_err(|e| JsError::new(&e.to_string()))?;
        let t = Engine::new(cfg, data).await.map_err(|e| JsError::new(&e.to_string()))?;
        Ok(Trainer { inner: Rc::new(RefCell::new(t)) })
    }

    /// One SGD step; resolves to the step's statistics (see the README's field list).
    pub fn step(&self) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let mut t = inner.try_borrow_mut().map_err(|_| err("a step or evaluation is already running"))?;
            let s: StepStats = t.step().await.map_err(err)?;
            to_js(&s).map_err(Into::into)
        })
    }

    /// Test loss and accuracy at the current weights: `{step, testLoss, testAccuracy}`.
    pub fn evaluate(&self) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let mut t = inner.try_borrow_mut().map_err(|_| err("a step or evaluation is already running"))?;
            let e: EvalStats = t.evaluate().await.map_err(err)?;
            to_js(&e).map_err(Into::into)
        })
    }

    /// Change α without resetting.
    #[wasm_bindgen(js_name = setLearningRate)]
    pub fn set_learning_rate(&self, lr: f64) -> Result<(), JsError> {
        let mut t = self.inner.try_borrow_mut().map_err(|_| JsError::new("a step is running; try again after it"))?;
        t.set_lr(lr).map_err(|e| JsError::new(&e.to_string()))
    }

    /// `{kind: "gpu"|"cpu", adapter, fallbackReason, dispatchesPerStep}`.
    pub fn backend(&self) -> Result<JsValue, JsError> {
        let t = self.inner.try_borrow().map_err(|_| JsError::new("a step is running"))?;
        to_js(t.backend())
    }

    /// Class probabilities for `points` (Float32Array, `dim` values per point, e.g. x,y pairs for
    /// the 2-D sets): resolves to a Float32Array with `classes` values per point.
    pub fn predict(&self, points: js_sys::Float32Array) -> Promise {
        let inner = self.inner.clone();
        let pts = points.to_vec();
        future_to_promise(async move {
            let mut t = inner.try_borrow_mut().map_err(|_| err("a step is running"))?;
            let p = t.predict(&pts).await.map_err(err)?;
            Ok(js_sys::Float32Array::from(p.as_slice()).into())
        })
    }

    /// Up to `max` test points of a 2-D data set as `[Float32Array of x,y pairs, Uint8Array of
    /// labels]`, for drawing the data over decision-boundary maps. Errors for image data.
    #[wasm_bindgen(js_name = testPoints)]
    pub fn test_points(&self, max: u32) -> Result<js_sys::Array, JsError> {
        let t = self.inner.try_borrow().map_err(|_| JsError::new("a step is running"))?;
        let d = t.data();
        let crate::data::Features::F32(xy) = &d.test.features else {
            return Err(JsError::new("test points exist only for the 2-D data sets"));
        };
        if d.dim != 2 {
            return Err(JsError::new("test points exist only for the 2-D data sets"));
        }
        let n = d.test.len().min(max as usize);
        let labels: Vec<u8> = d.test.labels[..n].iter().map(|&y| y as u8).collect();
        let out = js_sys::Array::new();
        out.push(&js_sys::Float32Array::from(&xy[..2 * n]).into());
        out.push(&js_sys::Uint8Array::from(labels.as_slice()).into());
        Ok(out)
    }

    /// `{inputDim, classes, paramCount, dataset, trainSize, testSize}`.
    pub fn info(&self) -> Result<JsValue, JsError> {
        let t = self.inner.try_borrow().map_err(|_| JsError::new("a step is running"))?;
        let l = t.layout();
        let d = t.data();
        to_js(&records::Info {
            input_dim: l.input_dim(),
            classes: l.classes(),
            param_count: l.param_count,
            dataset: d.name.clone(),
            train_size: d.train.len() as u32,
            test_size: d.test.len() as u32,
        })
    }

    /// GPU time of each kernel of one step at the current batch size (α = 0, so the run is
    /// unchanged): resolves to `[{kernel, ms}]`, or `null` on the CPU engine or when the adapter
    /// has no timestamp queries. Take one step first.
    #[wasm_bindgen(js_name = profileStep)]
    pub fn profile_step(&self) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let mut t = inner.try_borrow_mut().map_err(|_| err("a step or evaluation is already running"))?;
            let times = t.profile_step().await.map_err(err)?;
            let rows: Option<Vec<records::KernelTime>> = times
                .map(|v| v.into_iter().map(|(kernel, shape, ms)| records::KernelTime { kernel: kernel.to_string(), shape, ms }).collect());
            to_js(&rows).map_err(Into::into)
        })
    }

    /// Steps done so far.
    #[wasm_bindgen(js_name = stepsDone)]
    pub fn steps_done(&self) -> Result<f64, JsError> {
        let t = self.inner.try_borrow().map_err(|_| JsError::new("a step is running"))?;
        Ok(t.steps_done() as f64)
    }
}

/// The CSV header shared with the native runner.
#[wasm_bindgen(js_name = csvHeader)]
pub fn csv_header() -> String {
    crate::csv::HEADER.to_string()
}

/// The settings the engine would use for `settings` (defaults filled in), or an error naming
/// the first invalid value. Lets the page validate URL state without building a trainer.
#[wasm_bindgen(js_name = checkSettings)]
pub fn check_settings(settings: JsValue) -> Result<JsValue, JsError> {
    let s: Settings = serde_wasm_bindgen::from_value(settings).map_err(|e| JsError::new(&format!("invalid settings: {e}")))?;
    s.trainer_config().map_err(|e| JsError::new(&e.to_string()))?;
    to_js(&s)
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
