//! Reading JSONL audit logs back: streaming, damage-tolerant, typed.
//!
//! A [`Reader`] yields one item per non-blank line: the event with its
//! line number, or a [`LineError`] that says which line and why. A damaged
//! line never stops the reader (unless [`Reader::strict`] asks it to) and
//! never hides the good lines around it. Memory stays constant whatever the
//! file size: the reader holds one chunk of input and at most one line of
//! [`Reader::max_line`] bytes; a longer line is skipped to its end and
//! reported.
//!
//! It accepts both formats, CRLF line ends, a UTF-8 byte-order mark at the
//! start, and blank lines (skipped). A last line without its newline is
//! accepted when it is a whole event and reported as torn otherwise (what a
//! process killed mid-write leaves).
//!
//! ```
//! use agent_audit::reader::Reader;
//!
//! let log = b"{\"event_type\": \"turn_start\", \"prompt_preview\": \"hi\"}\n\
//!             not json\n\
//!             {\"event_type\": \"turn_end\"}\n\
//!             {\"event_type\": \"tool_ca";
//! let mut good = Vec::new();
//! let mut bad = Vec::new();
//! for item in Reader::new(&log[..]) {
//!     match item {
//!         Ok(record) => good.push((record.line, record.event.event_type().to_string())),
//!         Err(e) => bad.push(e.to_string()),
//!     }
//! }
//! assert_eq!(good, [(1, "turn_start".to_string()), (3, "turn_end".to_string())]);
//! assert_eq!(bad[0], "line 2: not a JSON object at byte 0");
//! assert_eq!(bad[1], "line 4: torn last line (no newline at the end of the input)");
//! ```

use std::fmt;
use std::io::{self, Read};

use crate::event::Event;
use crate::json::{LineParser, ParseError};

/// An event and where it was.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// 1-based line number.
    pub line: u64,
    /// The event.
    pub event: Event,
}

/// Why a line was not read.
#[derive(Debug)]
pub enum LineErrorKind {
    /// Not a valid event.
    Invalid(ParseError),
    /// Longer than the reader's limit; skipped.
    TooLong {
        /// The limit in bytes.
        limit: usize,
    },
    /// The input ended in the middle of a line.
    Torn,
    /// Reading the input failed.
    Io(io::Error),
}

/// A line that could not be read, and why.
#[derive(Debug)]
pub struct LineError {
    /// 1-based line number.
    pub line: u64,
    /// What went wrong.
    pub kind: LineErrorKind,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: ", self.line)?;
        match &self.kind {
            LineErrorKind::Invalid(e) => write!(f, "{e}"),
            LineErrorKind::TooLong { limit } => write!(f, "longer than {limit} bytes, skipped"),
            LineErrorKind::Torn => {
                f.write_str("torn last line (no newline at the end of the input)")
            }
            LineErrorKind::Io(e) => write!(f, "read error: {e}"),
        }
    }
}

impl std::error::Error for LineError {}

/// The default limit on one line: 16 MiB.
pub const DEFAULT_MAX_LINE: usize = 16 << 20;
const CHUNK: usize = 256 << 10;

/// Reads events from any `Read`, one line at a time.
pub struct Reader<R> {
    src: R,
    buf: Vec<u8>,
    /// Start of unconsumed data in `buf`.
    pos: usize,
    /// End of the data read into `buf`.
    end: usize,
    line: u64,
    parser: LineParser,
    max_line: usize,
    strict: bool,
    stopped: bool,
    eof: bool,
    at_start: bool,
    /// Skipping the rest of an overlong line.
    skipping: bool,
}

impl<R: Read> Reader<R> {
    /// A reader over `src` (wrap it in nothing: the reader buffers).
    pub fn new(src: R) -> Reader<R> {
        Reader {
            src,
            buf: vec![0; CHUNK],
            pos: 0,
            end: 0,
            line: 0,
            parser: LineParser::new(),
            max_line: DEFAULT_MAX_LINE,
            strict: false,
            stopped: false,
            eof: false,
            at_start: true,
            skipping: false,
        }
    }

    /// Stop after the first error (which is still yielded).
    pub fn strict(mut self, yes: bool) -> Self {
        self.strict = yes;
        self
    }

    /// The longest line to read (default [`DEFAULT_MAX_LINE`]); longer
    /// ones are skipped and reported.
    pub fn max_line(mut self, bytes: usize) -> Self {
        self.max_line = bytes.max(1);
        self
    }

    /// The number of the last line read.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// Reads more input; `false` at the end. The buffer grows only while
    /// one line is longer than it, and a line is cut off at `max_line`.
    fn fill(&mut self) -> io::Result<bool> {
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.pos = 0;
        }
        if self.end == self.buf.len() {
            self.buf.resize(self.buf.len() + CHUNK, 0);
        }
        loop {
            match self.src.read(&mut self.buf[self.end..]) {
                Ok(n) => {
                    self.end += n;
                    // Decide on a byte-order mark once the input can no
                    // longer be a prefix of one (no line can end before).
                    const BOM: &[u8] = b"\xEF\xBB\xBF";
                    let head = &self.buf[..self.end];
                    if self.at_start && (n == 0 || head.len() >= 3 || !BOM.starts_with(head)) {
                        if head.starts_with(BOM) {
                            self.pos = 3;
                        }
                        self.at_start = false;
                    }
                    return Ok(n > 0);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    fn error(&mut self, line: u64, kind: LineErrorKind) -> Option<Result<Record, LineError>> {
        if self.strict {
            self.stopped = true;
        }
        Some(Err(LineError { line, kind }))
    }

    fn parse(&mut self, start: usize, end: usize) -> Option<Result<Record, LineError>> {
        let mut line = &self.buf[start..end];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        if line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r')) {
            return None; // blank
        }
        let n = self.line;
        match self.parser.parse(line) {
            Ok(event) => Some(Ok(Record { line: n, event })),
            Err(e) => self.error(n, LineErrorKind::Invalid(e)),
        }
    }
}

impl<R: Read> Iterator for Reader<R> {
    type Item = Result<Record, LineError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.stopped {
                return None;
            }
            let scan_from = self.pos;
            if let Some(nl) = memchr::memchr(b'\n', &self.buf[scan_from..self.end]) {
                let end = scan_from + nl;
                self.pos = end + 1;
                self.line += 1;
                if self.skipping {
                    self.skipping = false;
                    let n = self.line;
                    let limit = self.max_line;
                    return self.error(n, LineErrorKind::TooLong { limit });
                }
                if end - scan_from > self.max_line {
                    let n = self.line;
                    let limit = self.max_line;
                    return self.error(n, LineErrorKind::TooLong { limit });
                }
                match self.parse(scan_from, end) {
                    Some(item) => return Some(item),
                    None => continue,
                }
            }
            // No newline in what we hold.
            if self.end - self.pos > self.max_line {
                // Drop the overlong prefix; remember to report the line.
                self.skipping = true;
                self.pos = self.end;
            }
            if self.eof {
                let rest = self.end - self.pos;
                if rest == 0 && !self.skipping {
                    return None;
                }
                self.line += 1;
                self.stopped = true;
                if self.skipping {
                    let limit = self.max_line;
                    return Some(Err(LineError {
                        line: self.line,
                        kind: LineErrorKind::TooLong { limit },
                    }));
                }
                let (start, end) = (self.pos, self.end);
                self.pos = end;
                let n = self.line;
                return match self.parse(start, end) {
                    Some(Ok(r)) => Some(Ok(r)),
                    Some(Err(_)) => Some(Err(LineError {
                        line: n,
                        kind: LineErrorKind::Torn,
                    })),
                    None => None,
                };
            }
            match self.fill() {
                Ok(true) => {}
                Ok(false) => self.eof = true,
                Err(e) => {
                    self.stopped = true;
                    return Some(Err(LineError {
                        line: self.line + 1,
                        kind: LineErrorKind::Io(e),
                    }));
                }
            }
        }
    }
}

/// Reads every line of a byte slice (a file read or mapped whole).
pub fn read_slice(data: &[u8]) -> Reader<&[u8]> {
    Reader::new(data)
}
