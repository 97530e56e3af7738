//! The Origin allow-list, checked on the upgrade request: a page from a disallowed origin gets
//! 403 before any WebSocket exists, which blocks cross-site WebSocket hijacking.
//!
//! Rules (WEBSOCKET_CORS_ORIGIN, comma-separated):
//! - `https://app.example.com`: exactly that origin;
//! - `https://*.example.com`: any subdomain of example.com (not example.com itself);
//! - `http://localhost:*`: any port;
//! - `*`: any origin (only for public, token-protected gateways).
//!
//! A page served by the gateway itself (same host) is always allowed. Requests without an
//! Origin header come from non-browser clients, which cannot be hijacked, and are allowed.

/// A parsed allow-list.
#[derive(Debug, Clone)]
pub(crate) struct Origins {
    any: bool,
    rules: Vec<(String, String, String)>, // scheme, host pattern, port pattern
}

fn split(origin: &str) -> Option<(&str, &str, &str)> {
    let (scheme, rest) = origin.split_once("://")?;
    if rest.contains('/') || rest.is_empty() {
        return None;
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || rest.starts_with('[') => (h, p),
        _ => (rest, ""),
    };
    Some((scheme, host, port))
}

impl Origins {
    /// Parses a comma-separated list; errors name the bad entry.
    pub(crate) fn parse(list: &str) -> Result<Self, String> {
        let mut any = false;
        let mut rules = Vec::new();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if entry == "*" {
                any = true;
                continue;
            }
            let (scheme, host, port) = split(entry).ok_or_else(|| format!("origin {entry:?} is not scheme://host[:port]"))?;
            if host.contains('*') && !(host.starts_with("*.") && !host[2..].contains('*')) {
                return Err(format!("origin {entry:?}: a wildcard may only be a leading \"*.\""));
            }
            rules.push((scheme.to_ascii_lowercase(), host.to_ascii_lowercase(), port.to_owned()));
        }
        Ok(Self { any, rules })
    }

    /// Is a request with this `Origin` (and `Host`) header allowed?
    pub(crate) fn allows(&self, origin: Option<&str>, host: Option<&str>) -> bool {
        let Some(origin) = origin else { return true };
        if self.any {
            return true;
        }
        let Some((scheme, ohost, oport)) = split(origin) else { return false };
        let authority = origin.split_once("://").map(|(_, a)| a);
        if host.is_some() && authority.is_some_and(|a| a.eq_ignore_ascii_case(host.unwrap_or_default())) {
            return true; // same origin
        }
        let (scheme, ohost) = (scheme.to_ascii_lowercase(), ohost.to_ascii_lowercase());
        self.rules.iter().any(|(s, h, p)| {
            let host_ok = match h.strip_prefix("*.") {
                Some(suffix) => ohost.len() > suffix.len() + 1 && ohost.ends_with(&format!(".{suffix}")),
                None => *h == ohost,
            };
            *s == scheme && host_ok && (p == "*" || p == oport)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_wildcard_subdomain_any_port_and_same_origin_rules() {
        let o = Origins::parse("http://localhost:4200, https://*.example.com, http://127.0.0.1:*").unwrap();
        assert!(o.allows(Some("http://localhost:4200"), None));
        assert!(!o.allows(Some("http://localhost:4201"), None));
        assert!(o.allows(Some("https://app.example.com"), None));
        assert!(o.allows(Some("https://a.b.example.com"), None));
        assert!(!o.allows(Some("https://example.com"), None));
        assert!(!o.allows(Some("https://evilexample.com"), None));
        assert!(!o.allows(Some("http://app.example.com"), None), "scheme must match");
        assert!(o.allows(Some("http://127.0.0.1:39123"), None));
        assert!(!o.allows(Some("https://evil.test"), None));
        assert!(o.allows(Some("http://gateway.test:3333"), Some("gateway.test:3333")), "same origin");
        assert!(o.allows(None, None), "non-browser clients send no Origin");
        assert!(!o.allows(Some("null"), None));
        assert!(Origins::parse("*").unwrap().allows(Some("https://anything.test"), None));
        assert!(Origins::parse("https://ex*ample.com").is_err());
        assert!(Origins::parse("localhost:4200").is_err());
    }
}
