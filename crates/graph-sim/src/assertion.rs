//! Client assertions at the token endpoint (`client_assertion_type =
//! urn:ietf:params:oauth:client-assertion-type:jwt-bearer`), checked as Entra ID checks them
//! (docs/graph.md §6.4):
//!
//! - signed by the app's certificate (`--client-certificate`): `iss` = `sub` = the client id,
//!   `aud` = this token endpoint, an `x5t#S256` or `x5t` header naming the registered
//!   certificate, an RS256 signature by its key, not expired, and a `jti` never seen before;
//! - federated (`--federated-issuer/-subject/-jwks`, workload identity): `iss` = the trusted
//!   issuer, `sub` = the trusted subject, `aud` = `api://AzureADTokenExchange`, signed by a key
//!   of the issuer's JWKS, not expired.
//!
//! A refusal is `(AADSTS code, OAuth error, message)`; the caller renders it.

use std::time::{SystemTime, UNIX_EPOCH};

use ring::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents, UnparsedPublicKey};
use serde_json::Value;

use crate::encode::{b64_decode, b64url};

pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
pub const FEDERATED_AUDIENCE: &str = "api://AzureADTokenExchange";

/// Entra ID's allowance for clock skew on `nbf` / `exp`.
const SKEW_SECS: u64 = 300;

pub type Refusal = (u32, &'static str, String);

/// A certificate registered on the app, from its PEM text.
#[derive(Clone, Debug)]
pub struct TrustedCertificate {
    /// base64url SHA-1 / SHA-256 of the DER certificate.
    x5t: String,
    x5t_s256: String,
    /// PKCS#1 `RSAPublicKey`.
    public_key: Vec<u8>,
}

impl TrustedCertificate {
    pub fn from_pem(text: &str) -> Result<Self, String> {
        let body: String = text
            .lines()
            .skip_while(|l| l.trim() != "-----BEGIN CERTIFICATE-----")
            .skip(1)
            .take_while(|l| l.trim() != "-----END CERTIFICATE-----")
            .collect();
        let der = b64_decode(body.trim()).filter(|d| !d.is_empty()).ok_or(
            "no PEM certificate (-----BEGIN CERTIFICATE-----) found: give the certificate's public part",
        )?;
        let public_key = rsa_public_key(&der)?;
        let sha1 = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &der);
        let sha256 = ring::digest::digest(&ring::digest::SHA256, &der);
        Ok(TrustedCertificate {
            x5t: b64url(sha1.as_ref()),
            x5t_s256: b64url(sha256.as_ref()),
            public_key,
        })
    }
}

/// A trusted federated issuer (a Kubernetes cluster's OIDC issuer, GitHub, ...).
#[derive(Clone, Debug)]
pub struct FederatedTrust {
    pub issuer: String,
    pub subject: String,
    /// `(kid, n, e)` of each RSA key of the issuer's JWKS.
    keys: Vec<(String, Vec<u8>, Vec<u8>)>,
}

impl FederatedTrust {
    pub fn new(issuer: String, subject: String, jwks: &str) -> Result<Self, String> {
        let doc: Value =
            serde_json::from_str(jwks).map_err(|e| format!("the JWKS is not JSON: {e}"))?;
        let keys: Vec<_> = doc["keys"]
            .as_array()
            .ok_or("the JWKS has no \"keys\" array")?
            .iter()
            .filter(|k| k["kty"] == "RSA")
            .filter_map(|k| {
                Some((
                    k["kid"].as_str().unwrap_or("").to_string(),
                    b64_decode(k["n"].as_str()?)?,
                    b64_decode(k["e"].as_str()?)?,
                ))
            })
            .collect();
        if keys.is_empty() {
            return Err("the JWKS holds no RSA key".into());
        }
        Ok(FederatedTrust {
            issuer,
            subject,
            keys,
        })
    }
}

/// The parts of a compact JWS.
struct Jwt<'a> {
    header: Value,
    claims: Value,
    signed: &'a str,
    signature: Vec<u8>,
}

fn parse(assertion: &str) -> Result<Jwt<'_>, Refusal> {
    let malformed = || {
        (
            50027,
            "invalid_request",
            "JWT token is invalid or malformed.".to_string(),
        )
    };
    let mut parts = assertion.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed());
    };
    let json = |p: &str| -> Option<Value> { serde_json::from_slice(&b64_decode(p)?).ok() };
    let (Some(header), Some(claims), Some(signature)) = (json(h), json(c), b64_decode(s)) else {
        return Err(malformed());
    };
    Ok(Jwt {
        header,
        claims,
        signed: &assertion[..h.len() + 1 + c.len()],
        signature,
    })
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn check_time(claims: &Value) -> Result<u64, Refusal> {
    let now = now_secs();
    let exp = claims["exp"].as_u64().unwrap_or(0);
    let nbf = claims["nbf"].as_u64().unwrap_or(0);
    if exp + SKEW_SECS <= now || nbf > now + SKEW_SECS {
        return Err((
            700024,
            "invalid_client",
            format!(
                "Client assertion is not within its valid time range. Current time: {now}, assertion valid from {nbf}, expiry time of assertion {exp}. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials ."
            ),
        ));
    }
    Ok(exp)
}

fn bad_signature() -> Refusal {
    (
        700027,
        "invalid_client",
        "Client assertion failed signature validation.".to_string(),
    )
}

/// Who a client assertion claims to be: the app itself (`iss` = client id, a certificate
/// assertion) or an external workload (a federated assertion).
pub fn is_federated(assertion: &str, client_id: &str) -> bool {
    parse(assertion)
        .map(|jwt| jwt.claims["iss"].as_str() != Some(client_id))
        .unwrap_or(false)
}

/// Checks a certificate assertion; on success returns its `jti` and `exp` (the caller refuses a
/// `jti` it has seen).
pub fn verify_certificate(
    assertion: &str,
    client_id: &str,
    token_url: &str,
    trusted: Option<&TrustedCertificate>,
) -> Result<(String, u64), Refusal> {
    let jwt = parse(assertion)?;
    let presented = jwt.header["x5t#S256"]
        .as_str()
        .or_else(|| jwt.header["x5t"].as_str())
        .unwrap_or("")
        .to_string();
    let cert = trusted
        .filter(|c| presented == c.x5t_s256 || presented == c.x5t)
        .ok_or_else(|| {
            (
                700027,
                "invalid_client",
                format!(
                    "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '{presented}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '{client_id}'.]"
                ),
            )
        })?;
    if jwt.header["alg"] != "RS256" {
        return Err(bad_signature());
    }
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &cert.public_key)
        .verify(jwt.signed.as_bytes(), &jwt.signature)
        .map_err(|_| bad_signature())?;
    let exp = check_time(&jwt.claims)?;
    if jwt.claims["sub"].as_str() != Some(client_id) {
        return Err((
            700021,
            "invalid_client",
            "Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .".into(),
        ));
    }
    let aud = jwt.claims["aud"].as_str().unwrap_or("");
    if !aud.eq_ignore_ascii_case(token_url) {
        return Err((
            700023,
            "invalid_client",
            format!(
                "Client assertion audience claim does not match Realm issuer. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials . Expected: '{token_url}', presented: '{aud}'."
            ),
        ));
    }
    let jti = jwt.claims["jti"].as_str().unwrap_or("").to_string();
    if jti.is_empty() {
        return Err((
            90014,
            "invalid_request",
            "The required field 'jti' is missing from the credential. Ensure that you have all the necessary parameters for the login request.".into(),
        ));
    }
    Ok((jti, exp))
}

/// Checks a federated assertion (workload identity federation).
pub fn verify_federated(assertion: &str, trust: Option<&FederatedTrust>) -> Result<(), Refusal> {
    let jwt = parse(assertion)?;
    let iss = jwt.claims["iss"].as_str().unwrap_or("");
    let no_match = |what: &str, value: &str, code: u32| {
        (
            code,
            "invalid_client",
            format!(
                "No matching federated identity record found for presented assertion {what} '{value}'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation"
            ),
        )
    };
    let trust = trust
        .filter(|t| t.issuer == iss)
        .ok_or_else(|| no_match("issuer", iss, 700211))?;
    let kid = jwt.header["kid"].as_str();
    let verified = jwt.header["alg"] == "RS256"
        && trust
            .keys
            .iter()
            .filter(|(k, _, _)| kid.is_none() || kid == Some(k.as_str()))
            .any(|(_, n, e)| {
                RsaPublicKeyComponents { n, e }
                    .verify(
                        &RSA_PKCS1_2048_8192_SHA256,
                        jwt.signed.as_bytes(),
                        &jwt.signature,
                    )
                    .is_ok()
            });
    if !verified {
        return Err(bad_signature());
    }
    check_time(&jwt.claims)?;
    let sub = jwt.claims["sub"].as_str().unwrap_or("");
    if sub != trust.subject {
        return Err(no_match("subject", sub, 700213));
    }
    let audiences: Vec<&str> = match &jwt.claims["aud"] {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if !audiences.contains(&FEDERATED_AUDIENCE) {
        return Err(no_match("audience", &audiences.join(", "), 700212));
    }
    Ok(())
}

/// The PKCS#1 RSA public key of a DER certificate (tbsCertificate -> subjectPublicKeyInfo).
fn rsa_public_key(cert: &[u8]) -> Result<Vec<u8>, String> {
    fn item(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, rest) = b.split_first()?;
        let (&first, mut rest) = rest.split_first()?;
        let len = if first < 0x80 {
            first as usize
        } else {
            let n = (first & 0x7F) as usize;
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            let len = rest[..n].iter().fold(0usize, |l, b| (l << 8) | *b as usize);
            rest = &rest[n..];
            len
        };
        (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
    }
    let bad = || "the certificate is not a DER X.509 certificate".to_string();
    let (_, certificate, _) = item(cert).ok_or_else(bad)?;
    let (_, mut tbs, _) = item(certificate).ok_or_else(bad)?;
    // Skip version ([0], optional), serial, signature, issuer, validity, subject.
    let mut skip = 5;
    if tbs.first() == Some(&0xA0) {
        skip += 1;
    }
    for _ in 0..skip {
        tbs = item(tbs).ok_or_else(bad)?.2;
    }
    let (_, spki, _) = item(tbs).ok_or_else(bad)?;
    let (_, _alg, rest) = item(spki).ok_or_else(bad)?;
    let (tag, bits, _) = item(rest).ok_or_else(bad)?;
    match (tag, bits) {
        (0x03, [0, key @ ..]) => Ok(key.to_vec()),
        _ => Err(bad()),
    }
}

/// The token endpoint's check of `client_assertion_type` + `client_assertion`, certificate or
/// federated, including the `jti` replay check.
pub fn check(
    sim: &crate::sim::Sim,
    kind: &str,
    assertion: &str,
    client_id: &str,
    token_url: &str,
) -> Result<(), Refusal> {
    if kind != ASSERTION_TYPE {
        return Err((
            900144,
            "invalid_request",
            format!("The client_assertion_type '{kind}' is not supported; use '{ASSERTION_TYPE}'."),
        ));
    }
    if assertion.is_empty() {
        return Err((
            900144,
            "invalid_request",
            "The request body must contain the following parameter: 'client_assertion'.".into(),
        ));
    }
    let cfg = sim.config();
    if is_federated(assertion, client_id) {
        return verify_federated(assertion, cfg.federated.as_ref());
    }
    let (jti, exp) = verify_certificate(
        assertion,
        client_id,
        token_url,
        cfg.client_certificate.as_ref(),
    )?;
    let now = now_secs();
    let mut used = crate::sim::lock(&sim.inner.used_jtis);
    // An expired assertion is refused by its exp anyway; forget its jti.
    used.retain(|_, e| *e + SKEW_SECS > now);
    if used.insert(jti.clone(), exp).is_some() {
        // Entra ID refuses a replayed jti; its exact code is not in the public error list, so the
        // simulator uses the malformed-JWT code with a message that says what happened.
        return Err((
            50027,
            "invalid_request",
            format!(
                "JWT token is invalid or malformed: the client assertion's jti '{jti}' was already used; sign a new assertion for each request."
            ),
        ));
    }
    Ok(())
}
