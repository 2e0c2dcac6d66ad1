#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vaxcert::fuzzing::card_files(data));
