//! Small encoders the simulator needs: base64 (opaque tokens, membership ids, HTTP Basic) on
//! the `base64` crate,
//! Graph's timestamp format, GUIDs and hex ids drawn from a seeded generator.

use rand::Rng;

use crate::clock::Millis;

use base64::Engine;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{
    GeneralPurpose, GeneralPurposeConfig, STANDARD, URL_SAFE_NO_PAD,
};

/// Decoders that take input padded or not: HTTP Basic credentials come padded, our own tokens
/// unpadded, and clients are free to add or strip padding.
const LENIENT: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

/// Standard base64 with padding (membership ids look like this, `=` included).
pub fn b64(data: &[u8]) -> String {
    STANDARD.encode(data)
}

/// URL-safe base64 without padding, for opaque tokens placed in query strings.
pub fn b64url(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

/// Decodes standard or URL-safe base64, padded or not. `None` on anything else.
pub fn b64_decode(s: &str) -> Option<Vec<u8>> {
    STANDARD_LENIENT
        .decode(s)
        .or_else(|_| URL_SAFE_LENIENT.decode(s))
        .ok()
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
