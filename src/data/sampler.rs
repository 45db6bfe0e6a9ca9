//! Seeded sampling without replacement: a fresh permutation every epoch, each batch the next
//! `m` entries of it. A batch that would run past the end of the permutation starts a new epoch
//! instead (the tail of the old one is skipped), so no example appears twice in a batch.

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
}
