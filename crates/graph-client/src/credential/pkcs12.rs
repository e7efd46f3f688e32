//! PKCS#12 / PFX files (RFC 7292): the password-protected bundle of a
//! private key and its certificates that Windows, Key Vault and
//! `openssl pkcs12 -export` produce.
//!
//! Supported: PBES2 encryption (PBKDF2 with HMAC-SHA-1/256, AES-128/192/256
//! CBC), the default of OpenSSL 3 and of Windows' "AES256-SHA256" export;
//! the legacy PKCS#12 schemes still produced by Windows ("TripleDES-SHA1")
//! and OpenSSL 1.x (3DES for the key, 40-bit RC2 for the certificates); and
//! the SHA-1/SHA-256 integrity MAC. RC4 and 2-key 3DES are refused.

use std::num::NonZeroU32;

use aes::cipher::{BlockModeDecrypt, KeyIvInit, block_padding::Pkcs7};

use super::der::{self, CONTEXT_0, CONTEXT_0_PRIMITIVE, Der, OCTET_STRING, OID, SEQUENCE, oid};
use crate::secret::Secret;

/// The PKCS#8 private key and the DER certificates of a PFX file.
pub(crate) fn parse(
    bytes: &[u8],
    password: Option<&Secret>,
) -> Result<(Vec<u8>, Vec<Vec<u8>>), String> {
    let password = password.map(|p| p.expose()).unwrap_or("");
    let not_pfx = |e: String| format!("it is neither PEM nor a readable PKCS#12/PFX file ({e})");
    let mut top = Der::new(bytes);
    let mut pfx = top.enter(SEQUENCE, "PFX").map_err(not_pfx)?;
    let version = pfx.small_uint("PFX version").map_err(not_pfx)?;
    if version != 3 {
        return Err(not_pfx(format!("version {version}")));
    }
    let mut auth_safe = pfx.enter(SEQUENCE, "authSafe")?;
    if auth_safe.expect(OID, "authSafe type")?.content != oid::DATA {
        return Err(
            "the PFX is signed with a public key (not password-integrity): unsupported".into(),
        );
    }
    let auth_safe_bytes = auth_safe
        .enter(CONTEXT_0, "authSafe content")?
        .expect(OCTET_STRING, "authSafe content")?
        .content;
    if !pfx.is_empty() {
        verify_mac(pfx.enter(SEQUENCE, "macData")?, auth_safe_bytes, password)?;
    }

    let mut key = None;
    let mut certs = Vec::new();
    let mut safes = Der::new(auth_safe_bytes).enter(SEQUENCE, "AuthenticatedSafe")?;
    while !safes.is_empty() {
        let mut info = safes.enter(SEQUENCE, "ContentInfo")?;
        let kind = info.expect(OID, "ContentInfo type")?.content;
        let mut content = info.enter(CONTEXT_0, "ContentInfo content")?;
        let safe_contents = if kind == oid::DATA {
            content
                .expect(OCTET_STRING, "SafeContents")?
                .content
                .to_vec()
        } else if kind == oid::ENCRYPTED_DATA {
            let mut data = content.enter(SEQUENCE, "EncryptedData")?;
            data.small_uint("EncryptedData version")?;
            let mut eci = data.enter(SEQUENCE, "EncryptedContentInfo")?;
            eci.expect(OID, "content type")?;
            let alg = eci.expect(SEQUENCE, "content encryption algorithm")?;
            let ciphertext = eci
                .expect(CONTEXT_0_PRIMITIVE, "encrypted content")?
                .content;
            decrypt(alg.content, ciphertext, password)?
        } else {
            continue;
        };
        read_bags(&safe_contents, password, &mut key, &mut certs)?;
    }
    let key = key.ok_or("the PFX holds no private key: export it with the private key")?;
    Ok((key, certs))
}

fn read_bags(
    safe_contents: &[u8],
    password: &str,
    key: &mut Option<Vec<u8>>,
    certs: &mut Vec<Vec<u8>>,
) -> Result<(), String> {
    let mut bags = Der::new(safe_contents).enter(SEQUENCE, "SafeContents")?;
    while !bags.is_empty() {
        let mut bag = bags.enter(SEQUENCE, "SafeBag")?;
        let kind = bag.expect(OID, "SafeBag type")?.content;
        let mut value = bag.enter(CONTEXT_0, "SafeBag value")?;
        if kind == oid::SHROUDED_KEY_BAG {
            let mut epki = value.enter(SEQUENCE, "EncryptedPrivateKeyInfo")?;
            let alg = epki.expect(SEQUENCE, "key encryption algorithm")?;
            let ciphertext = epki.expect(OCTET_STRING, "encrypted key")?.content;
            key.get_or_insert(decrypt(alg.content, ciphertext, password)?);
        } else if kind == oid::KEY_BAG {
            key.get_or_insert(value.expect(SEQUENCE, "PrivateKeyInfo")?.whole.to_vec());
        } else if kind == oid::CERT_BAG {
            let mut cert_bag = value.enter(SEQUENCE, "CertBag")?;
            if cert_bag.expect(OID, "certificate type")?.content == oid::X509_CERTIFICATE {
                let der = cert_bag
                    .enter(CONTEXT_0, "certificate")?
                    .expect(OCTET_STRING, "certificate")?
                    .content;
                certs.push(der.to_vec());
            }
        }
    }
    Ok(())
}

fn wrong_password() -> String {
    "AZURE_CLIENT_CERTIFICATE_PASSWORD is wrong for this PFX (or unset while the file has a password)".into()
}

/// Decrypts with a PBES2 AlgorithmIdentifier (its inner bytes).
fn decrypt(alg_id: &[u8], ciphertext: &[u8], password: &str) -> Result<Vec<u8>, String> {
    let mut alg = Der::new(alg_id);
    let scheme = alg.expect(OID, "encryption scheme")?.content;
    if scheme.starts_with(oid::PKCS12_PBE_PREFIX) {
        return decrypt_legacy(scheme, alg, ciphertext, password);
    }
    if scheme != oid::PBES2 {
        return Err("it is encrypted with an unknown scheme: re-export it with AES-256 (openssl 3 default) or convert it to PEM".into());
    }
    let mut params = alg.enter(SEQUENCE, "PBES2 parameters")?;
    let mut kdf = params.enter(SEQUENCE, "key derivation")?;
    if kdf.expect(OID, "key derivation")?.content != oid::PBKDF2 {
        return Err("its key derivation is not PBKDF2: unsupported".into());
    }
    let mut pbkdf2 = kdf.enter(SEQUENCE, "PBKDF2 parameters")?;
    let salt = pbkdf2.expect(OCTET_STRING, "PBKDF2 salt")?.content;
    let iterations = NonZeroU32::new(pbkdf2.small_uint("PBKDF2 iterations")?)
        .ok_or("PBKDF2 iterations is zero")?;
    if pbkdf2.peek_tag() == Some(der::INTEGER) {
        pbkdf2.small_uint("PBKDF2 key length")?;
    }
    let prf = if pbkdf2.is_empty() {
        oid::HMAC_SHA1
    } else {
        pbkdf2
            .enter(SEQUENCE, "PBKDF2 prf")?
            .expect(OID, "PBKDF2 prf")?
            .content
    };
    let prf = match prf {
        p if p == oid::HMAC_SHA256 => ring::pbkdf2::PBKDF2_HMAC_SHA256,
        p if p == oid::HMAC_SHA1 => ring::pbkdf2::PBKDF2_HMAC_SHA1,
        _ => return Err("its PBKDF2 uses an unsupported hash".into()),
    };
    let mut enc = params.enter(SEQUENCE, "encryption scheme")?;
    let cipher = enc.expect(OID, "cipher")?.content;
    let iv = enc.expect(OCTET_STRING, "cipher IV")?.content;
    let key_len = match cipher {
        c if c == oid::AES256_CBC => 32,
        c if c == oid::AES192_CBC => 24,
        c if c == oid::AES128_CBC => 16,
        _ => return Err("its cipher is not AES-CBC: unsupported".into()),
    };
    let mut key = vec![0u8; key_len];
    ring::pbkdf2::derive(prf, iterations, salt, password.as_bytes(), &mut key);
    let mut buf = ciphertext.to_vec();
    let bad_iv = |_| "bad AES IV".to_string();
    let plain = match key_len {
        32 => cbc::Decryptor::<aes::Aes256>::new_from_slices(&key, iv)
            .map_err(bad_iv)?
            .decrypt_padded::<Pkcs7>(&mut buf)
            .map(<[u8]>::to_vec),
        24 => cbc::Decryptor::<aes::Aes192>::new_from_slices(&key, iv)
            .map_err(bad_iv)?
            .decrypt_padded::<Pkcs7>(&mut buf)
            .map(<[u8]>::to_vec),
        _ => cbc::Decryptor::<aes::Aes128>::new_from_slices(&key, iv)
            .map_err(bad_iv)?
            .decrypt_padded::<Pkcs7>(&mut buf)
            .map(<[u8]>::to_vec),
    };
    // Bad padding is what a wrong key (password) looks like without a MAC.
    plain.map_err(|_| wrong_password())
}

/// The legacy PKCS#12 schemes (RFC 7292 appendix C): key and IV from the
/// PKCS#12 KDF with SHA-1.
fn decrypt_legacy(
    scheme: &[u8],
    mut alg: Der<'_>,
    ciphertext: &[u8],
    password: &str,
) -> Result<Vec<u8>, String> {
    let (key_len, tdes) = match scheme.last() {
        Some(3) => (24, true),  // pbeWithSHAAnd3-KeyTripleDES-CBC
        Some(5) => (16, false), // pbeWithSHAAnd128BitRC2-CBC
        Some(6) => (5, false),  // pbeWithSHAAnd40BitRC2-CBC
        _ => {
            return Err("it is encrypted with RC4 or 2-key 3DES, which are not supported: re-export it with AES (openssl pkcs12 -in old.pfx -nodes | openssl pkcs12 -export -out new.pfx), or convert it to PEM".into());
        }
    };
    let mut params = alg.enter(SEQUENCE, "PBE parameters")?;
    let salt = params.expect(OCTET_STRING, "PBE salt")?.content;
    let iterations = params.small_uint("PBE iterations")?;
    let sha1 = &ring::digest::SHA1_FOR_LEGACY_USE_ONLY;
    let key = pkcs12_kdf(sha1, 1, salt, iterations, password, key_len);
    let iv = pkcs12_kdf(sha1, 2, salt, iterations, password, 8);
    let mut buf = ciphertext.to_vec();
    let bad = |_| "bad legacy cipher key".to_string();
    let plain = if tdes {
        cbc::Decryptor::<des::TdesEde3>::new_from_slices(&key, &iv)
            .map_err(bad)?
            .decrypt_padded::<Pkcs7>(&mut buf)
            .map(<[u8]>::to_vec)
    } else {
        // RC2's effective key length is the key's (40 or 128 bits), as the scheme names.
        cbc::Decryptor::<rc2::Rc2>::new_from_slices(&key, &iv)
            .map_err(bad)?
            .decrypt_padded::<Pkcs7>(&mut buf)
            .map(<[u8]>::to_vec)
    };
    plain.map_err(|_| wrong_password())
}

/// Checks the file's integrity MAC, which is also how a wrong password is
/// told apart from a damaged file.
fn verify_mac(mut mac_data: Der<'_>, content: &[u8], password: &str) -> Result<(), String> {
    let mut digest_info = mac_data.enter(SEQUENCE, "MAC DigestInfo")?;
    let alg = digest_info
        .enter(SEQUENCE, "MAC algorithm")?
        .expect(OID, "MAC algorithm")?
        .content;
    let expected = digest_info.expect(OCTET_STRING, "MAC digest")?.content;
    let salt = mac_data.expect(OCTET_STRING, "MAC salt")?.content;
    let iterations = if mac_data.is_empty() {
        1
    } else {
        mac_data.small_uint("MAC iterations")?
    };
    let (digest, hmac) = match alg {
        a if a == oid::SHA256 => (&ring::digest::SHA256, ring::hmac::HMAC_SHA256),
        a if a == oid::SHA1 => (
            &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
            ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        ),
        _ => return Err("its integrity MAC uses an unsupported hash".into()),
    };
    let key = pkcs12_kdf(digest, 3, salt, iterations, password, digest.output_len());
    let key = ring::hmac::Key::new(hmac, &key);
    ring::hmac::verify(&key, content, expected).map_err(|_| wrong_password())
}

/// The PKCS#12 key derivation (RFC 7292 appendix B.2): `id` 1 for a key,
/// 2 for an IV, 3 for a MAC key; `n` bytes.
fn pkcs12_kdf(
    digest: &'static ring::digest::Algorithm,
    id: u8,
    salt: &[u8],
    iterations: u32,
    password: &str,
    n: usize,
) -> Vec<u8> {
    const V: usize = 64;
    // The password as a NUL-terminated big-endian BMPString.
    let mut pass: Vec<u8> = password
        .encode_utf16()
        .flat_map(|u| u.to_be_bytes())
        .collect();
    pass.extend_from_slice(&[0, 0]);
    let fill = |src: &[u8]| -> Vec<u8> {
        if src.is_empty() {
            return Vec::new();
        }
        let len = V * src.len().div_ceil(V);
        src.iter().copied().cycle().take(len).collect()
    };
    let mut i_buf = fill(salt);
    i_buf.extend(fill(&pass));
    let mut out = Vec::with_capacity(n);
    loop {
        let mut input = vec![id; V];
        input.extend_from_slice(&i_buf);
        let mut a = ring::digest::digest(digest, &input).as_ref().to_vec();
        for _ in 1..iterations.max(1) {
            a = ring::digest::digest(digest, &a).as_ref().to_vec();
        }
        out.extend_from_slice(&a);
        if out.len() >= n {
            out.truncate(n);
            return out;
        }
        // Each V-byte block of I becomes (I_j + B + 1) mod 2^(8V), B being A repeated.
        let b: Vec<u8> = a.iter().copied().cycle().take(V).collect();
        for block in i_buf.chunks_mut(V) {
            let mut carry = 1u16;
            for k in (0..V).rev() {
                let sum = block[k] as u16 + b[k] as u16 + carry;
                block[k] = sum as u8;
                carry = sum >> 8;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_not_a_pfx() {
        let err = parse(b"not a certificate", None).unwrap_err();
        assert!(err.contains("neither PEM nor"), "{err}");
    }
}
