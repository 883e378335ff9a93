//! Every emitter method with arbitrary arguments, into a composite of an
//! in-memory collector (which builds the owned events) and a JSONL sink
//! (which copies each event into its queue slot when it fits, and builds
//! it owned otherwise): the sink's lines must be exactly the owned
//! events' lines, in both formats.
#![no_main]

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use agent_audit::json::{self, Format};
use agent_audit::sink::JsonlSink;
use agent_audit::{CompositeCollector, Emitter, MemoryCollector};
use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;

/// Text that is sometimes repeated, to reach and cross the slot's size.
#[derive(Debug)]
struct Text(String);

impl<'a> Arbitrary<'a> for Text {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let base = String::arbitrary(u)?;
        let times = 1 + u8::arbitrary(u)? as usize % 48;
        let mut s = base.repeat(times);
        if s.len() > 4096 {
            let mut end = 4096;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            s.truncate(end);
        }
        Ok(Text(s))
    }
}

type Id = Option<String>;

#[derive(Arbitrary, Debug)]
enum Call {
    TurnStart(Text, Id, Id),
    TurnEnd(Text, i64, Id, Id),
    ToolCallAttempt(Text, Text, Id, Id),
    ToolCallComplete(Text, Text, f64, Text, Id, Id),
    ToolCallFailure(Text, Text, Text, Id, Id),
    ToolPolicyDecision(Text, Text, Text, Id, Id),
    SandboxDecision(Text, Text, Text, Text, Id, Id),
    ToolLoopWarning(Text, Text, Text, i64, Id, Id),
    ToolLoopBlock(Text, Text, i64, Id, Id),
    HookMutation(Text, Text, Text, Id, Id),
    Error(Text, Text, Text, Id, Id),
    SkillUsed(Text, Text, Text, f64, bool, Id, Id),
    SkillAuthored(Text, Text, Text, i64, Vec<String>, bool, Id, Id),
    SkillFeedback(Text, Text, Text, Text, Id, Id),
    AgentSwitch(Text, Text, Text, Id, Id),
    Base(Id, Id),
}

fn d(id: &Id) -> Option<&str> {
    id.as_deref()
}

impl Call {
    fn run(&self, e: &Emitter) {
        match self {
            Call::TurnStart(p, a, t) => {
                e.turn_start(&p.0, d(a), d(t));
            }
            Call::TurnEnd(c, n, a, t) => e.turn_end(&c.0, *n, d(a), d(t)),
            Call::ToolCallAttempt(x, y, a, t) => e.tool_call_attempt(&x.0, &y.0, d(a), d(t)),
            Call::ToolCallComplete(x, y, f, z, a, t) => {
                e.tool_call_complete(&x.0, &y.0, *f, &z.0, d(a), d(t))
            }
            Call::ToolCallFailure(x, y, z, a, t) => {
                e.tool_call_failure(&x.0, &y.0, &z.0, d(a), d(t))
            }
            Call::ToolPolicyDecision(x, y, z, a, t) => {
                e.tool_policy_decision(&x.0, &y.0, &z.0, d(a), d(t))
            }
            Call::SandboxDecision(w, x, y, z, a, t) => {
                e.sandbox_decision(&w.0, &x.0, &y.0, &z.0, d(a), d(t))
            }
            Call::ToolLoopWarning(x, y, z, n, a, t) => {
                e.tool_loop_warning(&x.0, &y.0, &z.0, *n, d(a), d(t))
            }
            Call::ToolLoopBlock(x, y, n, a, t) => e.tool_loop_block(&x.0, &y.0, *n, d(a), d(t)),
            Call::HookMutation(x, y, z, a, t) => e.hook_mutation(&x.0, &y.0, &z.0, d(a), d(t)),
            Call::Error(x, y, z, a, t) => e.error(&x.0, &y.0, &z.0, d(a), d(t)),
            Call::SkillUsed(x, y, z, f, b, a, t) => {
                e.skill_used(&x.0, &y.0, &z.0, *f, *b, d(a), d(t))
            }
            Call::SkillAuthored(x, y, z, n, tools, b, a, t) => {
                let tools: Vec<&str> = tools.iter().map(String::as_str).collect();
                e.skill_authored(&x.0, &y.0, &z.0, *n, &tools, *b, d(a), d(t))
            }
            Call::SkillFeedback(w, x, y, z, a, t) => {
                e.skill_feedback(&w.0, &x.0, &y.0, &z.0, d(a), d(t))
            }
            Call::AgentSwitch(x, y, z, a, t) => e.agent_switch(&x.0, &y.0, &z.0, d(a), d(t)),
            Call::Base(a, t) => e.base(d(a), d(t)),
        }
    }
}

struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One sink per format, kept across inputs (a sink is a thread).
struct Rig {
    format: Format,
    memory: Arc<MemoryCollector>,
    buf: Arc<Mutex<Vec<u8>>>,
    sink: Arc<JsonlSink>,
    emitter: Emitter,
}

fn rigs() -> &'static [Rig; 2] {
    static RIGS: OnceLock<[Rig; 2]> = OnceLock::new();
    RIGS.get_or_init(|| {
        [Format::Compact, Format::Python].map(|format| {
            let memory = Arc::new(MemoryCollector::new());
            let buf = Arc::new(Mutex::new(Vec::new()));
            let sink = Arc::new(
                JsonlSink::builder()
                    .format(format)
                    .writer(Buf(buf.clone()))
                    .expect("start a sink"),
            );
            let both = CompositeCollector::new(vec![memory.clone(), sink.clone()]);
            let emitter = Emitter::with_collector(Arc::new(both));
            Rig {
                format,
                memory,
                buf,
                sink,
                emitter,
            }
        })
    })
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(python) = bool::arbitrary(&mut u) else {
        return;
    };
    let Ok(session) = Option::<String>::arbitrary(&mut u) else {
        return;
    };
    let rig = &rigs()[python as usize];
    let emitter = match session {
        Some(s) => rig.emitter.clone().with_session(s),
        None => rig.emitter.clone(),
    };
    rig.memory.clear();
    rig.buf.lock().unwrap().clear();
    for _ in 0..4 {
        let Ok(call) = Call::arbitrary(&mut u) else {
            break;
        };
        call.run(&emitter);
    }
    rig.sink.flush().expect("flush");
    let written = String::from_utf8(std::mem::take(&mut *rig.buf.lock().unwrap()))
        .expect("the sink writes UTF-8");
    let owned: String = rig
        .memory
        .snapshot()
        .iter()
        .map(|ev| json::to_line(ev, rig.format))
        .collect();
    assert_eq!(written, owned);
});
