//! One browser connection: authenticate, then serve until the socket closes, goes silent,
//! falls behind, floods, outlives its token or the gateway shuts down. Every exit leaves
//! through the same cleanup (unsubscribe, forget the connection, release its slot).

use crate::auth::{AuthError, Identity};
use crate::hub::{encode, Publisher};
use crate::metrics::Drop;
use crate::outbox::Peer;
use crate::AppState;
use bytes::Bytes;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use livestate::protocol::{codes, validate_name, ClientFrame, ErrorFrame, Position, ServerFrame, Welcome};
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::io::IoSlice;
use std::sync::atomic::Ordering::Relaxed;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::OwnedSemaphorePermit;
use std::pin::Pin;
use tokio::time::{interval_at, sleep_until, Duration, Instant, MissedTickBehavior, Sleep};
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// Frames written per flush when the queue has a backlog: one syscall for many events.
const WRITE_BATCH: usize = 64;

/// What the handler needs of a socket: tungstenite's `WebSocketStream` over the upgraded
/// connection in the gateway, a pair of channels in the unit tests below (which run on paused
/// time, without waiting for real clocks).
pub(crate) trait Socket: Stream<Item = Result<Message, WsError>> + Sink<Message, Error = WsError> + Unpin + Send {
    /// Writes what is left of `out` and empties it; progress is kept in `out`, so a write cut
    /// short (by the write timeout) can be finished later.
    fn write_out(&mut self, out: &mut Outgoing) -> impl Future<Output = Result<(), WsError>> + Send;
}

/// Event frames are written straight to the connection, with one `writev` for a batch: the
/// hub made each frame's bytes (header included) once for every subscriber, so nothing is
/// copied per connection, and no write buffer grows per connection (tungstenite's kept the
/// size of the largest batch, about 5 KB per busy connection).
impl<S: AsyncRead + AsyncWrite + Unpin + Send> Socket for WebSocketStream<S> {
    async fn write_out(&mut self, out: &mut Outgoing) -> Result<(), WsError> {
        // What tungstenite holds (a pong, a reply) goes first, whole: frames never interleave.
        SinkExt::flush(self).await?;
        let io = self.get_mut();
        while !out.is_done() {
            let slices: Vec<IoSlice<'_>> = std::iter::once(&out.frames[out.sent][out.off..])
                .chain(out.frames[out.sent + 1..].iter().map(|f| &f[..]))
                .map(IoSlice::new)
                .collect();
            let n = io.write_vectored(&slices).await?;
            if n == 0 {
                return Err(std::io::Error::from(std::io::ErrorKind::WriteZero).into());
            }
            out.advance(n);
        }
        *out = Outgoing::default();
        Ok(())
    }
}

/// Event frames taken from the outbox and being written. A write cut short leaves the rest
/// here, to be finished before a close frame: the client must not see half a frame.
#[derive(Default)]
pub(crate) struct Outgoing {
    frames: Vec<Bytes>,
    /// Frames written whole, and bytes written of the next one.
    sent: usize,
    off: usize,
}

impl Outgoing {
    pub(crate) fn is_done(&self) -> bool {
        self.sent == self.frames.len()
    }

    fn advance(&mut self, mut n: usize) {
        while n > 0 {
            let left = self.frames[self.sent].len() - self.off;
            if n < left {
                self.off += n;
                return;
            }
            n -= left;
            self.sent += 1;
            self.off = 0;
        }
    }

    /// The frames not yet written (the unit tests' socket delivers them as messages).
    #[cfg(test)]
    pub(crate) fn take_rest(&mut self) -> Vec<Bytes> {
        let rest = self.frames.split_off(self.sent);
        *self = Outgoing::default();
        rest
    }
}

/// Why the loop ended; decides the close frame.
enum Exit {
    Gone,
    Close(u16, String),
}

/// A write the client must take within the write timeout: one that stalls means the client
/// stopped reading (its kernel buffer is full), and the connection ends as a slow consumer.
async fn write(limit: Duration, io: impl Future<Output = Result<(), WsError>>) -> Result<(), Exit> {
    match tokio::time::timeout(limit, io).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(Exit::Gone),
        Err(_) => Err(close(codes::SLOW_CONSUMER, "the client stopped reading")),
    }
}

fn close(code: u16, reason: impl Into<String>) -> Exit {
    Exit::Close(code, reason.into())
}

/// A close frame's payload is at most 125 bytes, 2 of them the code: a longer reason would
/// make a conforming client fail the connection (1002) and never see the code.
fn close_reason(mut reason: String) -> String {
    const MAX: usize = 123;
    if reason.len() > MAX {
        let mut end = MAX - 3;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
        reason.push_str("...");
    }
    reason
}

/// Why reading from the client failed, as the close the client gets.
fn read_error(state: &AppState, e: &WsError) -> Exit {
    match e {
        WsError::Capacity(CapacityError::MessageTooLong { .. }) => {
            state.hub.metrics().drop(Drop::TooBig);
            close(codes::MESSAGE_TOO_BIG, "message too big")
        }
        WsError::Utf8(_) => close(1007, "text frames must be valid UTF-8"),
        _ => close(1002, "protocol error"),
    }
}

/// Inbound rate limit: a token bucket refilled continuously.
struct Bucket {
    tokens: f64,
    last: Instant,
    rate: f64,
    burst: f64,
}

impl Bucket {
    fn take(&mut self) -> bool {
        let now = Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

pub(crate) struct Handler {
    id: u64,
    state: AppState,
    peer: Peer,
    identity: Identity,
    /// When the identity's token expires (computed once per token, not per frame).
    expires: Option<Instant>,
    features: HashSet<String>,
    bucket: Bucket,
    out: Outgoing,
}

/// A handler's task can be dropped mid-way (the runtime shutting down): its queue is closed
/// then too, so a turn it held in the line goes on.
impl std::ops::Drop for Handler {
    fn drop(&mut self) {
        self.peer.close();
    }
}

impl Handler {
    /// Runs one connection. `permit` holds its slot under the connection limit until it ends
    /// (with auth: its place among the sockets authenticating, exchanged for a slot once its
    /// token is accepted).
    ///
    /// An async block, not an async fn: this future lives as long as the connection, and an
    /// async fn keeps a copy of each argument for its whole life (the socket alone is 328
    /// bytes). For the same reason what authenticating leaves behind is scoped to a block.
    #[allow(clippy::manual_async_fn)] // on purpose: see above
    pub(crate) fn run(
        mut socket: impl Socket,
        state: AppState,
        query_token: Option<String>,
        mut permit: OwnedSemaphorePermit,
    ) -> impl Future<Output = ()> + Send {
        async move {
            let metrics = state.hub.metrics();
            metrics.connections.fetch_add(1, Relaxed);
            metrics.connections_total.fetch_add(1, Relaxed);
            let id = state.hub.next_connection_id();
            let mut shutdown = state.shutdown.clone();
            let mut resets = state.hub.resets();
            let (mut handler, mut exit) = {
                let authenticated = match authenticate(&mut socket, &state, query_token).await {
                    Ok(identity) if state.auth.is_some() => match state.slots.clone().try_acquire_owned() {
                        Ok(slot) => {
                            permit = slot;
                            Ok(identity)
                        }
                        Err(_) => {
                            metrics.drop(Drop::Full);
                            Err(close(codes::TRY_AGAIN_LATER, "the gateway is full; try again later"))
                        }
                    },
                    other => other,
                };
                match authenticated {
                    Ok(identity) => (Some(Handler::new(id, &state, identity)), None),
                    Err(exit) => (None, Some(exit)),
                }
            };
            let mut torn = false;
            if let Some(this) = handler.as_mut() {
                // Without auth everyone is "anonymous": the per-user limit would cap the whole
                // gateway, so only WEBSOCKET_MAX_CONNECTIONS applies then.
                let per_user = if state.auth.is_some() { state.config.max_connections_per_user } else { usize::MAX };
                exit = Some(if !state.hub.join(id, &this.identity.user_id, &this.peer, per_user) {
                    metrics.drop(Drop::UserLimit);
                    close(codes::TOO_MANY_CONNECTIONS, "too many connections for this user")
                } else {
                    tracing::debug!(conn = id, user = %this.identity.user_id, "connected");
                    let exit = this.serve(&mut socket, &mut shutdown, &mut resets).await;
                    this.peer.close();
                    state.hub.leave(id, this.features.drain());
                    // A close frame after half an event frame would be garbage to the client:
                    // finish that frame first, or leave without a close frame.
                    if matches!(exit, Exit::Close(..)) && !this.out.is_done() {
                        torn = write(state.config.write_timeout(), socket.write_out(&mut this.out)).await.is_err();
                    }
                    exit
                });
            }
            if let Some(Exit::Close(code, reason)) = exit {
                tracing::debug!(conn = id, code, %reason, "closing");
                if code == codes::SLOW_CONSUMER {
                    metrics.drop(Drop::SlowConsumer);
                }
                if torn {
                    tracing::debug!(conn = id, "no close frame: an event frame was left half written");
                } else {
                    // Bounded too: a client that stopped reading does not take its close frame either.
                    let frame = Message::Close(Some(CloseFrame { code: code.into(), reason: close_reason(reason).into() }));
                    let _ = write(state.config.write_timeout(), socket.send(frame)).await;
                }
            }
            metrics.connections.fetch_sub(1, Relaxed);
            drop(permit);
        }
    }

    fn new(id: u64, state: &AppState, identity: Identity) -> Self {
        let config = &state.config;
        Handler {
            id,
            state: state.clone(),
            peer: Peer::new(config.outbound_queue as usize, state.hub.turns()),
            expires: deadline(&identity),
            identity,
            features: HashSet::new(),
            bucket: Bucket { tokens: config.rate_burst, last: Instant::now(), rate: config.rate_limit, burst: config.rate_burst },
            out: Outgoing::default(),
        }
    }

    async fn serve(
        &mut self,
        socket: &mut impl Socket,
        shutdown: &mut tokio::sync::watch::Receiver<bool>,
        resets: &mut tokio::sync::watch::Receiver<u64>,
    ) -> Exit {
        let limit = self.state.config.write_timeout();
        // Scoped, so that the frame is not kept for the connection's life.
        {
            let welcome = ServerFrame::<Value>::Welcome(Welcome {
                connection_id: self.id.to_string(),
                heartbeat: self.state.config.heartbeat_interval,
                token_expires_in: self.identity.expires_in_ms(),
            });
            if let Err(exit) = write(limit, socket.send(Message::Text(encode(&welcome)))).await {
                return exit;
            }
        }
        let period = self.state.config.heartbeat();
        let mut heartbeat = interval_at(Instant::now() + period, period);
        heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut last_heard = Instant::now();
        let outbox = self.peer.clone();
        let woken = outbox.woken();
        // The rarely-firing futures live across iterations: re-creating them on every wakeup
        // (one per delivered frame) was a measurable share of the fan-out's CPU.
        let shutdown_changed = shutdown.changed();
        let resets_changed = resets.changed();
        // Boxed, and only with a token that expires: a timer is 112 bytes.
        let mut expiry = None;
        let mut expiry_sleep: Option<Pin<Box<Sleep>>> = None;
        tokio::pin!(woken, shutdown_changed, resets_changed);
        loop {
            // Back in the loop: frames queued meanwhile get in line for a turn.
            outbox.ready();
            if self.expires != expiry {
                expiry = self.expires;
                expiry_sleep = expiry.map(|at| Box::pin(sleep_until(at)));
            }
            tokio::select! {
                msg = socket.next() => {
                    // Answering may wait (on the client, on Redis): no turn is held meanwhile.
                    outbox.away();
                    last_heard = Instant::now();
                    // Every message counts against the rate limit, pings and binary frames too:
                    // each one costs the gateway work (a pong, an error frame).
                    if matches!(msg, Some(Ok(Message::Text(_) | Message::Binary(_) | Message::Ping(_) | Message::Pong(_)))) && !self.bucket.take() {
                        self.state.hub.metrics().drop(Drop::RateLimited);
                        return close(codes::RATE_LIMITED, "too many messages");
                    }
                    let replies = match msg {
                        // Boxed: a subscribe may wait on Redis, and that future inlined here
                        // would be carried by every connection for its whole life.
                        Some(Ok(Message::Text(t))) => match Box::pin(self.on_text(&t)).await {
                            Ok(replies) => replies,
                            Err(exit) => return exit,
                        },
                        Some(Ok(Message::Binary(_))) => vec![error(codes::error::BAD_FRAME, "binary frames are not supported; send JSON text", None)],
                        // (Frame is what a writer sends raw; reading never yields it.)
                        Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => vec![],
                        // tungstenite has queued the answer to the client's close frame (its code,
                        // or 1002 for a code not allowed on the wire): send it, then leave.
                        Some(Ok(Message::Close(_))) => {
                            let _ = write(limit, socket.flush()).await;
                            return Exit::Gone;
                        }
                        None => return Exit::Gone,
                        Some(Err(e)) => return read_error(&self.state, &e),
                    };
                    for reply in replies {
                        if let Err(exit) = write(limit, socket.send(reply)).await {
                            return exit;
                        }
                    }
                }
                _ = &mut woken => {
                    woken.set(outbox.woken());
                    let turn = outbox.take(&mut self.out.frames, WRITE_BATCH);
                    if turn.slow {
                        return close(codes::SLOW_CONSUMER, "outbound queue full");
                    }
                    if !self.out.is_done() {
                        // One deadline for the whole batch: a timer per frame was a measurable
                        // share of the fan-out's CPU (a clock read each).
                        if let Err(exit) = write(limit, socket.write_out(&mut self.out)).await {
                            return exit;
                        }
                    }
                    if !turn.gaps.is_empty() {
                        if let Err(exit) = write(limit, socket.send(Message::Text(encode(&ServerFrame::Gap { features: turn.gaps })))).await {
                            return exit;
                        }
                    }
                }
                _ = heartbeat.tick() => {
                    outbox.away();
                    if last_heard.elapsed() >= self.state.config.idle_timeout() {
                        return close(codes::IDLE_TIMEOUT, "no message within the connection timeout");
                    }
                    if let Err(exit) = write(limit, socket.send(Message::Text(encode(&ServerFrame::Heartbeat)))).await {
                        return exit;
                    }
                }
                _ = async { expiry_sleep.as_mut().expect("a deadline").await }, if expiry_sleep.is_some() => {
                    self.state.hub.metrics().auth_failures.fetch_add(1, Relaxed);
                    return close(codes::UNAUTHORIZED, "token expired");
                }
                _ = &mut shutdown_changed => return close(codes::GOING_AWAY, "gateway shutting down"),
                _ = &mut resets_changed => return close(codes::GOING_AWAY, "disconnected by the gateway's operator"),
            }
        }
    }

    /// Handles one client frame: the replies to send, or why to close.
    async fn on_text(&mut self, raw: &str) -> Result<Vec<Message>, Exit> {
        let frame = match crate::parse_client_frame(raw) {
            Ok(f) => f,
            Err(e) => return Ok(vec![error(codes::error::BAD_FRAME, &e, None)]),
        };
        Ok(match frame {
            ClientFrame::Pong {} => vec![],
            ClientFrame::Auth { token } => self.reauthenticate(&token)?,
            ClientFrame::Subscribe { features, positions, info } => self.subscribe(features, &positions, info).await,
            ClientFrame::Unsubscribe { features } => {
                for f in &features {
                    if self.features.remove(f) {
                        self.state.hub.unsubscribe(f, self.id);
                    }
                }
                vec![text(&ServerFrame::Unsubscribed { features })]
            }
            ClientFrame::Publish(event) => {
                let names = [("feature", &event.feature), ("entity", &event.entity), ("action", &event.action)];
                if let Some(e) = names.iter().find_map(|(field, name)| validate_name(field, name).err()) {
                    return Ok(vec![error(codes::error::BAD_NAME, &e.to_string(), Some(event.feature))]);
                }
                if !self.identity.can_publish(&event.feature) {
                    return Ok(vec![error(
                        codes::error::PUBLISH_FORBIDDEN,
                        "this connection may not publish to this feature",
                        Some(event.feature),
                    )]);
                }
                let from = Publisher {
                    user_id: self.identity.user_id.clone(),
                    session_id: self.identity.session_id.clone().unwrap_or_else(|| self.id.to_string()),
                };
                let feature = event.feature.clone();
                match self.state.hub.publish(event, &from) {
                    Ok(_) => vec![],
                    Err(e) => vec![error(codes::error::UNKNOWN_NAME, &e.message, Some(feature))],
                }
            }
            ClientFrame::Relay { feature, raw } => {
                if !self.state.config.test_relay_raw {
                    return Ok(vec![error(codes::error::UNKNOWN_TYPE, "relay frames are disabled on this gateway", None)]);
                }
                self.state.hub.relay(&feature, raw.into());
                vec![]
            }
        })
    }

    /// Each refused feature gets its own error; the others are subscribed, and the events
    /// missed since a given position are replayed before the `subscribed` reply, as is the
    /// presence of features that keep one (with `info`, this connection's, shown to others).
    async fn subscribe(&mut self, features: Vec<String>, positions: &BTreeMap<String, Position>, info: Option<Value>) -> Vec<Message> {
        let mut replies = Vec::new();
        let mut streams = BTreeMap::new();
        let named = features.len();
        let mut ok = Vec::with_capacity(features.len());
        let mut seen = HashSet::new();
        let info_bytes = info.as_ref().map_or(0, |i| i.to_string().len());
        // A feature named twice is subscribed (and replayed) once.
        for f in features.into_iter().filter(|f| seen.insert(f.clone())) {
            let known = self.state.hub.registry().feature(&f).map(|def| def.presence);
            let presence = known.as_ref().ok().copied().flatten();
            let refusal = if let Err(e) = validate_name("feature", &f) {
                Some((codes::error::BAD_NAME, e.to_string()))
            } else if let Err(e) = known.and_then(|_| self.state.hub.admits(&f)) {
                Some((codes::error::UNKNOWN_NAME, e.message))
            } else if !self.identity.can_read(&f) {
                Some((codes::error::FORBIDDEN, format!("this connection may not read {f:?}")))
            } else {
                presence.filter(|p| info_bytes > p.max_info_bytes).map(|p| {
                    (codes::error::TOO_BIG, format!("presence info is {info_bytes} bytes; {f:?} takes at most {}", p.max_info_bytes))
                })
            };
            if let Some((code, message)) = refusal {
                replies.push(error(code, &message, Some(f)));
                continue;
            }
            let fresh = self.features.insert(f.clone());
            let (replay, stream) = self.state.hub.subscribe(&f, self.id, &self.peer, positions.get(&f)).await;
            replies.extend(replay.into_iter().map(Message::Text));
            if let Some(stream) = stream {
                streams.insert(f.clone(), stream);
            }
            if let Some(p) = presence.filter(|_| fresh) {
                let member = crate::presence::member_json(self.id, &self.identity.user_id, info.clone());
                let watch = self.identity.can_see_presence(&f);
                let (frames, listed) = self.state.hub.enter_presence(&f, self.id, &self.peer, member, watch, p.max_members).await;
                replies.extend(frames.into_iter().map(Message::Text));
                if !listed {
                    let why = format!("subscribed, but not listed: {f:?} has its most members ({})", p.max_members);
                    replies.push(error(codes::error::PRESENCE_FULL, &why, Some(f.clone())));
                }
            }
            ok.push(f);
        }
        // Answered with the features subscribed, also when none was named; a feature refused
        // gets its error instead.
        if !ok.is_empty() || named == 0 {
            replies.push(text(&ServerFrame::Subscribed { features: ok, streams }));
        }
        replies
    }

    /// A fresh token on an open connection: same user, new expiry, possibly new permissions.
    fn reauthenticate(&mut self, token: &str) -> Result<Vec<Message>, Exit> {
        let Some(auth) = &self.state.auth else { return Ok(vec![]) }; // auth off: tokens are ignored
        let identity = match auth.verify(token) {
            Ok(i) if i.user_id == self.identity.user_id => i,
            Ok(_) => return Err(self.refuse(AuthError::Invalid("the token is for another user".into()))),
            Err(e) => return Err(self.refuse(e)),
        };
        self.expires = deadline(&identity);
        self.identity = identity;
        let mut replies = Vec::new();
        let lost: Vec<String> = self.features.iter().filter(|f| !self.identity.can_read(f)).cloned().collect();
        for f in lost {
            self.features.remove(&f);
            self.state.hub.unsubscribe(&f, self.id);
            replies.push(error(codes::error::FORBIDDEN, "the new token does not allow this feature", Some(f)));
        }
        // A feature still read but whose presence the new token hides: no more joins and leaves.
        for f in self.features.iter().filter(|f| !self.identity.can_see_presence(f)) {
            self.state.hub.unwatch(f, self.id);
        }
        replies.push(text(&ServerFrame::Authenticated { token_expires_in: self.identity.expires_in_ms() }));
        Ok(replies)
    }

    fn refuse(&self, e: AuthError) -> Exit {
        self.state.hub.metrics().auth_failures.fetch_add(1, Relaxed);
        close(codes::UNAUTHORIZED, e.to_string())
    }
}

/// Finds out who is connecting: from `?token=`, or from the first frame, which must be `auth`
/// and arrive within the auth timeout. Without auth configured, everyone is anonymous.
async fn authenticate(socket: &mut impl Socket, state: &AppState, query_token: Option<String>) -> Result<Identity, Exit> {
    let Some(auth) = &state.auth else { return Ok(Identity::anonymous(state.config.client_publish)) };
    let fail = |e: AuthError| {
        state.hub.metrics().auth_failures.fetch_add(1, Relaxed);
        tracing::info!(reason = %e, "authentication failed");
        close(codes::UNAUTHORIZED, e.to_string())
    };
    let token = match query_token {
        Some(t) => t,
        None => match tokio::time::timeout(state.config.auth_timeout(), socket.next()).await {
            Err(_) => return Err(fail(AuthError::Missing)),
            Ok(Some(Err(e))) => return Err(read_error(state, &e)),
            Ok(None) => return Err(Exit::Gone),
            Ok(Some(Ok(Message::Text(t)))) => match serde_json::from_str::<ClientFrame<Value>>(&t) {
                Ok(ClientFrame::Auth { token }) => token,
                _ => return Err(fail(AuthError::Missing)),
            },
            Ok(Some(Ok(_))) => return Err(fail(AuthError::Missing)),
        },
    };
    auth.verify(&token).map_err(fail)
}

fn deadline(identity: &Identity) -> Option<Instant> {
    identity.expires_in_ms().map(|ms| Instant::now() + Duration::from_millis(ms))
}

fn text(frame: &ServerFrame<Value>) -> Message {
    Message::Text(encode(frame))
}

fn error(code: &str, message: &str, feature: Option<String>) -> Message {
    text(&ServerFrame::Error(ErrorFrame { code: code.into(), message: message.into(), feature }))
}

#[cfg(test)]
#[path = "ws_tests.rs"]
mod tests;
