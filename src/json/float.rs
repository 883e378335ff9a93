//! Float text for both formats.
//!
//! Both formats use the shortest text that reads back as the same `f64`
//! (Ryū). `compact` writes it as Ryū does (`1e16`, `1.5e-5`); `python`
//! rearranges the same digits the way CPython's `float.__repr__` does:
//! scientific notation when the decimal exponent is below -4 or at least
//! 16, a sign and at least two exponent digits (`1e+16`, `1.5e-05`), and
//! `.0` on integral values in fixed notation (`100.0`).

/// The NaN a float field read as `null` holds (a quiet NaN whose payload
/// spells "null"): written back as `null` in the python format too, where
/// any other NaN is `NaN`, so a field Python wrote as `None` survives.
pub(crate) const NULL: f64 = f64::from_bits(0x7ff8_0000_6e75_6c6c);

/// Appends `f` in compact form; non-finite values become `null`.
#[inline]
pub(crate) fn write_compact(out: &mut Vec<u8>, f: f64) {
    if f.is_finite() {
        out.extend_from_slice(ryu::Buffer::new().format_finite(f).as_bytes());
    } else {
        out.extend_from_slice(b"null");
    }
}

/// Appends `f` exactly as Python's `repr(f)` / `json.dumps` would.
pub(crate) fn write_python(out: &mut Vec<u8>, f: f64) {
    if f.is_nan() {
        let text: &[u8] = if f.to_bits() == NULL.to_bits() {
            b"null"
        } else {
            b"NaN"
        };
        out.extend_from_slice(text);
        return;
    }
    if f.is_infinite() {
        out.extend_from_slice(if f > 0.0 { b"Infinity" } else { b"-Infinity" });
        return;
    }
    if f.is_sign_negative() {
        out.push(b'-');
    }
    if f == 0.0 {
        out.extend_from_slice(b"0.0");
        return;
    }
    let mut buf = ryu::Buffer::new();
    let (digits, decpt) = shortest_digits(buf.format_finite(f.abs()));
    let digits = &digits.0[..digits.1];
    let n = digits.len() as i32;
    if !(-4 < decpt && decpt <= 16) {
        // d[.ddd]e±XX
        out.push(digits[0]);
        if n > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        let exp = decpt - 1;
        out.push(b'e');
        out.push(if exp < 0 { b'-' } else { b'+' });
        let e = exp.unsigned_abs();
        if e < 10 {
            out.push(b'0');
        }
        out.extend_from_slice(itoa::Buffer::new().format(e).as_bytes());
    } else if decpt <= 0 {
        out.extend_from_slice(b"0.");
        out.resize(out.len() + (-decpt) as usize, b'0');
        out.extend_from_slice(digits);
    } else if decpt >= n {
        out.extend_from_slice(digits);
        out.resize(out.len() + (decpt - n) as usize, b'0');
        out.extend_from_slice(b".0");
    } else {
        out.extend_from_slice(&digits[..decpt as usize]);
        out.push(b'.');
        out.extend_from_slice(&digits[decpt as usize..]);
    }
}

/// Splits Ryū's text of a positive finite non-zero float into significant
/// digits (no leading or trailing zeros) and `decpt`, the position of the
/// decimal point: value = 0.DIGITS × 10^decpt.
fn shortest_digits(text: &str) -> (([u8; 24], usize), i32) {
    let (mantissa, exp) = match text.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (text, 0),
    };
    let mut digits = [0u8; 24];
    let mut len = 0;
    let mut int_len = 0i32;
    let mut seen_point = false;
    let mut leading = true;
    for b in mantissa.bytes() {
        if b == b'.' {
            seen_point = true;
            continue;
        }
        if !seen_point {
            int_len += 1;
        }
        if leading && b == b'0' {
            // A leading zero moves the point left by one significant place.
            int_len -= 1;
            continue;
        }
        leading = false;
        digits[len] = b;
        len += 1;
    }
    while len > 1 && digits[len - 1] == b'0' {
        len -= 1;
    }
    ((digits, len), int_len + exp)
}

#[cfg(test)]
mod tests {
    fn py(f: f64) -> String {
        let mut out = Vec::new();
        super::write_python(&mut out, f);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn matches_python_repr() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (0.1, "0.1"),
            (1.0, "1.0"),
            (100.0, "100.0"),
            (2.5, "2.5"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (123456789012345680.0, "1.2345678901234568e+17"),
            (1.5e-05, "1.5e-05"),
            (0.0001, "0.0001"),
            (0.00012345, "0.00012345"),
            (1e-07, "1e-07"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (1e100, "1e+100"),
            (-1234.5678, "-1234.5678"),
            (9007199254740993.0, "9007199254740992.0"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
        ];
        for &(f, want) in cases {
            assert_eq!(py(f), want, "{f:e}");
        }
    }

    #[test]
    fn python_text_reads_back_exactly() {
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let f = f64::from_bits(x);
            if f.is_finite() {
                assert_eq!(py(f).parse::<f64>().unwrap().to_bits(), f.to_bits());
            }
        }
    }
}
