//! Events handed over by reference (the emitter's path into a sink) are
//! written exactly as their owned events are: every emitter method, both
//! formats, short text that the sink copies into its queue slot and text
//! too long for it, which takes the owned path.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::{Arc, Mutex};

use agent_audit::json::{self, Format};
use agent_audit::sink::JsonlSink;
use agent_audit::{Collector, CompositeCollector, Emitter, MemoryCollector};
use common::SharedBuf;
use proptest::prelude::*;

/// Counts this thread's allocations, to tell which path an event took.
struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

fn allocs() -> u64 {
    ALLOCS.with(Cell::get)
}

// SAFETY: forwards to `System` unchanged; counting touches a thread-local
// cell only (`try_with`: never during that cell's own teardown).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The arguments of one round of calls.
#[derive(Clone, Debug)]
struct Args {
    texts: [String; 4],
    int: i64,
    float: f64,
    flag: bool,
    agent: Option<String>,
    turn: Option<String>,
}

/// Calls every emitter method once with `a`.
fn every_method(e: &Emitter, a: &Args) {
    let [t0, t1, t2, t3] = &a.texts;
    let (agent, turn) = (a.agent.as_deref(), a.turn.as_deref());
    e.turn_start(t0, agent, turn);
    e.turn_end(t1, a.int, agent, turn);
    e.tool_call_attempt(t0, t1, agent, turn);
    e.tool_call_complete(t0, t1, a.float, t2, agent, turn);
    e.tool_call_failure(t0, t1, t2, agent, turn);
    e.tool_policy_decision(t0, t1, t2, agent, turn);
    e.sandbox_decision(t0, t1, t2, t3, agent, turn);
    e.tool_loop_warning(t0, t1, t2, a.int, agent, turn);
    e.tool_loop_block(t0, t1, a.int, agent, turn);
    e.hook_mutation(t0, t1, t2, agent, turn);
    e.error(t0, t1, t2, agent, turn);
    e.skill_used(t0, t1, t2, a.float, a.flag, agent, turn);
    e.skill_authored(t0, t1, t2, a.int, &[t3, t0], a.flag, agent, turn);
    e.skill_feedback(t0, t1, t2, t3, agent, turn);
    e.agent_switch(t0, t1, t2, agent, turn);
    e.base(agent, turn);
}

/// The lines a sink wrote for `rounds`, and the lines of the owned events
/// the same emits built (a composite hands each event to both, so both
/// see one timestamp).
fn both_paths(format: Format, session: Option<&str>, rounds: &[Args]) -> (String, String) {
    let memory = Arc::new(MemoryCollector::new());
    let buf = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::new(
        JsonlSink::builder()
            .format(format)
            .writer(SharedBuf(buf.clone()))
            .unwrap(),
    );
    let both = CompositeCollector::new(vec![memory.clone(), sink.clone()]);
    let mut e = Emitter::with_collector(Arc::new(both));
    if let Some(s) = session {
        e = e.with_session(s);
    }
    for a in rounds {
        every_method(&e, a);
    }
    sink.close().unwrap();
    let written = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
    let owned: String = memory
        .snapshot()
        .iter()
        .map(|ev| json::to_line(ev, format))
        .collect();
    (written, owned)
}

fn args(texts: [&str; 4], agent: Option<&str>) -> Args {
    Args {
        texts: texts.map(String::from),
        int: -42,
        float: 1.5e-5,
        flag: false,
        agent: agent.map(String::from),
        turn: Some("3f2a9c01b7de".into()),
    }
}

#[test]
fn every_method_writes_the_line_of_its_owned_event() {
    let long = "d".repeat(600);
    let wide = "ü".repeat(190);
    let rounds = [
        args(
            ["web_search", "{\"q\": 1}", "ok", "docker"],
            Some("agent-1"),
        ),
        args(["", "", "", ""], None),
        args(["é\"\\\n\t\u{1}", "𝄞", "\u{7f}\u{2028}", "/"], Some("ä")),
        // Beyond the slot's bytes: these take the owned path.
        args([&long, &wide, &long, "x"], Some("agent-1")),
    ];
    for format in [Format::Compact, Format::Python] {
        for session in [Some("sess-8c1e5f0a2b7d"), None] {
            let (written, owned) = both_paths(format, session, &rounds);
            assert_eq!(written.lines().count(), 16 * rounds.len());
            assert_eq!(written, owned, "{format:?} {session:?}");
        }
    }
}

#[test]
fn floats_and_integers_keep_their_form() {
    let mut rounds = Vec::new();
    for (float, int) in [
        (0.0, 0),
        (-0.0, i64::MIN),
        (f64::NAN, i64::MAX),
        (f64::INFINITY, 1),
        (f64::NEG_INFINITY, -1),
        (1e16, 7),
        (100.0, 8),
        (f64::MIN_POSITIVE, 9),
    ] {
        let mut a = args(["t", "a", "b", "c"], Some("agent-1"));
        a.float = float;
        a.int = int;
        a.flag = int % 2 == 0;
        rounds.push(a);
    }
    for format in [Format::Compact, Format::Python] {
        let (written, owned) = both_paths(format, Some("s"), &rounds);
        assert_eq!(written, owned, "{format:?}");
    }
}

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[ -~]{0,40}",
        2 => "\\PC{0,24}",
        1 => "[a-z]{150,400}",
        1 => "[\u{80}-\u{10ffff}]{60,220}",
    ]
}

fn any_args() -> impl Strategy<Value = Args> {
    (
        [any_text(), any_text(), any_text(), any_text()],
        any::<i64>(),
        any::<f64>(),
        any::<bool>(),
        proptest::option::of("[ -~]{0,30}"),
        proptest::option::of("\\PC{0,16}"),
    )
        .prop_map(|(texts, int, float, flag, agent, turn)| Args {
            texts,
            int,
            float,
            flag,
            agent,
            turn,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_arguments_write_the_same_lines(
        rounds in proptest::collection::vec(any_args(), 1..4),
        python in any::<bool>(),
        session in proptest::option::of("\\PC{0,20}"),
    ) {
        let format = if python { Format::Python } else { Format::Compact };
        let (written, owned) = both_paths(format, session.as_deref(), &rounds);
        prop_assert_eq!(written, owned);
    }
}

/// The default `emit_ref` builds the owned event: a collector that only
/// implements `emit` receives the same events from the emitter.
#[test]
fn a_collector_without_emit_ref_gets_owned_events() {
    struct Lines(Mutex<String>);
    impl Collector for Lines {
        fn emit(&self, event: agent_audit::Event) {
            self.0
                .lock()
                .unwrap()
                .push_str(&json::to_line(&event, Format::Compact));
        }
        fn flush(&self) -> Result<(), agent_audit::Error> {
            Ok(())
        }
    }
    let lines = Arc::new(Lines(Mutex::new(String::new())));
    let e = Emitter::with_collector(lines.clone()).with_session("s");
    e.tool_call_attempt("web_search", "{}", Some("a"), None);
    let text = lines.0.lock().unwrap().clone();
    let ev = json::parse_line(text.trim_end().as_bytes()).unwrap();
    assert_eq!(ev.event_type(), "tool_call_attempt");
    assert_eq!(ev.tool_name(), Some("web_search"));
    assert_eq!(ev.session_id.as_deref(), Some("s"));
    assert_eq!(ev.agent_id.as_deref(), Some("a"));
}

/// Each method puts each argument in the field the schema names for it:
/// compared with the event built by hand, field by field by name. Every
/// text argument position gets its own text, so a swap shows.
#[test]
fn every_method_puts_each_argument_in_its_own_field() {
    use agent_audit::event::*;
    use agent_audit::{Event, Number};

    let e = Emitter::new().with_session("s");
    let a = args(["t0", "t1", "t2", "t3"], Some("agent-1"));
    every_method(&e, &a);
    let (n, f, b) = (a.int, Number::Float(a.float), a.flag);
    let s = |x: &str| x.into();
    let expected: Vec<Event> = vec![
        Event::new(TurnStart {
            prompt_preview: s("t0"),
        }),
        Event::new(TurnEnd {
            content_preview: s("t1"),
            function_calls_count: n,
        }),
        Event::new(ToolCallAttempt {
            tool_name: s("t0"),
            arguments_preview: s("t1"),
        }),
        Event::new(ToolCallComplete {
            tool_name: s("t0"),
            status: s("t1"),
            duration_ms: f.clone(),
            result_preview: s("t2"),
        }),
        Event::new(ToolCallFailure {
            tool_name: s("t0"),
            error_type: s("t1"),
            error_message: s("t2"),
        }),
        Event::new(ToolPolicyDecision {
            tool_name: s("t0"),
            action: s("t1"),
            policy_source: s("t2"),
        }),
        Event::new(SandboxDecision {
            tool_name: s("t0"),
            context: s("t1"),
            reason: s("t2"),
            backend_type: s("t3"),
        }),
        Event::new(ToolLoopWarning {
            tool_name: s("t0"),
            pattern: s("t1"),
            severity_level: s("t2"),
            call_count: n,
        }),
        Event::new(ToolLoopBlock {
            tool_name: s("t0"),
            pattern: s("t1"),
            call_count: n,
        }),
        Event::new(HookMutation {
            hook_name: s("t0"),
            tool_name: s("t1"),
            mutated_field: s("t2"),
        }),
        Event::new(agent_audit::event::Error {
            error_type: s("t0"),
            error_message: s("t1"),
            error_context: s("t2"),
        }),
        Event::new(SkillUsed {
            skill_name: s("t0"),
            version: s("t1"),
            outcome: s("t2"),
            duration_ms: f,
            triggered_automatically: b,
        }),
        Event::new(SkillAuthored {
            skill_name: s("t0"),
            version: s("t1"),
            source_path: s("t2"),
            tool_count: n,
            unique_tools: vec![s("t3"), s("t0")],
            confirmed_by_user: b,
        }),
        Event::new(SkillFeedback {
            skill_name: s("t0"),
            rating: s("t1"),
            reason: s("t2"),
            source: s("t3"),
        }),
        Event::new(AgentSwitch {
            from_agent: s("t0"),
            to_agent: s("t1"),
            reason: s("t2"),
        }),
        Event::new(Base {}),
    ];
    let got = e.memory().unwrap().snapshot();
    assert_eq!(got.len(), expected.len());
    for (got, want) in got.iter().zip(expected) {
        let want = want
            .agent("agent-1")
            .turn("3f2a9c01b7de")
            .session("s")
            .at(got.timestamp.clone());
        assert_eq!(got, &want);
    }
}

/// The sink takes the emitter's events without a single allocation on the
/// producer's thread, directly and behind a composite (which forwards the
/// borrowed event); an owned event of the same content allocates, so the
/// count does tell the paths apart.
#[test]
fn the_sink_takes_the_emitters_events_without_allocating() {
    let args = "{\"query\": \"acme corp quarterly revenue report\"} ".repeat(4);
    assert!(args.len() > 150);
    let sink = Arc::new(
        JsonlSink::builder()
            .capacity(4096)
            .writer(std::io::sink())
            .unwrap(),
    );
    let direct: Arc<dyn Collector> = sink.clone();
    let fanned: Arc<dyn Collector> = Arc::new(CompositeCollector::new(vec![sink.clone()]));
    for collector in [direct, fanned] {
        let e = Emitter::with_collector(collector).with_session("sess-8c1e5f0a2b7d");
        // Warm-up: thread-locals, the composite's list guard.
        e.tool_call_attempt("web_search", &args, Some("agent-1"), Some("3f2a9c01b7de"));
        let before = allocs();
        for i in 0..1000 {
            e.tool_call_attempt("web_search", &args, Some("agent-1"), Some("3f2a9c01b7de"));
            e.tool_call_complete(
                "web_search",
                "success",
                i as f64,
                &args,
                Some("agent-1"),
                None,
            );
        }
        assert_eq!(allocs() - before, 0);
    }
    let before = allocs();
    sink.emit(agent_audit::Event::new(
        agent_audit::event::ToolCallAttempt {
            tool_name: "web_search".into(),
            arguments_preview: args.as_str().into(),
        },
    ));
    assert!(allocs() > before, "the owned path allocates the preview");
    sink.close().unwrap();
    assert_eq!(sink.stats().events_written, 4003);
}
