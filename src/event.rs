//! The event model: an envelope shared by every event, and one struct per
//! event type of the Calute/Xerxes schema.
//!
//! An [`Event`] is the envelope (timestamp, agent/turn/session ids,
//! [`Severity`], metadata) plus a [`Kind`], which carries the type's own
//! fields. The JSON key order is fixed by the schema: the envelope
//! `event_type, timestamp, agent_id, turn_id, session_id, severity,
//! metadata`, then the type's fields in declaration order, then any keys the
//! schema does not know (kept from a log so that nothing is lost).
//!
//! `event_type` is not a field anyone can set: it is derived from the
//! [`Kind`] variant, so it cannot contradict the type. A log line whose type
//! is none of the sixteen becomes [`Kind::Other`], its fields kept in order.
//!
//! ```
//! use agent_audit::event::{Event, ToolCallAttempt};
//! use agent_audit::Severity;
//!
//! let ev = Event::new(ToolCallAttempt {
//!     tool_name: "web_search".into(),
//!     arguments_preview: r#"{"q": "rust"}"#.into(),
//! })
//! .agent("agent-1")
//! .turn("3f2a9c01b7de");
//! assert_eq!(ev.event_type(), "tool_call_attempt");
//! assert_eq!(ev.severity, Severity::Info);
//! ```
//!
//! Strings are [`SmolStr`]: ids up to 23 bytes live inline (no allocation),
//! `&'static str` literals cost nothing, and longer runtime strings are
//! shared by reference count, so stamping one agent id on a million events
//! copies a pointer, not the text.

mod borrowed;

use smol_str::SmolStr;

pub use borrowed::EventRef;

use crate::json::KeyBlocks;
use crate::severity::Severity;
use crate::timestamp::Timestamp;
use crate::value::{Map, Number, Value};

/// A borrowed view of one typed field, handed to writers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FieldRef<'a> {
    /// A string field.
    Str(&'a str),
    /// An integer field (`call_count`, ...).
    Int(i64),
    /// A float field (`duration_ms`); an integer survives as one.
    Number(&'a Number),
    /// A boolean field.
    Bool(bool),
    /// A list of strings (`unique_tools`).
    StrList(&'a [SmolStr]),
}

impl FieldRef<'_> {
    /// Which of the five field types this is.
    pub(crate) fn shape(&self) -> Shape {
        match self {
            FieldRef::Str(_) => Shape::Str,
            FieldRef::Int(_) => Shape::Int,
            FieldRef::Number(_) => Shape::Number,
            FieldRef::Bool(_) => Shape::Bool,
            FieldRef::StrList(_) => Shape::StrList,
        }
    }
}

/// The type of a field, without its value: what a [`FieldRef`] of that
/// field must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    Str,
    Int,
    Number,
    Bool,
    StrList,
}

/// Conversion between a typed field and its JSON value.
pub(crate) trait FieldType: Sized {
    const SHAPE: Shape;
    fn field_ref(&self) -> FieldRef<'_>;
    /// The owned field from a borrowed one of the same shape.
    fn from_ref(r: FieldRef<'_>) -> Option<Self>;
    fn from_value(v: Value) -> Result<Self, String>;
    /// From a JSON string's text: the reader's path for string values,
    /// which skips building a `Value` for fields that take the text.
    fn from_text(s: &str) -> Result<Self, String> {
        Self::from_value(Value::String(SmolStr::new(s)))
    }
}

fn wrong(expected: &str, found: &Value) -> String {
    format!("expected {expected}, found {}", found.type_name())
}

impl FieldType for SmolStr {
    const SHAPE: Shape = Shape::Str;
    fn from_ref(r: FieldRef<'_>) -> Option<Self> {
        match r {
            FieldRef::Str(s) => Some(SmolStr::new(s)),
            _ => None,
        }
    }
    fn field_ref(&self) -> FieldRef<'_> {
        FieldRef::Str(self)
    }
    fn from_value(v: Value) -> Result<Self, String> {
        match v {
            Value::String(s) => Ok(s),
            other => Err(wrong("string", &other)),
        }
    }
    fn from_text(s: &str) -> Result<Self, String> {
        Ok(SmolStr::new(s))
    }
}

impl FieldType for i64 {
    const SHAPE: Shape = Shape::Int;
    fn from_ref(r: FieldRef<'_>) -> Option<Self> {
        match r {
            FieldRef::Int(i) => Some(i),
            _ => None,
        }
    }
    fn field_ref(&self) -> FieldRef<'_> {
        FieldRef::Int(*self)
    }
    fn from_value(v: Value) -> Result<Self, String> {
        match v {
            Value::Number(Number::Int(i)) => Ok(i),
            Value::Number(Number::UInt(_) | Number::Big(_)) => {
                Err("integer out of the 64-bit signed range".into())
            }
            other => Err(wrong("integer", &other)),
        }
    }
}

impl FieldType for Number {
    const SHAPE: Shape = Shape::Number;
    fn from_ref(r: FieldRef<'_>) -> Option<Self> {
        match r {
            FieldRef::Number(n) => Some(n.clone()),
            _ => None,
        }
    }
    fn field_ref(&self) -> FieldRef<'_> {
        FieldRef::Number(self)
    }
    fn from_value(v: Value) -> Result<Self, String> {
        match v {
            Value::Number(n) => Ok(n),
            // The compact format writes non-finite floats as `null`, and
            // Python writes `None` so: read as the NaN that is written back
            // as `null`, rather than refuse our own output.
            Value::Null => Ok(Number::Float(crate::json::float::NULL)),
            other => Err(wrong("number", &other)),
        }
    }
}

impl FieldType for bool {
    const SHAPE: Shape = Shape::Bool;
    fn from_ref(r: FieldRef<'_>) -> Option<Self> {
        match r {
            FieldRef::Bool(b) => Some(b),
            _ => None,
        }
    }
    fn field_ref(&self) -> FieldRef<'_> {
        FieldRef::Bool(*self)
    }
    fn from_value(v: Value) -> Result<Self, String> {
        match v {
            Value::Bool(b) => Ok(b),
            other => Err(wrong("bool", &other)),
        }
    }
}

impl FieldType for Vec<SmolStr> {
    const SHAPE: Shape = Shape::StrList;
    fn from_ref(r: FieldRef<'_>) -> Option<Self> {
        match r {
            FieldRef::StrList(items) => Some(items.to_vec()),
            _ => None,
        }
    }
    fn field_ref(&self) -> FieldRef<'_> {
        FieldRef::StrList(self)
    }
    fn from_value(v: Value) -> Result<Self, String> {
        match v {
            Value::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::String(s) => Ok(s),
                    other => Err(format!("item {i}: {}", wrong("string", &other))),
                })
                .collect(),
            other => Err(wrong("array of strings", &other)),
        }
    }
}

macro_rules! kinds {
    ($(
        $(#[$doc:meta])*
        $name:ident = $tag:literal, $sev:ident {
            $( $(#[$fdoc:meta])* $field:ident : $ty:ty = $default:expr ),* $(,)?
        }
    )*) => {
        $(
            $(#[$doc])*
            #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
            #[serde(default)]
            pub struct $name {
                $( $(#[$fdoc])* pub $field: $ty, )*
            }

            impl Default for $name {
                fn default() -> Self {
                    $name { $( $field: $default, )* }
                }
            }

            impl $name {
                /// The `event_type` tag of this type.
                pub const EVENT_TYPE: &'static str = $tag;
                /// The severity an event of this type gets unless told otherwise.
                pub const DEFAULT_SEVERITY: Severity = Severity::$sev;
                /// The names of this type's own fields, in schema order.
                pub const FIELDS: &'static [&'static str] = &[$(stringify!($field)),*];
            }

            impl From<$name> for Kind {
                fn from(k: $name) -> Kind {
                    Kind::$name(k)
                }
            }
        )*

        /// The type of an event and its own fields.
        #[derive(Clone, Debug, PartialEq)]
        pub enum Kind {
            $( $(#[$doc])* $name($name), )*
            /// An `event_type` the schema does not know, read from a log.
            /// Its fields are kept in the event's `extra` map.
            Other(SmolStr),
        }

        /// Which schema type an event is: a [`Kind`] without its fields.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub(crate) enum Tag {
            $( $name, )*
        }

        impl Tag {
            /// Every tag, in schema order.
            #[cfg(test)]
            pub(crate) const ALL: &'static [Tag] = &[$(Tag::$name),*];

            /// The `event_type` text.
            #[inline]
            pub(crate) fn event_type(self) -> &'static str {
                match self {
                    $( Tag::$name => $tag, )*
                }
            }

            /// The severity an event of this type gets unless told otherwise.
            #[inline]
            pub(crate) fn default_severity(self) -> Severity {
                match self {
                    $( Tag::$name => Severity::$sev, )*
                }
            }

            /// The own fields' names with their keys as written, in schema order.
            #[inline]
            pub(crate) fn field_keys(self) -> &'static [(&'static str, KeyBlocks)] {
                match self {
                    $( Tag::$name => {
                        static KEYS: &[(&str, KeyBlocks)] =
                            &[$( (stringify!($field), KeyBlocks::member(stringify!($field))) ),*];
                        KEYS
                    } )*
                }
            }

            /// The own fields' types, in schema order.
            #[inline]
            pub(crate) fn shapes(self) -> &'static [Shape] {
                match self {
                    $( Tag::$name => {
                        static SHAPES: &[Shape] = &[$( <$ty as FieldType>::SHAPE ),*];
                        SHAPES
                    } )*
                }
            }
        }

        impl Kind {
            /// The schema type, `None` for [`Kind::Other`].
            #[inline]
            pub(crate) fn tag(&self) -> Option<Tag> {
                match self {
                    $( Kind::$name(_) => Some(Tag::$name), )*
                    Kind::Other(_) => None,
                }
            }

            /// The kind `tag` with its own fields taken from `fields`, in
            /// schema order. A field missing or of the wrong type keeps its
            /// default (the crate's callers pass [`Tag::shapes`] exactly).
            pub(crate) fn from_fields(tag: Tag, fields: &[FieldRef<'_>]) -> Kind {
                debug_assert!(fields.iter().map(FieldRef::shape).eq(tag.shapes().iter().copied()));
                match tag {
                    $( Tag::$name => {
                        let mut _it = fields.iter().copied();
                        Kind::$name($name {
                            $( $field: _it.next().and_then(FieldType::from_ref).unwrap_or_else(|| $default), )*
                        })
                    } )*
                }
            }

            /// The `event_type` tag.
            pub fn event_type(&self) -> &str {
                match self {
                    $( Kind::$name(_) => $tag, )*
                    Kind::Other(tag) => tag,
                }
            }

            /// The default severity of this kind (`info` for unknown ones).
            pub fn default_severity(&self) -> Severity {
                match self {
                    $( Kind::$name(_) => Severity::$sev, )*
                    Kind::Other(_) => Severity::Info,
                }
            }

            /// A kind with default fields for a tag: [`Kind::Other`] when the
            /// tag is not in the schema.
            pub fn with_defaults(tag: &str) -> Kind {
                match tag {
                    $( $tag => Kind::$name($name::default()), )*
                    other => Kind::Other(other.into()),
                }
            }

            /// Calls `f` with each own field, in schema order.
            #[inline]
            pub fn for_each_field(&self, mut f: impl FnMut(&'static str, FieldRef<'_>)) {
                match self {
                    $( Kind::$name(_k) => {
                        $( f(stringify!($field), FieldType::field_ref(&_k.$field)); )*
                    } )*
                    Kind::Other(_) => {}
                }
                let _ = &mut f;
            }

            /// [`Kind::for_each_field`] for the writer: each field's key
            /// comes with its separators precomputed for both formats.
            #[inline]
            pub(crate) fn for_each_keyed_field(&self, mut f: impl FnMut(&'static KeyBlocks, FieldRef<'_>)) {
                match self {
                    $( Kind::$name(_k) => {
                        $( {
                            static KEY: KeyBlocks = KeyBlocks::member(stringify!($field));
                            f(&KEY, FieldType::field_ref(&_k.$field));
                        } )*
                    } )*
                    Kind::Other(_) => {}
                }
                let _ = &mut f;
            }

            /// [`Kind::set_text_field`] for the own field at `index` in
            /// schema order (the order of [`Kind::field_keys`]).
            #[inline]
            pub(crate) fn set_text_field_at(&mut self, index: usize, text: &str) -> Result<bool, String> {
                match self {
                    $( Kind::$name(_k) => {
                        let mut _n = 0usize;
                        $(
                            if _n == index {
                                _k.$field = FieldType::from_text(text)?;
                                return Ok(true);
                            }
                            _n += 1;
                        )*
                        Ok(false)
                    } )*
                    Kind::Other(_) => Ok(false),
                }
            }

            /// The own fields' names with their keys as written, in schema
            /// order: what the reader's fast path expects to find.
            pub(crate) fn field_keys(&self) -> &'static [(&'static str, KeyBlocks)] {
                self.tag().map_or(&[], Tag::field_keys)
            }

            /// Sets the own field `key` from a JSON value. Hands the value
            /// back when this kind has no such field.
            pub(crate) fn set_field(&mut self, key: &str, value: Value) -> Result<Option<Value>, String> {
                match self {
                    $( Kind::$name(_k) => match key {
                        $( stringify!($field) => {
                            _k.$field = FieldType::from_value(value)?;
                            Ok(None)
                        } )*
                        _ => Ok(Some(value)),
                    }, )*
                    Kind::Other(_) => Ok(Some(value)),
                }
            }

            /// Sets the own field `key` from a JSON string's text. `false`
            /// when this kind has no such field.
            pub(crate) fn set_text_field(&mut self, key: &str, text: &str) -> Result<bool, String> {
                match self {
                    $( Kind::$name(_k) => match key {
                        $( stringify!($field) => {
                            _k.$field = FieldType::from_text(text)?;
                            Ok(true)
                        } )*
                        _ => Ok(false),
                    }, )*
                    Kind::Other(_) => Ok(false),
                }
            }
        }

        /// Every event type of the schema, in the order it lists them.
        pub const EVENT_TYPES: &[&str] = &[$($tag),*];
    };
}

const fn s(text: &'static str) -> SmolStr {
    SmolStr::new_static(text)
}

kinds! {
    /// `base`: the bare envelope, no fields of its own.
    Base = "base", Info {}

    /// `turn_start`: an agent turn begins.
    TurnStart = "turn_start", Info {
        /// The first 200 characters of the prompt.
        prompt_preview: SmolStr = s(""),
    }

    /// `turn_end`: an agent turn finished.
    TurnEnd = "turn_end", Info {
        /// The first 200 characters of the response.
        content_preview: SmolStr = s(""),
        /// How many tool calls the turn made.
        function_calls_count: i64 = 0,
    }

    /// `tool_call_attempt`: a tool call is about to be dispatched.
    ToolCallAttempt = "tool_call_attempt", Info {
        /// The tool's registered name.
        tool_name: SmolStr = s(""),
        /// The first 200 characters of the arguments.
        arguments_preview: SmolStr = s(""),
    }

    /// `tool_call_complete`: a tool call returned.
    ToolCallComplete = "tool_call_complete", Info {
        /// The tool's registered name.
        tool_name: SmolStr = s(""),
        /// Completion status, usually `success`.
        status: SmolStr = s("success"),
        /// Wall-clock duration in milliseconds.
        duration_ms: Number = Number::Float(0.0),
        /// The first 200 characters of the result.
        result_preview: SmolStr = s(""),
    }

    /// `tool_call_failure`: a tool call raised or failed.
    ToolCallFailure = "tool_call_failure", Error {
        /// The tool's registered name.
        tool_name: SmolStr = s(""),
        /// The error's class, e.g. `TimeoutError`.
        error_type: SmolStr = s(""),
        /// The error's message.
        error_message: SmolStr = s(""),
    }

    /// `tool_policy_decision`: the policy engine allowed or denied a call.
    ToolPolicyDecision = "tool_policy_decision", Info {
        /// The tool under evaluation.
        tool_name: SmolStr = s(""),
        /// The verdict, usually `allow` or `deny`.
        action: SmolStr = s(""),
        /// The rule or file that decided.
        policy_source: SmolStr = s(""),
    }

    /// `sandbox_decision`: the sandbox router chose a backend.
    SandboxDecision = "sandbox_decision", Info {
        /// The tool being routed.
        tool_name: SmolStr = s(""),
        /// The execution context that influenced the choice.
        context: SmolStr = s(""),
        /// Why this backend.
        reason: SmolStr = s(""),
        /// The chosen backend, e.g. `docker`.
        backend_type: SmolStr = s(""),
    }

    /// `tool_loop_warning`: the loop detector suspects a repetition.
    ToolLoopWarning = "tool_loop_warning", Warning {
        /// The tool involved.
        tool_name: SmolStr = s(""),
        /// The pattern detected, e.g. `same_args_3x`.
        pattern: SmolStr = s(""),
        /// The detector's own level.
        severity_level: SmolStr = s(""),
        /// How many calls matched.
        call_count: i64 = 0,
    }

    /// `tool_loop_block`: the loop detector blocked a call.
    ToolLoopBlock = "tool_loop_block", Error {
        /// The tool blocked.
        tool_name: SmolStr = s(""),
        /// The pattern that triggered the block.
        pattern: SmolStr = s(""),
        /// How many calls matched.
        call_count: i64 = 0,
    }

    /// `hook_mutation`: a hook changed a tool call or its result.
    HookMutation = "hook_mutation", Info {
        /// The hook.
        hook_name: SmolStr = s(""),
        /// The tool whose call or result changed.
        tool_name: SmolStr = s(""),
        /// The field changed, e.g. `arguments`.
        mutated_field: SmolStr = s(""),
    }

    /// `error`: an error not tied to one tool call.
    Error = "error", Error {
        /// The error's class.
        error_type: SmolStr = s(""),
        /// The error's message.
        error_message: SmolStr = s(""),
        /// Where or why it happened.
        error_context: SmolStr = s(""),
    }

    /// `skill_used`: a skill bundle ran.
    SkillUsed = "skill_used", Info {
        /// The skill.
        skill_name: SmolStr = s(""),
        /// Its version.
        version: SmolStr = s(""),
        /// How it went.
        outcome: SmolStr = s("unknown"),
        /// Wall-clock duration in milliseconds.
        duration_ms: Number = Number::Float(0.0),
        /// Whether the agent chose it on its own.
        triggered_automatically: bool = true,
    }

    /// `skill_authored`: a skill was created or updated.
    SkillAuthored = "skill_authored", Info {
        /// The skill.
        skill_name: SmolStr = s(""),
        /// Its version.
        version: SmolStr = s(""),
        /// Where it was written.
        source_path: SmolStr = s(""),
        /// How many tool calls it holds.
        tool_count: i64 = 0,
        /// The distinct tools it uses.
        unique_tools: Vec<SmolStr> = Vec::new(),
        /// Whether a user confirmed it.
        confirmed_by_user: bool = false,
    }

    /// `skill_feedback`: a rating of a skill run.
    SkillFeedback = "skill_feedback", Info {
        /// The skill.
        skill_name: SmolStr = s(""),
        /// The rating.
        rating: SmolStr = s("neutral"),
        /// Why.
        reason: SmolStr = s(""),
        /// Who rated it.
        source: SmolStr = s("user"),
    }

    /// `agent_switch`: control passed from one agent to another.
    AgentSwitch = "agent_switch", Info {
        /// The agent handing over.
        from_agent: SmolStr = s(""),
        /// The agent taking over.
        to_agent: SmolStr = s(""),
        /// Why.
        reason: SmolStr = s(""),
    }
}

/// The envelope's keys after `event_type`, in schema order: every event
/// written by the reference carries them, before its type's own fields.
pub const ENVELOPE: [&str; 6] = [
    "timestamp",
    "agent_id",
    "turn_id",
    "session_id",
    "severity",
    "metadata",
];

/// One audit event: the envelope plus its [`Kind`].
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// When the event was created.
    pub timestamp: Timestamp,
    /// The agent that produced it.
    pub agent_id: Option<SmolStr>,
    /// The conversational turn.
    pub turn_id: Option<SmolStr>,
    /// The session, usually stamped by the [`Emitter`](crate::Emitter).
    pub session_id: Option<SmolStr>,
    /// How serious it is.
    pub severity: Severity,
    /// Free-form context, keys in insertion order.
    pub metadata: Map,
    /// The type and its own fields.
    pub kind: Kind,
    /// Keys the schema does not know, read from a log; written after the
    /// type's own fields, in their original order.
    pub extra: Map,
    /// Bit `i` set: envelope key `ENVELOPE[i]` was absent in the log line
    /// this event came from, so it is not written back either, unless the
    /// field has been given a value since (see `has_envelope_key`).
    pub(crate) absent: u8,
}

impl Event {
    /// A new event of `kind`, stamped now, with the kind's default
    /// severity and no ids.
    #[inline]
    pub fn new(kind: impl Into<Kind>) -> Event {
        Event::stamped(kind.into(), Timestamp::now())
    }

    /// An event of `kind` at `timestamp`, default severity, no ids, every
    /// envelope key present.
    pub(crate) fn stamped(kind: Kind, timestamp: Timestamp) -> Event {
        Event {
            timestamp,
            agent_id: None,
            turn_id: None,
            session_id: None,
            severity: kind.default_severity(),
            metadata: Map::new(),
            kind,
            extra: Map::new(),
            absent: 0,
        }
    }

    /// The `event_type` tag.
    #[inline]
    pub fn event_type(&self) -> &str {
        self.kind.event_type()
    }

    /// Sets the agent id.
    pub fn agent(mut self, id: impl Into<SmolStr>) -> Event {
        self.agent_id = Some(id.into());
        self.present(1);
        self
    }

    /// Sets the turn id.
    pub fn turn(mut self, id: impl Into<SmolStr>) -> Event {
        self.turn_id = Some(id.into());
        self.present(2);
        self
    }

    /// Sets the session id.
    pub fn session(mut self, id: impl Into<SmolStr>) -> Event {
        self.session_id = Some(id.into());
        self.present(3);
        self
    }

    /// Sets the severity.
    pub fn with_severity(mut self, severity: impl Into<Severity>) -> Event {
        self.severity = severity.into();
        self.present(4);
        self
    }

    /// Sets the timestamp.
    pub fn at(mut self, timestamp: Timestamp) -> Event {
        self.timestamp = timestamp;
        self.present(0);
        self
    }

    /// Adds one metadata entry (replacing an earlier one of the same key in
    /// place).
    pub fn meta(mut self, key: impl Into<SmolStr>, value: impl Into<Value>) -> Event {
        self.metadata.insert(key.into(), value.into());
        self.present(5);
        self
    }

    /// The tool this event is about, for the types that name one.
    pub fn tool_name(&self) -> Option<&str> {
        let name = match &self.kind {
            Kind::ToolCallAttempt(k) => &k.tool_name,
            Kind::ToolCallComplete(k) => &k.tool_name,
            Kind::ToolCallFailure(k) => &k.tool_name,
            Kind::ToolPolicyDecision(k) => &k.tool_name,
            Kind::SandboxDecision(k) => &k.tool_name,
            Kind::ToolLoopWarning(k) => &k.tool_name,
            Kind::ToolLoopBlock(k) => &k.tool_name,
            Kind::HookMutation(k) => &k.tool_name,
            _ => return None,
        };
        Some(name)
    }

    /// Envelope key `i` is written from now on: its field was set.
    #[inline]
    fn present(&mut self, i: usize) {
        self.absent &= !(1 << i);
    }

    /// The timestamp an event read from a line without one holds.
    pub(crate) fn absent_timestamp() -> Timestamp {
        Timestamp::from_unix_micros(0)
    }

    /// Whether envelope key `i` (index into `ENVELOPE`) is written.
    #[inline]
    pub(crate) fn has_envelope_key(&self, i: usize) -> bool {
        self.absent & (1 << i) == 0 || self.set_since_read(i)
    }

    /// Whether envelope field `i`, absent from the line this event was
    /// read from, holds something other than what its absence reads as:
    /// the fields are public, so a value given since (by a builder, an
    /// assignment, an emitter's session) is found by looking, not by a
    /// bit every setter would have to clear.
    #[cold]
    fn set_since_read(&self, i: usize) -> bool {
        match i {
            0 => self.timestamp != Event::absent_timestamp(),
            1 => self.agent_id.is_some(),
            2 => self.turn_id.is_some(),
            3 => self.session_id.is_some(),
            4 => self.severity != self.kind.default_severity(),
            _ => !self.metadata.is_empty(),
        }
    }
}

impl Default for Event {
    /// A `base` event stamped now.
    fn default() -> Self {
        Event::new(Base {})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sixteen_unique_event_types() {
        let mut tags = EVENT_TYPES.to_vec();
        assert_eq!(tags.len(), 16);
        tags.sort_unstable();
        tags.dedup();
        assert_eq!(tags.len(), 16);
    }

    /// The reader sets a member by its position when the line has the
    /// writers' key order; that gives the same event as matching names only
    /// because no own field is named like an envelope key.
    #[test]
    fn own_fields_and_their_keys_follow_the_schema() {
        for tag in EVENT_TYPES {
            let kind = Kind::with_defaults(tag);
            let mut names = Vec::new();
            kind.for_each_field(|name, _| names.push(name));
            let keys: Vec<&str> = kind.field_keys().iter().map(|(n, _)| *n).collect();
            assert_eq!(keys, names, "{tag}");
            for (name, blocks) in kind.field_keys() {
                assert!(
                    !ENVELOPE.contains(name) && *name != "event_type",
                    "{tag}.{name}"
                );
                assert_eq!(
                    blocks.of(crate::json::Format::Compact).as_bytes(),
                    format!(",\"{name}\":").as_bytes()
                );
                assert_eq!(
                    blocks.of(crate::json::Format::Python).as_bytes(),
                    format!(", \"{name}\": ").as_bytes()
                );
            }
            for (i, (name, _)) in kind.field_keys().iter().enumerate() {
                let mut k = kind.clone();
                assert_eq!(
                    k.set_text_field_at(i, "7"),
                    k.clone().set_text_field(name, "7")
                );
            }
            assert_eq!(kind.clone().set_text_field_at(names.len(), "x"), Ok(false));
        }
    }

    #[test]
    fn default_severities_follow_the_schema() {
        for tag in EVENT_TYPES {
            let kind = Kind::with_defaults(tag);
            let expected = match *tag {
                "tool_call_failure" | "tool_loop_block" | "error" => Severity::Error,
                "tool_loop_warning" => Severity::Warning,
                _ => Severity::Info,
            };
            assert_eq!(kind.default_severity(), expected, "{tag}");
            assert_eq!(kind.event_type(), *tag);
        }
    }

    #[test]
    fn set_field_rejects_wrong_types_and_unknown_names() {
        let mut k = Kind::with_defaults("tool_loop_block");
        assert_eq!(k.set_field("call_count", Value::from(7i64)), Ok(None));
        assert_eq!(k.set_field("nope", Value::Null), Ok(Some(Value::Null)));
        let err = k.set_field("call_count", Value::from("7")).unwrap_err();
        assert_eq!(err, "expected integer, found string");
        let Kind::ToolLoopBlock(b) = k else { panic!() };
        assert_eq!(b.call_count, 7);
    }

    #[test]
    fn tool_name_is_found_for_tool_events_only() {
        let ev = Event::new(ToolLoopBlock {
            tool_name: "shell".into(),
            ..Default::default()
        });
        assert_eq!(ev.tool_name(), Some("shell"));
        assert_eq!(Event::new(TurnStart::default()).tool_name(), None);
    }
}
