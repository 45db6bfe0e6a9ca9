//! CIFAR-10 binary batches: records of 1 label byte and 3,072 pixel bytes (1,024 red, then
//! green, then blue, each 32×32 row-major), 10,000 records per file. Features keep that
//! channel-major (CHW) order. Every file is checked before anything is kept.

use super::{Dataset, Features, ImageShape, Split};
use crate::error::{CabsError, Result};

pub const RECORD: usize = 1 + 3 * 32 * 32;
pub const TRAIN_FILES: [&str; 5] = ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"];
pub const TEST_FILE: &str = "test_batch.bin";

/// Append the records of one batch file to a split.
fn read_batch(name: &str, bytes: &[u8], px: &mut Vec<u8>, labels: &mut Vec<u32>) -> Result<()> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(RECORD) {
        return Err(CabsError::Data(format!(
            "{name}: {} bytes is not a whole number of {RECORD}-byte CIFAR-10 records (truncated, or not a CIFAR-10 binary batch)",
            bytes.len()
        )));
    }
    for (i, rec) in bytes.chunks_exact(RECORD).enumerate() {
        if rec[0] > 9 {
            return Err(CabsError::Data(format!("{name}: record {i} has label {}, CIFAR-10 labels are 0…9", rec[0])));
        }
    }
    for rec in bytes.chunks_exact(RECORD) {
        labels.push(rec[0] as u32);
        px.extend_from_slice(&rec[1..]);
    }
    Ok(())
}

/// A data set from named training batches and one test batch (name, bytes).
pub fn dataset(train: &[(&str, &[u8])], test: (&str, &[u8])) -> Result<Dataset> {
    if train.is_empty() {
        return Err(CabsError::Data("CIFAR-10: no training batch given".into()));
    }
    let n: usize = train.iter().map(|(_, b)| b.len() / RECORD).sum();
    let (mut px, mut y) =
        (super::try_with_capacity("CIFAR-10 training images", n * (RECORD - 1))?, super::try_with_capacity("CIFAR-10 training labels", n)?);
    for (name, bytes) in train {
        read_batch(name, bytes, &mut px, &mut y)?;
    }
    let n = test.1.len() / RECORD;
    let (mut tpx, mut ty) =
        (super::try_with_capacity("CIFAR-10 test images", n * (RECORD - 1))?, super::try_with_capacity("CIFAR-10 test labels", n)?);
    read_batch(test.0, test.1, &mut tpx, &mut ty)?;
    let split = |bytes, labels| Split { features: Features::U8 { bytes, scale: 1.0 / 255.0 }, labels };
    let ds = Dataset {
        name: "cifar10".into(),
        dim: (RECORD - 1) as u32,
        image: Some(ImageShape { c: 3, h: 32, w: 32 }),
        classes: 10,
        train: split(px, y),
        test: split(tpx, ty),
    };
    ds.validate()?;
    Ok(ds)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(labels: &[u8]) -> Vec<u8> {
        labels.iter().flat_map(|&l| std::iter::once(l).chain((0..RECORD - 1).map(|i| i as u8))).collect()
    }

    #[test]
    fn reads_batches() {
        let a = records(&[3, 9]);
        let t = records(&[0]);
        let ds = dataset(&[("a", &a), ("b", &a)], ("t", &t)).unwrap();
        assert_eq!((ds.train.len(), ds.test.len(), ds.dim), (4, 1, 3072));
        assert_eq!(ds.train.labels, vec![3, 9, 3, 9]);
        assert_eq!(ds.train.feature(3072, 1, 1024), (1024 % 256) as f32 / 255.0);
    }

    #[test]
    fn rejects_broken_batches() {
        let good = records(&[1]);
        let truncated = &good[..good.len() - 1];
        let bad_label = records(&[10]);
        assert!(dataset(&[("a", truncated)], ("t", &good)).unwrap_err().to_string().contains("whole number"));
        assert!(dataset(&[("a", &bad_label)], ("t", &good)).unwrap_err().to_string().contains("label 10"));
        assert!(dataset(&[("a", &good)], ("t", &[])).is_err());
        assert!(dataset(&[], ("t", &good)).is_err());
    }
}
