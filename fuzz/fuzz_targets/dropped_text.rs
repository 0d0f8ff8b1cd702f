//! libFuzzer over `sigmix_tests::inputs::dropped_text`: where a NUL comes within the first 65
//! bytes, the bytes before it are the file's name and the rest its contents; otherwise the
//! whole input is the contents of `notes.txt`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let (name, bytes) = match data.iter().take(65).position(|&b| b == 0) {
        Some(cut) => (String::from_utf8_lossy(&data[..cut]).into_owned(), &data[cut + 1..]),
        None => ("notes.txt".to_string(), data),
    };
    if let Err(broken) = sigmix_tests::inputs::dropped_text(&name, bytes) {
        panic!("{broken}");
    }
});
