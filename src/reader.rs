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

/// One line of input, without its terminator (`\n` or `\r\n`).
#[derive(Debug)]
pub struct RawLine<'a> {
    /// 1-based line number.
    pub number: u64,
    /// The bytes.
    pub bytes: &'a [u8],
    /// `false` for a last line that had no newline.
    pub terminated: bool,
}

/// Splits any `Read` into lines in bounded memory: the layer under
/// [`Reader`], for tools that need the raw bytes (a schema checker, a
/// filter that passes lines through untouched).
///
/// Blank lines are skipped, a UTF-8 byte-order mark at the start is
/// dropped, and a line longer than the limit is skipped to its end and
/// reported as [`LineErrorKind::TooLong`].
pub struct Lines<R> {
    src: R,
    buf: Vec<u8>,
    /// Start of unconsumed data in `buf`.
    pos: usize,
    /// End of the data read into `buf`.
    end: usize,
    line: u64,
    max_line: usize,
    done: bool,
    eof: bool,
    at_start: bool,
    /// Skipping the rest of an overlong line.
    skipping: bool,
}

impl<R: Read> Lines<R> {
    /// Lines of `src` (which needs no buffering of its own).
    pub fn new(src: R) -> Lines<R> {
        Lines {
            src,
            buf: vec![0; CHUNK],
            pos: 0,
            end: 0,
            line: 0,
            max_line: DEFAULT_MAX_LINE,
            done: false,
            eof: false,
            at_start: true,
            skipping: false,
        }
    }

    /// The longest line to return (default [`DEFAULT_MAX_LINE`]).
    pub fn max_line(mut self, bytes: usize) -> Self {
        self.max_line = bytes.max(1);
        self
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

    fn too_long(&self) -> Result<RawLine<'_>, LineError> {
        let limit = self.max_line;
        Err(LineError {
            line: self.line,
            kind: LineErrorKind::TooLong { limit },
        })
    }

    /// Lines read so far, blank ones included: the number of the last
    /// (an unfinished blank line at the end is not counted).
    pub fn line(&self) -> u64 {
        self.line
    }

    /// The next non-blank line, or why a line could not be returned;
    /// `None` at the end (and after a read error).
    #[allow(clippy::should_implement_trait)] // lines borrow the buffer
    pub fn next_line(&mut self) -> Option<Result<RawLine<'_>, LineError>> {
        loop {
            if self.done {
                return None;
            }
            let from = self.pos;
            if let Some(nl) = memchr::memchr(b'\n', &self.buf[from..self.end]) {
                self.pos = from + nl + 1;
                self.line += 1;
                if self.skipping || nl > self.max_line {
                    self.skipping = false;
                    return Some(self.too_long());
                }
                let mut bytes = &self.buf[from..from + nl];
                if bytes.last() == Some(&b'\r') {
                    bytes = &bytes[..bytes.len() - 1];
                }
                if is_blank(bytes) {
                    continue;
                }
                let (number, terminated) = (self.line, true);
                let bytes = &self.buf[from..from + bytes.len()];
                return Some(Ok(RawLine {
                    number,
                    bytes,
                    terminated,
                }));
            }
            // No newline in what we hold. (While a byte-order mark may still
            // be arriving, its bytes are not part of a line.)
            if !self.at_start && self.end - self.pos > self.max_line {
                // Drop the overlong prefix; report the line at its end.
                self.skipping = true;
                self.pos = self.end;
            }
            if self.eof {
                self.done = true;
                if self.end == self.pos && !self.skipping {
                    return None;
                }
                if self.skipping {
                    self.line += 1;
                    return Some(self.too_long());
                }
                let (from, to) = (self.pos, self.end);
                self.pos = to;
                // Unfinished and blank: not a line (yet). Not counted, so
                // that a follower which sees its newline later numbers it
                // once.
                if is_blank(&self.buf[from..to]) {
                    return None;
                }
                self.line += 1;
                let number = self.line;
                return Some(Ok(RawLine {
                    number,
                    bytes: &self.buf[from..to],
                    terminated: false,
                }));
            }
            match self.fill() {
                Ok(true) => {}
                Ok(false) => self.eof = true,
                Err(e) => {
                    self.done = true;
                    return Some(Err(LineError {
                        line: self.line + 1,
                        kind: LineErrorKind::Io(e),
                    }));
                }
            }
        }
    }
}

fn is_blank(bytes: &[u8]) -> bool {
    bytes.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r'))
}

/// What both readers do with each line they split off: parse it into a
/// record, and in strict mode stop after the first error.
#[derive(Default)]
struct Records {
    parser: LineParser,
    strict: bool,
    stopped: bool,
}

impl Records {
    /// The item for the line `next_line` returns, unless stopped.
    #[inline]
    fn next<'a>(
        &mut self,
        next_line: impl FnOnce() -> Option<Result<RawLine<'a>, LineError>>,
    ) -> Option<Result<Record, LineError>> {
        if self.stopped {
            return None;
        }
        let item = next_line()?.and_then(|raw| record(&mut self.parser, raw));
        if item.is_err() && self.strict {
            self.stopped = true;
        }
        Some(item)
    }
}

/// Reads events from any `Read`, one line at a time.
pub struct Reader<R> {
    lines: Lines<R>,
    records: Records,
}

impl<R: Read> Reader<R> {
    /// A reader over `src` (wrap it in nothing: the reader buffers).
    pub fn new(src: R) -> Reader<R> {
        Reader {
            lines: Lines::new(src),
            records: Records::default(),
        }
    }

    /// Stop after the first error (which is still yielded).
    pub fn strict(mut self, yes: bool) -> Self {
        self.records.strict = yes;
        self
    }

    /// The longest line to read (default [`DEFAULT_MAX_LINE`]); longer
    /// ones are skipped and reported.
    pub fn max_line(mut self, bytes: usize) -> Self {
        self.lines = self.lines.max_line(bytes);
        self
    }

    /// The number of the last line read.
    pub fn line(&self) -> u64 {
        self.lines.line
    }
}

impl<R: Read> Iterator for Reader<R> {
    type Item = Result<Record, LineError>;

    fn next(&mut self) -> Option<Self::Item> {
        let lines = &mut self.lines;
        self.records.next(|| lines.next_line())
    }
}

/// A line parsed into a record, or the error that names it.
#[inline]
fn record(parser: &mut LineParser, raw: RawLine<'_>) -> Result<Record, LineError> {
    match parser.parse(raw.bytes) {
        Ok(event) => Ok(Record {
            line: raw.number,
            event,
        }),
        // A last line without its newline that does not parse is what a
        // writer killed mid-line leaves.
        Err(_) if !raw.terminated => Err(LineError {
            line: raw.number,
            kind: LineErrorKind::Torn,
        }),
        Err(e) => Err(LineError {
            line: raw.number,
            kind: LineErrorKind::Invalid(e),
        }),
    }
}

/// Reads every line of a byte slice (a file read or mapped whole) in
/// place: the same items as [`Reader`] over the same bytes, without
/// copying them through a buffer first.
///
/// ```
/// use agent_audit::reader::read_slice;
///
/// let log = b"\xEF\xBB\xBF{\"event_type\": \"turn_start\"}\r\n\n[1]\n";
/// let items: Vec<_> = read_slice(log).collect();
/// assert_eq!(items[0].as_ref().unwrap().line, 1);
/// assert_eq!(items[1].as_ref().unwrap_err().line, 3);
/// assert_eq!(items.len(), 2);
/// ```
pub fn read_slice(data: &[u8]) -> SliceReader<'_> {
    SliceReader {
        lines: SliceLines {
            data: data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data),
            line: 0,
            max_line: DEFAULT_MAX_LINE,
        },
        records: Records::default(),
    }
}

/// [`Reader`] for input that is already in memory; see [`read_slice`].
pub struct SliceReader<'a> {
    lines: SliceLines<'a>,
    records: Records,
}

impl SliceReader<'_> {
    /// Stop after the first error (which is still yielded).
    pub fn strict(mut self, yes: bool) -> Self {
        self.records.strict = yes;
        self
    }

    /// The longest line to read (default [`DEFAULT_MAX_LINE`]); longer
    /// ones are skipped and reported, as by [`Reader::max_line`].
    pub fn max_line(mut self, bytes: usize) -> Self {
        self.lines.max_line = bytes.max(1);
        self
    }

    /// The number of the last line read.
    pub fn line(&self) -> u64 {
        self.lines.line
    }
}

impl Iterator for SliceReader<'_> {
    type Item = Result<Record, LineError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let lines = &mut self.lines;
        self.records.next(|| lines.next_line())
    }
}

/// [`Lines`] over a slice: each line borrowed from it in place.
struct SliceLines<'a> {
    /// What is left to read.
    data: &'a [u8],
    line: u64,
    max_line: usize,
}

impl<'a> SliceLines<'a> {
    /// The next non-blank line, split off the input.
    #[inline]
    fn next_line(&mut self) -> Option<Result<RawLine<'a>, LineError>> {
        loop {
            if self.data.is_empty() {
                return None;
            }
            let (piece, rest, terminated) = match memchr::memchr(b'\n', self.data) {
                Some(nl) => (&self.data[..nl], &self.data[nl + 1..], true),
                None => (self.data, &self.data[..0], false),
            };
            self.data = rest;
            self.line += 1;
            if piece.len() > self.max_line {
                return Some(Err(LineError {
                    line: self.line,
                    kind: LineErrorKind::TooLong {
                        limit: self.max_line,
                    },
                }));
            }
            let bytes = piece.strip_suffix(b"\r").unwrap_or(piece);
            if !is_blank(bytes) {
                return Some(Ok(RawLine {
                    number: self.line,
                    bytes,
                    terminated,
                }));
            }
        }
    }
}

/// Where [`Follow`] starts reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// From the first line.
    Beginning,
    /// From the current end: only lines finished from now on. If the file
    /// ends inside a line (its writer is midway), that line is read whole
    /// once it is finished.
    End,
    /// From a byte offset, with the number of lines before it. An offset
    /// inside a line starts at that line's beginning, as for `End`.
    At {
        /// Byte offset of the next line.
        offset: u64,
        /// Lines before that offset.
        line: u64,
    },
}

/// Follows a file that is being appended to, like `tail -f`, surviving
/// rotation: when the path comes to name another file (moved or replaced)
/// or the file shrinks (truncated), the rest of the old file is read and
/// the new one is read from its start.
///
/// After a move the old file is still read until it has been quiet for a
/// second or the path's new file has data, because a writer keeps
/// appending to it until it reopens the path (logrotate's move, then
/// signal). The files that follow are opened as soon as the move is seen,
/// so further rotations meanwhile cannot take them away. Files that held the path in
/// between and were rotated on before this one looked (several rotations
/// within one poll) are found among the numbered siblings `PATH.1`,
/// `PATH.2`, ... that [`crate::sink::Rotation`] makes, by looking for the
/// old file there (or, if it was rotated out of them, by their times):
/// those newer than it are read in order before the path's file. (By
/// times, a sibling last modified in the same clock tick as the old
/// file's last write counts as newer: a copy made just before it was
/// deleted may then be read twice, where the alternative would lose
/// files.) A path briefly missing, not yet readable, or not a regular
/// file is waited for. Rotation schemes that name files otherwise (dates) and a
/// truncated file refilled past the point read between two polls can
/// still hide lines from a follower that polls by path.
///
/// The iterator blocks, polling every `poll` interval, and ends only after
/// an I/O error, which it returns first. Line numbers count from the start of the file being read
/// (they restart at 1 after a rotation). A line is yielded once its newline
/// has been written, so a writer's half-written line is never reported as
/// torn, unless the file is replaced (rotated, truncated) with it still
/// unfinished: then it is, as [`LineErrorKind::Torn`]. At most about a
/// megabyte is read ahead of what has been yielded. A line that started
/// more than [`Follow::max_line`] bytes before the starting point is
/// reported as too long once it ends.
pub struct Follow {
    path: std::path::PathBuf,
    file: std::fs::File,
    id: (u64, u64),
    offset: u64,
    line: u64,
    pending: Vec<u8>,
    /// Lines read and not yet yielded, with their numbers.
    ready: std::collections::VecDeque<(u64, Ready)>,
    /// The bytes of the last line yielded as a record.
    last: Vec<u8>,
    parser: LineParser,
    poll: std::time::Duration,
    max_line: usize,
    skipping: bool,
    /// Files to read after this one, oldest first, the path's last (see
    /// the type's docs).
    next: std::collections::VecDeque<std::fs::File>,
    /// The next line is the file's first (read from offset 0).
    first_line: bool,
    /// An I/O error was returned: the iterator has ended.
    ended: bool,
    /// The start may be inside a line: its beginning is looked for before
    /// the first read (after `max_line` can have been set).
    resync: bool,
    /// This file was moved away: it is left for the queued ones only once
    /// it has had nothing new until then.
    grace_until: Option<std::time::Instant>,
}

/// How long a file moved away is still read after it last grew.
const MOVED_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// How many numbered siblings are searched for the file left behind.
const MAX_SIBLINGS: usize = 64;

/// A line `Follow` has read.
enum Ready {
    Whole(Vec<u8>),
    /// Longer than the limit; skipped.
    TooLong,
    /// The end of a file left for another, without its newline.
    Torn,
}

/// How much `Follow` reads before it yields what it has: what it holds
/// stays bounded whatever the file's size.
const FOLLOW_READ: usize = 1 << 20;

/// Opens a file that may turn out not to be a log, only if it is a regular
/// file: opening a FIFO would block with no writer, or, with a writer
/// waiting, let it write into a pipe nobody reads. Non-blocking, for a
/// FIFO put there between the look and the open (no effect on a regular
/// file's reads); the caller checks the opened file's type again.
fn open_probe(path: &std::path::Path) -> io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    if !std::fs::metadata(path)?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

/// Where the line that byte `offset` of `file` lies in starts (just after
/// the last newline before `offset`), if that is at most `within` bytes
/// back; `None` if it starts further back. An error of kind
/// `UnexpectedEof` if the file is shorter than `offset`.
pub fn line_start(file: &std::fs::File, offset: u64, within: u64) -> io::Result<Option<u64>> {
    use std::os::unix::fs::FileExt;
    let limit = offset.saturating_sub(within);
    let mut chunk = [0u8; 8 << 10];
    let mut end = offset;
    while end > limit {
        let from = end.saturating_sub(chunk.len() as u64).max(limit);
        let buf = &mut chunk[..(end - from) as usize];
        file.read_exact_at(buf, from)?;
        if let Some(nl) = memchr::memrchr(b'\n', buf) {
            return Ok(Some(from + nl as u64 + 1));
        }
        end = from;
    }
    Ok((limit == 0).then_some(0))
}

/// How many of `line`'s first bytes are a byte-order mark or the start of
/// one: not counted in the first line's length, as `Lines` does not.
fn bom_len(line: &[u8]) -> usize {
    line.iter()
        .zip(b"\xEF\xBB\xBF")
        .take_while(|(a, b)| a == b)
        .count()
}

fn file_id(m: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (m.dev(), m.ino())
}

impl Follow {
    /// Opens `path` for following from `start`.
    pub fn open(path: impl AsRef<std::path::Path>, start: Start) -> io::Result<Follow> {
        let file = std::fs::File::open(path.as_ref())?;
        Follow::with_file(path, file, start)
    }

    /// Follows `file`, already open, from `start`; `path` is where its
    /// successors will appear after a rotation. For a caller that read the
    /// file first: a rotation meanwhile does not make it skip the rest of
    /// the file it read.
    pub fn with_file(
        path: impl AsRef<std::path::Path>,
        mut file: std::fs::File,
        start: Start,
    ) -> io::Result<Follow> {
        use std::io::Seek;
        let path = path.as_ref().to_path_buf();
        let meta = file.metadata()?;
        if meta.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "is a directory",
            ));
        }
        let (offset, line) = match start {
            Start::Beginning => (0, 0),
            Start::End => (meta.len(), 0),
            Start::At { offset, line } => (offset, line),
        };
        file.seek(io::SeekFrom::Start(offset))?;
        Ok(Follow {
            path,
            id: file_id(&meta),
            file,
            offset,
            line,
            pending: Vec::new(),
            ready: Default::default(),
            last: Vec::new(),
            parser: LineParser::new(),
            poll: std::time::Duration::from_millis(200),
            max_line: DEFAULT_MAX_LINE,
            skipping: false,
            next: Default::default(),
            grace_until: None,
            first_line: offset == 0,
            ended: false,
            resync: offset > 0 && offset <= meta.len(),
        })
    }

    /// The line the last [`Record`] was read from, as it is in the file
    /// (without its newline, or a `\r` before it): for passing events on
    /// byte for byte.
    pub fn last_line(&self) -> &[u8] {
        &self.last
    }

    /// How often to look for new data (default 200 ms).
    pub fn poll(mut self, every: std::time::Duration) -> Self {
        self.poll = every;
        self
    }

    /// The longest line to return (default [`DEFAULT_MAX_LINE`]); longer
    /// ones are skipped and reported as [`LineErrorKind::TooLong`].
    pub fn max_line(mut self, bytes: usize) -> Self {
        self.max_line = bytes.max(1);
        self
    }

    /// Moves a start inside a line back to that line's beginning, so the
    /// line is read whole rather than as a fragment; a line begun more
    /// than `max_line` bytes back is skipped to its end instead.
    fn find_line_start(&mut self) -> io::Result<()> {
        use std::io::Seek;
        self.resync = false;
        // Looking back `max_line + 1` bytes is enough to tell, plus three
        // for a byte-order mark the first line does not count.
        let within = (self.max_line as u64).saturating_add(4);
        match line_start(&self.file, self.offset, within) {
            Ok(Some(start)) => {
                self.file.seek(io::SeekFrom::Start(start))?;
                self.offset = start;
                self.first_line = start == 0;
            }
            Ok(None) => self.skipping = true,
            // Shrank meanwhile: the truncation is seen on the next poll.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {}
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// Reads what is there now, up to about `FOLLOW_READ` bytes; returns
    /// how many.
    fn read_more(&mut self) -> io::Result<usize> {
        if self.resync {
            self.find_line_start()?;
        }
        let mut chunk = [0u8; 64 << 10];
        let mut total = 0;
        loop {
            let n = match self.file.read(&mut chunk) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                return Ok(total);
            }
            total += n;
            self.offset += n as u64;
            let mut data = &chunk[..n];
            while let Some(nl) = memchr::memchr(b'\n', data) {
                self.line += 1;
                let mut l = std::mem::take(&mut self.pending);
                if !self.skipping {
                    l.extend_from_slice(&data[..nl]);
                    // A byte-order mark opening a file is not part of its
                    // first line, as for `Lines` (however the reads split it).
                    if self.first_line && l.starts_with(b"\xEF\xBB\xBF") {
                        l.drain(..3);
                    }
                }
                if self.skipping || l.len() > self.max_line {
                    self.skipping = false;
                    self.ready.push_back((self.line, Ready::TooLong));
                } else {
                    self.ready.push_back((self.line, Ready::Whole(l)));
                }
                self.first_line = false;
                data = &data[nl + 1..];
            }
            if !self.skipping {
                self.pending.extend_from_slice(data);
                let mark = if self.first_line {
                    bom_len(&self.pending)
                } else {
                    0
                };
                // Early, to bound memory; the check above is the exact one.
                if self.pending.len() - mark > self.max_line {
                    self.pending = Vec::new();
                    self.skipping = true;
                }
            }
            if total >= FOLLOW_READ {
                return Ok(total);
            }
        }
    }

    /// Whether the path now names another file, or the file shrank.
    fn rotated(&self) -> io::Result<bool> {
        match std::fs::metadata(&self.path) {
            Ok(m) => Ok(file_id(&m) != self.id || m.len() < self.offset),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false), // moved, not yet recreated
            Err(e) => Err(e),
        }
    }

    /// Queues the files to read after this one: those that held the path
    /// after it (found by where it went among the numbered siblings),
    /// then the path's own. Returns whether it queued any: not when the
    /// path is gone for the moment (between a move and a new file).
    fn find_successors(&mut self) -> io::Result<bool> {
        use std::os::unix::fs::MetadataExt;
        // The path first: a rotation during the search below then shows
        // as a sibling already queued, not as a file skipped.
        let path_file = match open_probe(&self.path) {
            Ok(f) => f,
            // Between a move and the new file, or before the new file's
            // owner and mode are set (logrotate's create): next poll.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound
                        | io::ErrorKind::PermissionDenied
                        | io::ErrorKind::InvalidInput
                ) =>
            {
                return Ok(false); // or not a regular file: wait
            }
            Err(e) => return Err(e),
        };
        let path_meta = path_file.metadata()?;
        if !path_meta.is_file() {
            return Ok(false); // a directory or a device: not a log, wait
        }
        let path_id = file_id(&path_meta);
        let our_meta = self.file.metadata().ok();
        // A successor was written after this file was: a sibling last
        // modified before it is an older file under another scheme.
        let ours = our_meta.as_ref().and_then(|m| m.modified().ok());
        // Rotated out of the numbered files (or deleted): the siblings
        // written after it are still its successors.
        let rotated_out = our_meta.as_ref().is_some_and(|m| m.nlink() == 0);
        let mut newer = Vec::new();
        let mut found = false;
        let mut name = self.path.clone().into_os_string();
        name.push(".");
        for n in 1..=MAX_SIBLINGS {
            let mut sibling = name.clone();
            sibling.push(n.to_string());
            // No stop at a missing one: a rotation's renames leave a gap
            // for a moment.
            let Ok(file) = open_probe(std::path::Path::new(&sibling)) else {
                continue;
            };
            let Ok(m) = file.metadata() else {
                continue;
            };
            if file_id(&m) == self.id {
                found = true;
                break;
            }
            if m.is_file() && ours.is_some_and(|ours| m.modified().is_ok_and(|t| t >= ours)) {
                newer.push((file_id(&m), file));
            }
        }
        if !found && !rotated_out {
            // Truncated, or renamed under another scheme: the siblings
            // are not known to be its successors.
            newer.clear();
        }
        // `newer` holds PATH.1, PATH.2, ...: the oldest last.
        let mut queued = Vec::new();
        for (id, file) in newer.into_iter().rev() {
            if id != self.id && id != path_id && !queued.contains(&id) {
                queued.push(id);
                self.next.push_back(file);
            }
        }
        // The path's file last, even when it is this one (truncated: read
        // again from its start).
        self.next.push_back(path_file);
        Ok(true)
    }

    /// Goes on to the next queued file, from its start.
    fn advance(&mut self) -> io::Result<bool> {
        let Some(file) = self.next.pop_front() else {
            return Ok(false);
        };
        self.id = file_id(&file.metadata()?);
        self.file = file;
        // The old file ended inside a line: reported, not dropped.
        if !is_blank(&self.pending) || self.skipping {
            self.ready.push_back((self.line + 1, Ready::Torn));
        }
        self.offset = 0;
        self.line = 0;
        self.pending.clear();
        self.skipping = false;
        self.grace_until = None;
        self.first_line = true;
        Ok(true)
    }
}

impl Iterator for Follow {
    type Item = Result<Record, LineError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.ended {
            return None;
        }
        let item = self.step();
        if let Some(Err(LineError {
            kind: LineErrorKind::Io(_),
            ..
        })) = &item
        {
            self.ended = true;
        }
        item
    }
}

impl Follow {
    /// The next line or problem; `None` never (see `next`).
    /// An I/O error, numbered as the line it kept from being read.
    fn io_error(&self, e: io::Error) -> LineError {
        LineError {
            line: self.line + 1,
            kind: LineErrorKind::Io(e),
        }
    }

    fn step(&mut self) -> Option<Result<Record, LineError>> {
        loop {
            if let Some((line, ready)) = self.ready.pop_front() {
                let bytes = match ready {
                    Ready::Whole(bytes) => bytes,
                    Ready::TooLong => {
                        let limit = self.max_line;
                        return Some(Err(LineError {
                            line,
                            kind: LineErrorKind::TooLong { limit },
                        }));
                    }
                    Ready::Torn => {
                        return Some(Err(LineError {
                            line,
                            kind: LineErrorKind::Torn,
                        }))
                    }
                };
                let mut l = &bytes[..];
                if l.last() == Some(&b'\r') {
                    l = &l[..l.len() - 1];
                }
                if is_blank(l) {
                    continue;
                }
                let len = l.len();
                return Some(match self.parser.parse(l) {
                    Ok(event) => {
                        self.last = bytes;
                        self.last.truncate(len);
                        Ok(Record { line, event })
                    }
                    Err(e) => Err(LineError {
                        line,
                        kind: LineErrorKind::Invalid(e),
                    }),
                });
            }
            // Taken before the read: once the path's new file has data, a
            // single writer has reopened, so what this read finds is all
            // the moved file will get.
            let newest_written = self
                .next
                .back()
                .is_some_and(|f| f.metadata().is_ok_and(|m| m.len() > 0));
            match self.read_more() {
                Ok(n) if n > 0 => {
                    if self.grace_until.is_some() {
                        self.grace_until = Some(std::time::Instant::now() + MOVED_GRACE);
                    }
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    return Some(Err(self.io_error(e)));
                }
            }
            if !self.next.is_empty() {
                // Files are queued after this one (a rotation): it is done,
                // unless it is the moved file in its grace period and its
                // writer has not yet written to the path's new file.
                if newest_written
                    || self
                        .grace_until
                        .is_none_or(|t| std::time::Instant::now() >= t)
                {
                    if let Err(e) = self.advance() {
                        return Some(Err(self.io_error(e)));
                    }
                    continue;
                }
            } else {
                match self.rotated() {
                    Ok(true) => {
                        // The files that follow are opened now, so that
                        // rotations while this one is still read cannot
                        // take them away; a moved file (not a truncated
                        // one) is read on for a while, as its writer may
                        // not have reopened yet.
                        let truncated = self.file.metadata().is_ok_and(|m| m.len() < self.offset);
                        match self.find_successors() {
                            Ok(true) if !truncated => {
                                self.grace_until = Some(std::time::Instant::now() + MOVED_GRACE);
                                continue;
                            }
                            // Read again from the start, at once: what the
                            // old descriptor would read now is new data.
                            Ok(true) => {
                                if let Err(e) = self.advance() {
                                    return Some(Err(self.io_error(e)));
                                }
                                continue;
                            }
                            Ok(false) => {}
                            Err(e) => {
                                return Some(Err(self.io_error(e)));
                            }
                        }
                    }
                    Ok(false) => {}
                    Err(e) => {
                        return Some(Err(self.io_error(e)));
                    }
                }
            }
            std::thread::sleep(self.poll);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A long file is followed a bounded chunk at a time: `Follow` holds at
    /// most about `FOLLOW_READ` bytes it has not yielded, however much the
    /// file has.
    #[test]
    fn follow_reads_a_bounded_chunk_ahead() {
        let path =
            std::env::temp_dir().join(format!("agent-audit-follow-ahead-{}", std::process::id()));
        let line = b"{\"event_type\":\"base\"}\n";
        let lines = 4 * FOLLOW_READ / line.len();
        std::fs::write(&path, line.repeat(lines)).unwrap();
        let mut follow = Follow::open(&path, Start::Beginning).unwrap();
        assert_eq!(follow.next().unwrap().unwrap().line, 1);
        let held: usize = follow
            .ready
            .iter()
            .map(|(_, r)| match r {
                Ready::Whole(b) => b.len(),
                _ => 0,
            })
            .sum();
        assert!(held <= FOLLOW_READ + (64 << 10), "holds {held} bytes");
        assert!(
            follow.offset < 2 * FOLLOW_READ as u64,
            "read to {}",
            follow.offset
        );
        // Nothing is skipped for it: every line comes, in order.
        let mut n = 1;
        for rec in follow.by_ref().take(lines - 1) {
            n += 1;
            assert_eq!(rec.unwrap().line, n);
        }
        assert_eq!(n, lines as u64);
        std::fs::remove_file(&path).unwrap();
    }
}
