//! IDX files (MNIST, Fashion-MNIST, …), raw or gzip-compressed: `[0, 0, 0x08, ndims]`, then
//! `ndims` big-endian u32 sizes, then the unsigned bytes. Images must have 3 dimensions
//! (n, rows, cols), labels 1 (n). Everything is checked before anything is kept.

use super::{Dataset, Features, ImageShape, Split};
use crate::error::{CabsError, Result};
use std::io::Read;

/// Decompressed files larger than this are refused (a gzip bomb must not exhaust memory).
const MAX_BYTES: u64 = 1 << 31;

fn bad(what: &str, msg: impl Into<String>) -> CabsError {
    CabsError::Data(format!("{what}: {}", msg.into()))
}

/// The bytes of a possibly gzip-compressed file.
pub fn decompress<'a>(what: &str, bytes: &'a [u8]) -> Result<std::borrow::Cow<'a, [u8]>> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(bytes)
            .take(MAX_BYTES + 1)
            .read_to_end(&mut out)
            .map_err(|e| bad(what, format!("not a valid gzip file ({e})")))?;
        if out.len() as u64 > MAX_BYTES {
            return Err(bad(what, "decompresses to more than 2 GiB"));
        }
        Ok(std::borrow::Cow::Owned(out))
    } else {
        Ok(std::borrow::Cow::Borrowed(bytes))
    }
}

/// Write an IDX file of unsigned bytes (the inverse of [`parse_idx`]), e.g. to export a data
/// set or to make test files.
pub fn encode(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        v.extend(d.to_be_bytes());
    }
    v.extend(data);
    v
}

/// Parse one IDX file of unsigned bytes: its dimensions and its data.
pub fn parse_idx<'a>(what: &str, bytes: &'a [u8]) -> Result<(Vec<usize>, &'a [u8])> {
    if bytes.len() < 4 {
        return Err(bad(what, format!("{} bytes is too short for an IDX header", bytes.len())));
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(bad(
            what,
            format!("wrong magic number {:02x}{:02x}{:02x}{:02x}: not an IDX file", bytes[0], bytes[1], bytes[2], bytes[3]),
        ));
    }
    if bytes[2] != 0x08 {
        return Err(bad(what, format!("element type 0x{:02x} is not supported (only unsigned bytes, 0x08)", bytes[2])));
    }
    let ndims = bytes[3] as usize;
    let header = 4 + 4 * ndims;
    if ndims == 0 || bytes.len() < header {
        return Err(bad(what, format!("truncated header ({ndims} dimensions, {} bytes)", bytes.len())));
    }
    let dims: Vec<usize> =
        (0..ndims).map(|i| u32::from_be_bytes(bytes[4 + 4 * i..8 + 4 * i].try_into().unwrap_or_default()) as usize).collect();
    let count = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)).ok_or_else(|| bad(what, "sizes overflow"))?;
    let body = &bytes[header..];
    if body.len() != count {
        return Err(bad(
            what,
            format!("sizes {dims:?} need {count} data bytes, the file has {}: truncated or not matching its header", body.len()),
        ));
    }
    Ok((dims, body))
}

fn images_and_labels(images: &[u8], labels: &[u8], name: &str) -> Result<(Split, ImageShape)> {
    let img_name = format!("{name} images");
    let lab_name = format!("{name} labels");
    let images = decompress(&img_name, images)?;
    let labels = decompress(&lab_name, labels)?;
    let (idims, ibody) = parse_idx(&img_name, &images)?;
    let (ldims, lbody) = parse_idx(&lab_name, &labels)?;
    if idims.len() != 3 {
        return Err(bad(&img_name, format!("expected 3 dimensions (count, rows, cols), found {}", idims.len())));
    }
    if ldims.len() != 1 {
        return Err(bad(&lab_name, format!("expected 1 dimension (count), found {}", ldims.len())));
    }
    if idims[0] != ldims[0] {
        return Err(CabsError::Data(format!("{name}: {} images but {} labels", idims[0], ldims[0])));
    }
    if idims[0] == 0 || idims[1] == 0 || idims[2] == 0 {
        return Err(bad(&img_name, "has no images or empty images"));
    }
    let split =
        Split { features: Features::U8 { bytes: ibody.to_vec(), scale: 1.0 / 255.0 }, labels: lbody.iter().map(|&y| y as u32).collect() };
    Ok((split, ImageShape { c: 1, h: idims[1] as u32, w: idims[2] as u32 }))
}

/// A data set from IDX image and label files. Without test files, the last 1/6 of the training
/// files (rounded down) is held out as the test split.
pub fn dataset(train_images: &[u8], train_labels: &[u8], test: Option<(&[u8], &[u8])>) -> Result<Dataset> {
    let (mut train, image) = images_and_labels(train_images, train_labels, "training")?;
    let dim = image.len() as usize;
    let test = match test {
        Some((i, l)) => {
            let (t, test_image) = images_and_labels(i, l, "test")?;
            if test_image != image {
                return Err(CabsError::Data(format!(
                    "test images are {}×{}, training images {}×{}",
                    test_image.h, test_image.w, image.h, image.w
                )));
            }
            t
        }
        None => {
            let n = train.len();
            let keep = n - n / 6;
            let Features::U8 { bytes, scale } = &mut train.features else { unreachable!("IDX data are bytes") };
            Split { features: Features::U8 { bytes: bytes.split_off(keep * dim), scale: *scale }, labels: train.labels.split_off(keep) }
        }
    };
    let classes = train.labels.iter().chain(&test.labels).max().map_or(2, |&m| (m + 1).max(2));
    let ds = Dataset { name: "idx".into(), dim: dim as u32, image: Some(image), classes, train, test };
    ds.validate()?;
    Ok(ds)
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::encode as idx;

    fn gzip(b: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(b).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn reads_raw_and_gzip_files_and_holds_out_a_test_split() {
        let images = idx(&[6, 2, 2], &(0..24).collect::<Vec<u8>>());
        let labels = idx(&[6], &[0, 1, 2, 1, 0, 9]);
        let a = dataset(&images, &labels, None).unwrap();
        let b = dataset(&gzip(&images), &gzip(&labels), None).unwrap();
        assert_eq!(a, b);
        assert_eq!((a.train.len(), a.test.len(), a.dim, a.classes), (5, 1, 4, 10));
        assert_eq!(a.test.labels, vec![9]);
        let c = dataset(&images, &labels, Some((&images, &labels))).unwrap();
        assert_eq!((c.train.len(), c.test.len()), (6, 6));
    }

    #[test]
    fn rejects_broken_files_with_a_reason() {
        let images = idx(&[2, 2, 2], &[1; 8]);
        let labels = idx(&[2], &[0, 1]);
        let cases: Vec<(&str, Vec<u8>, Vec<u8>, &str)> = vec![
            ("magic", vec![1, 0, 8, 3, 0, 0, 0, 2], labels.clone(), "magic"),
            (
                "type",
                idx(&[2, 2, 2], &[1; 8]).iter().enumerate().map(|(i, &b)| if i == 2 { 0x0d } else { b }).collect(),
                labels.clone(),
                "element type",
            ),
            ("truncated", images[..images.len() - 1].to_vec(), labels.clone(), "truncated"),
            ("short", vec![0, 0], labels.clone(), "too short"),
            ("count", images.clone(), idx(&[3], &[0, 1, 2]), "2 images but 3 labels"),
            ("dims", idx(&[8], &[1; 8]), labels.clone(), "3 dimensions"),
            ("gzip", vec![0x1f, 0x8b, 1, 2, 3], labels.clone(), "gzip"),
        ];
        for (what, i, l, needle) in cases {
            let e = dataset(&i, &l, None).unwrap_err().to_string();
            assert!(e.contains(needle), "{what}: {e}");
        }
    }
}
