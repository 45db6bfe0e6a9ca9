//! Fuzz the MNIST bundle parser: any bytes give a data set or an error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = cabs::data::bundle::parse(data);
});
