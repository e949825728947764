//! The election record parser and verifier: any document gets a report, never a panic.
#![no_main]

use urbis_votecrypto::{ElectionRecord, verify_record_with_threads};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(record) = ElectionRecord::from_json(text) {
        let report = verify_record_with_threads(&record, 1);
        assert!(report.is_ok() || !report.checks.is_empty() || report.first_failure.is_some());
        let again = record.to_json().expect("a parsed record has a JSON form");
        assert_eq!(ElectionRecord::from_json(&again).ok(), Some(record));
    }
});
