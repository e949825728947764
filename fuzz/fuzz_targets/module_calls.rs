//! Every module's call decoder and execution, from every role: sequences of calls run in the
//! fuzz city (see `urbis_fuzz::run_calls` for what is checked).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| urbis_fuzz::run_calls(data));
