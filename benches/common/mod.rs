//! What the benches share: the benchmark record, the scratch directory on
//! tmpfs, and the four pipelines compared (ours and three peers), each
//! writing the same record to its own file.
//!
//! The record is the `tool_call_attempt` of SPEC §5: tool `web_search`,
//! agent `agent-1`, a 12-hex-character turn id, a session id and a
//! 160-character JSON-ish arguments preview; about 430 bytes as a
//! `python` line and 415 as a `compact` one.
#![allow(dead_code)] // each bench uses a different part of this module

use std::any::Any;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use agent_audit::event::ToolCallAttempt;
use agent_audit::json::Format;
use agent_audit::{Emitter, Event, JsonlSink, Timestamp};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

pub const TOOL: &str = "web_search";
pub const AGENT: &str = "agent-1";
pub const TURN: &str = "3f2a9c01b7de";
pub const SESSION: &str = "sess-8c1e5f0a2b7d";
/// 160 characters, ASCII, with the quotes a JSON argument list has.
pub const ARGS: &str = "{\"query\": \"acme corp quarterly revenue report 2026 q1 results versus \
analyst consensus and prior year guidance\", \"max_results\": 10, \"lang\": \"en-us\", \"fresh\": 1}";

/// The benchmark record as our `Event`, stamped now. The arguments are
/// copied from a runtime `&str`, as an agent loop would (one allocation:
/// 160 bytes do not fit inline); the short ids are inline.
#[inline]
pub fn event() -> Event {
    Event::new(ToolCallAttempt {
        tool_name: TOOL.into(),
        arguments_preview: ARGS.into(),
    })
    .agent(AGENT)
    .turn(TURN)
    .session(SESSION)
}

/// `{}`: the empty metadata object, without allocating a map.
pub struct EmptyObject;

impl Serialize for EmptyObject {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_map(Some(0))?.end()
    }
}

/// The same record as a plain serde struct, for the serde_json peers:
/// the same keys in the same order, the timestamp formatted by our
/// `Timestamp` (Python `isoformat`).
#[derive(Serialize)]
pub struct SerdeRecord<'a> {
    pub event_type: &'a str,
    pub timestamp: Timestamp,
    pub agent_id: Option<&'a str>,
    pub turn_id: Option<&'a str>,
    pub session_id: Option<&'a str>,
    pub severity: &'a str,
    pub metadata: EmptyObject,
    pub tool_name: &'a str,
    pub arguments_preview: &'a str,
}

#[inline]
pub fn serde_record() -> SerdeRecord<'static> {
    SerdeRecord {
        event_type: "tool_call_attempt",
        timestamp: Timestamp::now(),
        agent_id: Some(AGENT),
        turn_id: Some(TURN),
        session_id: Some(SESSION),
        severity: "info",
        metadata: EmptyObject,
        tool_name: TOOL,
        arguments_preview: ARGS,
    }
}

/// A scratch directory on tmpfs (`/dev/shm`), removed on drop.
pub struct Scratch {
    pub dir: PathBuf,
}

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        let base = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("agent-audit-bench-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the scratch directory");
        Scratch { dir }
    }

    /// A fresh (truncated) path in the directory.
    pub fn file(&self, name: &str) -> PathBuf {
        let path = self.dir.join(name);
        let _ = std::fs::remove_file(&path);
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One producer-to-file pipeline writing the benchmark record.
pub trait Pipeline: Sync {
    /// Called on each producer thread before its first emit; the guard is
    /// kept until the thread's last emit (tracing's thread dispatcher).
    fn enter(&self) -> Option<Box<dyn Any>> {
        None
    }
    /// Builds the record (stamped now) and hands it to the pipeline.
    fn emit(&self);
    /// Returns once everything emitted is in the file: flush, or drop the
    /// peer's guard (which joins its worker thread).
    fn finish(&self);
}

/// The pipelines, by name; `open` builds one writing to `path`.
pub const PIPELINES: &[&str] = &[
    "agent-audit",
    "agent-audit-event",
    "tracing-appender",
    "slog-async",
    "mutex-serde_json",
];

/// Opens the pipeline `name` (one of [`PIPELINES`]) on `path`.
pub fn open(name: &str, path: &Path) -> Box<dyn Pipeline> {
    match name {
        "agent-audit" => Box::new(Ours::open(path, Format::Compact)),
        "agent-audit-python" => Box::new(Ours::open(path, Format::Python)),
        "agent-audit-event" => Box::new(OursEvent::open(path)),
        "tracing-appender" => Box::new(TracingPeer::open(path, true)),
        "tracing-appender-file" => Box::new(TracingPeer::open(path, false)),
        "slog-async" => Box::new(SlogPeer::open(path)),
        "mutex-serde_json" => Box::new(MutexPeer::open(path)),
        other => panic!("unknown pipeline {other}"),
    }
}

/// Ours, as an agent uses it: `Emitter::tool_call_attempt` into a
/// default (lossless, compact) `JsonlSink`.
pub struct Ours {
    pub sink: Arc<JsonlSink>,
    emitter: Emitter,
}

impl Ours {
    pub fn open(path: &Path, format: Format) -> Ours {
        let sink = Arc::new(
            JsonlSink::builder()
                .format(format)
                .open(path)
                .expect("open the sink"),
        );
        let emitter = Emitter::with_collector(sink.clone()).with_session(SESSION);
        Ours { sink, emitter }
    }
}

impl Pipeline for Ours {
    #[inline]
    fn emit(&self) {
        self.emitter
            .tool_call_attempt(TOOL, ARGS, Some(AGENT), Some(TURN));
    }
    fn finish(&self) {
        self.sink.flush().expect("flush");
    }
}

/// Ours without the emitter: a built `Event` straight into
/// `JsonlSink::emit`.
pub struct OursEvent {
    pub sink: JsonlSink,
}

impl OursEvent {
    pub fn open(path: &Path) -> OursEvent {
        OursEvent {
            sink: JsonlSink::open(path).expect("open the sink"),
        }
    }
}

impl Pipeline for OursEvent {
    #[inline]
    fn emit(&self) {
        self.sink.emit(event());
    }
    fn finish(&self) {
        self.sink.flush().expect("flush");
    }
}

/// tracing + tracing-subscriber's JSON layer, written through
/// `tracing_appender::non_blocking` in lossless mode to the file.
///
/// `buffered`: the worker writes into a `BufWriter<File>` (it flushes
/// whenever its channel runs dry, so lines still reach the OS as soon as
/// it idles, as ours do); otherwise straight into the `File`, one
/// `write(2)` per line, as with `tracing_appender::rolling`.
pub struct TracingPeer {
    dispatch: tracing::Dispatch,
    guard: Mutex<Option<tracing_appender::non_blocking::WorkerGuard>>,
}

impl TracingPeer {
    pub fn open(path: &Path, buffered: bool) -> TracingPeer {
        let file = File::create(path).expect("create the file");
        let builder = tracing_appender::non_blocking::NonBlockingBuilder::default().lossy(false);
        let (writer, guard) = if buffered {
            builder.finish(BufWriter::new(file))
        } else {
            builder.finish(file)
        };
        let subscriber = tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_target(false)
            .with_current_span(false)
            .with_span_list(false)
            .with_writer(writer)
            .finish();
        TracingPeer {
            dispatch: tracing::Dispatch::new(subscriber),
            guard: Mutex::new(Some(guard)),
        }
    }
}

impl Pipeline for TracingPeer {
    fn enter(&self) -> Option<Box<dyn Any>> {
        Some(Box::new(tracing::dispatcher::set_default(&self.dispatch)))
    }
    #[inline]
    fn emit(&self) {
        tracing::info!(
            event_type = "tool_call_attempt",
            agent_id = AGENT,
            turn_id = TURN,
            session_id = SESSION,
            severity = "info",
            tool_name = TOOL,
            arguments_preview = ARGS,
        );
    }
    fn finish(&self) {
        // Dropping the guard drains the channel and joins the worker.
        drop(self.guard.lock().unwrap().take());
    }
}

/// slog + slog-json behind slog-async with `OverflowStrategy::Block`.
///
/// slog-json serialises straight into its `io::Write`, token by token, so
/// it gets a `BufWriter<File>` (on a bare `File` that is dozens of
/// `write(2)` calls per record); the buffer is flushed when the worker
/// exits.
pub struct SlogPeer {
    log: slog::Logger,
    guard: Mutex<Option<slog_async::AsyncGuard>>,
}

impl SlogPeer {
    pub fn open(path: &Path) -> SlogPeer {
        use slog::Drain;
        let file = File::create(path).expect("create the file");
        let json = slog_json::Json::new(BufWriter::new(file))
            .add_default_keys()
            .build()
            .fuse();
        let (drain, guard) = slog_async::Async::new(json)
            .overflow_strategy(slog_async::OverflowStrategy::Block)
            .build_with_guard();
        SlogPeer {
            log: slog::Logger::root(drain.fuse(), slog::o!()),
            guard: Mutex::new(Some(guard)),
        }
    }
}

impl Pipeline for SlogPeer {
    #[inline]
    fn emit(&self) {
        slog::info!(self.log, "tool_call_attempt";
            "agent_id" => AGENT,
            "turn_id" => TURN,
            "session_id" => SESSION,
            "severity" => "info",
            "tool_name" => TOOL,
            "arguments_preview" => ARGS,
        );
    }
    fn finish(&self) {
        // Dropping the guard stops the worker after it drained the channel.
        drop(self.guard.lock().unwrap().take());
    }
}

/// A plain `Mutex<BufWriter<File>>`: serialise the serde struct with
/// serde_json and write it and a newline under the lock.
pub struct MutexPeer {
    w: Mutex<BufWriter<File>>,
}

impl MutexPeer {
    pub fn open(path: &Path) -> MutexPeer {
        MutexPeer {
            w: Mutex::new(BufWriter::new(File::create(path).expect("create"))),
        }
    }
}

impl Pipeline for MutexPeer {
    #[inline]
    fn emit(&self) {
        let record = serde_record();
        let mut w = self.w.lock().unwrap();
        serde_json::to_writer(&mut *w, &record).expect("serialise");
        w.write_all(b"\n").expect("write");
    }
    fn finish(&self) {
        self.w.lock().unwrap().flush().expect("flush");
    }
}
