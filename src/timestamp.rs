//! Event timestamps: taken as an integer, written as Python's `isoformat`.
//!
//! A producer only reads the clock (`clock_gettime` through the vDSO, no
//! system call) and stores microseconds since the Unix epoch; the writer
//! thread turns them into text. The text is what the reference writes,
//! `datetime.now(UTC).isoformat()`:
//!
//! ```text
//! 2026-11-23T03:24:42.940778+00:00
//! 2026-11-23T03:24:42+00:00          (microsecond 0: no fraction)
//! ```
//!
//! A timestamp read from a log in any other shape (another offset, fewer
//! digits, not a date at all) is kept as its text and written back as is.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use smol_str::SmolStr;

/// When an event was created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timestamp(Repr);

#[derive(Clone, Debug, PartialEq, Eq)]
enum Repr {
    /// Microseconds since 1970-01-01T00:00:00Z.
    Micros(i64),
    /// Text from a log that is not in canonical form.
    Text(SmolStr),
}

const MICROS_PER_SEC: i64 = 1_000_000;
const SECS_PER_DAY: i64 = 86_400;

impl Timestamp {
    /// The current time, to the microsecond.
    #[inline]
    pub fn now() -> Timestamp {
        Timestamp(Repr::Micros(Timestamp::now_micros()))
    }

    /// The current time in microseconds since the Unix epoch.
    ///
    /// On Unix this asks `clock_gettime(CLOCK_REALTIME)` directly: the same
    /// vDSO call `SystemTime::now` makes, without the conversions through
    /// `SystemTime` and `Duration` that cost a producer ~12 ns more here
    /// (34 against 46 ns a timestamp; BENCHMARKS.md).
    #[inline]
    #[cfg(all(unix, not(miri)))]
    pub(crate) fn now_micros() -> i64 {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable `timespec` for the call's
        // duration, and `CLOCK_REALTIME` exists on every Unix.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
        if rc != 0 {
            return Timestamp::now_micros_std();
        }
        // `tv_nsec` is in 0..1e9 even before 1970 (the seconds are
        // negative then), so this is the floor in microseconds. (`from`:
        // both fields are 32 bits wide on some targets.)
        #[allow(clippy::useless_conversion)]
        let micros = i64::from(ts.tv_sec) * MICROS_PER_SEC + i64::from(ts.tv_nsec) / 1000;
        micros
    }

    /// The current time in microseconds since the Unix epoch.
    #[inline]
    #[cfg(not(all(unix, not(miri))))]
    pub(crate) fn now_micros() -> i64 {
        Timestamp::now_micros_std()
    }

    /// `now_micros` through `SystemTime`.
    #[cold]
    fn now_micros_std() -> i64 {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_micros() as i64,
            Err(e) => -(e.duration().as_micros() as i64),
        }
    }

    /// A timestamp at `micros` microseconds since the Unix epoch.
    pub const fn from_unix_micros(micros: i64) -> Timestamp {
        Timestamp(Repr::Micros(micros))
    }

    /// Microseconds since the Unix epoch, unless this timestamp was read
    /// from a log in a non-canonical shape.
    pub fn unix_micros(&self) -> Option<i64> {
        match self.0 {
            Repr::Micros(m) => Some(m),
            Repr::Text(_) => None,
        }
    }

    /// Reads a timestamp from its text. Canonical text (exactly what
    /// [`Timestamp::write_iso`] produces) becomes an integer; anything else
    /// is kept verbatim, so this never fails and never alters the text.
    pub fn parse(text: &str) -> Timestamp {
        match parse_canonical(text.as_bytes()) {
            Some(m) => Timestamp(Repr::Micros(m)),
            None => Timestamp(Repr::Text(text.into())),
        }
    }

    /// Appends the ISO-8601 text (without quotes) to `out`.
    pub fn write_iso(&self, out: &mut Vec<u8>) {
        match &self.0 {
            Repr::Micros(m) => write_micros(*m, out),
            Repr::Text(t) => out.extend_from_slice(t.as_bytes()),
        }
    }

    /// The text as raw log text, when the timestamp was not canonical.
    pub(crate) fn raw_text(&self) -> Option<&str> {
        match &self.0 {
            Repr::Text(t) => Some(t),
            Repr::Micros(_) => None,
        }
    }
}

impl Default for Timestamp {
    /// The current time.
    fn default() -> Self {
        Timestamp::now()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = Vec::with_capacity(32);
        self.write_iso(&mut buf);
        f.write_str(&String::from_utf8_lossy(&buf))
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
/// The classic era-based algorithm: exact for every `i64` day count we can
/// reach from microseconds.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = year - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn push2(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&PAIRS[v as usize % 100]);
}

/// `"00"` to `"99"`: two digits per lookup.
static PAIRS: [[u8; 2]; 100] = {
    let mut t = [[0u8; 2]; 100];
    let mut i = 0;
    while i < 100 {
        t[i] = [b'0' + (i / 10) as u8, b'0' + (i % 10) as u8];
        i += 1;
    }
    t
};

fn write_micros(micros: i64, out: &mut Vec<u8>) {
    let secs = micros.div_euclid(MICROS_PER_SEC);
    let frac = micros.rem_euclid(MICROS_PER_SEC) as u32;
    // Events come in bursts within the same second: keep the last
    // `YYYY-MM-DDTHH:MM:SS` per thread (the writer's) and reuse it, copied
    // straight from the thread's own storage.
    thread_local! {
        static LAST: std::cell::RefCell<(i64, [u8; 19])> =
            const { std::cell::RefCell::new((i64::MIN, [0; 19])) };
    }
    let reused = LAST.with_borrow(|(cached, prefix)| {
        let hit = *cached == secs;
        if hit {
            out.extend_from_slice(prefix);
        }
        hit
    });
    if !reused {
        let at = out.len();
        write_seconds(secs, out);
        if let Ok(p) = <[u8; 19]>::try_from(&out[at..]) {
            LAST.with_borrow_mut(|last| *last = (secs, p));
        }
    }
    if frac != 0 {
        let [a, b] = PAIRS[(frac / 10_000) as usize];
        let [c, d] = PAIRS[(frac / 100 % 100) as usize];
        let [e, f] = PAIRS[(frac % 100) as usize];
        out.extend_from_slice(&[b'.', a, b, c, d, e, f]);
    }
    out.extend_from_slice(b"+00:00");
}

/// `YYYY-MM-DDTHH:MM:SS` of a second since the epoch.
fn write_seconds(secs: i64, out: &mut Vec<u8>) {
    let days = secs.div_euclid(SECS_PER_DAY);
    let sod = secs.rem_euclid(SECS_PER_DAY) as u32;
    let (year, month, day) = civil_from_days(days);
    if (0..10_000).contains(&year) {
        let y = year as u32;
        push2(out, y / 100);
        push2(out, y % 100);
    } else {
        // Outside Python's datetime range; still unambiguous text.
        out.extend_from_slice(itoa::Buffer::new().format(year).as_bytes());
    }
    out.push(b'-');
    push2(out, month);
    out.push(b'-');
    push2(out, day);
    out.push(b'T');
    push2(out, sod / 3600);
    out.push(b':');
    push2(out, sod / 60 % 60);
    out.push(b':');
    push2(out, sod % 60);
}

fn digits(s: &[u8]) -> Option<u32> {
    s.iter().try_fold(0u32, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
    })
}

/// Parses exactly the canonical shape; `None` for anything that would not
/// be written back byte for byte.
fn parse_canonical(s: &[u8]) -> Option<i64> {
    let (head, frac) = match s.len() {
        25 => (s, 0),
        32 if s[19] == b'.' => {
            let f = digits(&s[20..26])?;
            if f == 0 {
                return None; // Python would have omitted ".000000"
            }
            (s, f)
        }
        _ => return None,
    };
    let tail = &s[s.len() - 6..];
    if tail != b"+00:00"
        || head[4] != b'-'
        || head[7] != b'-'
        || head[10] != b'T'
        || head[13] != b':'
        || head[16] != b':'
    {
        return None;
    }
    let year = digits(&head[0..4])?;
    let month = digits(&head[5..7])?;
    let day = digits(&head[8..10])?;
    let hour = digits(&head[11..13])?;
    let minute = digits(&head[14..16])?;
    let second = digits(&head[17..19])?;
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_len = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if year == 0 || day == 0 || day > month_len || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let days = days_from_civil(i64::from(year), month, day);
    let secs = days * SECS_PER_DAY + i64::from(hour * 3600 + minute * 60 + second);
    Some(secs * MICROS_PER_SEC + i64::from(frac))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iso(m: i64) -> String {
        Timestamp::from_unix_micros(m).to_string()
    }

    #[test]
    fn the_direct_clock_reads_the_same_time_as_system_time() {
        let before = Timestamp::now_micros_std();
        let now = Timestamp::now_micros();
        let after = Timestamp::now_micros_std();
        assert!(before <= now && now <= after, "{before} {now} {after}");
        assert!(
            now > 1_700_000_000 * MICROS_PER_SEC,
            "{now}: not microseconds since 1970"
        );
    }

    #[test]
    fn formats_like_python_isoformat() {
        assert_eq!(iso(0), "1970-01-01T00:00:00+00:00");
        assert_eq!(iso(1), "1970-01-01T00:00:00.000001+00:00");
        assert_eq!(
            iso(1_795_404_282_940_778),
            "2026-11-23T03:24:42.940778+00:00"
        );
        assert_eq!(iso(951_782_400_000_000), "2000-02-29T00:00:00+00:00");
        assert_eq!(iso(-1), "1969-12-31T23:59:59.999999+00:00");
    }

    #[test]
    fn every_sixth_digit_pattern_of_the_fraction_is_written() {
        for frac in (0..1_000_000)
            .step_by(7)
            .chain([10, 100, 1_000, 10_000, 100_000, 999_999])
        {
            // Two seconds in turn, so the cached prefix changes each time.
            for sec in [59, 60] {
                let text = iso(sec * 1_000_000 + frac);
                let want = match frac {
                    0 => format!("1970-01-01T00:{:02}:{:02}+00:00", sec / 60, sec % 60),
                    f => format!("1970-01-01T00:{:02}:{:02}.{f:06}+00:00", sec / 60, sec % 60),
                };
                assert_eq!(text, want);
            }
        }
    }

    #[test]
    fn canonical_text_round_trips_through_micros() {
        for m in [
            0,
            1,
            999_999,
            1_795_404_282_940_778,
            -62_135_596_800_000_000,
            253_402_300_799_999_999,
        ] {
            let text = iso(m);
            let t = Timestamp::parse(&text);
            assert_eq!(t.unix_micros(), Some(m), "{text}");
        }
    }

    #[test]
    fn every_day_of_four_centuries_round_trips() {
        for days in -146_097..146_097 {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn other_shapes_are_kept_verbatim() {
        for text in [
            "2026-11-23T03:24:42.000000+00:00",
            "2026-11-23T03:24:42.94+00:00",
            "2026-11-23T03:24:42+05:00",
            "2026-02-30T00:00:00+00:00",
            "2026-11-23 03:24:42+00:00",
            "yesterday",
            "",
        ] {
            let t = Timestamp::parse(text);
            assert_eq!(t.unix_micros(), None, "{text}");
            assert_eq!(t.to_string(), text);
        }
    }
}
