//! Seeded sampling without replacement: a fresh permutation every epoch, each batch the next
//! `m` entries of it. A batch that would run past the end of the permutation starts a new epoch
//! instead (the tail of the old one is skipped), so no example appears twice in a batch.

use crate::error::{CabsError, Result};
use crate::rng::Rng;

pub struct EpochSampler {
    rng: Rng,
    n: usize,
    perm: Vec<u32>,
    pos: usize,
    epoch: u64,
}

/// Where the next batch lies in the current permutation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchSlot {
    pub offset: u32,
    pub m: u32,
    /// A new permutation was drawn for this batch (it must be uploaded before use).
    pub new_epoch: bool,
}

/// Everything an [`EpochSampler`] will draw from: restoring it continues the same data order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SamplerState {
    /// The generator after the current permutation was drawn.
    pub rng: u64,
    /// The current epoch's permutation (empty before the first batch).
    pub perm: Vec<u32>,
    /// Where the next batch starts in `perm`; None before the first batch.
    pub pos: Option<u64>,
    pub epoch: u64,
}

impl EpochSampler {
    pub fn new(n: usize, seed: u64) -> Self {
        EpochSampler { rng: Rng::derive(seed, 2), n, perm: Vec::new(), pos: usize::MAX, epoch: 0 }
    }

    /// The next batch of `m ≤ n` examples.
    pub fn next_batch(&mut self, m: u32) -> BatchSlot {
        let m_us = m as usize;
        debug_assert!(m_us <= self.n);
        let mut new_epoch = false;
        if self.pos == usize::MAX || self.pos + m_us > self.n {
            self.perm = self.rng.permutation(self.n);
            self.pos = 0;
            self.epoch += 1;
            new_epoch = true;
        }
        let slot = BatchSlot { offset: self.pos as u32, m, new_epoch };
        self.pos += m_us;
        slot
    }

    pub fn state(&self) -> SamplerState {
        let pos = (self.pos != usize::MAX).then_some(self.pos as u64);
        SamplerState { rng: self.rng.state(), perm: self.perm.clone(), pos, epoch: self.epoch }
    }

    /// A sampler over `n` examples that continues from `s`; refuses a state that does not fit
    /// `n` (the kernels index the data set with the permutation unchecked).
    pub fn from_state(n: usize, s: &SamplerState) -> Result<Self> {
        let bad = |why: String| Err(CabsError::Config(format!("the run state's data order does not fit {n} training examples: {why}")));
        match s.pos {
            None if !s.perm.is_empty() || s.epoch != 0 => return bad("no batch drawn, yet a permutation or an epoch is set".into()),
            None => {}
            Some(_) if s.perm.len() != n => return bad(format!("its permutation has {} entries", s.perm.len())),
            Some(p) if p > n as u64 => return bad(format!("its position {p} lies past the end")),
            Some(_) => {
                let mut seen = vec![false; n];
                for &i in &s.perm {
                    if i as usize >= n || std::mem::replace(&mut seen[i as usize], true) {
                        return bad(format!("its permutation repeats or exceeds index {i}"));
                    }
                }
            }
        }
        let pos = s.pos.map_or(usize::MAX, |p| p as usize);
        Ok(EpochSampler { rng: Rng::new(s.rng), n, perm: s.perm.clone(), pos, epoch: s.epoch })
    }

    pub fn permutation(&self) -> &[u32] {
        &self.perm
    }

    /// The example indices of a batch slot.
    pub fn indices(&self, slot: BatchSlot) -> &[u32] {
        &self.perm[slot.offset as usize..(slot.offset + slot.m) as usize]
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_cover_an_epoch_without_repeats() {
        let mut s = EpochSampler::new(100, 1);
        let mut seen = vec![0; 100];
        let first = s.next_batch(30);
        assert!(first.new_epoch);
        for &i in s.indices(first) {
            seen[i as usize] += 1;
        }
        for _ in 0..2 {
            let b = s.next_batch(30);
            assert!(!b.new_epoch);
            for &i in s.indices(b) {
                seen[i as usize] += 1;
            }
        }
        assert!(seen.iter().all(|&c| c <= 1));
        assert!(s.next_batch(30).new_epoch, "90 + 30 > 100 starts a new epoch");
        assert_eq!(s.epoch(), 2);
    }

    #[test]
    fn a_restored_sampler_draws_the_same_batches() {
        let mut a = EpochSampler::new(50, 3);
        assert!(EpochSampler::from_state(50, &a.state()).is_ok(), "before the first batch");
        for _ in 0..4 {
            a.next_batch(16);
        }
        let mut b = EpochSampler::from_state(50, &a.state()).unwrap();
        for _ in 0..10 {
            let (x, y) = (a.next_batch(16), b.next_batch(16));
            assert_eq!((x, a.indices(x), a.epoch()), (y, b.indices(y), b.epoch()));
        }
        let mut bad = a.state();
        bad.perm[0] = bad.perm[1];
        assert!(EpochSampler::from_state(50, &bad).is_err(), "a repeated index");
        assert!(EpochSampler::from_state(51, &a.state()).is_err(), "another data set size");
    }
}
