//! A structured event built through the public API (all sixteen kinds and
//! unknown ones, every kind of string, float and number, nested metadata,
//! extra keys), written in both formats and read back: see
//! `check_both_formats` for the promises checked.
#![no_main]

use agent_audit::json::LineParser;
use agent_audit_fuzz::{check_both_formats, event};
use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let mut parser = LineParser::new();
    // Several events per input: the parser's buffers carry over.
    for _ in 0..4 {
        let Ok(ev) = event(&mut u) else { return };
        check_both_formats(&ev, &mut parser);
        if u.is_empty() {
            return;
        }
    }
});
