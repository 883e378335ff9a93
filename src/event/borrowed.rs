//! [`EventRef`]: an event made of borrowed parts, for collectors that copy
//! what they keep.
//!
//! An owned [`Event`] allocates for every string longer than 23 bytes (a
//! preview usually is), and whoever drops it frees that memory, often on
//! another thread. A collector that only serialises events later, like the
//! JSONL sink, needs the bytes and nothing else: given an `EventRef` it
//! copies the text straight into its queue slot. The
//! [`Emitter`](crate::Emitter) hands its events to collectors this way;
//! the default [`Collector::emit_ref`](crate::Collector::emit_ref) builds
//! the owned event from it, so collectors that keep events (the in-memory
//! one) see exactly what they saw before.
//!
//! An `EventRef` is always one of the schema's types, with its default
//! severity, every envelope key present, empty `metadata` and no extra
//! keys. Its fields are the type's own fields, one for one in schema
//! order: only this crate builds one (the emitter, whose methods are tested
//! field by field against events built by name), and debug builds check
//! each field's type against the schema.

use super::{Event, FieldRef, Kind, Tag};
use crate::severity::Severity;
use crate::timestamp::Timestamp;

/// An event whose text is borrowed from the caller.
///
/// Collectors receive it in [`Collector::emit_ref`](crate::Collector::emit_ref);
/// [`EventRef::to_event`] makes the owned [`Event`] with the same content.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use agent_audit::{Collector, Emitter, Error, Event};
/// use agent_audit::event::EventRef;
///
/// /// Keeps only the tool names, without building whole events.
/// #[derive(Default)]
/// struct Tools(Mutex<Vec<String>>);
///
/// impl Collector for Tools {
///     fn emit(&self, event: Event) {
///         if let Some(tool) = event.tool_name() {
///             self.0.lock().unwrap().push(tool.to_owned());
///         }
///     }
///     fn emit_ref(&self, event: &EventRef<'_>) {
///         for (name, value) in event.fields() {
///             if let ("tool_name", agent_audit::event::FieldRef::Str(tool)) = (name, value) {
///                 self.0.lock().unwrap().push(tool.to_owned());
///             }
///         }
///     }
///     fn flush(&self) -> Result<(), Error> {
///         Ok(())
///     }
/// }
///
/// let tools = Arc::new(Tools::default());
/// let emitter = Emitter::with_collector(tools.clone());
/// emitter.tool_call_attempt("web_search", "{}", None, None);
/// assert_eq!(*tools.0.lock().unwrap(), ["web_search"]);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct EventRef<'a> {
    tag: Tag,
    fields: &'a [FieldRef<'a>],
    micros: i64,
    agent_id: Option<&'a str>,
    turn_id: Option<&'a str>,
    session_id: Option<&'a str>,
}

impl<'a> EventRef<'a> {
    /// An event of type `tag` with its own `fields` in schema order,
    /// stamped now, without ids.
    #[inline]
    pub(crate) fn new(tag: Tag, fields: &'a [FieldRef<'a>]) -> EventRef<'a> {
        EventRef::at(tag, fields, Timestamp::now_micros())
    }

    /// [`EventRef::new`] at `micros` microseconds since the Unix epoch.
    #[inline]
    pub(crate) fn at(tag: Tag, fields: &'a [FieldRef<'a>], micros: i64) -> EventRef<'a> {
        debug_assert!(
            fields
                .iter()
                .map(FieldRef::shape)
                .eq(tag.shapes().iter().copied()),
            "the fields of {} do not follow its schema",
            tag.event_type()
        );
        EventRef {
            tag,
            fields,
            micros,
            agent_id: None,
            turn_id: None,
            session_id: None,
        }
    }

    /// Sets the agent, turn and session ids.
    #[inline]
    pub(crate) fn ids(
        mut self,
        agent: Option<&'a str>,
        turn: Option<&'a str>,
        session: Option<&'a str>,
    ) -> EventRef<'a> {
        self.agent_id = agent;
        self.turn_id = turn;
        self.session_id = session;
        self
    }

    /// The schema type.
    #[inline]
    pub(crate) fn tag(&self) -> Tag {
        self.tag
    }

    /// The own fields' values, in schema order.
    #[inline]
    pub(crate) fn field_values(&self) -> &'a [FieldRef<'a>] {
        self.fields
    }

    /// Microseconds since the Unix epoch.
    #[inline]
    pub(crate) fn unix_micros(&self) -> i64 {
        self.micros
    }

    /// The `event_type` tag.
    pub fn event_type(&self) -> &'static str {
        self.tag.event_type()
    }

    /// When the event was created.
    pub fn timestamp(&self) -> Timestamp {
        Timestamp::from_unix_micros(self.micros)
    }

    /// The agent id.
    pub fn agent_id(&self) -> Option<&'a str> {
        self.agent_id
    }

    /// The turn id.
    pub fn turn_id(&self) -> Option<&'a str> {
        self.turn_id
    }

    /// The session id.
    pub fn session_id(&self) -> Option<&'a str> {
        self.session_id
    }

    /// The severity: the type's default.
    pub fn severity(&self) -> Severity {
        self.tag.default_severity()
    }

    /// Each own field's name and value, in schema order.
    pub fn fields(&self) -> impl ExactSizeIterator<Item = (&'static str, FieldRef<'a>)> + 'a {
        let names = self.tag.field_keys().iter().map(|(name, _)| *name);
        names.zip(self.fields.iter().copied())
    }

    /// The owned event with the same content.
    pub fn to_event(&self) -> Event {
        let mut event = Event::stamped(
            Kind::from_fields(self.tag, self.fields),
            Timestamp::from_unix_micros(self.micros),
        );
        event.agent_id = self.agent_id.map(Into::into);
        event.turn_id = self.turn_id.map(Into::into);
        event.session_id = self.session_id.map(Into::into);
        event
    }
}
