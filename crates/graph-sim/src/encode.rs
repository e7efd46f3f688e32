//! Small encoders the simulator needs: base64 (opaque tokens, membership ids, HTTP Basic),
//! Graph's timestamp format, GUIDs and hex ids drawn from a seeded generator.

use rand::Rng;

use crate::clock::Millis;

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn encode_with(data: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = [
            alphabet[(n >> 18) as usize & 63],
            alphabet[(n >> 12) as usize & 63],
            alphabet[(n >> 6) as usize & 63],
            alphabet[n as usize & 63],
        ];
        let keep = chunk.len() + 1;
        for &c in &chars[..keep] {
            out.push(c as char);
        }
        if pad {
            for _ in keep..4 {
                out.push('=');
            }
        }
    }
    out
}

/// Standard base64 with padding (membership ids look like this, `=` included).
pub fn b64(data: &[u8]) -> String {
    encode_with(data, B64, true)
}

/// URL-safe base64 without padding, for opaque tokens placed in query strings.
pub fn b64url(data: &[u8]) -> String {
    encode_with(data, B64URL, false)
}

/// Decodes standard or URL-safe base64, padded or not. `None` on anything else.
pub fn b64_decode(s: &str) -> Option<Vec<u8>> {
    let mut bits: u32 = 0;
    let mut nbits = 0u32;
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    for c in s.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(v);
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            out.push((bits >> nbits) as u8);
            bits &= (1 << nbits) - 1;
        }
    }
    Some(out)
}

/// Graph's DateTimeOffset rendering. Real responses carry 2 or 3 fractional digits (docs/graph.md
/// §8, §9.17): times on a 10 ms boundary are rendered with 2 digits, the rest with 3, so both
/// forms occur and every rendering round-trips to the stored millisecond.
pub fn ts(ms: Millis) -> String {
    let dt = chrono::DateTime::from_timestamp_millis(ms).unwrap_or(chrono::DateTime::UNIX_EPOCH);
    let frac = ms.rem_euclid(1000);
    let base = dt.format("%Y-%m-%dT%H:%M:%S");
    if frac % 10 == 0 {
        format!("{base}.{:02}Z", frac / 10)
    } else {
        format!("{base}.{frac:03}Z")
    }
}

/// Parses the datetime literals of `$filter` (`2019-02-27T07:13:28.000z`, with or without
/// fraction and zone) into milliseconds.
pub fn parse_ts(s: &str) -> Option<Millis> {
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(dt.timestamp_millis());
    }
    let upper = s.to_ascii_uppercase();
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(&upper) {
        return Some(dt.timestamp_millis());
    }
    let trimmed = upper.trim_end_matches('Z');
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"] {
        if let Ok(ndt) = chrono::NaiveDateTime::parse_from_str(trimmed, fmt) {
            return Some(ndt.and_utc().timestamp_millis());
        }
        if let Ok(d) = chrono::NaiveDate::parse_from_str(trimmed, fmt) {
            return d
                .and_hms_opt(0, 0, 0)
                .map(|n| n.and_utc().timestamp_millis());
        }
    }
    None
}

pub fn guid<R: Rng>(rng: &mut R) -> String {
    let a: u128 = rng.random();
    let h = format!("{a:032x}");
    // Version 4 / variant 1 nibbles so the ids pass strict GUID checks.
    format!(
        "{}-{}-4{}-{}{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        ["8", "9", "a", "b"][(a as usize) & 3],
        &h[17..20],
        &h[20..32]
    )
}

pub fn hex32<R: Rng>(rng: &mut R) -> String {
    let a: u128 = rng.random();
    format!("{a:032x}")
}

/// FNV-1a, for deriving stable sub-seeds and deterministic ids from text.
pub fn fnv(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Mixes integers into a seed (splitmix64 finaliser) so per-entity generators are independent.
pub fn mix(seed: u64, parts: &[u64]) -> u64 {
    let mut z = seed;
    for &p in parts {
        z = z.wrapping_add(p).wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
    }
    z
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip() {
        for s in ["", "a", "ab", "abc", "abcd", "client:secret~+/"] {
            let e = b64(s.as_bytes());
            assert_eq!(b64_decode(&e).unwrap(), s.as_bytes());
            let u = b64url(s.as_bytes());
            assert_eq!(b64_decode(&u).unwrap(), s.as_bytes());
        }
        assert_eq!(b64(b"ab"), "YWI=");
    }

    #[test]
    fn timestamps_have_two_or_three_digits_and_round_trip() {
        let a = ts(1_611_351_582_080);
        assert_eq!(a, "2021-01-22T21:39:42.08Z");
        assert_eq!(parse_ts(&a), Some(1_611_351_582_080));
        let b = ts(1_611_351_582_081);
        assert_eq!(b, "2021-01-22T21:39:42.081Z");
        assert_eq!(parse_ts(&b), Some(1_611_351_582_081));
        assert_eq!(
            parse_ts("2019-02-27T07:13:28.000z"),
            Some(1_551_251_608_000)
        );
    }
}
