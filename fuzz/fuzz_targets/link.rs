//! libFuzzer over the lab's link (the URL fragment, `lab::link::apply`): any text applies or
//! names what it could not use, and the lab's own link of the result applies back to the same
//! state (the contract of `any_fragment_applies_or_names_what_it_could_not_use`).
#![no_main]

use sigmix::DeviceChoice;
use sigmix_app::lab::Lab;
use sigmix_app::lab::link::{apply, encode};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut lab = Lab::new(DeviceChoice::Cpu);
    if let Err(e) = apply(&mut lab, &text) {
        assert!(!e.is_empty(), "a refusal says what it refused");
    }
    let own = encode(&lab);
    let mut again = Lab::new(DeviceChoice::Cpu);
    assert_eq!(apply(&mut again, &own), Ok(()), "the lab's own link {own:?} applies");
    assert_eq!(encode(&again), own, "and gives the same state");
});
