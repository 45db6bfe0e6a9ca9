//! IDX files (MNIST, Fashion-MNIST, …), raw or gzip-compressed: `[0, 0, 0x08, ndims]`, then
//! `ndims` big-endian u32 sizes, then the unsigned bytes. Images must have 3 dimensions
//! (n, rows, cols), labels 1 (n). Everything is checked before anything is kept.
//! Natively gzip is inflated here (flate2); in the browser the browser's own inflater does it
//! before the engine sees the file (`inflated_idx` in src/wasm.rs, with [`header_len`],
//! [`read_header`] and [`check_inflated`]: the same checks and words), so the wasm carries no
//! inflater of its own.

use super::{Dataset, Features, ImageShape, Split};
use crate::error::{CabsError, Result};
use std::io::Read;

/// IDX files larger than this (decompressed, as their header declares) are refused: a gzip bomb
/// or a corrupt header must not exhaust memory.
pub const MAX_BYTES: u64 = 1 << 31;

fn bad(what: &str, msg: impl Into<String>) -> CabsError {
    CabsError::Data(format!("{what}: {}", msg.into()))
}

fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// The length of the IDX header that starts with `first` (at least its first 4 bytes).
pub fn header_len(what: &str, first: &[u8]) -> Result<usize> {
    if first.len() < 4 {
        return Err(bad(what, "too short for an IDX header"));
    }
    check_magic(what, first)?;
    Ok(4 + 4 * first[3] as usize)
}

/// The check after inflating a file whose header declared `total` bytes: exactly that many
/// came out (`got` counts at most one byte more than `total`).
pub fn check_inflated(what: &str, got: usize, total: usize) -> Result<()> {
    if got < total {
        return Err(bad(what, format!("decompresses to {got} bytes, its header declares {total}: truncated")));
    }
    if got > total {
        return Err(bad(what, format!("decompresses to more than the {total} bytes its header declares: corrupt")));
    }
    Ok(())
}

/// Read an IDX header from `r`: its bytes, its dimensions and the size of the body it declares.
/// The size is checked against [`MAX_BYTES`] here, before anything of that size is allocated.
pub fn read_header(what: &str, r: &mut impl Read) -> Result<(Vec<u8>, Vec<usize>, usize)> {
    let io = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => bad(what, "too short for an IDX header"),
        _ => bad(what, format!("cannot be read ({e})")),
    };
    let mut head = vec![0u8; 4];
    r.read_exact(&mut head).map_err(io)?;
    check_magic(what, &head)?;
    head.resize(4 + 4 * head[3] as usize, 0);
    r.read_exact(&mut head[4..]).map_err(io)?;
    let dims: Vec<usize> = head[4..].chunks_exact(4).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize).collect();
    let count = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    match count {
        Some(n) if (n as u64).saturating_add(head.len() as u64) <= MAX_BYTES => Ok((head, dims, n)),
        _ => Err(bad(
            what,
            format!(
                "its header declares sizes {dims:?}, more than the {} GiB an IDX file may hold here: too large, or a corrupt header",
                MAX_BYTES >> 30
            ),
        )),
    }
}

fn check_magic(what: &str, b: &[u8]) -> Result<()> {
    if b[0] != 0 || b[1] != 0 {
        return Err(bad(what, format!("wrong magic number {:02x}{:02x}{:02x}{:02x}: not an IDX file", b[0], b[1], b[2], b[3])));
    }
    if b[2] != 0x08 {
        return Err(bad(what, format!("element type 0x{:02x} is not supported (only unsigned bytes, 0x08)", b[2])));
    }
    if b[3] == 0 {
        return Err(bad(what, "an IDX header with 0 dimensions holds no data"));
    }
    Ok(())
}

/// A header that could not be read from a gzip stream: the stream is broken (or holds almost
/// nothing); a header that was read but is wrong keeps its own message.
pub fn gzip_error(what: &str, e: CabsError) -> CabsError {
    match e {
        CabsError::Data(m) if m.ends_with("too short for an IDX header") || m.contains("cannot be read") => bad(
            what,
            format!("not a valid gzip file, or too short for an IDX header ({})", m.trim_start_matches(what).trim_start_matches(": ")),
        ),
        e => e,
    }
}

/// The dimensions an IDX file (raw or gzip) declares, reading only its header.
pub fn peek_dims(what: &str, bytes: &[u8]) -> Result<Vec<usize>> {
    if is_gzip(bytes) {
        return read_header(what, &mut gzip_reader(what, bytes)?).map(|(_, dims, _)| dims).map_err(|e| gzip_error(what, e));
    }
    read_header(what, &mut &bytes[..]).map(|(_, dims, _)| dims)
}

/// An inflating reader over gzip bytes (natively; see the module header for the browser).
#[cfg(not(target_arch = "wasm32"))]
fn gzip_reader<'a>(_what: &str, bytes: &'a [u8]) -> Result<flate2::read::MultiGzDecoder<&'a [u8]>> {
    Ok(flate2::read::MultiGzDecoder::new(bytes))
}

#[cfg(target_arch = "wasm32")]
fn gzip_reader<'a>(what: &str, _bytes: &'a [u8]) -> Result<&'a [u8]> {
    Err(bad(what, "gzip data reached the engine: in the browser, Trainer.createWithFiles inflates gzip files before reading them"))
}

/// The bytes of a possibly gzip-compressed IDX file. A gzip file is inflated to exactly the
/// size its IDX header declares (checked first), so a gzip bomb costs nothing and a file that
/// is too large for the memory left says so.
pub fn decompress<'a>(what: &str, bytes: &'a [u8]) -> Result<std::borrow::Cow<'a, [u8]>> {
    if !is_gzip(bytes) {
        return Ok(std::borrow::Cow::Borrowed(bytes));
    }
    let gz = |e: std::io::Error| bad(what, format!("not a valid gzip file ({e})"));
    let mut dec = gzip_reader(what, bytes)?;
    let (head, _, body) = read_header(what, &mut dec).map_err(|e| gzip_error(what, e))?;
    let total = head.len() + body;
    let mut out = super::try_with_capacity::<u8>(&format!("{what} (decompressed, as its header declares)"), total)?;
    out.extend_from_slice(&head);
    (&mut dec).take(body as u64).read_to_end(&mut out).map_err(gz)?;
    let more = if out.len() < total { 0 } else { dec.read(&mut [0u8; 1]).map_err(gz)? };
    check_inflated(what, out.len() + more, total)?;
    Ok(std::borrow::Cow::Owned(out))
}

/// Read an IDX file (raw or gzip) from disk, never more than its header declares: a device
/// such as `/dev/zero`, or a file far longer than its header, is refused without reading it all.
#[cfg(not(target_arch = "wasm32"))]
pub fn read_path(path: &std::path::Path) -> Result<Vec<u8>> {
    let what = path.display().to_string();
    let mut f = std::fs::File::open(path).map_err(|e| CabsError::Io(format!("cannot read {what}: {e}")))?;
    let mut magic = [0u8; 2];
    let n = f.read(&mut magic).map_err(|e| CabsError::Io(format!("cannot read {what}: {e}")))?;
    let mut r = std::io::Read::chain(&magic[..n], f);
    if is_gzip(&magic[..n]) {
        // Compressed data are smaller than what they inflate to, so the same cap applies.
        let mut out = Vec::new();
        r.take(MAX_BYTES + 1).read_to_end(&mut out).map_err(|e| CabsError::Io(format!("cannot read {what}: {e}")))?;
        if out.len() as u64 > MAX_BYTES {
            return Err(bad(&what, format!("larger than {} GiB", MAX_BYTES >> 30)));
        }
        return Ok(out);
    }
    let (mut out, _, body) = read_header(&what, &mut r)?;
    let total = out.len() + body;
    out.try_reserve_exact(body).map_err(|_| bad(&what, format!("{} MB do not fit in the memory left", total >> 20)))?;
    (&mut r).take(body as u64).read_to_end(&mut out).map_err(|e| CabsError::Io(format!("cannot read {what}: {e}")))?;
    if out.len() < total {
        return Err(bad(&what, format!("has {} bytes, its header declares {total}: truncated", out.len())));
    }
    if r.read(&mut [0u8; 1]).map_err(|e| CabsError::Io(format!("cannot read {what}: {e}")))? > 0 {
        return Err(bad(&what, format!("is longer than the {total} bytes its header declares: not an IDX file, or corrupt")));
    }
    Ok(out)
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
    check_magic(what, bytes)?;
    let ndims = bytes[3] as usize;
    let header = 4 + 4 * ndims;
    if bytes.len() < header {
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

fn names<'a>(f: &[(&'a str, &[u8]); 2]) -> Option<(&'a str, &'a str)> {
    (!f[0].0.is_empty()).then_some((f[0].0, f[1].0))
}

/// One split from its two files; `files` names them in messages (default: "training images" …).
fn images_and_labels(images: &[u8], labels: &[u8], name: &str, files: Option<(&str, &str)>) -> Result<(Split, ImageShape)> {
    let (img_name, lab_name) = match files {
        Some((i, l)) => (i.to_string(), l.to_string()),
        None => (format!("{name} images"), format!("{name} labels")),
    };
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
    let mut y = super::try_with_capacity(&lab_name, lbody.len())?;
    y.extend(lbody.iter().map(|&y| y as u32));
    let shape = ImageShape { c: 1, h: idims[1] as u32, w: idims[2] as u32 };
    let header = images.len() - ibody.len();
    // An inflated file becomes the pixels in place (one copy of a large set in memory, not two).
    let pixels = match images {
        std::borrow::Cow::Owned(mut v) => {
            v.drain(..header);
            v
        }
        std::borrow::Cow::Borrowed(b) => super::try_copy(&img_name, &b[header..])?,
    };
    Ok((Split { features: Features::U8 { bytes: pixels, scale: 1.0 / 255.0 }, labels: y }, shape))
}

/// A data set from IDX image and label files. Without test files, the last 1/6 of the training
/// files (rounded down) is held out as the test split.
pub fn dataset(train_images: &[u8], train_labels: &[u8], test: Option<(&[u8], &[u8])>) -> Result<Dataset> {
    dataset_named([("", train_images), ("", train_labels)], test.map(|(i, l)| [("", i), ("", l)]))
}

/// Like [`dataset`], with each file's name for messages (an empty name: "training images" …).
pub fn dataset_named(train: [(&str, &[u8]); 2], test: Option<[(&str, &[u8]); 2]>) -> Result<Dataset> {
    let (mut train, image) = images_and_labels(train[0].1, train[1].1, "training", names(&train))?;
    let dim = image.len() as usize;
    let test = match test {
        Some(files) => {
            let (t, test_image) = images_and_labels(files[0].1, files[1].1, "test", names(&files))?;
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
    let classes = dense_classes(&train.labels, &test.labels)?;
    let ds = Dataset { name: "idx".into(), dim: dim as u32, image: Some(image), classes, train, test };
    ds.validate()?;
    Ok(ds)
}

/// The class count of IDX labels, which must be dense: every class from 1 to the largest label
/// has an example (class 0 may be unused, as in 1-based files such as EMNIST letters). A stray
/// label such as 255 in a 10-class file is corruption, not a 256-class problem, so it is refused.
fn dense_classes(train: &[u32], test: &[u32]) -> Result<u32> {
    let mut seen = [false; 256];
    for &y in train.iter().chain(test) {
        seen[y.min(255) as usize] = true;
    }
    let top = seen.iter().rposition(|&s| s).unwrap_or(0);
    let missing: Vec<usize> = (1..top).filter(|&c| !seen[c]).collect();
    if let (Some(first), Some(last)) = (missing.first(), missing.last()) {
        let (split, at) = match train.iter().position(|&y| y as usize == top) {
            Some(i) => ("training", i),
            None => ("test", test.iter().position(|&y| y as usize == top).unwrap_or(0)),
        };
        let gap = if first == last { format!("class {first} has") } else { format!("{} classes ({first}…{last}) have", missing.len()) };
        return Err(CabsError::Data(format!(
            "the labels are not dense: {split} label {at} is {top}, but {gap} no example; labels must be 0…K−1 \
             (or 1…K) with every class present — a label file that does not belong to these images, or a corrupt one"
        )));
    }
    Ok((top as u32 + 1).max(2))
}

#[cfg(all(test, not(target_arch = "wasm32")))] // gzip test files come from flate2, a native dependency
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
        let labels = idx(&[6], &[0, 1, 2, 1, 0, 3]);
        let a = dataset(&images, &labels, None).unwrap();
        let b = dataset(&gzip(&images), &gzip(&labels), None).unwrap();
        assert_eq!(a, b);
        assert_eq!((a.train.len(), a.test.len(), a.dim, a.classes), (5, 1, 4, 4));
        assert_eq!(a.test.labels, vec![3]);
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

    #[test]
    fn sparse_labels_are_refused_and_one_based_labels_kept() {
        let images = idx(&[12, 1, 1], &[0; 12]);
        let mut y = vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1];
        y[3] = 255;
        let e = dataset(&images, &idx(&[12], &y), None).unwrap_err().to_string();
        assert!(e.contains("not dense") && e.contains("label 3 is 255"), "{e}");
        // 1-based labels (EMNIST letters): class 0 unused is fine.
        let ds = dataset(&images, &idx(&[12], &[1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3]), None).unwrap();
        assert_eq!(ds.classes, 4);
    }

    #[test]
    fn gzip_files_inflate_to_their_declared_size_only() {
        // A header declaring 2 GiB + 1 of data is refused before inflating anything.
        let huge = gzip(&idx(&[1 << 31, 1, 1], &[]));
        let e = decompress("big", &huge).unwrap_err().to_string();
        assert!(e.contains("too large"), "{e}");
        assert!(peek_dims("big", &huge).unwrap_err().to_string().contains("too large"));
        // More data than the header declares, and less.
        let mut long = idx(&[2, 1, 1], &[1, 2]);
        long.push(3);
        assert!(decompress("long", &gzip(&long)).unwrap_err().to_string().contains("more than the 18 bytes"));
        let short = idx(&[3, 1, 1], &[1, 2]);
        assert!(decompress("short", &gzip(&short)).unwrap_err().to_string().contains("truncated"));
        let ok = idx(&[2, 1, 1], &[1, 2]);
        assert_eq!(decompress("ok", &gzip(&ok)).unwrap().as_ref(), &ok[..]);
        assert_eq!(peek_dims("ok", &gzip(&ok)).unwrap(), vec![2, 1, 1]);
    }
}
