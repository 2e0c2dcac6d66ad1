#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vaxcert::fuzzing::counter_forms(data));
