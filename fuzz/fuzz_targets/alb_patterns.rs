//! ALB condition patterns (`*`, `?`): any pattern against any text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pylon_proxy::fuzzing::pattern(data));
