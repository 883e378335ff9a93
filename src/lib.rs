//! Typed audit events for AI agents, carried from the agent's threads to
//! memory and to JSONL files at a cost of nanoseconds.
//!
//! `agent-audit` rebuilds the audit system of the Calute (now Xerxes) agent
//! framework in Rust. It keeps the reference's event schema and its file
//! format byte for byte, and replaces its locks with lock-free structures.
//!
//! # Map of the crate
//!
//! * [`event`]: the sixteen event types, the envelope, [`Event`], and
//!   [`EventRef`], the borrowed form the [`Emitter`] hands
//!   to collectors.
//! * [`value`]: ordered JSON values for metadata ([`Value`], [`Map`]).
//! * [`Severity`] and [`Timestamp`]: the typed envelope fields.
//! * [`json`]: writing both line formats, parsing either.
//! * [`reader`]: streaming, damage-tolerant reading of logs.
//! * [`Collector`]: where events go (owned, or borrowed through
//!   [`Collector::emit_ref`]); [`MemoryCollector`] keeps them in a
//!   lock-free log with O(1) snapshots, [`CompositeCollector`] fans out.
//! * [`sink`]: [`JsonlSink`], JSONL files through a lock-free queue and a
//!   writer thread: batching, backpressure, durable flush, faults, rotation.
//! * [`Emitter`]: one method per event type, the reference's rules.
//!
//! ```
//! use agent_audit::{Emitter, json::{self, Format}};
//!
//! let emitter = Emitter::new().with_session("session-7");
//! let turn = emitter.turn_start("Find the report", Some("agent-1"), None);
//! emitter.tool_call_attempt("web_search", r#"{"q": "report"}"#, Some("agent-1"), Some(&turn));
//!
//! for event in emitter.memory().unwrap().snapshot().iter() {
//!     print!("{}", json::to_line(event, Format::Compact));
//! }
//! ```

pub mod collector;
pub mod composite;
pub mod emitter;
pub mod event;
pub mod json;
pub mod memory;
pub mod reader;
mod segvec;
mod serde_impls;
mod severity;
pub mod sink;
mod sync;
mod timestamp;
pub mod value;

pub use collector::{Collector, Error};
pub use composite::CompositeCollector;
pub use emitter::Emitter;
pub use event::{Event, EventRef, Kind};
pub use json::Format;
pub use memory::{MemoryCollector, Snapshot};
pub use severity::Severity;
pub use sink::{JsonlSink, SinkStats};
pub use smol_str::SmolStr;
pub use timestamp::Timestamp;
pub use value::{BigInt, Map, Number, Value};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
