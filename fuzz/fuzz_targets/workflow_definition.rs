//! Workflow definitions (the JSON a department publishes to automate a permit): parsing and
//! validation give a verdict for anything, and a valid definition's JSON form is valid again
//! and means the same.
#![no_main]

use urbis_governance::workflow::Definition;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(d) = Definition::parse(text) {
        let json = serde_json::to_string(&d).expect("a definition has a JSON form");
        let again = Definition::parse(&json).expect("a valid definition's JSON form is valid");
        assert_eq!(again, d);
    }
});
