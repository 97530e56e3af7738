//! The connection state machine: one phase enum, one transition function, one teardown path.
//!
//! Shaped as `input + now -> actions`, with no browser in sight: the web glue feeds socket
//! events, timer firings and user calls in, and performs the actions that come out (open a
//! socket, send a frame, arm a timer, report a status). Every socket gets a generation number
//! and inputs carrying an older generation are ignored, so a late callback from a socket that
//! was already replaced can never disturb the current one.

use super::backoff::Backoff;
use super::outbox::{Outbox, OutboxLimits};
use super::recovery::{Streams, Verdict};
use super::rng::Rng;
use super::router::{Router, Scope, SubId};
use crate::protocol::{codes, Position, StreamState};
use serde::Serialize;
#[cfg(target_arch = "wasm32")]
use tsify::Tsify;

/// What the app sees: the seed's `connectionStatus$` values.
#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(target_arch = "wasm32", derive(Tsify))]
#[serde(rename_all = "lowercase")]
pub enum ConnectionStatus {
    /// The gateway accepted the connection (its `welcome` arrived).
    Connected,
    /// Not connected and not trying: before `connect()`, after `disconnect()`, after the
    /// gateway refused us, or after the last reconnect attempt failed.
    Disconnected,
    /// Not connected but trying again after a connection was up: opening a socket, or
    /// waiting before the next attempt.
    Reconnecting,
    /// Trying to connect since `connect()`, no connection up yet (its first attempt, or the
    /// retries after it). Last, so the numbers of the others stay as they were.
    Connecting,
}

/// Why the client stopped trying; readable as `statusReason` while `disconnected`.
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(target_arch = "wasm32", derive(Tsify))]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum StopReason {
    /// `disconnect()` was called.
    Client,
    /// The browser is offline; the client reconnects as soon as it is back online.
    Offline,
    /// `maxReconnectAttempts` retries in a row failed.
    MaxAttempts {
        /// How many retries were made.
        attempts: u32,
    },
    /// The gateway closed with a code that means "don't retry" (auth failure, policy).
    Rejected {
        /// The close code (see docs/protocol.md).
        code: u16,
        /// The close reason the gateway gave.
        reason: String,
    },
}

/// The three timers the machine uses; the glue owns one slot per kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// Waiting before the next reconnect attempt.
    Retry = 0,
    /// Bounds the time from opening a socket to the gateway's `welcome`.
    Connect = 1,
    /// Checks that the gateway has been heard from recently.
    Heartbeat = 2,
    /// Fetches a fresh token shortly before the current one expires.
    Refresh = 3,
    /// Fires when the oldest outbox message has waited too long.
    Outbox = 4,
}

impl Timer {
    /// Every timer, in the order of their numbers (the glue names a timer by number).
    pub const ALL: [Timer; 5] = [Timer::Retry, Timer::Connect, Timer::Heartbeat, Timer::Refresh, Timer::Outbox];
}

/// A control frame the machine wants sent; the glue encodes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outgoing {
    /// The token fetched for this socket, if there is one.
    Auth,
    /// Ask for these features, resuming each from its position if it has one.
    Subscribe {
        /// Feature names.
        features: Vec<String>,
        /// Where to resume, for features seen before.
        positions: Vec<(String, Position)>,
    },
    /// Stop these features.
    Unsubscribe(Vec<String>),
    /// Answer a heartbeat.
    Pong,
}

/// Something the glue must do. `gen` is the socket generation the action is about.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Fetch a token, then open a socket tagged `gen`.
    Open { gen: u32 },
    /// Fetch a fresh token and send it on socket `gen` (in-band refresh, no reconnect).
    RefreshToken { gen: u32 },
    /// Close and drop socket `gen` (its callbacks are released with it).
    Close { gen: u32 },
    /// Send a frame on the current socket.
    Send(Outgoing),
    /// Arm a timer, replacing one of the same kind.
    StartTimer(Timer, f64),
    /// Cancel a timer.
    StopTimer(Timer),
    /// The status changed.
    Status(ConnectionStatus),
    /// Events of this feature were lost for good: state built from them must be reloaded.
    Resync(String),
    /// Send these outbox messages now, in this order (the connection is back).
    Flush(Vec<u64>),
    /// Refuse these outbox messages: they waited too long, or `disconnect()` was called.
    Refuse(Vec<u64>, Refusal),
    /// From the session, after `Resync`: this store must fetch its items again.
    Reload(u32),
    /// From the session, after `Resync`: this store has no `reload`; it must say its items
    /// may be stale.
    Lost(u32),
    /// A socket closed or timed out before it opened: the gateway refused the handshake (the
    /// browser hides why: a 403 for an origin it does not allow, say) or is unreachable. Once
    /// per `connect()` until a connection is up, so the app hears it after the first failed
    /// attempt instead of watching retries in silence.
    Unreachable,
}

/// Why an outbox message was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// It waited longer than the outbox allows.
    Expired,
    /// `disconnect()` was called.
    Disconnected,
}

/// What `send` should do with a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Send {
    /// Connected: send it now.
    Now,
    /// Not connected: it waits in the outbox under this id.
    Queued(u64),
    /// Not connected and the outbox is full.
    Full,
    /// Not connected and there is no outbox.
    NotConnected,
}

/// Something that happened. `gen` is the generation of the socket it happened to.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq)]
pub enum Input<'a> {
    /// `connect()` was called.
    Connect,
    /// `disconnect()` was called.
    Disconnect,
    /// The browser went online.
    Online,
    /// The browser went offline.
    Offline,
    /// The page became visible again (a tab resumed from the background).
    Visible,
    /// Socket `gen` opened.
    Opened { gen: u32 },
    /// Socket `gen` received `welcome`; `token_ms` is how long its token stays valid.
    Welcome { gen: u32, heartbeat_ms: f64, token_ms: Option<f64> },
    /// Socket `gen`'s gateway accepted a refreshed token.
    Authenticated { gen: u32, token_ms: Option<f64> },
    /// Socket `gen` received a `heartbeat`.
    Heartbeat { gen: u32 },
    /// Socket `gen` received any other frame.
    Activity { gen: u32 },
    /// Socket `gen` closed.
    Closed { gen: u32, code: u16, reason: &'a str },
    /// A timer fired.
    Fired(Timer),
}

/// Settings, validated by the facade.
#[derive(Clone, Debug)]
pub struct Config {
    /// Reconnect delays.
    pub backoff: Backoff,
    /// Retries in a row before giving up; `None` retries forever.
    pub max_attempts: Option<u32>,
    /// Silence that counts as a dead connection; `None` derives it from the gateway's
    /// heartbeat interval (1.5 times it, plus a second).
    pub heartbeat_timeout_ms: Option<f64>,
    /// Time allowed from opening a socket to the gateway's `welcome`.
    pub connect_timeout_ms: f64,
    /// Queue `send`s while not connected (off: they throw).
    pub outbox: Option<OutboxLimits>,
}

impl Default for Config {
    fn default() -> Self {
        Self { backoff: Backoff::default(), max_attempts: Some(5), heartbeat_timeout_ms: None, connect_timeout_ms: 10_000.0, outbox: None }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Phase {
    /// No socket, no timer: see `reason`.
    Idle,
    /// Waiting for the retry timer.
    Waiting,
    /// Socket `gen` exists; `open` once its open event came; no `welcome` yet.
    Opening { gen: u32, open: bool },
    /// Socket `gen` is accepted by the gateway.
    Open { gen: u32, last_heard: f64, timeout: f64 },
}

enum Teardown {
    Retry,
    Stop(StopReason),
}

/// The client's pure core: connection lifecycle plus the subscription table.
#[derive(Debug)]
pub struct Connection {
    config: Config,
    phase: Phase,
    status: ConnectionStatus,
    reason: Option<StopReason>,
    gen: u32,
    attempts: u32,
    rng: Rng,
    router: Router,
    streams: Streams,
    /// The browser said it is offline: retrying would be futile until it says online.
    offline: bool,
    /// A connection was up since `connect()`: trying again is reconnecting, not connecting.
    was_open: bool,
    /// `Unreachable` was reported since `connect()` or the last connection.
    told_unreachable: bool,
    outbox: Option<Outbox>,
}

impl Connection {
    /// A disconnected machine; `seed` feeds the jitter.
    pub fn new(config: Config, seed: u64) -> Self {
        Self {
            outbox: config.outbox.map(Outbox::new),
            config,
            phase: Phase::Idle,
            status: ConnectionStatus::Disconnected,
            reason: None,
            gen: 0,
            attempts: 0,
            rng: Rng::new(seed),
            router: Router::default(),
            streams: Streams::default(),
            offline: false,
            was_open: false,
            told_unreachable: false,
        }
    }

    /// The current status.
    pub fn status(&self) -> ConnectionStatus {
        self.status
    }

    /// Why the client is disconnected, if it stopped for a reason.
    pub fn reason(&self) -> Option<&StopReason> {
        self.reason.as_ref()
    }

    /// Retries made since the last successful connect.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The generation of the live socket, if any.
    pub fn socket(&self) -> Option<u32> {
        match self.phase {
            Phase::Opening { gen, .. } | Phase::Open { gen, .. } => Some(gen),
            Phase::Idle | Phase::Waiting => None,
        }
    }

    /// True when application frames may be sent (the gateway accepted us).
    pub fn is_connected(&self) -> bool {
        matches!(self.phase, Phase::Open { .. })
    }

    /// The subscription table, for routing.
    pub fn router(&self) -> &Router {
        &self.router
    }

    /// Decides what to do with an outgoing message.
    pub fn send(&mut self, now: f64, out: &mut Vec<Action>) -> Send {
        if self.is_connected() {
            return Send::Now;
        }
        let Some(outbox) = &mut self.outbox else { return Send::NotConnected };
        match outbox.push(now) {
            Some(id) => {
                if let Some(ms) = outbox.next_expiry(now) {
                    out.push(Action::StartTimer(Timer::Outbox, ms));
                }
                Send::Queued(id)
            }
            None => Send::Full,
        }
    }

    /// Duplicate events dropped so far.
    pub fn duplicates(&self) -> u64 {
        self.streams.duplicates()
    }

    /// Keeps a feature subscribed without a local subscriber.
    pub fn pin(&mut self, feature: &str, out: &mut Vec<Action>) {
        if self.router.pin(feature) && self.can_send_control() {
            out.push(subscribe_frame(vec![feature.to_owned()], Vec::new()));
        }
    }

    /// Adds a local subscription; the gateway hears of the feature's first one only.
    pub fn subscribe(&mut self, feature: &str, scope: Scope, out: &mut Vec<Action>) -> SubId {
        let added = self.router.subscribe(feature, scope);
        if added.first && self.can_send_control() {
            out.push(subscribe_frame(vec![feature.to_owned()], Vec::new()));
        }
        added.id
    }

    /// Removes a local subscription; the gateway hears of the feature's last one only.
    pub fn unsubscribe(&mut self, id: SubId, out: &mut Vec<Action>) {
        if let Some(feature) = self.router.unsubscribe(id) {
            self.streams.forget(&feature);
            if self.can_send_control() {
                out.push(Action::Send(Outgoing::Unsubscribe(vec![feature.into()])));
            }
        }
    }

    /// An event arrived: true if it should be delivered. A gap starts a recovery (a replay
    /// request); a new epoch delivers it and asks for a resync.
    pub fn event(&mut self, feature: &str, epoch: Option<&str>, seq: Option<u64>, out: &mut Vec<Action>) -> bool {
        match self.streams.on_event(feature, epoch, seq) {
            Verdict::Deliver => true,
            Verdict::Duplicate | Verdict::Wait => false,
            Verdict::Recover => {
                self.recover(feature, out);
                false
            }
            Verdict::Resync => {
                out.push(Action::Resync(feature.to_owned()));
                true
            }
        }
    }

    /// The gateway acknowledged a subscription; resync if it could not replay what we missed.
    pub fn subscribed(&mut self, feature: &str, state: &StreamState, out: &mut Vec<Action>) {
        if self.streams.on_subscribed(feature, state) {
            out.push(Action::Resync(feature.to_owned()));
        }
    }

    /// The gateway dropped events of `feature` for us (we fell behind): recover them.
    pub fn gap(&mut self, feature: &str, out: &mut Vec<Action>) {
        if self.streams.on_gap(feature) {
            self.recover(feature, out);
        }
    }

    fn recover(&mut self, feature: &str, out: &mut Vec<Action>) {
        if self.can_send_control() {
            let features = vec![feature.to_owned()];
            let positions = self.streams.positions(&features);
            out.push(subscribe_frame(features, positions));
        }
    }

    /// The transition function.
    pub fn handle(&mut self, input: Input<'_>, now: f64, out: &mut Vec<Action>) {
        match (input, self.phase) {
            (Input::Connect, Phase::Idle) => {
                self.attempts = 0;
                self.was_open = false;
                self.told_unreachable = false;
                self.open(out);
            }
            (Input::Connect, Phase::Waiting) | (Input::Visible, Phase::Waiting) => {
                out.push(Action::StopTimer(Timer::Retry));
                self.open(out);
            }
            (Input::Online, phase) => {
                self.offline = false;
                match phase {
                    Phase::Waiting => {
                        out.push(Action::StopTimer(Timer::Retry));
                        self.open(out);
                    }
                    Phase::Idle if matches!(self.reason, Some(StopReason::MaxAttempts { .. } | StopReason::Offline)) => {
                        self.attempts = 0;
                        self.open(out);
                    }
                    _ => {}
                }
            }
            (Input::Offline, phase) => {
                self.offline = true;
                // An open socket may survive a short blip (the heartbeat decides); a retry
                // schedule would only fail, so it stops until the browser is back online.
                if matches!(phase, Phase::Waiting) {
                    self.teardown(Teardown::Stop(StopReason::Offline), out);
                }
            }
            (Input::Visible, Phase::Open { last_heard, timeout, .. }) => {
                // Timers of a background tab are throttled: check the heartbeat deadline now.
                if now - last_heard >= timeout {
                    self.teardown(Teardown::Retry, out);
                }
            }
            (Input::Disconnect, _) => {
                self.router.clear_subscriptions();
                self.streams.clear();
                if let Some(outbox) = &mut self.outbox {
                    let ids = outbox.drain();
                    if !ids.is_empty() {
                        out.push(Action::StopTimer(Timer::Outbox));
                        out.push(Action::Refuse(ids, Refusal::Disconnected));
                    }
                }
                self.teardown(Teardown::Stop(StopReason::Client), out);
            }
            (Input::Opened { gen }, Phase::Opening { gen: g, open: false }) if gen == g => {
                self.phase = Phase::Opening { gen, open: true };
                out.push(Action::Send(Outgoing::Auth));
                let features = self.router.features();
                if !features.is_empty() {
                    let positions = self.streams.positions(&features);
                    out.push(subscribe_frame(features, positions));
                }
            }
            (Input::Welcome { gen, heartbeat_ms, token_ms }, Phase::Opening { gen: g, .. }) if gen == g => {
                let timeout = self.config.heartbeat_timeout_ms.unwrap_or(heartbeat_ms * 1.5 + 1000.0);
                self.attempts = 0;
                self.reason = None;
                self.was_open = true;
                self.told_unreachable = false;
                out.push(Action::StopTimer(Timer::Connect));
                out.push(Action::StartTimer(Timer::Heartbeat, timeout));
                schedule_refresh(token_ms, out);
                self.set_phase(Phase::Open { gen, last_heard: now, timeout }, out);
                if let Some(outbox) = &mut self.outbox {
                    let ids = outbox.drain();
                    if !ids.is_empty() {
                        out.push(Action::StopTimer(Timer::Outbox));
                        out.push(Action::Flush(ids));
                    }
                }
            }
            (Input::Fired(Timer::Outbox), _) => {
                if let Some(outbox) = &mut self.outbox {
                    let ids = outbox.expire(now);
                    if !ids.is_empty() {
                        out.push(Action::Refuse(ids, Refusal::Expired));
                    }
                    if let Some(ms) = outbox.next_expiry(now) {
                        out.push(Action::StartTimer(Timer::Outbox, ms));
                    }
                }
            }
            (Input::Authenticated { gen, token_ms }, Phase::Open { gen: g, timeout, .. }) if gen == g => {
                self.phase = Phase::Open { gen, last_heard: now, timeout };
                schedule_refresh(token_ms, out);
            }
            (Input::Fired(Timer::Refresh), Phase::Open { gen, .. }) => out.push(Action::RefreshToken { gen }),
            (Input::Heartbeat { gen }, Phase::Open { gen: g, timeout, .. }) if gen == g => {
                self.phase = Phase::Open { gen, last_heard: now, timeout };
                out.push(Action::Send(Outgoing::Pong));
            }
            (Input::Activity { gen }, Phase::Open { gen: g, timeout, .. }) if gen == g => {
                self.phase = Phase::Open { gen, last_heard: now, timeout };
            }
            (Input::Closed { gen, code, reason }, Phase::Opening { gen: g, .. } | Phase::Open { gen: g, .. }) if gen == g => {
                self.tell_unreachable(out);
                if codes::is_terminal(code) {
                    let reason = StopReason::Rejected { code, reason: reason.to_owned() };
                    self.teardown(Teardown::Stop(reason), out);
                } else {
                    self.teardown(Teardown::Retry, out);
                }
            }
            (Input::Fired(Timer::Retry), Phase::Waiting) => self.open(out),
            (Input::Fired(Timer::Connect), Phase::Opening { .. }) => {
                self.tell_unreachable(out);
                self.teardown(Teardown::Retry, out);
            }
            (Input::Fired(Timer::Heartbeat), Phase::Open { last_heard, timeout, .. }) => {
                let silent = now - last_heard;
                if silent >= timeout {
                    self.teardown(Teardown::Retry, out);
                } else {
                    out.push(Action::StartTimer(Timer::Heartbeat, timeout - silent));
                }
            }
            // Everything else is stale (an old socket's callback, a timer that lost a race)
            // or a no-op (connect while connected): ignored by design.
            _ => {}
        }
    }

    /// Reports a socket that ends before it opened, once (see [`Action::Unreachable`]).
    fn tell_unreachable(&mut self, out: &mut Vec<Action>) {
        if matches!(self.phase, Phase::Opening { open: false, .. }) && !self.told_unreachable {
            self.told_unreachable = true;
            out.push(Action::Unreachable);
        }
    }

    fn can_send_control(&self) -> bool {
        matches!(self.phase, Phase::Opening { open: true, .. } | Phase::Open { .. })
    }

    fn open(&mut self, out: &mut Vec<Action>) {
        self.gen = self.gen.wrapping_add(1);
        out.push(Action::Open { gen: self.gen });
        out.push(Action::StartTimer(Timer::Connect, self.config.connect_timeout_ms));
        self.set_phase(Phase::Opening { gen: self.gen, open: false }, out);
    }

    /// The one teardown path: close the socket, stop its timers, then retry or stop.
    fn teardown(&mut self, how: Teardown, out: &mut Vec<Action>) {
        if let Some(gen) = self.socket() {
            out.push(Action::Close { gen });
        }
        out.push(Action::StopTimer(Timer::Connect));
        out.push(Action::StopTimer(Timer::Heartbeat));
        out.push(Action::StopTimer(Timer::Refresh));
        let how = match how {
            Teardown::Retry if self.offline => Teardown::Stop(StopReason::Offline),
            Teardown::Retry if self.config.max_attempts.is_some_and(|max| self.attempts >= max) => {
                Teardown::Stop(StopReason::MaxAttempts { attempts: self.attempts })
            }
            other => other,
        };
        match how {
            Teardown::Retry => {
                let delay = self.config.backoff.delay(self.attempts, self.rng.next_f64());
                self.attempts += 1;
                out.push(Action::StartTimer(Timer::Retry, delay));
                self.set_phase(Phase::Waiting, out);
            }
            Teardown::Stop(reason) => {
                out.push(Action::StopTimer(Timer::Retry));
                self.reason = Some(reason);
                self.set_phase(Phase::Idle, out);
            }
        }
    }

    fn set_phase(&mut self, phase: Phase, out: &mut Vec<Action>) {
        let status = match phase {
            Phase::Idle => ConnectionStatus::Disconnected,
            Phase::Waiting | Phase::Opening { .. } if self.was_open => ConnectionStatus::Reconnecting,
            Phase::Waiting | Phase::Opening { .. } => ConnectionStatus::Connecting,
            Phase::Open { .. } => ConnectionStatus::Connected,
        };
        self.phase = phase;
        if status != self.status {
            self.status = status;
            out.push(Action::Status(status));
        }
    }
}

fn subscribe_frame(features: Vec<String>, positions: Vec<(String, Position)>) -> Action {
    Action::Send(Outgoing::Subscribe { features, positions })
}

/// Refreshes a token when a fifth of its life is left, at most 30 s before it expires, so a
/// slow token endpoint still answers in time.
fn schedule_refresh(token_ms: Option<f64>, out: &mut Vec<Action>) {
    match token_ms {
        Some(ms) => out.push(Action::StartTimer(Timer::Refresh, (ms - (ms / 5.0).min(30_000.0)).max(0.0))),
        None => out.push(Action::StopTimer(Timer::Refresh)),
    }
}

#[cfg(test)]
#[path = "connection_tests.rs"]
mod tests;
