//! Token checks: JWTs signed HS256 with the configured secret, or RS256 with an optional
//! public key. Claims decide who the user is and which features they may read and publish.

use jsonwebtoken::{decode, errors::ErrorKind, Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use std::time::{SystemTime, UNIX_EPOCH};

/// A feature list claim: `"*"` or a list of names.
#[derive(Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(untagged)]
pub(crate) enum Access {
    /// `"*"`: every feature.
    All(String),
    /// Only these features.
    Some(Vec<String>),
}

impl Access {
    fn allows(&self, feature: &str) -> bool {
        match self {
            Access::All(s) => s == "*",
            Access::Some(list) => list.iter().any(|f| f == feature),
        }
    }
}

/// The claims the gateway reads. `features` defaults to every feature; `publish` to none;
/// `presence` (whose members the user may see, among the features they read) to `features`.
#[derive(Deserialize, Debug)]
struct Claims {
    sub: String,
    exp: u64,
    #[serde(default)]
    sid: Option<String>,
    #[serde(default)]
    features: Option<Access>,
    #[serde(default)]
    publish: Option<Access>,
    #[serde(default)]
    presence: Option<Access>,
}

/// Who is on a connection and what they may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The `sub` claim (`anonymous` when auth is off).
    pub user_id: String,
    /// The `sid` claim, if any.
    pub session_id: Option<String>,
    /// Unix seconds at which the token expires (`None`: never, auth is off).
    pub expires_at: Option<u64>,
    read: Access,
    publish: Access,
    /// Features whose presence (members, joins, leaves) the user may see; `None`: those read.
    presence: Option<Access>,
}

impl Identity {
    /// Everyone, when the gateway runs without auth.
    pub fn anonymous(may_publish: bool) -> Self {
        let publish = if may_publish { Access::All("*".into()) } else { Access::Some(vec![]) };
        Self { user_id: "anonymous".into(), session_id: None, expires_at: None, read: Access::All("*".into()), publish, presence: None }
    }

    /// May this user receive `feature`'s events?
    pub fn can_read(&self, feature: &str) -> bool {
        self.read.allows(feature)
    }

    /// May this user see who else is subscribed to `feature` (where the registry keeps presence)?
    pub fn can_see_presence(&self, feature: &str) -> bool {
        self.can_read(feature) && self.presence.as_ref().is_none_or(|p| p.allows(feature))
    }

    /// May this user publish to `feature`?
    pub fn can_publish(&self, feature: &str) -> bool {
        self.publish.allows(feature)
    }

    /// Milliseconds until the token expires (0 if it already has).
    pub fn expires_in_ms(&self) -> Option<u64> {
        self.expires_at.map(|exp| exp.saturating_mul(1000).saturating_sub(now_ms()))
    }
}

/// Text from a token (its header's fields end up in decoding errors) made safe for a log line
/// and a close reason: control characters escaped, at most 80 characters kept.
fn printable(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars().take(80) {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// No token was given.
    Missing,
    /// The token's `exp` has passed.
    Expired,
    /// Bad signature, wrong algorithm, malformed, missing claims.
    Invalid(String),
}

impl std::fmt::Display for AuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuthError::Missing => f.write_str("a token is required"),
            AuthError::Expired => f.write_str("the token has expired"),
            AuthError::Invalid(why) => write!(f, "invalid token: {why}"),
        }
    }
}

/// The configured keys; `None` from [`Auth::new`] means auth is off.
#[derive(Clone)]
pub(crate) struct Auth {
    keys: Vec<(DecodingKey, Validation)>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Auth({} keys)", self.keys.len())
    }
}

impl Auth {
    /// Keys from an HS256 secret and/or an RS256 public key (PEM). `Ok(None)` if neither is set.
    /// A token must be valid now (`exp`, and `nbf` when it has one) and, when `audience` or
    /// `issuer` is given, carry that `aud` or `iss`.
    pub(crate) fn new(
        hs256_secret: Option<&str>,
        rs256_public_pem: Option<&[u8]>,
        audience: Option<&str>,
        issuer: Option<&str>,
    ) -> Result<Option<Self>, String> {
        let mut keys = Vec::new();
        let validation = |alg| {
            let mut v = Validation::new(alg);
            v.leeway = 5;
            v.validate_nbf = true;
            let mut required = vec!["exp", "sub"];
            match audience {
                Some(aud) => {
                    v.set_audience(&[aud]);
                    required.push("aud");
                }
                None => v.validate_aud = false,
            }
            if let Some(iss) = issuer {
                v.set_issuer(&[iss]);
                required.push("iss");
            }
            v.set_required_spec_claims(&required);
            v
        };
        if let Some(secret) = hs256_secret.filter(|s| !s.is_empty()) {
            keys.push((DecodingKey::from_secret(secret.as_bytes()), validation(Algorithm::HS256)));
        }
        if let Some(pem) = rs256_public_pem {
            let key = DecodingKey::from_rsa_pem(pem).map_err(|e| format!("RS256 public key: {e}"))?;
            keys.push((key, validation(Algorithm::RS256)));
        }
        Ok((!keys.is_empty()).then_some(Self { keys }))
    }

    /// Verifies a token against each configured key.
    pub(crate) fn verify(&self, token: &str) -> Result<Identity, AuthError> {
        if token.is_empty() {
            return Err(AuthError::Missing);
        }
        let mut last = AuthError::Invalid("no key accepted it".into());
        for (key, validation) in &self.keys {
            match decode::<Claims>(token, key, validation) {
                Ok(data) => {
                    let c = data.claims;
                    return Ok(Identity {
                        user_id: c.sub,
                        session_id: c.sid,
                        expires_at: Some(c.exp),
                        read: c.features.unwrap_or(Access::All("*".into())),
                        publish: c.publish.unwrap_or(Access::Some(vec![])),
                        presence: c.presence,
                    });
                }
                Err(e) if matches!(e.kind(), ErrorKind::ExpiredSignature) => return Err(AuthError::Expired),
                Err(e) if matches!(e.kind(), ErrorKind::ImmatureSignature) => {
                    return Err(AuthError::Invalid("the token is not valid yet (nbf)".into()))
                }
                Err(e) => last = AuthError::Invalid(printable(&e.to_string())),
            }
        }
        Err(last)
    }
}
