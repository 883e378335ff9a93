//! Events handed over by reference (the emitter's path into a sink) are
//! written exactly as their owned events are: every emitter method, both
//! formats, short text that the sink copies into its queue slot and long
//! or multi-byte text that takes the owned path.

mod common;

use std::sync::{Arc, Mutex};

use agent_audit::json::{self, Format};
use agent_audit::sink::JsonlSink;
use agent_audit::{Collector, CompositeCollector, Emitter, MemoryCollector};
use common::SharedBuf;
use proptest::prelude::*;

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
