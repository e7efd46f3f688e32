//! PEM blocks (`-----BEGIN LABEL-----` ... `-----END LABEL-----`).

use base64::Engine;

/// Every block of the text, in order, as (label, DER bytes). Text outside
/// blocks (openssl's "Bag Attributes" lines, comments) is ignored.
pub(crate) fn blocks(text: &str) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(label) = line
            .trim()
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        else {
            continue;
        };
        let end = format!("-----END {label}-----");
        let mut b64 = String::new();
        let mut closed = false;
        for line in lines.by_ref() {
            let line = line.trim();
            if line == end {
                closed = true;
                break;
            }
            // Encrypted legacy PEM keys carry headers ("Proc-Type: ...").
            if line.contains(':') {
                return Err(format!(
                    "the {label} block has headers (an encrypted legacy PEM key): decrypt it first (openssl pkey -in key.pem -out plain.pem) or use a PFX with AZURE_CLIENT_CERTIFICATE_PASSWORD"
                ));
            }
            b64.push_str(line);
        }
        if !closed {
            return Err(format!("the {label} block has no END line"));
        }
        let der = base64::engine::general_purpose::STANDARD
            .decode(b64.as_bytes())
            .map_err(|e| format!("the {label} block is not valid base64: {e}"))?;
        out.push((label.to_string(), der));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_blocks_and_skips_attributes() {
        let text = "Bag Attributes\n    localKeyID: 01\n-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\nBAU=\n-----END PRIVATE KEY-----\n";
        let b = blocks(text).unwrap();
        assert_eq!(b.len(), 2);
        assert_eq!(b[0], ("CERTIFICATE".to_string(), vec![1, 2, 3]));
        assert_eq!(b[1].1, vec![4, 5]);
        assert!(blocks("-----BEGIN X-----\nAQID\n").is_err());
    }
}
