//! Data sets from files a user hands over (the page's file picker, drag and drop): the format
//! is recognised from names and contents, so users need not say which file is which.
//! - CIFAR-10: `data_batch_*.bin` (training) and `test_batch.bin`.
//! - IDX (MNIST, Fashion-MNIST), raw or gzip: an images file (3 dimensions) and a labels file
//!   (1 dimension), optionally a second pair for testing; the pair whose name contains `t10k`
//!   or `test` is the test pair, else the smaller one.

use super::{cifar, idx, Dataset};
use crate::error::{CabsError, Result};

fn bad(msg: impl Into<String>) -> CabsError {
    CabsError::Data(msg.into())
}

/// Build a data set from `(file name, bytes)` pairs.
pub fn from_named_files(files: &[(String, Vec<u8>)]) -> Result<Dataset> {
    if files.is_empty() {
        return Err(bad("no files given: choose IDX files (MNIST, Fashion-MNIST) or CIFAR-10 binary batches"));
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
        let raw = idx::decompress(name, bytes)?;
        let (dims, _) = idx::parse_idx(name, &raw)?;
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
    let test = (images.len() == 2).then(|| (images[1].1, labels[1].1));
    idx::dataset(images[0].1, labels[0].1, test)
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
    fn explains_what_is_missing() {
        assert!(from_named_files(&[]).is_err());
        let lab = idx_file(&[2], &[0, 1]);
        let e = from_named_files(&[("labels".into(), lab)]).unwrap_err().to_string();
        assert!(e.contains("0 image and 1 label"), "{e}");
        let e = from_named_files(&[("data_batch_1.bin".into(), vec![0; cifar::RECORD])]).unwrap_err().to_string();
        assert!(e.contains("test_batch"), "{e}");
    }
}
