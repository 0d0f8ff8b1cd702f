//! libFuzzer over `sigmix_tests::inputs::sweep_rows`: any bytes are loaded or refused by name.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(broken) = sigmix_tests::inputs::sweep_rows(data) {
        panic!("{broken}");
    }
});
