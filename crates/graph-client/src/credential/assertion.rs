//! Client certificate sign-in: the app proves its identity with a JWT
//! (a "client assertion") signed by the private key of a certificate
//! registered on the app registration (RFC 7523; Microsoft identity
//! platform "certificate credentials").

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use futures::FutureExt;
use futures::future::BoxFuture;
use ring::signature::{KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};

use super::der;
use super::token_endpoint::{ClientAuth, TokenEndpoint};
use super::{AccessToken, CredentialError, CredentialInfo, TokenContext, TokenCredential};
use crate::error::GraphError;
use crate::secret::Secret;

/// How long an assertion is valid: 10 minutes, as MSAL uses. It is used
/// once, right away; a short life limits what a leaked one is worth.
const ASSERTION_LIFETIME: Duration = Duration::from_secs(600);

/// A certificate with its private key, loaded once at start-up.
pub(crate) struct Certificate {
    key: RsaKeyPair,
    /// DER certificates, the one matching the key first.
    chain: Vec<Vec<u8>>,
    /// base64url SHA-1 of the certificate (`x5t`).
    x5t: String,
    /// base64url SHA-256 of the certificate (`x5t#S256`).
    x5t_s256: String,
}

impl Certificate {
    /// Reads `AZURE_CLIENT_CERTIFICATE_PATH`: a PEM holding the private key
    /// and the certificate, or a PKCS#12 / PFX file (with its password).
    pub(crate) fn load(path: &Path, password: Option<&Secret>) -> Result<Certificate, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read it: {e}"))?;
        let is_pem = bytes.windows(11).any(|w| w == b"-----BEGIN ");
        if is_pem {
            let text = std::str::from_utf8(&bytes).map_err(|_| "a PEM file must be text")?;
            let mut keys = Vec::new();
            let mut certs = Vec::new();
            for (label, der) in super::pem::blocks(text)? {
                match label.as_str() {
                    "CERTIFICATE" => certs.push(der),
                    "PRIVATE KEY" => keys.push(Key::Pkcs8(der)),
                    "RSA PRIVATE KEY" => keys.push(Key::Pkcs1(der)),
                    "ENCRYPTED PRIVATE KEY" => {
                        return Err("the private key is encrypted: give an unencrypted PEM key (openssl pkcs8 -in key.pem -out plain.pem -nocrypt), or a PFX with AZURE_CLIENT_CERTIFICATE_PASSWORD".into());
                    }
                    "EC PRIVATE KEY" => return Err(not_rsa()),
                    _ => {}
                }
            }
            let key = keys
                .into_iter()
                .next()
                .ok_or("it holds no private key: the PEM must hold both the private key and the certificate")?;
            Certificate::from_parts(key, certs)
        } else {
            let (key, certs) = super::pkcs12::parse(&bytes, password)?;
            Certificate::from_parts(Key::Pkcs8(key), certs)
        }
    }

    fn from_parts(key: Key, certs: Vec<Vec<u8>>) -> Result<Certificate, String> {
        let key = match key {
            Key::Pkcs8(der) => RsaKeyPair::from_pkcs8(&der),
            Key::Pkcs1(der) => RsaKeyPair::from_der(&der),
        }
        .map_err(|e| {
            format!("its private key is not a usable RSA key ({e}); Entra ID certificates need RSA keys of 2048 bits or more")
        })?;
        if certs.is_empty() {
            return Err("it holds no certificate: the file must hold the certificate as well as its private key".into());
        }
        let public = key.public_key().as_ref();
        let leaf = certs
            .iter()
            .position(|c| {
                der::certificate_public_key(c)
                    .map(|(_, k)| k == public)
                    .unwrap_or(false)
            })
            .ok_or("none of its certificates belongs to its private key")?;
        let mut chain = certs;
        let leaf_der = chain.remove(leaf);
        chain.insert(0, leaf_der);
        let sha1 = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &chain[0]);
        let sha256 = ring::digest::digest(&ring::digest::SHA256, &chain[0]);
        Ok(Certificate {
            key,
            x5t: URL_SAFE_NO_PAD.encode(sha1.as_ref()),
            x5t_s256: URL_SAFE_NO_PAD.encode(sha256.as_ref()),
            chain,
        })
    }

    /// The certificate's SHA-1 thumbprint in hex, as the portal shows it.
    pub(crate) fn thumbprint_hex(&self) -> String {
        ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &self.chain[0])
            .as_ref()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect()
    }

    /// A signed client assertion for `client_id` at `audience` (the token
    /// endpoint URL).
    pub(crate) fn assertion(
        &self,
        client_id: &str,
        audience: &str,
        send_chain: bool,
    ) -> Result<Secret, String> {
        let mut header = serde_json::json!({
            "alg": "RS256",
            "typ": "JWT",
            "x5t": self.x5t,
            "x5t#S256": self.x5t_s256,
        });
        if send_chain {
            header["x5c"] = self.chain.iter().map(|c| STANDARD.encode(c)).collect();
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|_| "the system clock is before 1970")?
            .as_secs();
        let claims = serde_json::json!({
            "aud": audience,
            "iss": client_id,
            "sub": client_id,
            "jti": new_jti()?,
            "nbf": now,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME.as_secs(),
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let rng = ring::rand::SystemRandom::new();
        let mut sig = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(&RSA_PKCS1_SHA256, &rng, signing_input.as_bytes(), &mut sig)
            .map_err(|_| "signing the client assertion failed")?;
        Ok(Secret::new(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(&sig)
        )))
    }
}

enum Key {
    Pkcs8(Vec<u8>),
    Pkcs1(Vec<u8>),
}

fn not_rsa() -> String {
    "its private key is an EC key: only RSA certificates are supported (Entra ID app certificates are RSA)".into()
}

/// A random UUID (version 4): the assertion's unique `jti`, which Entra ID
/// refuses to see twice.
fn new_jti() -> Result<String, String> {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| "no system randomness for the assertion id")?;
    b[6] = (b[6] & 0x0F) | 0x40;
    b[8] = (b[8] & 0x3F) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

pub(crate) struct ClientCertificateCredential {
    pub(crate) endpoint: TokenEndpoint,
    pub(crate) certificate: Certificate,
    pub(crate) path: PathBuf,
    pub(crate) send_chain: bool,
}

impl ClientCertificateCredential {
    pub(crate) fn new(
        endpoint: TokenEndpoint,
        path: &Path,
        password: Option<&Secret>,
        send_chain: bool,
    ) -> Result<Self, GraphError> {
        let certificate = Certificate::load(path, password).map_err(|why| {
            GraphError::config(format!(
                "client certificate {} (AZURE_CLIENT_CERTIFICATE_PATH): {why}",
                path.display()
            ))
        })?;
        Ok(ClientCertificateCredential {
            endpoint,
            certificate,
            path: path.to_path_buf(),
            send_chain,
        })
    }
}

impl TokenCredential for ClientCertificateCredential {
    fn get_token<'a>(
        &'a self,
        scope: &'a str,
        ctx: &'a TokenContext<'a>,
    ) -> BoxFuture<'a, Result<AccessToken, CredentialError>> {
        async move {
            // A fresh assertion per request: each has its own jti and exp.
            let assertion = self
                .certificate
                .assertion(
                    &self.endpoint.client_id,
                    &self.endpoint.token_url,
                    self.send_chain,
                )
                .map_err(|why| {
                    CredentialError::Fatal(GraphError::SignIn {
                        method: "client certificate".into(),
                        message: why,
                    })
                })?;
            self.endpoint
                .request(
                    ctx.http,
                    scope,
                    ClientAuth::CertificateAssertion(&assertion),
                )
                .await
        }
        .boxed()
    }

    fn info(&self) -> CredentialInfo {
        CredentialInfo {
            method: "client certificate".into(),
            identity: format!(
                "app {} in tenant {}, certificate {} (thumbprint {})",
                self.endpoint.client_id,
                self.endpoint.tenant_id,
                self.path.display(),
                self.certificate.thumbprint_hex()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/signin")
            .join(name)
    }

    fn decode(part: &str) -> serde_json::Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    #[test]
    fn pem_and_pfx_load_the_same_certificate_and_sign_verifiable_assertions() {
        let pem = Certificate::load(&fixture("app.pem"), None).unwrap();
        let password = Secret::new("test-only-pfx-password");
        let pfx = Certificate::load(&fixture("app.pfx"), Some(&password)).unwrap();
        assert_eq!(pem.x5t_s256, pfx.x5t_s256);
        assert_eq!(pem.chain, pfx.chain);
        let legacy = Certificate::load(&fixture("app-legacy.pfx"), Some(&password)).unwrap();
        assert_eq!(legacy.chain, pem.chain);
        assert_eq!(
            legacy.key.public_key().as_ref(),
            pem.key.public_key().as_ref()
        );

        let audience = "https://login.microsoftonline.com/t/oauth2/v2.0/token";
        let a = pfx.assertion("client-1", audience, true).unwrap();
        let parts: Vec<&str> = a.expose().split('.').collect();
        assert_eq!(parts.len(), 3);
        let header = decode(parts[0]);
        assert_eq!(header["alg"], "RS256");
        assert_eq!(header["x5t#S256"], pem.x5t_s256.as_str());
        assert_eq!(header["x5t"], pem.x5t.as_str());
        assert_eq!(header["x5c"][0], STANDARD.encode(&pem.chain[0]).as_str());
        let claims = decode(parts[1]);
        assert_eq!(claims["aud"], audience);
        assert_eq!(claims["iss"], "client-1");
        assert_eq!(claims["sub"], "client-1");
        let exp = claims["exp"].as_u64().unwrap();
        assert_eq!(exp - claims["nbf"].as_u64().unwrap(), 600);
        let again = pfx.assertion("client-1", audience, false).unwrap();
        assert_ne!(
            decode(again.expose().split('.').nth(1).unwrap())["jti"],
            claims["jti"]
        );
        assert!(
            decode(again.expose().split('.').next().unwrap())
                .get("x5c")
                .is_none()
        );

        // The signature verifies with the certificate's public key.
        let (_, public) = der::certificate_public_key(&pem.chain[0]).unwrap();
        let key = ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            public,
        );
        let signed = format!("{}.{}", parts[0], parts[1]);
        let sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        key.verify(signed.as_bytes(), &sig).unwrap();
    }

    #[test]
    fn a_wrong_pfx_password_and_a_key_without_certificate_are_named() {
        let wrong = Secret::new("not-the-password");
        let err = Certificate::load(&fixture("app.pfx"), Some(&wrong))
            .err()
            .unwrap();
        assert!(
            err.contains("AZURE_CLIENT_CERTIFICATE_PASSWORD is wrong"),
            "{err}"
        );
        assert!(!err.contains("not-the-password"), "{err}");
        let err = Certificate::load(&fixture("app-legacy.pfx"), Some(&wrong))
            .err()
            .unwrap();
        assert!(
            err.contains("AZURE_CLIENT_CERTIFICATE_PASSWORD is wrong"),
            "{err}"
        );
        let err = Certificate::load(&fixture("app.pfx"), None).err().unwrap();
        assert!(err.contains("AZURE_CLIENT_CERTIFICATE_PASSWORD"), "{err}");
        let err = Certificate::load(&fixture("app.crt"), None).err().unwrap();
        assert!(err.contains("no private key"), "{err}");
        let err = Certificate::load(&fixture("issuer.key"), None)
            .err()
            .unwrap();
        assert!(err.contains("no certificate"), "{err}");
    }

    #[test]
    fn jti_is_a_fresh_uuid() {
        let a = new_jti().unwrap();
        let b = new_jti().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
    }
}
