//! Data sets from files a user hands over (the page's file picker, drag and drop): the format
//! is recognised from names and contents, so users need not say which file is which.
//! - CIFAR-10: `data_batch_*.bin` (training) and `test_batch.bin`.
//! - IDX (MNIST, Fashion-MNIST), raw or gzip: an images file (3 dimensions) and a labels file
//!   (1 dimension), optionally a second pair for testing; the pair whose name contains `t10k`
//!   or `test` is the test pair, else the smaller one.

use super::{cifar, idx, Dataset};
use crate::error::{CabsError, Result};

/// More files than any supported data set has (CIFAR-10: 6) are refused before reading them.
pub const MAX_FILES: usize = 16;

fn bad(msg: impl Into<String>) -> CabsError {
    CabsError::Data(msg.into())
}

/// Build a data set from `(file name, bytes)` pairs.
pub fn from_named_files(files: &[(String, Vec<u8>)]) -> Result<Dataset> {
    if files.is_empty() {
        return Err(bad("no files given: choose IDX files (MNIST, Fashion-MNIST) or CIFAR-10 binary batches"));
    }
    if files.len() > MAX_FILES {
        return Err(bad(format!("{} files given: a data set is at most {MAX_FILES} files (IDX: 2 or 4, CIFAR-10: up to 6)", files.len())));
    }
    let base = |n: &str| n.rsplit(['/', '\\']).next().unwrap_or(n).to_ascii_lowercase();
    if files.iter().any(|(n, _)| base(n).starts_with("data_batch") || base(n).starts_with("test_batch")) {
        let train: Vec<(&str, &[u8])> =
            files.iter().filter(|(n, _)| base(n).starts_with("data_batch")).map(|(n, b)| (n.as_str(), b.as_slice())).collect();
        let test =
            files.iter().find(|(n, _)| base(n).starts_with("test_batch")).ok_or_else(|| bad("CIFAR-10: test_batch.bin is missing"))?;
        return cifar::dataset(&train, (test.0.as_str(), &test.1));
    }
    // IDX: sort files into images and labels by their number of dimensions.
    let mut images = Vec::new();
    let mut labels = Vec::new();
    for (name, bytes) in files {
        let dims = idx::peek_dims(name, bytes)?; // the header only: files are inflated once, later
        let entry = (name.as_str(), bytes.as_slice(), dims[0], base(name).contains("t10k") || base(name).contains("test"));
        match dims.len() {
            3 => images.push(entry),
            1 => labels.push(entry),
            d => return Err(bad(format!("{name}: {d} dimensions is neither an image file (3) nor a label file (1)"))),
        }
    }
    if images.len() != labels.len() || images.is_empty() || images.len() > 2 {
        return Err(bad(format!(
            "need one or two pairs of IDX image and label files, got {} image and {} label files",
            images.len(),
            labels.len()
        )));
    }
    // Test files are named so, or else are the smaller pair.
    let order = |v: &mut Vec<(&str, &[u8], usize, bool)>| v.sort_by_key(|e| (e.3, std::cmp::Reverse(e.2)));
    order(&mut images);
    order(&mut labels);
    let pair = |i: usize| [(images[i].0, images[i].1), (labels[i].0, labels[i].1)];
    idx::dataset_named(pair(0), (images.len() == 2).then(|| pair(1)))
}

/// Files that are neither IDX nor a bundle (CIFAR-10 batches) are read up to this size: all of
/// CIFAR-10 in one file. Enough for any real batch, and `/dev/zero` is refused quickly.
#[cfg(not(target_arch = "wasm32"))]
pub const MAX_OTHER_BYTES: u64 = 60_000 * cifar::RECORD as u64;

/// Read an input file from disk without ever reading more than it can hold: IDX files (raw or
/// gzip) and the MNIST bundle up to the size their header declares, anything else (CIFAR-10
/// batches) up to [`MAX_OTHER_BYTES`].
#[cfg(not(target_arch = "wasm32"))]
pub fn read_path(path: &std::path::Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let io = |e: std::io::Error| CabsError::Io(format!("cannot read {}: {e}", path.display()));
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut head = Vec::with_capacity(12);
    (&mut f).take(12).read_to_end(&mut head).map_err(io)?;
    if head.starts_with(&[0x1f, 0x8b]) || head.starts_with(&[0, 0, 8]) {
        return idx::read_path(path);
    }
    if head.as_slice() == &super::bundle::MAGIC[..] {
        return super::bundle::read_path(path);
    }
    let mut out = head;
    f.take(MAX_OTHER_BYTES + 1 - out.len() as u64).read_to_end(&mut out).map_err(io)?;
    if out.len() as u64 > MAX_OTHER_BYTES {
        return Err(bad(format!(
            "{}: more than {} MB, larger than a CIFAR-10 batch and not an IDX file or MNIST bundle",
            path.display(),
            MAX_OTHER_BYTES >> 20
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::data::idx::encode as idx_file;

    #[test]
    fn recognises_idx_pairs_in_any_order() {
        let train_img = idx_file(&[4, 2, 2], &[7; 16]);
        let train_lab = idx_file(&[4], &[0, 1, 2, 3]);
        let test_img = idx_file(&[2, 2, 2], &[9; 8]);
        let test_lab = idx_file(&[2], &[3, 3]);
        let files = vec![
            ("t10k-labels-idx1-ubyte".to_string(), test_lab),
            ("train-images-idx3-ubyte".to_string(), train_img.clone()),
            ("t10k-images-idx3-ubyte".to_string(), test_img),
            ("train-labels-idx1-ubyte".to_string(), train_lab.clone()),
        ];
        let ds = from_named_files(&files).unwrap();
        assert_eq!((ds.train.len(), ds.test.len()), (4, 2));
        assert_eq!(ds.test.labels, vec![3, 3]);
        let pair = vec![("a".to_string(), train_lab), ("b".to_string(), train_img)];
        // One pair only: the last 1/6 (here ⌊4/6⌋ = 0) is held out.
        assert_eq!(from_named_files(&pair).unwrap().train.len(), 4);
    }

    #[test]
    #[cfg(not(target_arch = "wasm32"))]
    fn reads_files_no_longer_than_their_header_says() {
        let dir = std::env::temp_dir().join(format!("cabs-read-path-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, b: &[u8]| {
            let p = dir.join(name);
            std::fs::write(&p, b).unwrap();
            p
        };
        let img = idx_file(&[2, 2, 2], &[5; 8]);
        assert_eq!(read_path(&write("ok", &img)).unwrap(), img);
        let mut long = img.clone();
        long.push(0);
        assert!(read_path(&write("long", &long)).unwrap_err().to_string().contains("longer than"));
        assert!(read_path(&write("short", &img[..18])).unwrap_err().to_string().contains("truncated"));
        assert!(read_path(&write("header", &img[..10])).unwrap_err().to_string().contains("too short"));
        // A header declaring 4 GiB is refused before reading the body.
        let huge = idx_file(&[65536, 256, 256], &[]);
        assert!(read_path(&write("huge", &huge)).unwrap_err().to_string().contains("GiB"));
        if std::path::Path::new("/dev/zero").exists() {
            let e = read_path(std::path::Path::new("/dev/zero")).unwrap_err().to_string();
            assert!(e.contains("more than") && e.contains("MB"), "{e}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn explains_what_is_missing() {
        assert!(from_named_files(&[]).is_err());
        let lab = idx_file(&[2], &[0, 1]);
        let e = from_named_files(&[("labels".into(), lab)]).unwrap_err().to_string();
        assert!(e.contains("0 image and 1 label"), "{e}");
        let e = from_named_files(&[("data_batch_1.bin".into(), vec![0; cifar::RECORD])]).unwrap_err().to_string();
        assert!(e.contains("test_batch"), "{e}");
    }
}
