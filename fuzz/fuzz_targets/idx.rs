//! Fuzz the IDX parser (raw and gzip): the input is split into an image file and a label file.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    let cut = (data[0] as usize * data.len() / 256).min(data.len() - 1) + 1;
    let (images, labels) = data[1..].split_at((cut - 1).min(data.len() - 1));
    let _ = cabs::data::idx::dataset(images, labels, None);
    let _ = cabs::data::idx::dataset(images, labels, Some((images, labels)));
});
