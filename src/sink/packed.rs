//! Events copied whole into a queue slot.
//!
//! The emitter hands the sink an [`EventRef`]: borrowed text that must be
//! copied before `emit` returns. An owned `Event` would allocate for every
//! string longer than 23 bytes (a preview usually is) and leave the free to
//! the writer thread, a remote free into the producer's allocator arena.
//! Instead the producer copies the bytes into a [`Packed`], a fixed-size
//! value that travels through the queue like any other message; the writer
//! turns it back into an `EventRef` over those bytes and writes that. An
//! event that does not fit (more than 372 bytes of text and values, a
//! list, an integer beyond 64 bits) takes the owned path. Either way the line comes from
//! the same writer walk, so the two paths cannot write different bytes.
//!
//! `bytes[..len]` holds, in this order and without padding (integers
//! little-endian):
//!
//! ```text
//! agent, turn, session id   each one present: u16 length, then the text
//! each own field, in schema order:
//!   text      u16 length, then the text
//!   integer   i64
//!   number    one byte (0 float, 1 signed, 2 unsigned), then 8 bytes
//!   bool      one byte
//! ```
//!
//! Which ids are present is a bit set in the header; which field comes
//! next is fixed by the tag's schema (`Tag::shapes`), so only lengths are
//! stored. A `Packed` is made by [`Packed::header`] (no bytes yet) and
//! written once by [`Packed::fill`], in place in its queue slot; nothing
//! changes it afterwards: `bytes[..len]` is always an encoding of the
//! tag's fields, every text in it a byte-for-byte copy of a `&str`, and the
//! bytes past `len` are never written nor read. Decoding relies on that for
//! UTF-8 validity alone; every index is still bounds-checked.

use std::mem::MaybeUninit;

use crate::event::{EventRef, FieldRef, Shape, Tag};
use crate::value::Number;

/// Bytes of text and values a packed event can hold: the message stays
/// 384 bytes, and the benchmark record (216 bytes here) and a full
/// 200-character ASCII preview with its ids fit.
pub(crate) const INLINE: usize = 372;

/// The most own fields any type has (`skill_authored`).
const MAX_FIELDS: usize = 6;

const NUM_FLOAT: u8 = 0;
const NUM_INT: u8 = 1;
const NUM_UINT: u8 = 2;

/// An event copied into a fixed-size value; see the module docs.
pub(crate) struct Packed {
    micros: i64,
    len: u16,
    tag: Tag,
    /// Bit `i`: id `i` (agent, turn, session) is present.
    ids: u8,
    /// `bytes[..len]` are written (by `fill`); the rest never are, so a
    /// message costs only the bytes it uses, written once, in its slot.
    bytes: [MaybeUninit<u8>; INLINE],
}

/// Appends to a `Packed`'s bytes; `None` once they are full.
struct Out<'a> {
    bytes: &'a mut [MaybeUninit<u8>; INLINE],
    at: usize,
}

impl Out<'_> {
    #[inline]
    fn put(&mut self, data: &[u8]) -> Option<()> {
        let end = self.at.checked_add(data.len()).filter(|&e| e <= INLINE)?;
        let to = &mut self.bytes[self.at..end];
        // Short fields as a few word stores, long ones with `memcpy`: a
        // loop a byte at a time was ~200 of the producer's ~430
        // instructions for the benchmark record, and `memcpy` for every
        // field cost the paced emit ~20 ns at the median.
        // SAFETY: `to` and `data` have the same length (`end - at`), and
        // cannot overlap (`to` is borrowed mutably); `MaybeUninit<u8>` has
        // `u8`'s layout, and writing initialised bytes into it is fine.
        unsafe { crate::json::copy_bytes(data, to.as_mut_ptr().cast::<u8>()) }
        self.at = end;
        Some(())
    }

    #[inline]
    fn text(&mut self, s: &str) -> Option<()> {
        let n = u16::try_from(s.len()).ok()?;
        self.put(&n.to_le_bytes())?;
        self.put(s.as_bytes())
    }
}

/// Reads a `Packed`'s bytes back, in the order they were put.
struct In<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> In<'a> {
    #[inline]
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        out.copy_from_slice(&self.bytes[self.at..self.at + N]);
        self.at += N;
        out
    }

    #[inline]
    fn text(&mut self) -> &'a str {
        let n = u16::from_le_bytes(self.take()) as usize;
        let bytes = &self.bytes[self.at..self.at + n];
        self.at += n;
        debug_assert!(std::str::from_utf8(bytes).is_ok());
        // SAFETY: a `Packed` is only filled by `fill`, which wrote these
        // bytes (the length just read, then the text) from a `&str`, and
        // nothing changes them afterwards; this reader takes the same
        // items in the same order as `fill` put them (ids by the header's
        // bits, fields by the tag's shapes), so `bytes` is exactly that
        // copy: valid UTF-8.
        unsafe { std::str::from_utf8_unchecked(bytes) }
    }
}

impl Packed {
    /// An empty message for `event`: the header only. Writing it costs
    /// the header's 16 bytes; the text area is left as it was.
    #[inline]
    pub(crate) fn header(event: &EventRef<'_>) -> Packed {
        Packed {
            micros: event.unix_micros(),
            len: 0,
            tag: event.tag(),
            ids: 0,
            bytes: [MaybeUninit::uninit(); INLINE],
        }
    }

    /// A whole message for `event`, or `None` if it does not fit.
    #[cfg(test)]
    pub(crate) fn pack(event: &EventRef<'_>) -> Option<Packed> {
        let mut packed = Packed::header(event);
        packed.fill(event).then_some(packed)
    }

    /// Copies `event`'s ids and fields in (in place, wherever this
    /// `Packed` lies); `false` if they do not fit, and then the message
    /// must not be used.
    #[inline]
    pub(crate) fn fill(&mut self, event: &EventRef<'_>) -> bool {
        debug_assert!(self.len == 0 && self.ids == 0 && self.tag == event.tag());
        self.fill_items(event).is_some()
    }

    #[inline]
    fn fill_items(&mut self, event: &EventRef<'_>) -> Option<()> {
        let mut out = Out {
            bytes: &mut self.bytes,
            at: 0,
        };
        let ids = [event.agent_id(), event.turn_id(), event.session_id()];
        let mut present = 0;
        for (i, id) in ids.into_iter().enumerate() {
            if let Some(id) = id {
                out.text(id)?;
                present |= 1 << i;
            }
        }
        let shapes = event.tag().shapes();
        // `unpack` decodes into arrays of `MAX_FIELDS`.
        if event.field_values().len() != shapes.len() || shapes.len() > MAX_FIELDS {
            return None;
        }
        for (field, shape) in event.field_values().iter().zip(shapes) {
            match (*field, shape) {
                (FieldRef::Str(s), Shape::Str) => out.text(s)?,
                (FieldRef::Int(i), Shape::Int) => out.put(&i.to_le_bytes())?,
                (FieldRef::Number(n), Shape::Number) => {
                    let (code, bits) = match *n {
                        Number::Float(f) => (NUM_FLOAT, f.to_bits()),
                        Number::Int(i) => (NUM_INT, i as u64),
                        Number::UInt(u) => (NUM_UINT, u),
                        Number::Big(_) => return None,
                    };
                    out.put(&[code])?;
                    out.put(&bits.to_le_bytes())?;
                }
                (FieldRef::Bool(b), Shape::Bool) => out.put(&[b as u8])?,
                // Lists are rare (`skill_authored`) and would need a
                // second level of borrowed slices to read back.
                _ => return None,
            }
        }
        self.len = out.at as u16;
        self.ids = present;
        // What `unpack` decodes by: always the tag of the fields just
        // written, whatever `header` was given.
        self.tag = event.tag();
        Some(())
    }

    /// The written bytes.
    #[inline]
    fn written(&self) -> &[u8] {
        let len = usize::from(self.len).min(INLINE);
        // SAFETY: `len` is 0 until `fill_items` succeeds, and then it is
        // the number of leading bytes that `Out::put` wrote; nothing else
        // sets it. `MaybeUninit<u8>` has the layout of `u8`.
        unsafe { std::slice::from_raw_parts(self.bytes.as_ptr().cast::<u8>(), len) }
    }

    /// Calls `f` with the event as an `EventRef` over this copy.
    #[inline]
    pub(crate) fn unpack<R>(&self, f: impl FnOnce(&EventRef<'_>) -> R) -> R {
        let mut input = In {
            bytes: self.written(),
            at: 0,
        };
        let mut ids = [None; 3];
        for (i, id) in ids.iter_mut().enumerate() {
            if self.ids & (1 << i) != 0 {
                *id = Some(input.text());
            }
        }
        let shapes = self.tag.shapes();
        // Numbers are read into `numbers` first: a field refers to one.
        let mut numbers = [const { Number::Int(0) }; MAX_FIELDS];
        let mut fields = [FieldRef::Bool(false); MAX_FIELDS];
        for (i, shape) in shapes.iter().enumerate() {
            fields[i] = match shape {
                Shape::Str => FieldRef::Str(input.text()),
                Shape::Int => FieldRef::Int(i64::from_le_bytes(input.take())),
                Shape::Bool => FieldRef::Bool(input.take::<1>()[0] != 0),
                Shape::Number => {
                    let [code] = input.take::<1>();
                    let bits = u64::from_le_bytes(input.take());
                    numbers[i] = match code {
                        NUM_FLOAT => Number::Float(f64::from_bits(bits)),
                        NUM_INT => Number::Int(bits as i64),
                        _ => Number::UInt(bits),
                    };
                    continue;
                }
                // `pack` refuses lists.
                Shape::StrList => FieldRef::StrList(&[]),
            };
        }
        for (i, shape) in shapes.iter().enumerate() {
            if *shape == Shape::Number {
                fields[i] = FieldRef::Number(&numbers[i]);
            }
        }
        let event = EventRef::at(self.tag, &fields[..shapes.len()], self.micros)
            .ids(ids[0], ids[1], ids[2]);
        f(&event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::{self, Format};

    /// Both formats' lines of an event, owned path.
    fn lines(event: &EventRef<'_>) -> [String; 2] {
        let ev = event.to_event();
        [
            json::to_line(&ev, Format::Compact),
            json::to_line(&ev, Format::Python),
        ]
    }

    /// Both formats' lines written straight from a view.
    fn view_lines(event: &EventRef<'_>) -> [String; 2] {
        [Format::Compact, Format::Python].map(|f| {
            let mut out = Vec::new();
            json::write_view(&mut out, event, f);
            String::from_utf8(out).unwrap()
        })
    }

    const TEXTS: [&str; 5] = ["", "web_search", "é \"q\"\n\u{7f}", "𝄞 astral", "\u{0}"];

    fn numbers() -> [Number; 6] {
        [
            Number::Float(1.5),
            Number::Float(-0.0),
            Number::Float(f64::NAN),
            Number::Float(f64::INFINITY),
            Number::Int(i64::MIN),
            Number::UInt(u64::MAX),
        ]
    }

    /// Fields for `tag`, varied by `seed`.
    fn fields_for<'a>(tag: Tag, seed: usize, numbers: &'a [Number]) -> Vec<FieldRef<'a>> {
        tag.shapes()
            .iter()
            .enumerate()
            .map(|(i, shape)| match shape {
                Shape::Str => FieldRef::Str(TEXTS[(seed + i) % TEXTS.len()]),
                Shape::Int => FieldRef::Int([0, -1, i64::MAX][(seed + i) % 3]),
                Shape::Number => FieldRef::Number(&numbers[(seed + i) % numbers.len()]),
                Shape::Bool => FieldRef::Bool((seed + i).is_multiple_of(2)),
                Shape::StrList => FieldRef::StrList(&[]),
            })
            .collect()
    }

    #[test]
    fn every_type_comes_back_as_it_went_in() {
        let numbers = numbers();
        // Under Miri (slow), fewer variations: every type, all ids or none.
        let (seeds, id_sets): (usize, &[u8]) = if cfg!(miri) {
            (2, &[0, 7])
        } else {
            (6, &[0, 1, 2, 3, 4, 5, 6, 7])
        };
        let mut packed_some = 0;
        for &tag in Tag::ALL {
            for seed in 0..seeds {
                let fields = fields_for(tag, seed, &numbers);
                for &ids in id_sets {
                    let id = |bit: u8, text| (ids & bit != 0).then_some(text);
                    let event = EventRef::at(tag, &fields, 1_767_225_600_000_001 + seed as i64)
                        .ids(id(1, "agent-1"), id(2, "3f2a9c01b7de"), id(4, "sess-é"));
                    let expected = lines(&event);
                    assert_eq!(view_lines(&event), expected, "{tag:?}");
                    match Packed::pack(&event) {
                        Some(p) => {
                            packed_some += 1;
                            assert_eq!(p.unpack(view_lines), expected, "{tag:?}");
                            assert_eq!(p.unpack(lines), expected, "{tag:?}");
                        }
                        // Only the list type is refused at these sizes.
                        None => assert_eq!(tag, Tag::SkillAuthored),
                    }
                }
            }
        }
        assert_eq!(packed_some, (Tag::ALL.len() - 1) * seeds * id_sets.len());
    }

    /// Texts of every length up to 40 bytes and a few longer ones come
    /// back byte for byte (the copy has a different branch per length
    /// class), one after another in the same message.
    #[test]
    fn texts_of_every_length_come_back_whole() {
        let text: String = (0..300u32)
            .map(|i| char::from(b'!' + (i * 7 % 90) as u8))
            .collect();
        let lengths: Vec<usize> = (0..=40).chain([63, 64, 65, 160, 200]).collect();
        for (k, &n) in lengths.iter().enumerate() {
            let m = lengths[lengths.len() - 1 - k];
            let fields = [FieldRef::Str(&text[..n]), FieldRef::Str(&text[300 - m..])];
            let event = EventRef::at(Tag::ToolCallAttempt, &fields, 1_767_225_600_000_000).ids(
                Some(&text[5..5 + n.min(30)]),
                None,
                Some(&text[..m.min(33)]),
            );
            let p = Packed::pack(&event).expect("fits");
            assert_eq!(p.unpack(view_lines), lines(&event), "{n} and {m} bytes");
        }
    }

    /// The sink's own path: the header written into a queue slot, the
    /// bytes filled in there, and the message read back where it lies
    /// (twice round a two-slot ring, so slots are reused with old bytes).
    #[test]
    fn filled_in_place_in_a_queue_slot() {
        use super::super::ring::Ring;
        use super::super::Msg;
        let ring = Ring::<Msg>::new(2);
        let mut rx = ring.consumer().unwrap();
        let numbers = numbers();
        for (round, &tag) in Tag::ALL
            .iter()
            .enumerate()
            .take(if cfg!(miri) { 5 } else { 16 })
        {
            let fields = fields_for(tag, round, &numbers);
            let event = EventRef::at(tag, &fields, 1_767_225_600_000_000 + round as i64).ids(
                Some("agent-1"),
                None,
                Some("sess"),
            );
            ring.claim()
                .unwrap()
                .write_then(Msg::Packed(Packed::header(&event)), |m| {
                    if let Msg::Packed(p) = m {
                        if !p.fill(&event) {
                            *m = Msg::Event(event.to_event());
                        }
                    }
                });
            let got = rx.pop_with(|m| match m {
                Msg::Packed(p) => p.unpack(lines),
                Msg::Event(ev) => {
                    assert_eq!(tag, Tag::SkillAuthored, "only the list type is owned");
                    [
                        json::to_line(ev, Format::Compact),
                        json::to_line(ev, Format::Python),
                    ]
                }
                _ => unreachable!(),
            });
            assert_eq!(got, Some(lines(&event)), "{tag:?}");
        }
    }

    #[test]
    fn text_fills_the_inline_bytes_exactly_then_no_more() {
        // tool_call_attempt, no ids: two lengths (4 bytes) and the texts.
        let long = "x".repeat(INLINE - 4 - 3);
        for (extra, fits) in [(3, true), (4, false)] {
            let tool = &"abcd"[..extra];
            let fields = [FieldRef::Str(tool), FieldRef::Str(&long)];
            let event = EventRef::at(Tag::ToolCallAttempt, &fields, 0);
            let packed = Packed::pack(&event);
            assert_eq!(packed.is_some(), fits, "{extra}");
            if let Some(p) = packed {
                assert_eq!(p.len as usize, INLINE);
                assert_eq!(p.unpack(lines), lines(&event));
            }
        }
        // A text longer than a u16 length can say is refused, not cut.
        let huge = "y".repeat(70_000);
        let fields = [FieldRef::Str("t"), FieldRef::Str(&huge)];
        assert!(Packed::pack(&EventRef::at(Tag::ToolCallAttempt, &fields, 0)).is_none());
    }

    #[test]
    fn ids_count_against_the_same_bytes() {
        // Three ids and two fields: five lengths (10 bytes) and the texts.
        let id = "i".repeat(100);
        for (tool, fits) in [("ab", true), ("abc", false)] {
            let args = "a".repeat(INLINE - 10 - 300 - 2);
            let fields = [FieldRef::Str(tool), FieldRef::Str(&args)];
            let event =
                EventRef::at(Tag::ToolCallAttempt, &fields, 0).ids(Some(&id), Some(&id), Some(&id));
            let packed = Packed::pack(&event);
            assert_eq!(packed.is_some(), fits, "{tool}");
            if let Some(p) = packed {
                assert_eq!(p.unpack(lines), lines(&event));
            }
        }
    }

    #[test]
    fn no_type_has_more_fields_than_a_packed_event_can_hold() {
        for &tag in Tag::ALL {
            assert!(tag.shapes().len() <= MAX_FIELDS, "{tag:?}");
        }
        assert!(Tag::ALL.iter().any(|t| t.shapes().len() == MAX_FIELDS));
    }

    #[test]
    fn big_integers_and_lists_take_the_owned_path() {
        let big =
            Number::Big(crate::value::BigInt::parse("123456789012345678901234567890").unwrap());
        let fields = [
            FieldRef::Str("t"),
            FieldRef::Str("success"),
            FieldRef::Number(&big),
            FieldRef::Str(""),
        ];
        assert!(Packed::pack(&EventRef::at(Tag::ToolCallComplete, &fields, 0)).is_none());
        let tools = [smol_str::SmolStr::new("a")];
        let fields = [
            FieldRef::Str("s"),
            FieldRef::Str("1"),
            FieldRef::Str(""),
            FieldRef::Int(1),
            FieldRef::StrList(&tools),
            FieldRef::Bool(true),
        ];
        assert!(Packed::pack(&EventRef::at(Tag::SkillAuthored, &fields, 0)).is_none());
    }

    #[test]
    fn a_packed_event_is_no_larger_than_an_owned_one_in_the_queue() {
        assert!(std::mem::size_of::<Packed>() <= 384);
        assert!(std::mem::size_of::<super::super::Msg>() <= 384);
    }
}
