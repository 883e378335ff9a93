//! The writer: an [`Event`] straight to JSON bytes, no intermediate tree.
//!
//! Each format is a zero-sized [`Style`] and the event walk is generic over
//! it, so the compiler emits one specialised loop per format with the
//! separators and the escaping inlined. A string with nothing to escape
//! (most of them) is found clean sixteen bytes at a time and copied whole.
//! One with escapes is written a word at a time: an exact mask says which
//! of sixteen bytes need one, each eight-byte half goes out as unaligned
//! word stores with the two-byte escapes between them, and a 256-entry
//! table gives each byte's escape. The schema's own keys never
//! need escaping, so each is precomputed with its separators (`,"name":`
//! or `, "name": `) into a fixed 32-byte [`KeyBlock`] and written as one
//! unconditional 32-byte copy into reserved capacity, of which only the
//! key's length is kept.

use super::{float, Format};
use crate::event::{Event, EventRef, FieldRef, ENVELOPE};
use crate::value::{Map, Number, Value};

/// Bytes every key block is copied as. The longest schema key with its
/// separators, `, "triggered_automatically": `, is 29.
const KEY_BLOCK: usize = 32;

/// A key with the separators around it, zero-padded to [`KEY_BLOCK`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct KeyBlock {
    bytes: [u8; KEY_BLOCK],
    len: usize,
}

/// A schema key as each format writes it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct KeyBlocks {
    compact: KeyBlock,
    python: KeyBlock,
}

impl KeyBlocks {
    /// The key of a member that follows another: `,"name":`, `, "name": `.
    pub(crate) const fn member(name: &str) -> KeyBlocks {
        KeyBlocks {
            compact: KeyBlock::new(b",\"", name, b"\":"),
            python: KeyBlock::new(b", \"", name, b"\": "),
        }
    }

    /// The block of one format.
    #[inline]
    pub(crate) fn of(&self, format: Format) -> &KeyBlock {
        match format {
            Format::Compact => &self.compact,
            Format::Python => &self.python,
        }
    }
}

impl KeyBlock {
    /// `before`, `name`, `after`; at compile time, and only for names that
    /// need no escaping (the build fails otherwise).
    const fn new(before: &[u8], name: &str, after: &[u8]) -> KeyBlock {
        let name = name.as_bytes();
        assert!(before.len() + name.len() + after.len() <= KEY_BLOCK);
        let mut bytes = [0u8; KEY_BLOCK];
        let mut n = 0;
        let mut i = 0;
        while i < before.len() {
            bytes[n] = before[i];
            n += 1;
            i += 1;
        }
        i = 0;
        while i < name.len() {
            assert!(name[i].is_ascii_alphanumeric() || name[i] == b'_');
            bytes[n] = name[i];
            n += 1;
            i += 1;
        }
        i = 0;
        while i < after.len() {
            bytes[n] = after[i];
            n += 1;
            i += 1;
        }
        KeyBlock { bytes, len: n }
    }

    /// The bytes as written.
    #[inline]
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// The envelope's keys after `event_type`, in [`ENVELOPE`] order.
pub(crate) static ENVELOPE_KEYS: [KeyBlocks; 6] = [
    KeyBlocks::member(ENVELOPE[0]),
    KeyBlocks::member(ENVELOPE[1]),
    KeyBlocks::member(ENVELOPE[2]),
    KeyBlocks::member(ENVELOPE[3]),
    KeyBlocks::member(ENVELOPE[4]),
    KeyBlocks::member(ENVELOPE[5]),
];

/// The start of every line: `{"event_type":`.
pub(crate) static OPEN: KeyBlocks = KeyBlocks {
    compact: KeyBlock::new(b"{\"", "event_type", b"\":"),
    python: KeyBlock::new(b"{\"", "event_type", b"\": "),
};

/// Appends a key block.
#[inline(always)]
fn put_key(out: &mut Vec<u8>, key: &KeyBlock) {
    out.reserve(KEY_BLOCK);
    let len = out.len();
    // SAFETY: `reserve` left at least `KEY_BLOCK` bytes of capacity after
    // `len`, so the whole block fits in the allocation; `key.bytes` is a
    // separate static. The first `key.len <= KEY_BLOCK` of those bytes are
    // now initialised, which is what `set_len` claims.
    unsafe {
        std::ptr::copy_nonoverlapping(key.bytes.as_ptr(), out.as_mut_ptr().add(len), KEY_BLOCK);
        out.set_len(len + key.len);
    }
}

pub(crate) trait Style {
    /// This format's form of a key.
    fn key(k: &KeyBlocks) -> &KeyBlock;
    /// A mask of the bytes of `w` (little-endian lanes, high bit of each)
    /// that may need an escape. Lanes above the lowest marked one may be
    /// marked wrongly; the lowest marked lane is always exact, so
    /// `trailing_zeros() / 8` is the index of the first byte to escape.
    fn escape_mask(w: u64) -> u64;
    /// The bytes of `w` (little-endian lanes) that need an escape, bit `i`
    /// for byte `i`; exact, on every target.
    fn exact_bits(w: u64) -> u32;
    /// The bytes of `chunk` that need an escape, bit `i` for byte `i`;
    /// exact, with SSE2 (part of every x86-64 CPU).
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    fn escape_bits(chunk: &[u8; 16]) -> u32;
    /// Between a key and its value.
    const COLON: &'static [u8];
    /// Between two members or elements.
    const COMMA: &'static [u8];
    /// Escape class of each byte: 0 copies it as is.
    const ESCAPE: &'static [u8; 256];
    fn float(out: &mut Vec<u8>, f: f64);
}

pub(crate) struct Compact;
pub(crate) struct Python;

/// Short escapes; `U` means `\u00XX`, `X` (python only) a non-ASCII char.
const U: u8 = b'u';
const X: u8 = b'x';

const fn table(python: bool) -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = U;
        i += 1;
    }
    t[0x08] = b'b';
    t[0x09] = b't';
    t[0x0a] = b'n';
    t[0x0c] = b'f';
    t[0x0d] = b'r';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    if python {
        t[0x7f] = U;
        let mut i = 0x80;
        while i < 0x100 {
            t[i] = X;
            i += 1;
        }
    }
    t
}

static COMPACT_ESCAPE: [u8; 256] = table(false);
static PYTHON_ESCAPE: [u8; 256] = table(true);

// Eight bytes at a time (SWAR): a byte-wise "is zero" / "is below n" /
// "is at least n". A borrow or carry crosses into the next lane only out of
// a lane that is itself marked, so a wrong mark can only sit above a right
// one: the lowest set bit of every mask below is exact.
const LANES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

#[inline(always)]
fn any_zero(w: u64) -> u64 {
    w.wrapping_sub(LANES) & !w & HIGH
}

/// Some byte is a control character, `"` or `\\`.
#[inline(always)]
fn json_specials(w: u64) -> u64 {
    let control = w.wrapping_sub(LANES * 0x20) & !w & HIGH;
    control | any_zero(w ^ (LANES * u64::from(b'"'))) | any_zero(w ^ (LANES * u64::from(b'\\')))
}

/// The high bit of every lane of `x` that is zero; exact (no lane can
/// carry into the next: `0x7f + 0x7f` stays inside a byte).
#[inline(always)]
fn zero_lanes(x: u64) -> u64 {
    !((x & !HIGH).wrapping_add(!HIGH) | x) & HIGH
}

/// Control characters, `"` and `\\`, exactly.
#[inline(always)]
fn json_specials_exact(w: u64) -> u64 {
    zero_lanes(w & (LANES * 0xe0))
        | zero_lanes(w ^ (LANES * u64::from(b'"')))
        | zero_lanes(w ^ (LANES * u64::from(b'\\')))
}

/// Lane high bits gathered into one bit per lane: bit `i` for lane `i`.
/// Lane `k`'s bit (at `8k` after the shift) times `2^(56 - 7k)` lands on
/// bit `56 + k`; every other product falls outside the top byte.
#[inline(always)]
fn lane_bits(mask: u64) -> u32 {
    ((mask >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u32
}

/// Sixteen bytes at a time with SSE2. There is no unsigned byte compare,
/// so `b < n` is `max(b, n - 1) == n - 1` and `b >= n` is `max(b, n) == b`.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod sse2 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_max_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };

    // Every `unsafe` below: these intrinsics require only SSE2, which this
    // module is compiled with (see its `cfg`).

    #[inline(always)]
    pub(super) fn load(chunk: &[u8; 16]) -> __m128i {
        // SAFETY: SSE2 (module `cfg`); reads exactly the 16 bytes of `chunk`.
        unsafe { _mm_loadu_si128(chunk.as_ptr().cast()) }
    }

    /// Control characters, `"` and `\\`, as lanes of 0xff.
    #[inline(always)]
    pub(super) fn specials(v: __m128i) -> __m128i {
        // SAFETY: SSE2 (module `cfg`), register operations only.
        unsafe {
            let below_space =
                _mm_cmpeq_epi8(_mm_max_epu8(v, _mm_set1_epi8(0x1f)), _mm_set1_epi8(0x1f));
            let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
            let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
            _mm_or_si128(below_space, _mm_or_si128(quote, backslash))
        }
    }

    /// `"` and `\\`, as lanes of 0xff.
    #[inline(always)]
    pub(super) fn quotes(v: __m128i) -> __m128i {
        // SAFETY: SSE2 (module `cfg`), register operations only.
        unsafe {
            let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
            let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
            _mm_or_si128(quote, backslash)
        }
    }

    /// Bytes from 0x7f up: DEL and every byte of a non-ASCII character.
    #[inline(always)]
    pub(super) fn del_and_up(v: __m128i) -> __m128i {
        // SAFETY: SSE2 (module `cfg`), register operations only.
        unsafe { _mm_cmpeq_epi8(_mm_max_epu8(v, _mm_set1_epi8(0x7f)), v) }
    }

    /// Lane `i` marked: bit `i` set.
    #[inline(always)]
    pub(super) fn bits(lanes: __m128i) -> u32 {
        // SAFETY: SSE2 (module `cfg`), register operations only.
        unsafe { _mm_movemask_epi8(lanes) as u32 }
    }

    #[inline(always)]
    pub(super) fn or(a: __m128i, b: __m128i) -> __m128i {
        // SAFETY: SSE2 (module `cfg`), register operations only.
        unsafe { _mm_or_si128(a, b) }
    }
}

impl Style for Compact {
    #[inline(always)]
    fn key(k: &KeyBlocks) -> &KeyBlock {
        &k.compact
    }
    #[inline(always)]
    fn escape_mask(w: u64) -> u64 {
        json_specials(w)
    }
    #[inline(always)]
    fn exact_bits(w: u64) -> u32 {
        lane_bits(json_specials_exact(w))
    }
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    #[inline(always)]
    fn escape_bits(chunk: &[u8; 16]) -> u32 {
        sse2::bits(sse2::specials(sse2::load(chunk)))
    }
    const COLON: &'static [u8] = b":";
    const COMMA: &'static [u8] = b",";
    const ESCAPE: &'static [u8; 256] = &COMPACT_ESCAPE;
    #[inline]
    fn float(out: &mut Vec<u8>, f: f64) {
        float::write_compact(out, f)
    }
}

impl Style for Python {
    #[inline(always)]
    fn key(k: &KeyBlocks) -> &KeyBlock {
        &k.python
    }
    #[inline(always)]
    fn escape_mask(w: u64) -> u64 {
        // Also DEL and every byte of a non-ASCII character (>= 0x7f).
        json_specials(w) | ((w.wrapping_add(LANES) | w) & HIGH)
    }
    #[inline(always)]
    fn exact_bits(w: u64) -> u32 {
        // `(b & 0x7f) + 1` reaches 0x80 only for 0x7f: again no carry.
        let del_and_up = ((w & !HIGH).wrapping_add(LANES) | w) & HIGH;
        lane_bits(json_specials_exact(w) | del_and_up)
    }
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    #[inline(always)]
    fn escape_bits(chunk: &[u8; 16]) -> u32 {
        let v = sse2::load(chunk);
        sse2::bits(sse2::or(sse2::specials(v), sse2::del_and_up(v)))
    }
    const COLON: &'static [u8] = b": ";
    const COMMA: &'static [u8] = b", ";
    const ESCAPE: &'static [u8; 256] = &PYTHON_ESCAPE;
    #[inline]
    fn float(out: &mut Vec<u8>, f: f64) {
        float::write_python(out, f)
    }
}

/// The index of the lowest marked lane of a non-zero mask.
#[inline(always)]
fn first_lane(mask: u64) -> usize {
    (mask.trailing_zeros() / 8) as usize
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Input bytes escaped per reservation: bounds the extra capacity a long
/// string can make the buffer take.
const SEGMENT: usize = 4096;
/// Output bytes one input byte can become: `\u00XX`.
const WORST: usize = 6;

#[inline(always)]
fn hex_escape(unit: u32) -> [u8; 6] {
    [
        b'\\',
        b'u',
        HEX[(unit >> 12 & 0xf) as usize],
        HEX[(unit >> 8 & 0xf) as usize],
        HEX[(unit >> 4 & 0xf) as usize],
        HEX[(unit & 0xf) as usize],
    ]
}

/// The index of the first byte of `bytes` that needs an escape, or
/// `bytes.len()`: sixteen bytes at a time (x86-64), then eight; the last
/// few bytes are read as one overlapping word rather than one by one.
#[inline(always)]
fn first_escape<S: Style>(bytes: &[u8]) -> usize {
    let len = bytes.len();
    let mut i = 0;
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    while let Some(chunk) = bytes.get(i..i + 16) {
        let bits = S::escape_bits(chunk.try_into().unwrap_or(&[0; 16]));
        if bits != 0 {
            return i + bits.trailing_zeros() as usize;
        }
        i += 16;
    }
    while let Some(chunk) = bytes.get(i..i + 8) {
        let mask = S::escape_mask(u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8])));
        if mask != 0 {
            return i + first_lane(mask);
        }
        i += 8;
    }
    let rest = len - i;
    if rest == 0 {
        return len;
    }
    if len >= 8 {
        // The last eight bytes: the first `8 - rest` were found clean
        // above, so no borrow or carry starts in them and, shifted out,
        // they leave the lowest remaining mark exact.
        let w = u64::from_le_bytes(bytes[len - 8..].try_into().unwrap_or([0; 8]));
        let mask = S::escape_mask(w) >> (8 * (8 - rest));
        return if mask == 0 { len } else { i + first_lane(mask) };
    }
    // A short string (most ids): one word that covers every byte, some
    // twice; only if it is marked are the bytes looked at one by one.
    let w = if len >= 4 {
        let head = u32::from_le_bytes(bytes[..4].try_into().unwrap_or([0; 4]));
        let tail = u32::from_le_bytes(bytes[len - 4..].try_into().unwrap_or([0; 4]));
        u64::from(head) | u64::from(tail) << 32
    } else {
        // Lanes 3 to 7 hold `a`, which never needs an escape.
        u64::from(bytes[0])
            | u64::from(bytes[len / 2]) << 8
            | u64::from(bytes[len - 1]) << 16
            | 0x6161_6161_6100_0000
    };
    if S::escape_mask(w) == 0 {
        return len;
    }
    bytes
        .iter()
        .position(|&b| S::ESCAPE[b as usize] != 0)
        .unwrap_or(len)
}

/// The index of the first `"`, `\\` or control character in `bytes` (or
/// `bytes.len()`): where a JSON string's plain run ends. The reader's fast
/// path uses it to find the end of each string.
#[inline]
pub(crate) fn first_special(bytes: &[u8]) -> usize {
    first_escape::<Compact>(bytes)
}

/// Appends `s` as a quoted JSON string.
///
/// Strings of 4 to 32 bytes (ids, names, types, severities: most of a
/// line's strings) are checked and copied inline as two overlapping
/// words or 16-byte chunks; the rest go through [`any_string`].
#[inline(always)]
pub(crate) fn string<S: Style>(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let n = bytes.len();
    if (17..=32).contains(&n) {
        let head: [u8; 16] = bytes[..16].try_into().unwrap_or([0; 16]);
        let tail: [u8; 16] = bytes[n - 16..].try_into().unwrap_or([0; 16]);
        if clean16::<S>(&head) && clean16::<S>(&tail) {
            // SAFETY: the stores cover `[0, 16)` and `[n - 16, n)`, all of
            // `[0, n)`.
            unsafe {
                quoted(out, n, |dst| {
                    dst.cast::<[u8; 16]>().write_unaligned(head);
                    dst.add(n - 16).cast::<[u8; 16]>().write_unaligned(tail);
                })
            };
            return;
        }
    } else if (8..=16).contains(&n) {
        let head: [u8; 8] = bytes[..8].try_into().unwrap_or([0; 8]);
        let tail: [u8; 8] = bytes[n - 8..].try_into().unwrap_or([0; 8]);
        if S::escape_mask(u64::from_le_bytes(head)) | S::escape_mask(u64::from_le_bytes(tail)) == 0
        {
            // SAFETY: room for `n + 2` bytes is reserved after `len`; the
            // stores cover `[0, 1)`, `[1, 9)`, `[n - 7, n + 1)` and
            // `[n + 1, n + 2)` from there, which together are all of it.
            unsafe {
                quoted(out, n, |dst| {
                    dst.cast::<[u8; 8]>().write_unaligned(head);
                    dst.add(n - 8).cast::<[u8; 8]>().write_unaligned(tail);
                })
            };
            return;
        }
    } else if (4..8).contains(&n) {
        let head: [u8; 4] = bytes[..4].try_into().unwrap_or([0; 4]);
        let tail: [u8; 4] = bytes[n - 4..].try_into().unwrap_or([0; 4]);
        let w = u64::from(u32::from_le_bytes(head)) | u64::from(u32::from_le_bytes(tail)) << 32;
        if S::escape_mask(w) == 0 {
            // SAFETY: as above, with 4-byte words.
            unsafe {
                quoted(out, n, |dst| {
                    dst.cast::<[u8; 4]>().write_unaligned(head);
                    dst.add(n - 4).cast::<[u8; 4]>().write_unaligned(tail);
                })
            };
            return;
        }
    }
    any_string::<S>(out, s);
}

/// Appends `"`, `n` bytes that `fill` writes at the pointer it is given,
/// and `"`.
///
/// # Safety
///
/// `fill` must write exactly the `n` bytes after the pointer.
#[inline(always)]
unsafe fn quoted(out: &mut Vec<u8>, n: usize, fill: impl FnOnce(*mut u8)) {
    out.reserve(n + 2);
    let len = out.len();
    // SAFETY: `reserve` left room for `n + 2` bytes after `len`: the two
    // quotes here and the `n` bytes the caller's `fill` writes between
    // them, so every byte up to the new length is written.
    unsafe {
        let dst = out.as_mut_ptr().add(len);
        *dst = b'"';
        fill(dst.add(1));
        *dst.add(n + 1) = b'"';
        out.set_len(len + n + 2);
    }
}

/// Appends `s` as a quoted JSON string, of any length.
fn any_string<S: Style>(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    // Most strings (ids, names, plain text) need no escape: one copy.
    let first = first_escape::<S>(bytes);
    out.reserve(bytes.len() + 2);
    let len = out.len();
    let clean = first == bytes.len();
    // SAFETY: `reserve` left room for `bytes.len() + 2` bytes after `len`,
    // and at most `1 + first + 1 <= bytes.len() + 2` are written; the
    // source is `s`, not the buffer. Every byte up to the new length is
    // written before `set_len`.
    unsafe {
        let dst = out.as_mut_ptr().add(len);
        *dst = b'"';
        copy_bytes(&bytes[..first], dst.add(1));
        if clean {
            *dst.add(1 + first) = b'"';
            out.set_len(len + first + 2);
            return;
        }
        out.set_len(len + 1 + first);
    }
    escape_from::<S>(out, s, first);
    out.push(b'"');
}

/// Copies `src` to `dst`. Up to 32 bytes (ids, names, most short values)
/// go as two overlapping loads and stores rather than a call to `memcpy`
/// (the sink's queue messages are filled with it too).
///
/// # Safety
///
/// `dst .. dst + src.len()` must be writable and not overlap `src`.
#[inline(always)]
pub(crate) unsafe fn copy_bytes(src: &[u8], dst: *mut u8) {
    let n = src.len();
    // SAFETY (every store): each covers `[0, 16)`, `[n - 16, n)`, `[0, 8)`,
    // `[n - 8, n)`, `[0, 4)`, `[n - 4, n)` or a single index below `n`,
    // inside the caller's range.
    unsafe {
        if (17..=32).contains(&n) {
            let head: [u8; 16] = src[..16].try_into().unwrap_or([0; 16]);
            let tail: [u8; 16] = src[n - 16..].try_into().unwrap_or([0; 16]);
            dst.cast::<[u8; 16]>().write_unaligned(head);
            dst.add(n - 16).cast::<[u8; 16]>().write_unaligned(tail);
        } else if (8..=16).contains(&n) {
            let head: [u8; 8] = src[..8].try_into().unwrap_or([0; 8]);
            let tail: [u8; 8] = src[n - 8..].try_into().unwrap_or([0; 8]);
            dst.cast::<[u8; 8]>().write_unaligned(head);
            dst.add(n - 8).cast::<[u8; 8]>().write_unaligned(tail);
        } else if (4..8).contains(&n) {
            let head: [u8; 4] = src[..4].try_into().unwrap_or([0; 4]);
            let tail: [u8; 4] = src[n - 4..].try_into().unwrap_or([0; 4]);
            dst.cast::<[u8; 4]>().write_unaligned(head);
            dst.add(n - 4).cast::<[u8; 4]>().write_unaligned(tail);
        } else if n < 4 {
            if n > 0 {
                *dst = src[0];
                *dst.add(n / 2) = src[n / 2];
                *dst.add(n - 1) = src[n - 1];
            }
        } else {
            std::ptr::copy_nonoverlapping(src.as_ptr(), dst, n);
        }
    }
}

/// Escapes `s[i..]` into `out`: the writer's loop for strings with
/// escapes. JSON-like tool arguments have a quote every few bytes, so it
/// does not copy run by run between escapes (a bounds-checked `memcpy`
/// call each): it reserves the worst case for a segment of input once,
/// finds exactly which of sixteen bytes need an escape, and writes each
/// eight-byte half as whole words with the escapes put between them
/// ([`escape_word`]; [`quote_word`] when the only escapes are `"` and
/// `\\`, the common case). The last few bytes are one word that overlaps
/// bytes already written. Only `\u00XX` escapes and python's non-ASCII
/// characters go one at a time.
#[cold]
fn escape_from<S: Style>(out: &mut Vec<u8>, s: &str, mut i: usize) {
    let bytes = s.as_bytes();
    while i < bytes.len() {
        let seg_end = (i + SEGMENT).min(bytes.len());
        // A character that starts before `seg_end` may end up to 3 bytes
        // after it and write up to 12 bytes: hence the slack.
        let budget = (seg_end - i) * WORST + 16;
        out.reserve(budget);
        let len = out.len();
        let dst = out.as_mut_ptr();
        let mut n = len;
        // SAFETY (for every write through `dst` below): `n - len` never
        // exceeds `WORST` times the input consumed in this segment (a final
        // multi-byte character excepted: 12 bytes for 4, within the 16 of
        // slack), and no write reaches more than 16 bytes past `n` while
        // at least eight input bytes of the segment are unconsumed, or 8
        // bytes while at least one is, so every write stays below
        // `len + budget`, which `reserve` guaranteed. The writes cannot
        // overlap their sources, which live in `s` or on the stack.
        let put = |n: &mut usize, src: &[u8]| unsafe {
            std::ptr::copy_nonoverlapping(src.as_ptr(), dst.add(*n), src.len());
            *n += src.len();
        };
        while i < seg_end {
            let rest = seg_end - i;
            // The bytes the step covers, and how many it consumed: fewer
            // when it stopped at a byte that needs a long escape.
            let (step, done) = if rest >= 16 {
                let chunk: &[u8; 16] = bytes[i..i + 16].try_into().unwrap_or(&[0; 16]);
                let lo = u64::from_le_bytes(chunk[..8].try_into().unwrap_or([0; 8]));
                let hi = u64::from_le_bytes(chunk[8..].try_into().unwrap_or([0; 8]));
                let (all, quotes) = chunk_bits::<S>(chunk, lo, hi);
                // SAFETY (the three arms): as above; each word routine
                // writes within 8 bytes past `n` and at most 2 bytes per
                // byte it consumes.
                let done = if all == 0 {
                    put(&mut n, chunk);
                    16
                } else if all == quotes {
                    // SAFETY: see the arms' comment above.
                    unsafe {
                        quote_word(dst, &mut n, lo, quotes & 0xff);
                        quote_word(dst, &mut n, hi, quotes >> 8);
                    }
                    16
                } else {
                    // SAFETY: see the arms' comment above.
                    unsafe {
                        match escape_word::<S>(dst, &mut n, lo, 8, all & 0xff) {
                            8 => 8 + escape_word::<S>(dst, &mut n, hi, 8, all >> 8),
                            d => d,
                        }
                    }
                };
                (16, done)
            } else if rest >= 8 {
                let w = u64::from_le_bytes(bytes[i..i + 8].try_into().unwrap_or([0; 8]));
                // SAFETY: as above.
                (8, unsafe {
                    escape_word::<S>(dst, &mut n, w, 8, S::exact_bits(w))
                })
            } else if seg_end >= 8 {
                // The segment's last eight bytes, of which the first
                // `8 - rest` are already written: shifted out.
                let w =
                    u64::from_le_bytes(bytes[seg_end - 8..seg_end].try_into().unwrap_or([0; 8]));
                let skip = 8 - rest;
                let bits = S::exact_bits(w) >> skip;
                // SAFETY: as above.
                (rest, unsafe {
                    escape_word::<S>(dst, &mut n, w >> (8 * skip), rest, bits)
                })
            } else {
                (1, 0)
            };
            i += done;
            if done == step {
                continue;
            }
            // `i` is now at a byte that needs a long escape, or in a
            // string shorter than eight bytes.
            let b = bytes[i];
            match S::ESCAPE[b as usize] {
                0 => {
                    put(&mut n, &[b]);
                    i += 1;
                }
                U => {
                    put(&mut n, &hex_escape(u32::from(b)));
                    i += 1;
                }
                X => {
                    // `s` is valid UTF-8 and `i` is on a char boundary: a
                    // non-ASCII lead byte starts a whole character.
                    let ch = s[i..].chars().next().unwrap_or('\u{fffd}');
                    let cp = ch as u32;
                    if cp >= 0x1_0000 {
                        let v = cp - 0x1_0000;
                        put(&mut n, &hex_escape(0xd800 | (v >> 10)));
                        put(&mut n, &hex_escape(0xdc00 | (v & 0x3ff)));
                    } else {
                        put(&mut n, &hex_escape(cp));
                    }
                    i += ch.len_utf8();
                }
                short => {
                    put(&mut n, &[b'\\', short]);
                    i += 1;
                }
            }
        }
        // SAFETY: bytes `len..n` were all written above (see `put`), and
        // `n <= len + budget <= capacity`.
        unsafe { out.set_len(n) };
    }
}

/// Whether no byte of `chunk` needs an escape: one SSE2 compare where
/// there is SSE2, two word checks elsewhere.
#[inline(always)]
fn clean16<S: Style>(chunk: &[u8; 16]) -> bool {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    {
        S::escape_bits(chunk) == 0
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    {
        let lo = u64::from_le_bytes(chunk[..8].try_into().unwrap_or([0; 8]));
        let hi = u64::from_le_bytes(chunk[8..].try_into().unwrap_or([0; 8]));
        S::escape_mask(lo) | S::escape_mask(hi) == 0
    }
}

/// Of a 16-byte chunk (also given as its two little-endian halves): the
/// bytes that need an escape, and those of them that are `"` or `\\`; bit
/// `i` for byte `i`, exact.
#[inline(always)]
fn chunk_bits<S: Style>(chunk: &[u8; 16], lo: u64, hi: u64) -> (u32, u32) {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    {
        let _ = (lo, hi);
        (
            S::escape_bits(chunk),
            sse2::bits(sse2::quotes(sse2::load(chunk))),
        )
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    {
        let _ = chunk;
        (
            S::exact_bits(lo) | S::exact_bits(hi) << 8,
            quote_bits(lo) | quote_bits(hi) << 8,
        )
    }
}

/// The bytes of `w` that are `"` or `\\`, bit `i` for byte `i`: exact.
#[cfg_attr(all(target_arch = "x86_64", target_feature = "sse2"), allow(dead_code))]
#[inline(always)]
fn quote_bits(w: u64) -> u32 {
    lane_bits(
        zero_lanes(w ^ (LANES * u64::from(b'"'))) | zero_lanes(w ^ (LANES * u64::from(b'\\'))),
    )
}

/// Writes `w`'s eight bytes (little-endian) at `dst + *n` with a `\\`
/// before each byte marked in `bits` (all of them `"` or `\\`), and
/// advances `*n` by `8 + bits.count_ones()`. Each stretch from one marked
/// byte to the next is one unaligned 8-byte store of `w` shifted down to
/// it, of which only the stretch is kept.
///
/// # Safety
///
/// `dst + *n .. dst + *n + 16` must be writable.
#[inline(always)]
unsafe fn quote_word(dst: *mut u8, n: &mut usize, w: u64, mut bits: u32) {
    let mut from = 0;
    while bits != 0 {
        let at = bits.trailing_zeros() as usize;
        // SAFETY: `*n` has grown by at most 1 per byte below `at`, and the
        // store spans 8 bytes, then 1: inside the 16 the caller vouches for.
        unsafe {
            dst.add(*n)
                .cast::<[u8; 8]>()
                .write_unaligned((w >> (8 * from)).to_le_bytes());
            *n += at - from;
            *dst.add(*n) = b'\\';
        }
        *n += 1;
        // The marked byte itself starts the next stretch.
        from = at;
        bits &= bits - 1;
    }
    // SAFETY: as above; `from < 8`.
    unsafe {
        dst.add(*n)
            .cast::<[u8; 8]>()
            .write_unaligned((w >> (8 * from)).to_le_bytes())
    };
    *n += 8 - from;
}

/// Writes the first `len` (at most 8) bytes of `w` (little-endian) at
/// `dst + *n`, those marked in `bits` (bit `i` for byte `i`, exactly the
/// bytes that need an escape) with their two-byte escapes, and advances
/// `*n`. Returns the bytes consumed: `len`, or the index of the first
/// marked byte whose escape is longer (`\u00XX`, or a python non-ASCII
/// character), which is left to the caller.
///
/// # Safety
///
/// `dst + *n .. dst + *n + 8 + 2 × (bytes consumed)` must be writable.
#[inline(always)]
unsafe fn escape_word<S: Style>(
    dst: *mut u8,
    n: &mut usize,
    w: u64,
    len: usize,
    mut bits: u32,
) -> usize {
    // SAFETY: each store below starts at the current `*n`, which has grown
    // by at most 2 per byte consumed so far, and spans at most 8 bytes:
    // inside the range the caller vouches for.
    let store = |n: &mut usize, word: u64, keep: usize| unsafe {
        dst.add(*n)
            .cast::<[u8; 8]>()
            .write_unaligned(word.to_le_bytes());
        *n += keep;
    };
    let mut from = 0;
    while bits != 0 {
        let at = bits.trailing_zeros() as usize;
        let escape = S::ESCAPE[(w >> (8 * at)) as u8 as usize];
        store(n, w >> (8 * from), at - from);
        if escape == U || escape == X {
            return at;
        }
        // SAFETY: as for `store`: 2 bytes for the byte just consumed.
        unsafe {
            dst.add(*n)
                .cast::<[u8; 2]>()
                .write_unaligned([b'\\', escape])
        };
        *n += 2;
        from = at + 1;
        bits &= bits - 1;
    }
    if from < len {
        store(n, w >> (8 * from), len - from);
    }
    len
}

/// A key from data (metadata, extra keys): escaped.
#[inline]
fn data_key<S: Style>(out: &mut Vec<u8>, first: bool, name: &str) {
    if !first {
        out.extend_from_slice(S::COMMA);
    }
    string::<S>(out, name);
    out.extend_from_slice(S::COLON);
}

/// Appends a number.
pub(crate) fn number<S: Style>(out: &mut Vec<u8>, n: &Number) {
    match n {
        Number::Int(i) => out.extend_from_slice(itoa::Buffer::new().format(*i).as_bytes()),
        Number::UInt(u) => out.extend_from_slice(itoa::Buffer::new().format(*u).as_bytes()),
        Number::Big(big) => out.extend_from_slice(big.as_str().as_bytes()),
        Number::Float(f) => S::float(out, *f),
    }
}

fn members<S: Style>(out: &mut Vec<u8>, map: &Map, mut first: bool) {
    for (k, v) in map {
        data_key::<S>(out, first, k);
        value::<S>(out, v);
        first = false;
    }
}

/// Appends any JSON value.
pub(crate) fn value<S: Style>(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => number::<S>(out, n),
        Value::String(s) => string::<S>(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(S::COMMA);
                }
                value::<S>(out, item);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            out.push(b'{');
            members::<S>(out, map, true);
            out.push(b'}');
        }
    }
}

/// What the writer needs of an event. The owned [`Event`], the borrowed
/// [`EventRef`] and the sink's packed copy all implement it, so one walk
/// writes all three and their lines cannot differ.
pub(crate) trait View {
    fn event_type(&self) -> &str;
    /// Whether envelope key `i` (index into `ENVELOPE`) is written.
    #[inline]
    fn has_envelope_key(&self, _i: usize) -> bool {
        true
    }
    /// Appends the timestamp as a JSON string.
    fn write_timestamp<S: Style>(&self, out: &mut Vec<u8>);
    /// The agent (0), turn (1) or session (2) id.
    fn id(&self, i: usize) -> Option<&str>;
    /// Appends the severity as a JSON string.
    fn write_severity<S: Style>(&self, out: &mut Vec<u8>);
    /// The metadata; `None` is `{}`.
    fn metadata(&self) -> Option<&Map>;
    /// Calls `f` with each own field and its key, in schema order.
    fn for_each_keyed_field(&self, f: impl FnMut(&'static KeyBlocks, FieldRef<'_>));
    /// Keys the schema does not know, written last.
    fn extra(&self) -> Option<&Map>;
}

/// Appends a timestamp's ISO text as a JSON string (it needs no escape).
#[inline]
fn iso_string(out: &mut Vec<u8>, timestamp: &crate::Timestamp) {
    out.push(b'"');
    timestamp.write_iso(out);
    out.push(b'"');
}

impl View for Event {
    #[inline]
    fn event_type(&self) -> &str {
        Event::event_type(self)
    }
    #[inline]
    fn has_envelope_key(&self, i: usize) -> bool {
        Event::has_envelope_key(self, i)
    }
    #[inline]
    fn write_timestamp<S: Style>(&self, out: &mut Vec<u8>) {
        match self.timestamp.raw_text() {
            // Text kept from a log may need escaping.
            Some(raw) => string::<S>(out, raw),
            None => iso_string(out, &self.timestamp),
        }
    }
    #[inline]
    fn id(&self, i: usize) -> Option<&str> {
        match i {
            0 => self.agent_id.as_deref(),
            1 => self.turn_id.as_deref(),
            _ => self.session_id.as_deref(),
        }
    }
    #[inline]
    fn write_severity<S: Style>(&self, out: &mut Vec<u8>) {
        string::<S>(out, self.severity.as_str());
    }
    #[inline]
    fn metadata(&self) -> Option<&Map> {
        Some(&self.metadata)
    }
    #[inline]
    fn for_each_keyed_field(&self, f: impl FnMut(&'static KeyBlocks, FieldRef<'_>)) {
        self.kind.for_each_keyed_field(f)
    }
    #[inline]
    fn extra(&self) -> Option<&Map> {
        Some(&self.extra)
    }
}

impl View for EventRef<'_> {
    #[inline]
    fn event_type(&self) -> &str {
        EventRef::event_type(self)
    }
    #[inline]
    fn write_timestamp<S: Style>(&self, out: &mut Vec<u8>) {
        iso_string(out, &self.timestamp());
    }
    #[inline]
    fn id(&self, i: usize) -> Option<&str> {
        // A `match`, not an array of the three indexed: that built all
        // three on every call (~12 instructions each).
        match i {
            0 => self.agent_id(),
            1 => self.turn_id(),
            _ => self.session_id(),
        }
    }
    #[inline]
    fn write_severity<S: Style>(&self, out: &mut Vec<u8>) {
        string::<S>(out, self.severity().as_str());
    }
    #[inline]
    fn metadata(&self) -> Option<&Map> {
        None
    }
    #[inline]
    fn for_each_keyed_field(&self, mut f: impl FnMut(&'static KeyBlocks, FieldRef<'_>)) {
        for ((_, key), field) in self.tag().field_keys().iter().zip(self.field_values()) {
            f(key, *field);
        }
    }
    #[inline]
    fn extra(&self) -> Option<&Map> {
        None
    }
}

/// Appends one own field's value.
#[inline]
fn field<S: Style>(out: &mut Vec<u8>, field: FieldRef<'_>) {
    match field {
        FieldRef::Str(s) => string::<S>(out, s),
        FieldRef::Int(i) => out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes()),
        FieldRef::Number(n) => number::<S>(out, n),
        FieldRef::Bool(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
        FieldRef::StrList(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(S::COMMA);
                }
                string::<S>(out, item);
            }
            out.push(b']');
        }
    }
}

/// Appends one event as a JSON object followed by `\n`.
pub(crate) fn event<S: Style, V: View + ?Sized>(out: &mut Vec<u8>, ev: &V) {
    put_key(out, S::key(&OPEN));
    string::<S>(out, ev.event_type());
    for (i, key) in ENVELOPE_KEYS.iter().enumerate() {
        if !ev.has_envelope_key(i) {
            continue;
        }
        put_key(out, S::key(key));
        match i {
            0 => ev.write_timestamp::<S>(out),
            1..=3 => match ev.id(i - 1) {
                Some(s) => string::<S>(out, s),
                None => out.extend_from_slice(b"null"),
            },
            4 => ev.write_severity::<S>(out),
            _ => {
                out.push(b'{');
                if let Some(map) = ev.metadata() {
                    members::<S>(out, map, true);
                }
                out.push(b'}');
            }
        }
    }
    ev.for_each_keyed_field(|key, value| {
        put_key(out, S::key(key));
        field::<S>(out, value);
    });
    if let Some(map) = ev.extra() {
        members::<S>(out, map, false);
    }
    out.extend_from_slice(b"}\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The index of the first byte of `w` that needs an escape.
    fn truth<S: Style>(w: u64) -> Option<usize> {
        w.to_le_bytes()
            .iter()
            .position(|&b| S::ESCAPE[b as usize] != 0)
    }

    fn check<S: Style>(w: u64) {
        let mask = S::escape_mask(w);
        match truth::<S>(w) {
            Some(at) => assert_eq!(first_lane(mask), at, "{w:#018x}"),
            None => assert_eq!(mask, 0, "{w:#018x}"),
        }
    }

    /// Every byte value at every position among fillers of every class,
    /// then random words.
    fn test_words() -> Vec<u64> {
        let mut words = vec![];
        for b in 0..=255u8 {
            for pos in 0..8 {
                for fill in [b'a', 0x00, 0x1f, 0x20, 0x7e, 0x7f, 0x80, 0xff, b'"', b'\\'] {
                    let mut bytes = [fill; 8];
                    bytes[pos] = b;
                    words.push(u64::from_le_bytes(bytes));
                }
            }
        }
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..if cfg!(miri) { 1_000 } else { 100_000 } {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            words.push(x);
        }
        words
    }

    /// The mask's lowest lane is exactly the first byte to escape, and a
    /// word with nothing to escape has no mark at all.
    #[test]
    fn word_mask_finds_the_first_escape() {
        for w in test_words() {
            check::<Compact>(w);
            check::<Python>(w);
        }
        assert_eq!(Compact::escape_mask(u64::from_le_bytes(*b"abcdefgh")), 0);
        assert_eq!(Python::escape_mask(u64::from_le_bytes(*b"{}[] ~:,")), 0);
        assert_eq!(
            Compact::escape_mask(u64::from_le_bytes(
                "héllo wö".as_bytes()[..8].try_into().unwrap()
            )),
            0
        );
    }

    /// Key blocks in both formats, with the longest schema key, an escaped
    /// value and the envelope (also the path Miri checks for `put_key`).
    #[test]
    fn events_are_written_key_by_key() {
        use crate::event::SkillUsed;
        use crate::timestamp::Timestamp;
        // Not `Event::new`: it reads the clock, which Miri does not allow.
        let kind = SkillUsed {
            skill_name: "q\"x".into(),
            ..SkillUsed::default()
        };
        let ev = Event::stamped(kind.into(), Timestamp::from_unix_micros(1_500_000)).agent("a");
        let mut c = Vec::new();
        event::<Compact, _>(&mut c, &ev);
        assert_eq!(
            String::from_utf8(c).unwrap(),
            concat!(
                r#"{"event_type":"skill_used","timestamp":"1970-01-01T00:00:01.500000+00:00","#,
                r#""agent_id":"a","turn_id":null,"session_id":null,"severity":"info","metadata":{},"#,
                r#""skill_name":"q\"x","version":"","outcome":"unknown","duration_ms":0.0,"#,
                r#""triggered_automatically":true}"#,
                "\n"
            )
        );
        let mut p = Vec::new();
        event::<Python, _>(&mut p, &ev);
        let p = String::from_utf8(p).unwrap();
        assert!(
            p.starts_with(r#"{"event_type": "skill_used", "timestamp": "#),
            "{p}"
        );
        assert!(p.ends_with("\"triggered_automatically\": true}\n"), "{p}");
    }

    /// The 16-byte test marks exactly the bytes to escape.
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    #[test]
    fn sixteen_byte_bits_are_exact() {
        fn truth<S: Style>(chunk: &[u8; 16]) -> u32 {
            (0..16)
                .filter(|&i| S::ESCAPE[chunk[i] as usize] != 0)
                .fold(0, |m, i| m | 1 << i)
        }
        let mut chunks = vec![];
        for b in 0..=255u8 {
            for pos in [0, 7, 8, 15] {
                let mut c = *b"abcdefghijklmnop";
                c[pos] = b;
                chunks.push(c);
            }
        }
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..if cfg!(miri) { 500 } else { 50_000 } {
            let mut c = [0u8; 16];
            for b in &mut c {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = x as u8;
            }
            chunks.push(c);
        }
        for c in &chunks {
            assert_eq!(Compact::escape_bits(c), truth::<Compact>(c), "{c:?}");
            assert_eq!(Python::escape_bits(c), truth::<Python>(c), "{c:?}");
        }
    }

    /// The portable 8-byte test marks exactly the bytes to escape, as the
    /// 16-byte one does.
    #[test]
    fn word_bits_are_exact() {
        fn truth<S: Style>(w: u64) -> u32 {
            let bytes = w.to_le_bytes();
            (0..8)
                .filter(|&i| S::ESCAPE[bytes[i] as usize] != 0)
                .fold(0, |m, i| m | 1 << i)
        }
        for w in test_words() {
            assert_eq!(Compact::exact_bits(w), truth::<Compact>(w), "{w:#018x}");
            assert_eq!(Python::exact_bits(w), truth::<Python>(w), "{w:#018x}");
        }
    }

    /// Escaping character by character, as the formats define it.
    fn escaped_slowly(s: &str, python: bool) -> String {
        let mut out = String::from("\"");
        for ch in s.chars() {
            match ch {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                c if (c as u32) < 0x20 || (python && !(' '..='~').contains(&c)) => {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        out.push_str(&format!("\\u{unit:04x}"));
                    }
                }
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    /// Random strings dense in escapes of every kind, at every length up
    /// to 80 and behind a prefix of every length up to 17, against the
    /// character-by-character escaper.
    #[test]
    fn strings_match_the_slow_escaper() {
        const ALPHABET: &[char] = &[
            'a', 'b', 'z', ' ', '~', '"', '\\', '\n', '\t', '\r', '\u{8}', '\u{c}', '\u{0}',
            '\u{1f}', '\u{7f}', 'é', '€', '😀', '\u{ffff}', '\u{80}',
        ];
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let rounds = if cfg!(miri) { 60 } else { 20_000 };
        for round in 0..rounds {
            let len = (next() % 81) as usize;
            // Half the strings mostly plain, half mostly escapes.
            let dense = round % 2 == 0;
            let s: String = (0..len)
                .map(|_| {
                    let r = next();
                    if dense || r % 8 == 0 {
                        ALPHABET[(r >> 8) as usize % ALPHABET.len()]
                    } else {
                        'q'
                    }
                })
                .collect();
            let prefix = (next() % 18) as usize;
            let mut c = b"x".repeat(prefix);
            string::<Compact>(&mut c, &s);
            assert_eq!(&c[..prefix], &b"x".repeat(prefix)[..]);
            assert_eq!(
                String::from_utf8_lossy(&c[prefix..]),
                escaped_slowly(&s, false),
                "{s:?}"
            );
            let mut p = Vec::new();
            string::<Python>(&mut p, &s);
            assert_eq!(
                String::from_utf8_lossy(&p),
                escaped_slowly(&s, true),
                "{s:?}"
            );
        }
    }

    /// Every length from 0 to 40, an escape at every position (or none).
    #[test]
    fn first_escape_is_exact_at_every_length() {
        for len in 0..41 {
            for at in 0..=len {
                for special in [b'"', b'\\', 0x01, 0x1f, 0x7f, 0xc3] {
                    let mut bytes = vec![b'k'; len];
                    if at < len {
                        bytes[at] = special;
                    }
                    let want = |esc: &[u8; 256]| {
                        bytes
                            .iter()
                            .position(|&b| esc[b as usize] != 0)
                            .unwrap_or(len)
                    };
                    assert_eq!(first_escape::<Compact>(&bytes), want(Compact::ESCAPE));
                    assert_eq!(first_escape::<Python>(&bytes), want(Python::ESCAPE));
                }
            }
        }
    }

    #[test]
    fn strings_escape_at_every_alignment() {
        for pad in 0..33 {
            let s = format!("{}\"é\u{7f}\n😀{}", "x".repeat(pad), "y".repeat(pad));
            let mut c = Vec::new();
            string::<Compact>(&mut c, &s);
            assert_eq!(
                String::from_utf8(c).unwrap(),
                format!("\"{}\\\"é\u{7f}\\n😀{}\"", "x".repeat(pad), "y".repeat(pad))
            );
            let mut p = Vec::new();
            string::<Python>(&mut p, &s);
            let want = format!(
                "\"{}\\\"\\u00e9\\u007f\\n\\ud83d\\ude00{}\"",
                "x".repeat(pad),
                "y".repeat(pad)
            );
            assert_eq!(String::from_utf8(p).unwrap(), want);
        }
    }
}
