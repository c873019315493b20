#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tlsbox_fuzz_targets::boundary::run(data));
