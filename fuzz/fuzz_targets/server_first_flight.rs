#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tlsbox_fuzz_targets::peer_bytes::server_first_flight(data));
