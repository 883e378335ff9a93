//! The emitter's rules, as the reference tests them.

use std::sync::Arc;

use agent_audit::event::{Kind, TurnStart};
use agent_audit::{Collector, CompositeCollector, Emitter, MemoryCollector};

#[test]
fn stamps_the_session_on_every_event_type() {
    let e = Emitter::new().with_session("sess-42");
    let turn = e.turn_start("hi", Some("a"), None);
    e.turn_end("bye", 2, Some("a"), Some(&turn));
    e.tool_call_attempt("t", "{}", None, None);
    e.tool_call_complete("t", "success", 1.5, "ok", None, None);
    e.tool_call_failure("t", "ValueError", "bad", None, None);
    e.tool_policy_decision("t", "deny", "operator", None, None);
    e.sandbox_decision("t", "ctx", "why", "docker", None, None);
    e.tool_loop_warning("t", "same_args_3x", "warning", 3, None, None);
    e.tool_loop_block("t", "same_args_5x", 5, None, None);
    e.hook_mutation("sanitize", "t", "result", None, None);
    e.error("RuntimeError", "boom", "parsing", None, None);
    e.skill_used("s", "1", "ok", 3.0, false, None, None);
    e.skill_authored("s", "1", "/p", 2, &["a", "b"], true, None, None);
    e.skill_feedback("s", "good", "", "user", None, None);
    e.agent_switch("a", "b", "handoff", None, None);
    e.base(None, None);
    let events = e.memory().unwrap().snapshot();
    assert_eq!(events.len(), 16);
    let mut types: Vec<&str> = events.iter().map(|ev| ev.event_type()).collect();
    types.sort_unstable();
    types.dedup();
    assert_eq!(types.len(), 16);
    assert!(events
        .iter()
        .all(|ev| ev.session_id.as_deref() == Some("sess-42")));
}

#[test]
fn without_a_session_the_id_is_null() {
    let e = Emitter::new();
    e.base(None, None);
    assert_eq!(
        e.memory().unwrap().snapshot().get(0).unwrap().session_id,
        None
    );
}

#[test]
fn turn_ids_are_generated_when_missing_or_empty() {
    let e = Emitter::new();
    let given = e.turn_start("", None, Some("my-turn"));
    assert_eq!(given, "my-turn");
    let mut ids = std::collections::HashSet::new();
    for turn in [None, Some("")].into_iter().cycle().take(200) {
        let id = e.turn_start("", None, turn);
        assert_eq!(id.len(), 12);
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "{id}"
        );
        ids.insert(id);
    }
    assert_eq!(ids.len(), 200, "generated ids repeat");
    let snap = e.memory().unwrap().snapshot();
    assert_eq!(snap.get(0).unwrap().turn_id.as_deref(), Some("my-turn"));
}

#[test]
fn previews_keep_200_characters_without_cutting_one() {
    let e = Emitter::new();
    e.turn_start(&"x".repeat(500), None, None);
    e.turn_start(&"é😀".repeat(150), None, None);
    e.turn_start("short", None, None);
    let snap = e.memory().unwrap().snapshot();
    let previews: Vec<String> = snap
        .iter()
        .map(|ev| match &ev.kind {
            Kind::TurnStart(TurnStart { prompt_preview }) => prompt_preview.to_string(),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(previews[0], "x".repeat(200));
    assert_eq!(previews[1].chars().count(), 200);
    assert_eq!(previews[1], "é😀".repeat(100));
    assert_eq!(previews[2], "short");
}

#[test]
fn emitters_on_many_threads_lose_nothing() {
    let memory = Arc::new(MemoryCollector::new());
    let other = Arc::new(MemoryCollector::new());
    let composite = Arc::new(CompositeCollector::new(vec![
        memory.clone() as Arc<dyn Collector>
    ]));
    composite.add(other.clone());
    let emitter = Emitter::with_collector(composite.clone()).with_session("s");
    std::thread::scope(|s| {
        for t in 0..10 {
            let emitter = emitter.clone();
            s.spawn(move || {
                for i in 0..100 {
                    let agent = format!("agent-{t}");
                    emitter.tool_call_attempt("tool", &i.to_string(), Some(&agent), None);
                }
            });
        }
    });
    emitter.flush().unwrap();
    for m in [&memory, &other] {
        let snap = m.snapshot();
        assert_eq!(snap.len(), 1000);
        for t in 0..10 {
            let agent = format!("agent-{t}");
            let args: Vec<String> = snap
                .iter()
                .filter(|e| e.agent_id.as_deref() == Some(&agent))
                .map(|e| match &e.kind {
                    Kind::ToolCallAttempt(a) => a.arguments_preview.to_string(),
                    _ => unreachable!(),
                })
                .collect();
            let want: Vec<String> = (0..100).map(|i| i.to_string()).collect();
            assert_eq!(args, want, "{agent}");
        }
    }
}

/// A process forked after making turn ids (a pre-fork server, a runner
/// that forks per agent) makes other ids than its parent from then on,
/// and than any other child, even one with the same pid (each of two PID
/// namespaces has a pid 1; a pid is reused).
#[test]
fn turn_ids_differ_between_a_process_and_its_forked_children() {
    use agent_audit::emitter::generate_turn_id;
    generate_turn_id(); // the keys exist before the forks
    let mut fds = [0i32; 2];
    // SAFETY: `fds` has room for the two descriptors.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    let mut children = Vec::new();
    for in_new_pid_namespace in [false, true, true] {
        // SAFETY: the child only makes ids (no lock, no allocation: the
        // keys are set and a 12-byte id is stored inline), forks, writes
        // them and exits, all async-signal-safe or ours.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            // SAFETY: as above; `unshare` may fail (no privilege), and the
            // grandchild then just has a pid of its own.
            unsafe {
                if in_new_pid_namespace && libc::unshare(libc::CLONE_NEWPID) == 0 {
                    let grandchild = libc::fork();
                    if grandchild != 0 {
                        libc::waitpid(grandchild, std::ptr::null_mut(), 0);
                        libc::_exit(0);
                    }
                }
                let mut ids = [0u8; 36];
                for chunk in ids.chunks_mut(12) {
                    chunk.copy_from_slice(generate_turn_id().as_bytes());
                }
                libc::write(fds[1], ids.as_ptr().cast(), ids.len());
                libc::_exit(0);
            }
        }
        let mut ids = [0u8; 36];
        // SAFETY: `ids` is valid for its length; `pid` is our child.
        unsafe {
            assert_eq!(libc::read(fds[0], ids.as_mut_ptr().cast(), 36), 36);
            libc::waitpid(pid, std::ptr::null_mut(), 0);
        }
        children.extend(
            ids.chunks(12)
                .map(|c| String::from_utf8(c.to_vec()).unwrap()),
        );
    }
    // SAFETY: both descriptors are ours and open.
    unsafe {
        libc::close(fds[0]);
        libc::close(fds[1]);
    }
    let mut all: Vec<String> = (0..3).map(|_| generate_turn_id().to_string()).collect();
    all.extend(children);
    let distinct: std::collections::HashSet<&String> = all.iter().collect();
    assert_eq!(distinct.len(), all.len(), "{all:?}");
}
