//! The emitter: one method per event type, with the reference's rules.
//!
//! * the emitter's session id is stamped on every event;
//! * `turn_start` returns the turn id, generating 12 lowercase hex
//!   characters when none (or an empty one) is given;
//! * previews (`prompt`, `content`, `args`, `result`) keep their first 200
//!   characters, counted as Unicode scalar values like Python slicing, so a
//!   character is never cut;
//! * without a collector, events go to a new [`MemoryCollector`].
//!
//! Unlike the reference, no lock serialises emitters: the emitter is
//! `Sync` and each method goes straight to the collector. Nor does a
//! method build an owned [`Event`]: it hands the collector an
//! [`EventRef`] over the caller's text
//! ([`Collector::emit_ref`]), and the collector decides. The default builds
//! the owned event (the in-memory collector keeps it); the JSONL sink copies
//! the bytes into its queue and allocates nothing. `skill_authored`, whose
//! list of tools has no borrowed form, is built owned.
//!
//! Every method takes the event's own arguments first and the optional
//! `agent` and `turn` ids last.

use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::sync::Arc;

use smol_str::SmolStr;

use crate::collector::{Collector, Error};
use crate::event::*;
use crate::memory::MemoryCollector;
use crate::value::Number;

/// How many characters of a prompt, response, argument list or result a
/// preview keeps.
pub const PREVIEW_CHARS: usize = 200;

/// The first [`PREVIEW_CHARS`] characters of `text`.
pub fn preview(text: &str) -> SmolStr {
    SmolStr::new(preview_str(text))
}

/// The first [`PREVIEW_CHARS`] characters of `text`, borrowed.
#[inline]
pub(crate) fn preview_str(text: &str) -> &str {
    // No more bytes than the limit: no more characters either.
    if text.len() <= PREVIEW_CHARS {
        return text;
    }
    match text.char_indices().nth(PREVIEW_CHARS) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// A fresh 12-character lowercase hex id: distinct from every other this
/// process makes (up to 2^48 of them), and unpredictable across processes,
/// a forked child included.
pub fn generate_turn_id() -> SmolStr {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let bits = permute48(COUNTER.fetch_add(1, Ordering::Relaxed), turn_id_keys());
    let mut out = [0u8; 12];
    for (i, b) in out.iter_mut().enumerate() {
        *b = b"0123456789abcdef"[(bits >> (44 - 4 * i) & 0xf) as usize];
    }
    // Hex digits are ASCII.
    SmolStr::new(std::str::from_utf8(&out).unwrap_or("000000000000"))
}

/// The keys turn ids are made with. No lock is held at any point, so a
/// `fork` by another thread at any moment leaves the child able to make
/// ids (a `OnceLock` caught initialising would block it forever).
fn turn_id_keys() -> [u64; 2] {
    static KEYS: AtomicPtr<[u64; 2]> = AtomicPtr::new(std::ptr::null_mut());
    if FORKED.load(Ordering::Relaxed) {
        return [
            FORK_KEYS[0].load(Ordering::Relaxed),
            FORK_KEYS[1].load(Ordering::Relaxed),
        ];
    }
    let keys = KEYS.load(Ordering::Acquire);
    if !keys.is_null() {
        // SAFETY: a published pointer came from `Box::into_raw` below and
        // is never freed or written again; acquire pairs with the release
        // that published it, so the keys are initialised.
        return unsafe { *keys };
    }
    publish_keys(&KEYS)
}

/// Makes keys and publishes them, or takes those another thread published
/// first.
#[cold]
fn publish_keys(slot: &AtomicPtr<[u64; 2]>) -> [u64; 2] {
    // Registered before any keys are published, by every thread that gets
    // here (a repeat only makes a child draw keys twice), so a process
    // forked once keys exist always gets keys of its own.
    // SAFETY: the handler makes only async-signal-safe system calls and
    // stores atomics, as one run in a child after `fork` must.
    unsafe { libc::pthread_atfork(None, None, Some(rekey_after_fork)) };
    // From the OS, not from std's hasher keys: a child forked before keys
    // existed has its parent's copy of those.
    let keys = fresh_keys();
    let mine = Box::into_raw(Box::new(keys));
    match slot.compare_exchange(
        std::ptr::null_mut(),
        mine,
        Ordering::AcqRel,
        Ordering::Acquire,
    ) {
        // Kept for the life of the process (sixteen bytes).
        Ok(_) => keys,
        Err(theirs) => {
            // SAFETY: `mine` lost the race and was never published, so it
            // is ours alone; `theirs` is published (see `turn_id_keys`).
            unsafe {
                drop(Box::from_raw(mine));
                *theirs
            }
        }
    }
}

/// Set in a process forked after the turn-id keys were made, which then
/// uses `FORK_KEYS`, its own, rather than the ones it inherited (with the
/// counter, they would repeat its parent's ids). Only the forked process's
/// one thread writes them, before `fork` returns in it.
static FORKED: AtomicBool = AtomicBool::new(false);
static FORK_KEYS: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];

extern "C" fn rekey_after_fork() {
    let keys = fresh_keys();
    FORK_KEYS[0].store(keys[0], Ordering::Relaxed);
    FORK_KEYS[1].store(keys[1], Ordering::Relaxed);
    FORKED.store(true, Ordering::Relaxed);
}

/// Keys of this process's own, by async-signal-safe calls only: entropy
/// from the OS; failing that, the pid and the time, which differ from a
/// parent's and from a sibling's.
fn fresh_keys() -> [u64; 2] {
    os_random_keys().unwrap_or_else(|| {
        // SAFETY: `getpid` has no preconditions.
        let pid = unsafe { libc::getpid() } as u64;
        let t = clock_nanos();
        [mix64(pid ^ t as u64), mix64((t >> 64) as u64 ^ !pid)]
    })
}

/// Two keys from `getrandom(2)`, called directly: async-signal-safe, and
/// not blocking (`None` before the kernel's pool is ready, or without the
/// call).
fn os_random_keys() -> Option<[u64; 2]> {
    let mut keys = [0u64; 2];
    // SAFETY: `keys` is valid for writes of the 16 bytes asked for.
    let n = unsafe {
        libc::syscall(
            libc::SYS_getrandom,
            keys.as_mut_ptr(),
            std::mem::size_of_val(&keys),
            libc::GRND_NONBLOCK,
        )
    };
    (n == 16).then_some(keys)
}

/// `CLOCK_REALTIME` in nanoseconds, by `clock_gettime` (async-signal-safe).
fn clock_nanos() -> u128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is valid for writes; the clock id is valid.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    (ts.tv_sec as u128) * 1_000_000_000 + ts.tv_nsec as u128
}

/// A 64-bit mixer (SplitMix64's finaliser).
fn mix64(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A keyed bijection of 48-bit numbers: every step (adding or xoring a
/// key, multiplying by an odd number, xoring in the upper half) can be
/// undone modulo 2^48, so distinct counters give distinct ids; the keys
/// make the sequence unpredictable.
fn permute48(counter: u64, [k0, k1]: [u64; 2]) -> u64 {
    const MASK: u64 = (1 << 48) - 1;
    let mut x = counter.wrapping_add(k0) & MASK;
    x = x.wrapping_mul(0x9e37_79b9_7f4b) & MASK; // odd
    x ^= x >> 24;
    x = x.wrapping_mul(0xc2b2_ae3d_27d5) & MASK; // odd
    x ^= x >> 24;
    (x ^ k1) & MASK
}

/// Builds events and hands them to a collector.
///
/// ```
/// use agent_audit::Emitter;
///
/// let emitter = Emitter::new().with_session("s-1");
/// let turn = emitter.turn_start("What is 2+2?", Some("agent-1"), None);
/// emitter.tool_call_attempt("calculator", "{\"expr\": \"2+2\"}", Some("agent-1"), Some(&turn));
/// emitter.turn_end("4", 1, Some("agent-1"), Some(&turn));
///
/// let events = emitter.memory().unwrap().snapshot();
/// assert_eq!(events.len(), 3);
/// assert!(events.iter().all(|e| e.session_id.as_deref() == Some("s-1")));
/// assert_eq!(turn.len(), 12);
/// ```
#[derive(Clone)]
pub struct Emitter {
    collector: Arc<dyn Collector>,
    memory: Option<Arc<MemoryCollector>>,
    session_id: Option<SmolStr>,
}

impl Default for Emitter {
    fn default() -> Self {
        Self::new()
    }
}

impl Emitter {
    /// An emitter into a new in-memory collector, without a session id.
    pub fn new() -> Emitter {
        let memory = Arc::new(MemoryCollector::new());
        Emitter {
            collector: memory.clone(),
            memory: Some(memory),
            session_id: None,
        }
    }

    /// An emitter into `collector`.
    pub fn with_collector(collector: Arc<dyn Collector>) -> Emitter {
        Emitter {
            collector,
            memory: None,
            session_id: None,
        }
    }

    /// Sets the session id stamped on every event.
    pub fn with_session(mut self, session_id: impl Into<SmolStr>) -> Emitter {
        self.session_id = Some(session_id.into());
        self
    }

    /// The session id stamped on every event.
    pub fn session_id(&self) -> Option<&str> {
        self.session_id.as_deref()
    }

    /// The collector events go to.
    pub fn collector(&self) -> &Arc<dyn Collector> {
        &self.collector
    }

    /// The in-memory collector, when the emitter made its own.
    pub fn memory(&self) -> Option<&Arc<MemoryCollector>> {
        self.memory.as_ref()
    }

    /// Stamps the session id on `event` and emits it.
    #[inline]
    pub fn emit(&self, mut event: Event) {
        event.session_id = self.session_id.clone();
        self.collector.emit(event);
    }

    /// Flushes the collector.
    pub fn flush(&self) -> Result<(), Error> {
        self.collector.flush()
    }

    /// Stamps an event of type `tag` made of `fields` (its own fields in
    /// schema order) and hands it to the collector by reference: a
    /// collector that copies what it keeps (the JSONL sink) allocates
    /// nothing for it.
    #[inline]
    fn send(&self, tag: Tag, fields: &[FieldRef<'_>], agent: Option<&str>, turn: Option<&str>) {
        let event = EventRef::new(tag, fields).ids(agent, turn, self.session_id.as_deref());
        self.collector.emit_ref(&event);
    }

    /// `turn_start`; returns the turn id (`turn`, or a generated one when
    /// `turn` is `None` or empty).
    pub fn turn_start(&self, prompt: &str, agent: Option<&str>, turn: Option<&str>) -> SmolStr {
        let turn_id = match turn {
            Some(t) if !t.is_empty() => SmolStr::new(t),
            _ => generate_turn_id(),
        };
        self.send(
            Tag::TurnStart,
            &[FieldRef::Str(preview_str(prompt))],
            agent,
            Some(&turn_id),
        );
        turn_id
    }

    /// `turn_end` with the response preview and the number of tool calls.
    pub fn turn_end(
        &self,
        content: &str,
        function_calls: i64,
        agent: Option<&str>,
        turn: Option<&str>,
    ) {
        self.send(
            Tag::TurnEnd,
            &[
                FieldRef::Str(preview_str(content)),
                FieldRef::Int(function_calls),
            ],
            agent,
            turn,
        );
    }

    /// `tool_call_attempt` with the arguments preview.
    pub fn tool_call_attempt(
        &self,
        tool: &str,
        args: &str,
        agent: Option<&str>,
        turn: Option<&str>,
    ) {
        self.send(
            Tag::ToolCallAttempt,
            &[FieldRef::Str(tool), FieldRef::Str(preview_str(args))],
            agent,
            turn,
        );
    }

    /// `tool_call_complete` with status, duration and result preview.
    pub fn tool_call_complete(
        &self,
        tool: &str,
        status: &str,
        duration_ms: f64,
        result: &str,
        agent: Option<&str>,
        turn: Option<&str>,
    ) {
        self.send(
            Tag::ToolCallComplete,
            &[
                FieldRef::Str(tool),
                FieldRef::Str(status),
                FieldRef::Number(&Number::Float(duration_ms)),
                FieldRef::Str(preview_str(result)),
            ],
            agent,
            turn,
        );
    }

    /// `tool_call_failure` (severity `error`).
    pub fn tool_call_failure(
        &self,
        tool: &str,
        error_type: &str,
        error_message: &str,
        agent: Option<&str>,
        turn: Option<&str>,
    ) {
        self.send(
            Tag::ToolCallFailure,
            &[
                FieldRef::Str(tool),
                FieldRef::Str(error_type),
                FieldRef::Str(error_message),
            ],
            agent,
            turn,
        );
    }

    /// `tool_policy_decision`.
    pub fn tool_policy_decision(
        &self,
        tool: &str,
        action: &str,
        policy_source: &str,
        agent: Option<&str>,
        turn: Option<&str>,
    ) {
        self.send(
            Tag::ToolPolicyDecision,
            &[
                FieldRef::Str(tool),
                FieldRef::Str(action),
                FieldRef::Str(policy_source),
            ],
            agent,
            turn,
        );
    }

    /// `sandbox_decision`.
    pub fn sandbox_decision(
        &self,
        tool: &str,
        context: &str,
        reason: &str,
        backend_type: &str,
        agent: Option<&str>,
        turn: Option<&str>,
    ) {
        self.send(
            Tag::SandboxDecision,
            &[
                FieldRef::Str(tool),
                FieldRef::Str(context),
                FieldRef::Str(reason),
                FieldRef::Str(backend_type),
            ],
            agent,
            turn,
        );
    }

    /// `tool_loop_warning` (severity `warning`); `level` is the detector's
    /// own `severity_level`.
    pub fn tool_loop_warning(
        &self,
        tool: &str,
        pattern: &str,
        level: &str,
        call_count: i64,
        agent: Option<&str>,
        turn: Option<&str>,
    ) {
        self.send(
            Tag::ToolLoopWarning,
            &[
                FieldRef::Str(tool),
                FieldRef::Str(pattern),
                FieldRef::Str(level),
                FieldRef::Int(call_count),
            ],
            agent,
            turn,
        );
    }

    /// `tool_loop_block` (severity `error`).
    pub fn tool_loop_block(
        &self,
        tool: &str,
        pattern: &str,
        call_count: i64,
        agent: Option<&str>,
        turn: Option<&str>,
    ) {
        self.send(
            Tag::ToolLoopBlock,
            &[
                FieldRef::Str(tool),
                FieldRef::Str(pattern),
                FieldRef::Int(call_count),
            ],
            agent,
            turn,
        );
    }

    /// `hook_mutation`.
    pub fn hook_mutation(
        &self,
        hook: &str,
        tool: &str,
        field: &str,
        agent: Option<&str>,
        turn: Option<&str>,
    ) {
        self.send(
            Tag::HookMutation,
            &[
                FieldRef::Str(hook),
                FieldRef::Str(tool),
                FieldRef::Str(field),
            ],
            agent,
            turn,
        );
    }

    /// `error` (severity `error`).
    pub fn error(
        &self,
        error_type: &str,
        message: &str,
        context: &str,
        agent: Option<&str>,
        turn: Option<&str>,
    ) {
        self.send(
            Tag::Error,
            &[
                FieldRef::Str(error_type),
                FieldRef::Str(message),
                FieldRef::Str(context),
            ],
            agent,
            turn,
        );
    }

    /// `skill_used`.
    #[allow(clippy::too_many_arguments)]
    pub fn skill_used(
        &self,
        skill: &str,
        version: &str,
        outcome: &str,
        duration_ms: f64,
        triggered_automatically: bool,
        agent: Option<&str>,
        turn: Option<&str>,
    ) {
        self.send(
            Tag::SkillUsed,
            &[
                FieldRef::Str(skill),
                FieldRef::Str(version),
                FieldRef::Str(outcome),
                FieldRef::Number(&Number::Float(duration_ms)),
                FieldRef::Bool(triggered_automatically),
            ],
            agent,
            turn,
        );
    }

    /// `skill_authored`.
    #[allow(clippy::too_many_arguments)]
    pub fn skill_authored(
        &self,
        skill: &str,
        version: &str,
        source_path: &str,
        tool_count: i64,
        unique_tools: &[&str],
        confirmed_by_user: bool,
        agent: Option<&str>,
        turn: Option<&str>,
    ) {
        // A list of tools: built owned (the one type that has a list).
        let mut event = Event::new(SkillAuthored {
            skill_name: skill.into(),
            version: version.into(),
            source_path: source_path.into(),
            tool_count,
            unique_tools: unique_tools.iter().map(SmolStr::new).collect(),
            confirmed_by_user,
        });
        event.agent_id = agent.map(SmolStr::new);
        event.turn_id = turn.map(SmolStr::new);
        self.emit(event);
    }

    /// `skill_feedback`.
    pub fn skill_feedback(
        &self,
        skill: &str,
        rating: &str,
        reason: &str,
        source: &str,
        agent: Option<&str>,
        turn: Option<&str>,
    ) {
        self.send(
            Tag::SkillFeedback,
            &[
                FieldRef::Str(skill),
                FieldRef::Str(rating),
                FieldRef::Str(reason),
                FieldRef::Str(source),
            ],
            agent,
            turn,
        );
    }

    /// `agent_switch`.
    pub fn agent_switch(
        &self,
        from: &str,
        to: &str,
        reason: &str,
        agent: Option<&str>,
        turn: Option<&str>,
    ) {
        self.send(
            Tag::AgentSwitch,
            &[
                FieldRef::Str(from),
                FieldRef::Str(to),
                FieldRef::Str(reason),
            ],
            agent,
            turn,
        );
    }

    /// A `base` event (the bare envelope).
    pub fn base(&self, agent: Option<&str>, turn: Option<&str>) {
        self.send(Tag::Base, &[], agent, turn);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The inverse of multiplying by odd `a` modulo 2^48 (Newton's method).
    fn inverse(a: u64) -> u64 {
        let mut x = a;
        for _ in 0..6 {
            x = x.wrapping_mul(2u64.wrapping_sub(a.wrapping_mul(x)));
        }
        x & ((1 << 48) - 1)
    }

    /// Undoing every step gives the counter back: distinct counters make
    /// distinct ids.
    #[test]
    fn turn_ids_are_a_bijection_of_the_counter() {
        const MASK: u64 = (1 << 48) - 1;
        let keys = [0x1234_5678_9abc_def0, 0x0fed_cba9_8765_4321];
        let mut c = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..100_000 {
            c = c.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let counter = c & MASK;
            let mut x = permute48(counter, keys);
            assert!(x <= MASK);
            x ^= keys[1] & MASK;
            x ^= x >> 24;
            x = x.wrapping_mul(inverse(0xc2b2_ae3d_27d5)) & MASK;
            x ^= x >> 24;
            x = x.wrapping_mul(inverse(0x9e37_79b9_7f4b)) & MASK;
            x = x.wrapping_sub(keys[0]) & MASK;
            assert_eq!(x, counter);
        }
        let ids: std::collections::HashSet<_> = (0..10_000).map(|_| generate_turn_id()).collect();
        assert_eq!(ids.len(), 10_000);
        assert!(ids.iter().all(|id| id.len() == 12
            && id
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())));
    }
}
