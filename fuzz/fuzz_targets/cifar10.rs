//! Fuzz the CIFAR-10 batch parser: the input is one training batch and one test batch.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let half = data.len() / 2;
    let _ = cabs::data::cifar::dataset(&[("train", &data[..half])], ("test", &data[half..]));
});
