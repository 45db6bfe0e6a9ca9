//! The CPU engine's threads: a small pool of workers that lives as long as the engine, and the
//! fixed partitions the kernels split their work by.
//!
//! Why a pool and not `std::thread::scope` per op: a step runs 10–25 ops, and spawning a thread
//! costs tens of microseconds, a sizeable share of an MLP step of about a millisecond; waking a
//! parked worker costs a few.
//!
//! Results are bit-identical for every thread count because the kernels split work only over
//! independent outputs (rows of a product, examples of a batch, columns of a filter gradient),
//! each computed by the same arithmetic in the same order whoever computes it; no sum is ever
//! split across threads. [`ranges`] is the one partition they use.
//!
//! Handing out a job and waiting for it spin briefly before parking: the ops of a step follow each
//! other within microseconds, and a futex wake-up plus the scheduler's latency cost tens of
//! microseconds per op, a large share of a 1 ms MLP step. The spin is bounded ([`SPIN`]), then the
//! thread parks on a condition variable, so an idle engine or a loaded machine loses at most that
//! much CPU per op.
//!
//! In wasm (no threads in the page's worker) a pool always has one thread and spawns nothing.

use std::sync::atomic::{AtomicUsize, Ordering};
#[cfg(not(target_arch = "wasm32"))]
use std::sync::{atomic::AtomicU64, Arc, Condvar, Mutex};

/// How long a worker watches for the next job, and the caller for the workers to finish, before
/// parking.
#[cfg(not(target_arch = "wasm32"))]
const SPIN: std::time::Duration = std::time::Duration::from_micros(100);

/// Spin until `done()` or [`SPIN`] has passed; true if `done()`.
#[cfg(not(target_arch = "wasm32"))]
fn spin_until(done: impl Fn() -> bool) -> bool {
    let start = std::time::Instant::now();
    loop {
        for _ in 0..64 {
            if done() {
                return true;
            }
            std::hint::spin_loop();
        }
        if start.elapsed() >= SPIN {
            return done();
        }
        // Let another runnable thread have the core (a loaded machine); about a microsecond
        // otherwise.
        std::thread::yield_now();
    }
}

/// The thread count set by [`set_default_threads`] (0: none set).
static DEFAULT_THREADS: AtomicUsize = AtomicUsize::new(0);

/// The thread count a new CPU engine gets: [`set_default_threads`]'s if set, else all the cores
/// natively; always 1 in wasm.
pub fn default_threads() -> usize {
    #[cfg(target_arch = "wasm32")]
    return 1;
    #[cfg(not(target_arch = "wasm32"))]
    match DEFAULT_THREADS.load(Ordering::Relaxed) {
        0 => available_threads(),
        n => n,
    }
}

/// The cores this process may use (`std::thread::available_parallelism`; 1 if unknown or in wasm).
pub fn available_threads() -> usize {
    #[cfg(target_arch = "wasm32")]
    return 1;
    #[cfg(not(target_arch = "wasm32"))]
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Set the thread count of CPU engines built from now on in this process (`cabs --threads`; the
/// trainer builds its engine itself). Results do not depend on it.
pub fn set_default_threads(n: usize) {
    DEFAULT_THREADS.store(n.max(1), Ordering::Relaxed);
}

/// `0..n` cut into at most `parts` contiguous, non-empty ranges of sizes differing by at most
/// one (the first ones longer), in order.
pub fn ranges(n: usize, parts: usize) -> Vec<std::ops::Range<usize>> {
    let parts = parts.clamp(1, n.max(1));
    let (base, extra) = (n / parts, n % parts);
    let mut start = 0;
    (0..parts)
        .map(|p| {
            let len = base + usize::from(p < extra);
            let r = start..start + len;
            start += len;
            r
        })
        .filter(|r| !r.is_empty())
        .collect()
}

/// Split `data` into consecutive slices of `lens[i] · stride` values each (the rest dropped).
pub fn split_rows<'a, T>(mut data: &'a mut [T], rs: &[std::ops::Range<usize>], stride: usize) -> Vec<&'a mut [T]> {
    let mut out = Vec::with_capacity(rs.len());
    for r in rs {
        let (head, tail) = std::mem::take(&mut data).split_at_mut(r.len() * stride);
        out.push(head);
        data = tail;
    }
    out
}

/// A job handed to the workers: a borrowed closure whose lifetime [`Pool::run`] guarantees by
/// not returning before every worker is done with it.
#[cfg(not(target_arch = "wasm32"))]
#[derive(Clone, Copy)]
struct Job {
    f: *const (dyn Fn(usize) + Sync + 'static),
    parts: usize,
}

// SAFETY: the pointee is `Sync` and outlives every use (see `Pool::run`).
#[cfg(not(target_arch = "wasm32"))]
unsafe impl Send for Job {}

#[cfg(not(target_arch = "wasm32"))]
#[derive(Default)]
struct State {
    job: Option<Job>,
    /// Bumped for every job, so that a worker runs each job once.
    generation: u64,
    panicked: bool,
    shutdown: bool,
}

#[cfg(not(target_arch = "wasm32"))]
#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    work: Condvar,
    done: Condvar,
    /// `State::generation`, readable without the lock (what spinning workers watch).
    generation: AtomicU64,
    /// Workers still running the current job (what the spinning caller watches). The worker that
    /// brings it to 0 then takes the lock and notifies `done`, so a parked caller is not missed.
    remaining: AtomicUsize,
    /// Workers parked on `work` (or about to): a job is announced with a wake-up only if any.
    parked: AtomicUsize,
}

/// A fixed set of threads: the caller's own and `threads − 1` parked workers.
pub struct Pool {
    threads: usize,
    #[cfg(not(target_arch = "wasm32"))]
    shared: Arc<Shared>,
    #[cfg(not(target_arch = "wasm32"))]
    workers: Vec<std::thread::JoinHandle<()>>,
    /// Held for the whole of [`Pool::run`]: one job at a time even if two threads share a pool.
    #[cfg(not(target_arch = "wasm32"))]
    caller: Mutex<()>,
}

impl Pool {
    /// A pool of `threads` threads (at least 1; always 1 in wasm).
    pub fn new(threads: usize) -> Pool {
        #[cfg(target_arch = "wasm32")]
        {
            let _ = threads;
            Pool { threads: 1 }
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            let threads = threads.max(1);
            let shared = Arc::new(Shared::default());
            let mut workers = Vec::new();
            for index in 1..threads {
                let s = shared.clone();
                match std::thread::Builder::new().name(format!("cabs-cpu-{index}")).spawn(move || worker(&s, index)) {
                    Ok(h) => workers.push(h),
                    Err(_) => break, // fewer threads than asked: still correct, only slower
                }
            }
            Pool { threads: workers.len() + 1, shared, workers, caller: Mutex::new(()) }
        }
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Run `f(0)`, …, `f(parts − 1)` at once, `f(0)` on the calling thread and `f(t)` on worker
    /// `t`, and return when all have returned. `parts` is capped at [`Self::threads`]. A panic in
    /// a worker is raised again here.
    pub fn run(&self, parts: usize, f: &(dyn Fn(usize) + Sync)) {
        let parts = parts.clamp(1, self.threads);
        if parts == 1 {
            f(0)
        } else {
            #[cfg(not(target_arch = "wasm32"))]
            self.run_on_workers(parts, f)
        }
    }

    /// [`Self::run`] with at least two parts (never in wasm, where a pool has one thread).
    #[cfg(not(target_arch = "wasm32"))]
    fn run_on_workers(&self, parts: usize, f: &(dyn Fn(usize) + Sync)) {
        {
            let _one_job = self.caller.lock().unwrap_or_else(|e| e.into_inner());
            // SAFETY: only the lifetime is erased. The workers use `f` between taking the job and
            // decrementing `remaining`; this function waits for `remaining == 0` (also when `f(0)`
            // panics, through `Finish`'s drop) before `f` can go out of scope.
            let f: *const (dyn Fn(usize) + Sync + 'static) = unsafe { std::mem::transmute(f as *const (dyn Fn(usize) + Sync)) };
            {
                let mut st = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
                st.job = Some(Job { f, parts });
                st.generation += 1;
                st.panicked = false;
                self.shared.remaining.store(parts - 1, Ordering::SeqCst);
                self.shared.generation.store(st.generation, Ordering::SeqCst);
            }
            // A worker counts itself in `parked` before it checks the generation under the lock,
            // and the store above is SeqCst: either it sees the new job or we see it parked.
            if self.shared.parked.load(Ordering::SeqCst) > 0 {
                self.shared.work.notify_all();
            }
            struct Finish<'a>(&'a Shared);
            impl Drop for Finish<'_> {
                fn drop(&mut self) {
                    let sh = self.0;
                    if !spin_until(|| sh.remaining.load(Ordering::Acquire) == 0) {
                        let mut st = sh.state.lock().unwrap_or_else(|e| e.into_inner());
                        while sh.remaining.load(Ordering::Acquire) > 0 {
                            st = sh.done.wait(st).unwrap_or_else(|e| e.into_inner());
                        }
                    }
                    sh.state.lock().unwrap_or_else(|e| e.into_inner()).job = None;
                }
            }
            let finish = Finish(&self.shared);
            // SAFETY: see above; the pointer came from a live reference.
            unsafe { (*f)(0) };
            drop(finish);
            let panicked = self.shared.state.lock().unwrap_or_else(|e| e.into_inner()).panicked;
            assert!(!panicked, "a CPU engine thread panicked");
        }
    }

    /// Hand `items[t]` to part `t` (one part per item, at most [`Self::threads`] items).
    pub fn each<T: Send>(&self, items: Vec<T>, f: impl Fn(usize, T) + Sync) {
        assert!(items.len() <= self.threads, "more parts than threads");
        if items.len() <= 1 {
            return items.into_iter().for_each(|it| f(0, it));
        }
        let slots: Vec<std::sync::Mutex<Option<T>>> = items.into_iter().map(|it| std::sync::Mutex::new(Some(it))).collect();
        self.run(slots.len(), &|t| {
            let item = slots[t].lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(item) = item {
                f(t, item)
            }
        });
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn worker(shared: &Shared, index: usize) {
    let mut seen = 0u64;
    loop {
        spin_until(|| shared.generation.load(Ordering::Acquire) != seen);
        let job = {
            let mut st = shared.state.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if st.shutdown {
                    return;
                }
                if st.generation != seen {
                    seen = st.generation;
                    if let Some(job) = st.job {
                        break job;
                    }
                }
                shared.parked.fetch_add(1, Ordering::SeqCst);
                // Re-checked after counting ourselves parked (see `run_on_workers`); the job is
                // published under the lock we hold, so this read cannot race with it anyway.
                st = shared.work.wait(st).unwrap_or_else(|e| e.into_inner());
                shared.parked.fetch_sub(1, Ordering::SeqCst);
            }
        };
        if index >= job.parts {
            continue; // not needed for this job (and not counted in `remaining`)
        }
        // SAFETY: `Pool::run` keeps the closure alive until `remaining` reaches 0 below.
        let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| unsafe { (*job.f)(index) })).is_ok();
        if !ok {
            shared.state.lock().unwrap_or_else(|e| e.into_inner()).panicked = true;
        }
        if shared.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            let _st = shared.state.lock().unwrap_or_else(|e| e.into_inner());
            shared.done.notify_all();
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl Drop for Pool {
    fn drop(&mut self) {
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner()).shutdown = true;
        self.shared.work.notify_all();
        for h in self.workers.drain(..) {
            let _ = h.join();
        }
    }
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pool({} threads)", self.threads)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_everything_in_order_without_empty_parts() {
        for n in 0..20 {
            for parts in 1..6 {
                let rs = ranges(n, parts);
                assert_eq!(rs.iter().map(|r| r.len()).sum::<usize>(), n);
                assert!(rs.iter().all(|r| !r.is_empty()));
                assert!(rs.windows(2).all(|w| w[0].end == w[1].start));
                assert!(rs.len() <= parts.max(1));
            }
        }
        assert_eq!(ranges(7, 3), vec![0..3, 3..5, 5..7]);
    }

    #[test]
    fn every_part_runs_once_on_a_pool_reused_many_times() {
        let pool = Pool::new(3);
        for round in 0..200 {
            let mut out = vec![0usize; 7];
            let rs = ranges(out.len(), pool.threads());
            let parts = split_rows(&mut out, &rs, 1);
            pool.each(parts.into_iter().zip(rs.clone()).collect(), |_, (o, r)| o.iter_mut().zip(r).for_each(|(o, i)| *o += i + round));
            assert_eq!(out, (0..7).map(|i| i + round).collect::<Vec<_>>());
        }
    }

    #[test]
    #[cfg(not(target_arch = "wasm32"))]
    fn a_panicking_part_is_raised_in_the_caller_and_the_pool_still_works() {
        let pool = Pool::new(2);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| pool.run(2, &|t| assert!(t != 1, "part 1 fails"))));
        assert!(r.is_err());
        let hits = std::sync::atomic::AtomicUsize::new(0);
        pool.run(2, &|_| _ = hits.fetch_add(1, std::sync::atomic::Ordering::SeqCst));
        assert_eq!(hits.into_inner(), 2);
    }
}
