//! One browser connection: a handler that owns the socket, its outbound queue and its
//! subscriptions, and runs until the socket closes, goes silent, falls behind or the gateway
//! shuts down. Every exit leaves through the same cleanup.

use crate::hub::{Peer, Publisher};
use crate::AppState;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::SinkExt;
use livestate::protocol::{codes, validate_name, ClientFrame, ErrorFrame, ServerFrame, Welcome};
use serde_json::Value;
use std::collections::HashSet;
use std::sync::Arc;
use tokio::sync::{mpsc, Notify};
use tokio::time::{interval_at, Instant, MissedTickBehavior};

/// Frames written per flush when the queue has a backlog: one syscall for many events.
const WRITE_BATCH: usize = 64;

pub(crate) struct Handler {
    id: u64,
    state: AppState,
    peer: Peer,
    features: HashSet<String>,
}

/// Why the loop ended; decides the close frame.
enum Exit {
    Gone,
    Close(u16, &'static str),
}

impl Handler {
    pub(crate) async fn run(mut socket: WebSocket, state: AppState) {
        let id = state.hub.next_connection_id();
        let (tx, mut rx) = mpsc::channel(state.config.outbound_queue as usize);
        let peer = Peer { tx, slow: Arc::new(Notify::new()) };
        let mut shutdown = state.shutdown.clone();
        let mut this = Handler { id, state, peer, features: HashSet::new() };
        tracing::debug!(conn = id, "connected");

        let welcome = ServerFrame::<Value>::Welcome(Welcome {
            connection_id: id.to_string(),
            heartbeat: this.state.config.heartbeat_interval,
        });
        let exit = if socket.send(text(&welcome)).await.is_err() {
            Exit::Gone
        } else {
            this.serve(&mut socket, &mut rx, &mut shutdown).await
        };

        if let Exit::Close(code, reason) = exit {
            let frame = CloseFrame { code, reason: reason.into() };
            let _ = socket.send(Message::Close(Some(frame))).await;
        }
        for f in this.features.drain() {
            this.state.hub.unsubscribe(&f, id);
        }
        tracing::debug!(conn = id, "disconnected");
    }

    async fn serve(
        &mut self,
        socket: &mut WebSocket,
        rx: &mut mpsc::Receiver<Utf8Bytes>,
        shutdown: &mut tokio::sync::watch::Receiver<bool>,
    ) -> Exit {
        let period = self.state.config.heartbeat();
        let mut heartbeat = interval_at(Instant::now() + period, period);
        heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut last_heard = Instant::now();
        let slow = self.peer.slow.clone();
        loop {
            tokio::select! {
                msg = socket.recv() => {
                    last_heard = Instant::now();
                    match msg {
                        Some(Ok(Message::Text(t))) => {
                            for reply in self.on_text(&t) {
                                if socket.send(reply).await.is_err() {
                                    return Exit::Gone;
                                }
                            }
                        }
                        Some(Ok(Message::Binary(_))) => {
                            let reply = error(livestate::protocol::codes::error::BAD_FRAME, "binary frames are not supported; send JSON text", None);
                            if socket.send(reply).await.is_err() {
                                return Exit::Gone;
                            }
                        }
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                        Some(Ok(Message::Close(_))) | None => return Exit::Gone,
                        Some(Err(e)) => {
                            tracing::debug!(conn = self.id, error = %e, "read failed");
                            return Exit::Close(codes::MESSAGE_TOO_BIG, "message too big or malformed");
                        }
                    }
                }
                Some(frame) = rx.recv() => {
                    if socket.feed(Message::Text(frame)).await.is_err() {
                        return Exit::Gone;
                    }
                    for _ in 1..WRITE_BATCH {
                        let Ok(frame) = rx.try_recv() else { break };
                        if socket.feed(Message::Text(frame)).await.is_err() {
                            return Exit::Gone;
                        }
                    }
                    if socket.flush().await.is_err() {
                        return Exit::Gone;
                    }
                }
                _ = heartbeat.tick() => {
                    if last_heard.elapsed() >= self.state.config.idle_timeout() {
                        return Exit::Close(codes::IDLE_TIMEOUT, "no message within the connection timeout");
                    }
                    if socket.send(text(&ServerFrame::<Value>::Heartbeat)).await.is_err() {
                        return Exit::Gone;
                    }
                }
                _ = slow.notified() => return Exit::Close(codes::SLOW_CONSUMER, "outbound queue full"),
                _ = shutdown.changed() => return Exit::Close(codes::GOING_AWAY, "gateway shutting down"),
            }
        }
    }

    /// Handles one client frame; returns the replies to send.
    fn on_text(&mut self, raw: &str) -> Vec<Message> {
        let frame: ClientFrame<Value> = match serde_json::from_str(raw) {
            Ok(f) => f,
            Err(e) => return vec![error(codes::error::BAD_FRAME, &format!("invalid frame: {e}"), None)],
        };
        match frame {
            ClientFrame::Pong => vec![],
            // Tokens are checked once auth lands (issue 4); until then any token is accepted.
            ClientFrame::Auth { .. } => vec![],
            ClientFrame::Subscribe { features } => {
                // Each bad name gets its own error; the good ones are still subscribed.
                let mut replies = Vec::new();
                let mut ok = Vec::with_capacity(features.len());
                for f in features {
                    if let Err(e) = validate_name("feature", &f) {
                        replies.push(error(codes::error::BAD_NAME, &e.to_string(), Some(f)));
                        continue;
                    }
                    if self.features.insert(f.clone()) {
                        self.state.hub.subscribe(&f, self.id, &self.peer);
                    }
                    ok.push(f);
                }
                if !ok.is_empty() {
                    replies.push(text(&ServerFrame::<Value>::Subscribed { features: ok }));
                }
                replies
            }
            ClientFrame::Unsubscribe { features } => {
                for f in &features {
                    if self.features.remove(f) {
                        self.state.hub.unsubscribe(f, self.id);
                    }
                }
                vec![text(&ServerFrame::<Value>::Unsubscribed { features })]
            }
            ClientFrame::Publish(event) => {
                if !self.state.config.client_publish {
                    return vec![error(codes::error::PUBLISH_FORBIDDEN, "this gateway does not accept events from clients", Some(event.feature))];
                }
                let from = Publisher { user_id: "anonymous".into(), session_id: self.id.to_string() };
                let feature = event.feature.clone();
                match self.state.hub.publish(event, &from) {
                    Ok(_) => vec![],
                    Err(e) => vec![error(codes::error::BAD_NAME, &e.to_string(), Some(feature))],
                }
            }
            ClientFrame::Relay { feature, raw } => {
                if !self.state.config.test_relay_raw {
                    return vec![error(codes::error::UNKNOWN_TYPE, "relay frames are disabled on this gateway", None)];
                }
                self.state.hub.relay(&feature, raw.into());
                vec![]
            }
        }
    }
}

fn text(frame: &ServerFrame<Value>) -> Message {
    Message::Text(serde_json::to_string(frame).expect("frames always serialise").into())
}

fn error(code: &str, message: &str, feature: Option<String>) -> Message {
    text(&ServerFrame::Error(ErrorFrame { code: code.into(), message: message.into(), feature }))
}
