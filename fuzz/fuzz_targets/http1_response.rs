//! The own HTTP/1.1 response parser and chunked-body decoder: any bytes a target sends.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pylon_proxy::fuzzing::response(data));
