//! Two-dimensional teaching sets generated from the seed (as in TensorFlow Playground):
//! two spirals, two moons, Gaussian blobs. 4,096 training and 1,024 test points each, so that
//! the largest default batch (2,048) fits in one epoch.

use super::{Dataset, Features, Split};
use crate::rng::Rng;

pub const TRAIN: usize = 4096;
pub const TEST: usize = 1024;

fn build(name: &str, classes: u32, seed: u64, mut point: impl FnMut(&mut Rng, u32) -> (f64, f64)) -> Dataset {
    let mut rng = Rng::derive(seed, 3);
    let mut split = |n: usize| {
        let mut xs = Vec::with_capacity(2 * n);
        let mut ys = Vec::with_capacity(n);
        for _ in 0..n {
            let y = rng.below(classes as u64) as u32;
            let (a, b) = point(&mut rng, y);
            xs.push(a as f32);
            xs.push(b as f32);
            ys.push(y);
        }
        Split { features: Features::F32(xs), labels: ys }
    };
    let train = split(TRAIN);
    let test = split(TEST);
    Dataset { name: name.into(), dim: 2, image: None, classes, train, test }
}

/// Two interleaved spirals, 1.75 turns each, with Gaussian noise 0.08 (inputs in ≈ [−1, 1]²).
pub fn spirals(seed: u64) -> Dataset {
    build("spirals", 2, seed, |r, y| {
        let t = r.uniform();
        let angle = t * 1.75 * std::f64::consts::TAU + y as f64 * std::f64::consts::PI;
        (t * angle.cos() + 0.08 * r.normal(), t * angle.sin() + 0.08 * r.normal())
    })
}

/// Two half circles, one shifted into the other's mouth, noise 0.1, centred near the origin.
pub fn moons(seed: u64) -> Dataset {
    build("moons", 2, seed, |r, y| {
        let a = r.uniform() * std::f64::consts::PI;
        let (x, z) = if y == 0 { (a.cos(), a.sin()) } else { (1.0 - a.cos(), 0.5 - a.sin()) };
        ((x - 0.5) * 0.8 + 0.1 * r.normal(), (z - 0.25) * 0.8 + 0.1 * r.normal())
    })
}

/// Four Gaussian blobs (std 0.25) on the corners of a square of side 1.2.
pub fn blobs(seed: u64) -> Dataset {
    build("blobs", 4, seed, |r, y| {
        let cx = if y & 1 == 0 { -0.6 } else { 0.6 };
        let cy = if y & 2 == 0 { -0.6 } else { 0.6 };
        (cx + 0.25 * r.normal(), cy + 0.25 * r.normal())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_sets_are_valid_and_seeded() {
        for f in [spirals, moons, blobs] {
            let a = f(5);
            a.validate().unwrap();
            assert_eq!((a.train.len(), a.test.len()), (TRAIN, TEST));
            assert_eq!(a, f(5));
            assert_ne!(a.train, f(6).train);
        }
    }
}
