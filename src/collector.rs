//! The [`Collector`] trait: where events go.
//!
//! A collector takes events from any number of threads. `emit` never
//! fails from the caller's point of view (an agent loop has nothing useful
//! to do with an audit error in the middle of a tool call); anything that
//! went wrong is kept and reported by the next [`Collector::flush`].

use std::fmt;
use std::io;
use std::sync::Arc;

use crate::event::{Event, EventRef};

/// A destination for audit events. Object safe: use it as
/// `Arc<dyn Collector>`.
///
/// ```
/// use std::sync::Arc;
/// use agent_audit::{Collector, Event, MemoryCollector};
/// use agent_audit::event::TurnStart;
///
/// let memory = Arc::new(MemoryCollector::new());
/// let sink: Arc<dyn Collector> = memory.clone();
/// sink.emit(Event::new(TurnStart::default()));
/// sink.flush().unwrap();
/// assert_eq!(memory.len(), 1);
/// ```
pub trait Collector: Send + Sync {
    /// Accepts one event.
    fn emit(&self, event: Event);

    /// Accepts one event given by its borrowed parts: what the
    /// [`Emitter`](crate::Emitter)'s methods call (all but
    /// `skill_authored`, and [`Emitter::emit`](crate::Emitter::emit), which
    /// pass owned events to [`Collector::emit`]). The default builds the
    /// owned [`Event`] and passes it to [`Collector::emit`]; a collector
    /// that only copies what it needs (the JSONL sink) overrides it and
    /// saves the allocations.
    #[inline]
    fn emit_ref(&self, event: &EventRef<'_>) {
        self.emit(event.to_event())
    }

    /// Makes every event emitted before this call durable to the degree
    /// the collector promises, and reports any error since the last flush.
    fn flush(&self) -> Result<(), Error>;
}

impl<C: Collector + ?Sized> Collector for Arc<C> {
    #[inline]
    fn emit(&self, event: Event) {
        (**self).emit(event)
    }
    #[inline]
    fn emit_ref(&self, event: &EventRef<'_>) {
        (**self).emit_ref(event)
    }
    fn flush(&self) -> Result<(), Error> {
        (**self).flush()
    }
}

impl<C: Collector + ?Sized> Collector for Box<C> {
    #[inline]
    fn emit(&self, event: Event) {
        (**self).emit(event)
    }
    #[inline]
    fn emit_ref(&self, event: &EventRef<'_>) {
        (**self).emit_ref(event)
    }
    fn flush(&self) -> Result<(), Error> {
        (**self).flush()
    }
}

/// What a collector reports from [`Collector::flush`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Error {
    /// A write failed. Shared so that every flusher can see it.
    Io(Arc<io::Error>),
    /// The collector was closed; `count` events emitted after that were
    /// not recorded.
    Closed {
        /// Events refused since the last report.
        count: u64,
    },
    /// The sink was closed while a write fault persisted past its close
    /// timeout: `events` events could not be written.
    Abandoned {
        /// Events that were not written.
        events: u64,
        /// The fault that kept them out.
        cause: Arc<io::Error>,
    },
    /// A child collector panicked in `emit` or `flush`.
    Panicked(String),
    /// Several children of a composite failed.
    Many(Vec<Error>),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "audit write failed: {e}"),
            Error::Closed { count } => {
                write!(f, "{count} events emitted after close were not recorded")
            }
            Error::Abandoned { events, cause } => {
                write!(
                    f,
                    "{events} audit events could not be written before close: {cause}"
                )
            }
            Error::Panicked(msg) => write!(f, "a collector panicked: {msg}"),
            Error::Many(errors) => {
                write!(f, "{} collectors failed", errors.len())?;
                for e in errors {
                    write!(f, "; {e}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) | Error::Abandoned { cause: e, .. } => Some(&**e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(Arc::new(e))
    }
}
