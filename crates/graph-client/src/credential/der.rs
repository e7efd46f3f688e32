//! Just enough DER to read certificates, PKCS#8 and PKCS#12 files: a
//! reader of tag-length-value items and the object identifiers we match.
//! Anything unexpected is an error naming what was being read, never a
//! panic: these bytes come from a user's file.

pub(crate) const SEQUENCE: u8 = 0x30;
pub(crate) const INTEGER: u8 = 0x02;
pub(crate) const BIT_STRING: u8 = 0x03;
pub(crate) const OCTET_STRING: u8 = 0x04;
pub(crate) const OID: u8 = 0x06;
/// `[0]` constructed, EXPLICIT.
pub(crate) const CONTEXT_0: u8 = 0xA0;
/// `[0]` primitive, IMPLICIT (PKCS#7 encryptedContent).
pub(crate) const CONTEXT_0_PRIMITIVE: u8 = 0x80;

pub(crate) mod oid {
    pub(crate) const DATA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x01];
    pub(crate) const ENCRYPTED_DATA: &[u8] =
        &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x06];
    pub(crate) const KEY_BAG: &[u8] = &[
        0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x0C, 0x0A, 0x01, 0x01,
    ];
    pub(crate) const SHROUDED_KEY_BAG: &[u8] = &[
        0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x0C, 0x0A, 0x01, 0x02,
    ];
    pub(crate) const CERT_BAG: &[u8] = &[
        0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x0C, 0x0A, 0x01, 0x03,
    ];
    pub(crate) const X509_CERTIFICATE: &[u8] =
        &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x16, 0x01];
    pub(crate) const PBES2: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x05, 0x0D];
    pub(crate) const PBKDF2: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x05, 0x0C];
    pub(crate) const HMAC_SHA1: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x02, 0x07];
    pub(crate) const HMAC_SHA256: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x02, 0x09];
    pub(crate) const AES128_CBC: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x02];
    pub(crate) const AES192_CBC: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x16];
    pub(crate) const AES256_CBC: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2A];
    pub(crate) const SHA256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
    pub(crate) const SHA1: &[u8] = &[0x2B, 0x0E, 0x03, 0x02, 0x1A];
    /// 1.2.840.113549.1.12.1.*: the legacy PKCS#12 PBE schemes (3DES, RC2, RC4).
    pub(crate) const PKCS12_PBE_PREFIX: &[u8] =
        &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x0C, 0x01];
}

/// One tag-length-value item.
#[derive(Clone, Copy)]
pub(crate) struct Tlv<'a> {
    pub(crate) tag: u8,
    pub(crate) content: &'a [u8],
    /// Tag, length and content: what a certificate's thumbprint is taken over.
    pub(crate) whole: &'a [u8],
}

/// Reads the items of a constructed value one by one.
pub(crate) struct Der<'a> {
    rest: &'a [u8],
}

impl<'a> Der<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Der { rest: bytes }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    pub(crate) fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    pub(crate) fn next(&mut self) -> Result<Tlv<'a>, String> {
        let bytes = self.rest;
        let (&tag, after_tag) = bytes.split_first().ok_or("unexpected end of data")?;
        if tag & 0x1F == 0x1F {
            return Err("unsupported multi-byte tag".into());
        }
        let (&first, mut after_len) = after_tag.split_first().ok_or("missing length")?;
        let len = if first < 0x80 {
            first as usize
        } else {
            let n = (first & 0x7F) as usize;
            if n == 0 || n > 4 || after_len.len() < n {
                return Err("unsupported or truncated length".into());
            }
            let mut len = 0usize;
            for &b in &after_len[..n] {
                len = (len << 8) | b as usize;
            }
            after_len = &after_len[n..];
            len
        };
        if after_len.len() < len {
            return Err("truncated value".into());
        }
        let header = bytes.len() - after_len.len();
        let (content, rest) = after_len.split_at(len);
        self.rest = rest;
        Ok(Tlv {
            tag,
            content,
            whole: &bytes[..header + len],
        })
    }

    /// The next item, which must have this tag.
    pub(crate) fn expect(&mut self, tag: u8, what: &str) -> Result<Tlv<'a>, String> {
        let t = self.next().map_err(|e| format!("{what}: {e}"))?;
        if t.tag != tag {
            return Err(format!(
                "{what}: expected tag 0x{tag:02x}, found 0x{:02x}",
                t.tag
            ));
        }
        Ok(t)
    }

    /// The items inside the next item, which must have this tag.
    pub(crate) fn enter(&mut self, tag: u8, what: &str) -> Result<Der<'a>, String> {
        Ok(Der::new(self.expect(tag, what)?.content))
    }

    /// A non-negative INTEGER that fits in a u32.
    pub(crate) fn small_uint(&mut self, what: &str) -> Result<u32, String> {
        let t = self.expect(INTEGER, what)?;
        let digits = match t.content {
            [0, rest @ ..] => rest,
            [b, ..] if *b >= 0x80 => return Err(format!("{what}: negative")),
            all => all,
        };
        if digits.len() > 4 {
            return Err(format!("{what}: too large"));
        }
        Ok(digits.iter().fold(0u32, |n, b| (n << 8) | *b as u32))
    }
}

/// The `subjectPublicKeyInfo` of a DER certificate: the algorithm OID and
/// the key bytes (for RSA, the PKCS#1 `RSAPublicKey`).
pub(crate) fn certificate_public_key(cert: &[u8]) -> Result<(&[u8], &[u8]), String> {
    let mut outer = Der::new(cert);
    let mut certificate = outer.enter(SEQUENCE, "certificate")?;
    let mut tbs = certificate.enter(SEQUENCE, "tbsCertificate")?;
    if tbs.peek_tag() == Some(CONTEXT_0) {
        tbs.next()?; // version
    }
    tbs.expect(INTEGER, "serial number")?;
    tbs.expect(SEQUENCE, "signature algorithm")?;
    tbs.expect(SEQUENCE, "issuer")?;
    tbs.expect(SEQUENCE, "validity")?;
    tbs.expect(SEQUENCE, "subject")?;
    let mut spki = tbs.enter(SEQUENCE, "subjectPublicKeyInfo")?;
    let mut alg = spki.enter(SEQUENCE, "public key algorithm")?;
    let alg_oid = alg.expect(OID, "public key algorithm")?.content;
    let bits = spki.expect(BIT_STRING, "public key")?.content;
    let key = match bits {
        [0, key @ ..] => key,
        _ => return Err("public key: unused bits in BIT STRING".into()),
    };
    Ok((alg_oid, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_short_and_long_lengths_and_refuses_truncation() {
        let mut long = vec![0x04, 0x81, 0x80];
        long.extend(std::iter::repeat_n(7u8, 0x80));
        let t = Der::new(&long).next().unwrap();
        assert_eq!((t.tag, t.content.len(), t.whole.len()), (0x04, 0x80, 0x83));
        assert!(Der::new(&[0x04, 0x05, 1, 2]).next().is_err());
        assert!(Der::new(&[0x04]).next().is_err());
        assert!(Der::new(&[0x04, 0x85, 1, 1, 1, 1, 1]).next().is_err());
        let mut d = Der::new(&[0x02, 0x02, 0x00, 0x80]);
        assert_eq!(d.small_uint("n").unwrap(), 128);
    }
}
