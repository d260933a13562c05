//! The own HTTP/1.1 request parser, with the checks every request gets: any bytes a client sends.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pylon_proxy::fuzzing::requests(data));
