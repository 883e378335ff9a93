//! Arbitrary bytes as a whole log, read by `reader::Reader`.
//!
//! Runs the reader four ways over the input: with the defaults, with a
//! small `max_line`, in `strict` mode, and through a `Read` that hands the
//! bytes out a few at a time (with `Interrupted` errors in between); and
//! the in-place slice reader (`reader::read_slice`) with the defaults and
//! with the small limit, strict or not — plus,
//! for some inputs, with a line longer than the reader's 256 KiB chunk
//! spliced in. Each run must:
//!
//! * never panic and end;
//! * number its items with strictly increasing line numbers, none past the
//!   number of newline-separated pieces (so no more items than pieces);
//! * match a straightforward model of the documented behaviour: split on
//!   `\n`, drop a UTF-8 BOM at the start, skip blank lines, report a line
//!   longer than `max_line` as too long, parse the rest with `parse_line`
//!   (after a trailing `\r`), report a last line without newline that does
//!   not parse as torn; in strict mode, the same up to the first error.
//!
//! The first and last input bytes pick the small `max_line`, the second
//! byte and the length the chunk sizes of the slow reader; the whole input
//! is the log in every run. A third byte `~` splices in the long line.
#![no_main]

use std::io::{self, Read};

use agent_audit::json::{self, ParseError};
use agent_audit::reader::{read_slice, LineError, LineErrorKind, Reader, Record, DEFAULT_MAX_LINE};
use agent_audit::Event;
use libfuzzer_sys::fuzz_target;

/// The reader's read size (`CHUNK` in src/reader.rs): a longer line makes
/// its buffer grow.
const READER_CHUNK: usize = 256 << 10;

/// What the reader yields for one line, in comparable form.
#[derive(Clone, Debug, PartialEq)]
#[allow(clippy::large_enum_variant)] // a test's own data
enum Item {
    Event(u64, Event),
    Invalid(u64, ParseError),
    TooLong(u64, usize),
    Torn(u64),
}

impl Item {
    fn line(&self) -> u64 {
        match *self {
            Item::Event(n, _) | Item::Invalid(n, _) | Item::TooLong(n, _) | Item::Torn(n) => n,
        }
    }
    fn is_err(&self) -> bool {
        !matches!(self, Item::Event(..))
    }
}

fn is_blank(b: &[u8]) -> bool {
    b.iter().all(|c| matches!(c, b' ' | b'\t' | b'\r'))
}

/// The documented behaviour, line by line.
fn model(data: &[u8], max_line: usize) -> Vec<Item> {
    let max_line = max_line.max(1);
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    let pieces: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    let last = pieces.len() - 1;
    let mut out = Vec::new();
    for (i, &piece) in pieces.iter().enumerate() {
        let n = i as u64 + 1;
        let terminated = i < last;
        if !terminated && piece.is_empty() {
            break;
        }
        let item = if piece.len() > max_line {
            Item::TooLong(n, max_line)
        } else {
            let line = piece.strip_suffix(b"\r").unwrap_or(piece);
            if is_blank(line) {
                continue;
            }
            match json::parse_line(line) {
                Ok(ev) => Item::Event(n, ev),
                Err(_) if !terminated => Item::Torn(n),
                Err(e) => Item::Invalid(n, e),
            }
        };
        out.push(item);
    }
    out
}

/// A `Read` that hands out the data a few bytes at a time and is
/// interrupted now and then, as a pipe or a socket may be.
struct Trickle<'a> {
    data: &'a [u8],
    state: u32,
}

impl Trickle<'_> {
    fn next_rand(&mut self) -> u32 {
        // xorshift32
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.state = x;
        x
    }
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let r = self.next_rand();
        if r.is_multiple_of(11) {
            return Err(io::ErrorKind::Interrupted.into());
        }
        let n = (1 + (r >> 8) as usize % 9)
            .min(buf.len())
            .min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

fn run(reader: impl IntoIterator<Item = Result<Record, LineError>>, pieces: usize) -> Vec<Item> {
    let mut out: Vec<Item> = Vec::new();
    for item in reader {
        let item = match item {
            Ok(record) => Item::Event(record.line, record.event),
            Err(e) => match e.kind {
                LineErrorKind::Invalid(p) => Item::Invalid(e.line, p),
                LineErrorKind::TooLong { limit } => Item::TooLong(e.line, limit),
                LineErrorKind::Torn => Item::Torn(e.line),
                LineErrorKind::Io(io) => panic!("line {}: I/O error from a slice: {io}", e.line),
            },
        };
        let n = item.line();
        assert!(n >= 1, "line numbers start at 1");
        if let Some(prev) = out.last() {
            assert!(n > prev.line(), "line {n} after line {}", prev.line());
        }
        assert!(
            n as usize <= pieces,
            "line {n} of an input of {pieces} pieces"
        );
        out.push(item);
        assert!(out.len() <= pieces + 1, "more items than lines");
    }
    out
}

fn check(name: &str, got: Vec<Item>, want: &[Item]) {
    if got != want {
        panic!("{name}: reader and model differ\nreader: {got:#?}\nmodel:  {want:#?}");
    }
}

/// What strict mode yields: everything up to and including the first error.
fn strict(items: &[Item]) -> Vec<Item> {
    let end = items
        .iter()
        .position(Item::is_err)
        .map_or(items.len(), |i| i + 1);
    items[..end].to_vec()
}

fn check_all(data: &[u8], small: usize, seed: u8) {
    let pieces = data.split(|&b| b == b'\n').count();
    let lenient = model(data, DEFAULT_MAX_LINE);
    let lenient_small = model(data, small);

    let got = run(Reader::new(data), pieces);
    check("default", got, &lenient);

    let got = run(Reader::new(data).max_line(small), pieces);
    check("max_line", got, &lenient_small);

    let got = run(Reader::new(data).strict(true), pieces);
    check("strict", got, &strict(&lenient));

    let got = run(read_slice(data), pieces);
    check("slice", got, &lenient);

    let got = run(
        read_slice(data).max_line(small).strict(seed & 2 == 2),
        pieces,
    );
    let want = if seed & 2 == 2 {
        strict(&lenient_small)
    } else {
        lenient_small.clone()
    };
    check("slice, max_line", got, &want);

    let is_strict = seed & 1 == 1;
    let slow = Trickle {
        data,
        state: 0x9e37_79b9 ^ u32::from(seed),
    };
    let got = run(Reader::new(slow).max_line(small).strict(is_strict), pieces);
    // (regressions/read_stream/bom-split-max-line-1: a BOM handed out in
    // pieces once counted towards a limit of 1.)
    let want = if is_strict {
        strict(&lenient_small)
    } else {
        lenient_small
    };
    check("trickle", got, &want);
}

fuzz_target!(|data: &[u8]| {
    // Parameters from the input's ends (which every log has), so that a
    // log starting with a BOM can still get any limit.
    let first = data.first().copied().unwrap_or(0);
    let last = data.last().copied().unwrap_or(0);
    let small = usize::from((first ^ last) % 64);
    let seed = data.get(1).copied().unwrap_or(0) ^ data.len() as u8;
    check_all(data, small, seed);

    // Now and then, one line longer than the reader's chunk: its buffer
    // must grow (default limit) or skip it (a limit below the chunk).
    if data.len() >= 3 && data[2] == b'~' {
        let at = usize::from(data[0]) % data.len();
        let mut long = Vec::with_capacity(data.len() + READER_CHUNK + 64);
        long.extend_from_slice(&data[..at]);
        long.resize(at + READER_CHUNK + usize::from(seed), b' ');
        long.extend_from_slice(&data[at..]);
        let pieces = long.split(|&b| b == b'\n').count();
        let got = run(Reader::new(&long[..]), pieces);
        check("long line", got, &model(&long, DEFAULT_MAX_LINE));
        let limit = READER_CHUNK - 100 + usize::from(seed);
        let got = run(Reader::new(&long[..]).max_line(limit), pieces);
        check("long line, limit", got, &model(&long, limit));
    }
});
