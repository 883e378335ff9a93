//! A few simulated agent loops emit every event type into one in-memory
//! collector; the example then writes the log in both formats, reads it
//! back, and prints what it wrote.
//!
//! ```text
//! cargo run --release --example agent_loops -- [OUT_DIR]
//! ```

use std::sync::Arc;

use agent_audit::json::{self, Format, LineParser};
use agent_audit::{Emitter, MemoryCollector};

fn agent_loop(emitter: &Emitter, agent: &str, turns: usize) {
    let a = Some(agent);
    for n in 0..turns {
        let turn = emitter.turn_start(
            &format!("Task {n} for {agent}: summarise the report"),
            a,
            None,
        );
        let t = Some(turn.as_str());
        emitter.tool_policy_decision("web_search", "allow", "default_policy", a, t);
        emitter.sandbox_decision(
            "web_search",
            "network",
            "read-only query",
            "subprocess",
            a,
            t,
        );
        emitter.tool_call_attempt("web_search", r#"{"query": "quarterly report"}"#, a, t);
        if n % 3 == 2 {
            emitter.tool_call_failure("web_search", "TimeoutError", "no answer in 30 s", a, t);
            emitter.tool_loop_warning("web_search", "same_args_3x", "warning", 3, a, t);
            emitter.tool_loop_block("web_search", "same_args_5x", 5, a, t);
            emitter.error(
                "RuntimeError",
                "giving up on search",
                "turn execution",
                a,
                t,
            );
        } else {
            emitter.tool_call_complete(
                "web_search",
                "success",
                12.5 + n as f64,
                "10 results: Q3 revenue…",
                a,
                t,
            );
        }
        emitter.hook_mutation("redact_secrets", "web_search", "result", a, t);
        emitter.skill_used("summarise", "1.2.0", "success", 40.0, true, a, t);
        if n == 0 {
            emitter.skill_authored(
                "summarise",
                "1.2.0",
                "skills/summarise.md",
                2,
                &["web_search", "read"],
                false,
                a,
                t,
            );
            emitter.skill_feedback("summarise", "positive", "clear summary", "user", a, t);
        }
        emitter.agent_switch(agent, "reviewer", "needs review", a, t);
        emitter.base(a, t);
        emitter.turn_end("The report shows growth in Q3 — see ✓ details", 1, a, t);
    }
}

fn main() -> std::io::Result<()> {
    let out_dir = std::env::args()
        .nth(1)
        .map_or_else(std::env::temp_dir, Into::into);
    let memory = Arc::new(MemoryCollector::new());
    let emitter = Emitter::with_collector(memory.clone()).with_session("example-session");

    std::thread::scope(|s| {
        for agent in ["planner", "researcher", "writer"] {
            let emitter = emitter.clone();
            s.spawn(move || agent_loop(&emitter, agent, 4));
        }
    });

    let snapshot = memory.snapshot();
    for (name, format) in [
        ("audit.jsonl", Format::Compact),
        ("audit.python.jsonl", Format::Python),
    ] {
        let path = out_dir.join(name);
        let mut buf = Vec::new();
        for event in snapshot.iter() {
            json::write_event(&mut buf, event, format);
        }
        std::fs::write(&path, &buf)?;

        let mut parser = LineParser::new();
        let back = buf.split(|&b| b == b'\n').filter(|l| !l.is_empty());
        let valid = back.filter(|l| parser.parse(l).is_ok()).count();
        println!(
            "{}: {} events, {} bytes, {valid} read back",
            path.display(),
            snapshot.len(),
            buf.len()
        );
    }

    let mut counts = std::collections::BTreeMap::new();
    for event in snapshot.iter() {
        *counts.entry(event.event_type().to_string()).or_insert(0) += 1;
    }
    println!("\nevents by type:");
    for (t, n) in &counts {
        println!("  {t:<22}{n:>4}");
    }
    println!(
        "\nfirst line (compact):\n{}",
        json::to_line(snapshot.get(0).unwrap(), Format::Compact).trim_end()
    );
    println!(
        "first line (python):\n{}",
        json::to_line(snapshot.get(0).unwrap(), Format::Python).trim_end()
    );
    Ok(())
}
