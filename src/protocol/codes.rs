//! Close codes and error codes: the one place both sides read them from.
//!
//! Ranges follow the WebSocket spec's private-use block and centrifuge's convention:
//! `4000..=4499` means "something went wrong, reconnect", `4500..=4999` means "don't retry".
//! 1008 (policy violation) is terminal as well, so an Origin or auth refusal never loops.

/// Normal closure (RFC 6455).
pub const NORMAL: u16 = 1000;
/// The gateway is going away (restart, deploy): reconnect.
pub const GOING_AWAY: u16 = 1001;
/// Policy violation, e.g. a disallowed Origin: do not retry.
pub const POLICY: u16 = 1008;
/// A message was larger than the gateway accepts.
pub const MESSAGE_TOO_BIG: u16 = 1009;
/// The gateway is full right now (every `--max-connections` slot is taken): retry later.
pub const TRY_AGAIN_LATER: u16 = 1013;

/// The gateway did not hear from the client within its connection timeout.
pub const IDLE_TIMEOUT: u16 = 4000;
/// The client fell too far behind and its outbound queue overflowed.
pub const SLOW_CONSUMER: u16 = 4001;
/// The client sent more messages than its rate limit allows.
pub const RATE_LIMITED: u16 = 4002;
/// The gateway is shutting down.
pub const SHUTDOWN: u16 = 4003;
/// The user already has the maximum number of connections; retried with backoff.
pub const TOO_MANY_CONNECTIONS: u16 = 4004;

/// The token is missing, invalid or expired: do not retry with the same token.
pub const UNAUTHORIZED: u16 = 4500;
/// The client is not allowed to connect at all.
pub const FORBIDDEN: u16 = 4501;
/// The client speaks a protocol the gateway does not understand.
pub const BAD_PROTOCOL: u16 = 4502;

/// True when a close code means reconnecting would not help.
pub fn is_terminal(code: u16) -> bool {
    code == POLICY || (4500..5000).contains(&code) || (3500..4000).contains(&code)
}

/// Error codes carried in `error` frames (`{"type":"error","code":...}`).
pub mod error {
    /// The frame was not JSON, or not a known frame shape.
    pub const BAD_FRAME: &str = "bad_frame";
    /// The frame's `type` is not one the gateway accepts from clients.
    pub const UNKNOWN_TYPE: &str = "unknown_type";
    /// The client may not publish events.
    pub const PUBLISH_FORBIDDEN: &str = "publish_forbidden";
    /// The feature, entity or action is not valid (empty, too long, bad characters).
    pub const BAD_NAME: &str = "bad_name";
    /// The feature, entity or action is not in the gateway's feature registry.
    pub const UNKNOWN_NAME: &str = "unknown_name";
    /// The user may not read this feature (per the token's claims).
    pub const FORBIDDEN: &str = "forbidden";
    /// Subscribed, but not listed in the feature's presence: it has its most members already.
    pub const PRESENCE_FULL: &str = "presence_full";
    /// A part of the frame is larger than the gateway accepts (presence `info`, say).
    pub const TOO_BIG: &str = "too_big";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_and_policy_closes_are_terminal_and_transient_ones_are_not() {
        for c in [POLICY, UNAUTHORIZED, FORBIDDEN, BAD_PROTOCOL] {
            assert!(is_terminal(c), "{c} should stop reconnecting");
        }
        for c in [NORMAL, GOING_AWAY, MESSAGE_TOO_BIG, 1006, IDLE_TIMEOUT, SLOW_CONSUMER, RATE_LIMITED, SHUTDOWN, TOO_MANY_CONNECTIONS] {
            assert!(!is_terminal(c), "{c} should reconnect");
        }
    }
}
