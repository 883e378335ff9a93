//! Arbitrary bytes as one log line.
//!
//! * `LineParser::parse` and `parse_object` never panic, on a fresh parser
//!   and on one whose buffers hold the previous input's state, and both
//!   give the same answer as a fresh parser;
//! * an object serde_json accepts, the parser accepts too (it reads a
//!   superset: Python's `NaN`/`Infinity` and integers of any size), and
//!   reads the same keys, order and values (floats to the bit);
//! * the fast path agrees with the full parser: `parse` (fast path first)
//!   and `parse_slow` (simd-json and the fallback only) give the same
//!   result, error or event, and the same event writes the same bytes;
//! * an event that parses survives both writers: written in python it reads
//!   back equal and writes back byte for byte (see `check_both_formats`).
#![no_main]

use std::cell::RefCell;

use agent_audit::json::{self, LineParser};
use agent_audit::Value;
use agent_audit_fuzz::{check_both_formats, same_as_serde};
use libfuzzer_sys::fuzz_target;

thread_local! {
    /// Reused across inputs, as a reader reuses it across lines.
    static PARSER: RefCell<LineParser> = RefCell::new(LineParser::new());
}

fuzz_target!(|data: &[u8]| {
    PARSER.with(|p| {
        let mut parser = p.borrow_mut();
        let object = parser.parse_object(data);
        let parsed = parser.parse(data);

        // The reused parser agrees with a fresh one.
        let fresh = json::parse_line(data);
        assert_eq!(parsed, fresh, "reused and fresh parsers differ");
        assert_eq!(
            object,
            LineParser::new().parse_object(data),
            "parse_object: reused and fresh parsers differ"
        );

        // The fast path takes only lines the full parser reads the same.
        let slow = parser.parse_slow(data);
        assert_eq!(parsed, slow, "the fast path and the full parser differ");
        if let (Ok(a), Ok(b)) = (&parsed, &slow) {
            for format in [json::Format::Compact, json::Format::Python] {
                assert_eq!(json::to_line(a, format), json::to_line(b, format));
            }
        }

        // An event is an object first: a schema error needs a syntax success.
        if parsed.is_ok() {
            assert!(object.is_ok(), "parse accepts what parse_object rejects");
        }
        if let Ok(map) = &object {
            if !map.contains_key("event_type") {
                assert_eq!(parsed, Err(json::ParseError::MissingEventType));
            }
        }

        // Whatever strict JSON accepts as an object, the parser reads, and
        // reads the same: same keys in the same order, same strings, same
        // numbers to the bit.
        if let Ok(text) = std::str::from_utf8(data) {
            if let Ok(theirs @ serde_json::Value::Object(_)) = serde_json::from_str(text) {
                match &object {
                    Ok(map) => assert!(
                        same_as_serde(&Value::Object(map.clone()), &theirs),
                        "the parser and serde_json read differently:\nours:   {map:?}\nserde:  {theirs:?}"
                    ),
                    Err(e) => panic!("serde_json reads an object the parser rejects: {e}"),
                }
            }
        }

        if let Ok(event) = parsed {
            check_both_formats(&event, &mut parser);
        }
    });
});
