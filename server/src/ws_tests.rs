//! The connection handler driven through a pair of channels on paused time: timeouts,
//! heartbeats and stalls are checked at their exact deadlines, without real waiting.

use super::*;
use crate::{origin, registry::Registry, Config, History};
use std::pin::Pin;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::{mpsc, watch, Semaphore};
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// The test's end of a connection: what the handler writes arrives in `outbox`; while
/// `stalled`, the handler's writes wait for ever, like a client that stopped reading.
struct TestSocket {
    inbox: mpsc::UnboundedReceiver<Message>,
    outbox: mpsc::UnboundedSender<Message>,
    stalled: Arc<AtomicBool>,
}

impl Socket for TestSocket {
    async fn write_out(&mut self, out: &mut Outgoing) -> Result<(), WsError> {
        for wire in out.take_rest() {
            let text = Utf8Bytes::try_from(crate::outbox::Wire::parse(wire)).expect("text frames");
            self.send(Message::Text(text)).await?;
        }
        Ok(())
    }
}

impl Stream for TestSocket {
    type Item = Result<Message, WsError>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inbox.poll_recv(cx).map(|m| m.map(Ok))
    }
}

impl Sink<Message> for TestSocket {
    type Error = WsError;
    fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        if self.stalled.load(Relaxed) {
            Poll::Pending
        } else {
            Poll::Ready(Ok(()))
        }
    }
    fn start_send(self: Pin<&mut Self>, msg: Message) -> Result<(), WsError> {
        let _ = self.outbox.send(msg);
        Ok(())
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        self.poll_ready(cx)
    }
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        Poll::Ready(Ok(()))
    }
}

struct Client {
    tx: mpsc::UnboundedSender<Message>,
    rx: mpsc::UnboundedReceiver<Message>,
    stalled: Arc<AtomicBool>,
    handler: tokio::task::JoinHandle<()>,
    state: AppState,
    /// Kept: a dropped sender reads as "shutting down".
    _running: watch::Sender<bool>,
}

/// A handler for one connection on a gateway with the given settings (not yet running), and
/// the client's end.
fn handler(config: Config) -> (impl Future<Output = ()> + Send, Client) {
    let hub = crate::Hub::new(Registry::default(), History { size: 100, ttl: Duration::from_secs(300) });
    let slots = Arc::new(Semaphore::new(10));
    let (running, shutdown) = watch::channel(false);
    let state = AppState(Arc::new(crate::State {
        config: Arc::new(config),
        hub,
        auth: None,
        origins: origin::Origins::parse("*").unwrap(),
        slots: slots.clone(),
        unauthenticated: Arc::new(Semaphore::new(10)),
        shutdown,
    }));
    let (tx, inbox) = mpsc::unbounded_channel();
    let (outbox, rx) = mpsc::unbounded_channel();
    let stalled = Arc::new(AtomicBool::new(false));
    let socket = TestSocket { inbox, outbox, stalled: stalled.clone() };
    let permit = slots.try_acquire_owned().unwrap();
    let run = Handler::run(socket, state.clone(), None, permit);
    (run, Client { tx, rx, stalled, handler: tokio::spawn(async {}), state, _running: running })
}

/// A handler for one connection, running, and the client's end.
fn connect(tweak: impl FnOnce(&mut Config)) -> Client {
    let mut config = Config::defaults();
    tweak(&mut config);
    let (run, mut client) = handler(config);
    client.handler = tokio::spawn(run);
    client
}

#[tokio::test]
async fn a_connection_keeps_at_most_1800_bytes_of_state_beside_its_socket() {
    // Every open connection holds this future for its whole life: at 3 KB it was 30 MB of the
    // gateway's 85 MB at 10 000 subscribers. (Arguments of an async fn and locals not scoped
    // to a block are kept for the whole life of the future: see `Handler::run`.)
    let (run, _client) = handler(Config::defaults());
    let own = std::mem::size_of_val(&run) - std::mem::size_of::<TestSocket>();
    assert!(own <= 1800, "{own} bytes");
}

impl Client {
    async fn next(&mut self) -> Message {
        self.rx.recv().await.expect("the handler wrote something")
    }

    /// The next text frame's type.
    async fn next_type(&mut self) -> String {
        match self.next().await {
            Message::Text(t) => serde_json::from_str::<Value>(&t).unwrap()["type"].as_str().unwrap().to_owned(),
            other => panic!("expected a text frame, got {other:?}"),
        }
    }

    async fn close_code(&mut self) -> u16 {
        loop {
            if let Message::Close(Some(frame)) = self.next().await {
                return u16::from(frame.code);
            }
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_silent_client_gets_heartbeats_then_is_closed_with_4000_at_the_connection_timeout() {
    let mut c = connect(|c| {
        c.heartbeat_interval = 1_000;
        c.connection_timeout = 3_500;
    });
    let start = Instant::now();
    assert_eq!(c.next_type().await, "welcome");
    for _ in 0..3 {
        assert_eq!(c.next_type().await, "heartbeat");
    }
    assert_eq!(c.close_code().await, codes::IDLE_TIMEOUT);
    // Checked at the first heartbeat tick past the timeout.
    assert_eq!(start.elapsed(), Duration::from_millis(4_000));
}

#[tokio::test(start_paused = true)]
async fn a_pong_keeps_the_connection_alive() {
    let mut c = connect(|c| {
        c.heartbeat_interval = 1_000;
        c.connection_timeout = 1_500;
    });
    assert_eq!(c.next_type().await, "welcome");
    for _ in 0..5 {
        assert_eq!(c.next_type().await, "heartbeat");
        c.tx.send(Message::Text(r#"{"type":"pong"}"#.into())).unwrap();
    }
    assert!(!c.handler.is_finished(), "five heartbeats answered: still open");
}

#[tokio::test(start_paused = true)]
async fn a_client_that_stops_reading_is_dropped_at_the_write_timeout_and_counted_once() {
    let mut c = connect(|c| {
        c.write_timeout = 2_000;
        c.heartbeat_interval = 500;
    });
    assert_eq!(c.next_type().await, "welcome");
    c.stalled.store(true, Relaxed);
    let start = Instant::now();
    (&mut c.handler).await.unwrap();
    // The stalled heartbeat write at 500 ms, its 2 s limit, then the close frame's own 2 s.
    assert_eq!(start.elapsed(), Duration::from_millis(4_500));
    let metrics = c.state.hub.metrics().render(&[], false);
    assert!(metrics.contains(r#"livestate_drops_total{reason="slow_consumer"} 1"#), "{metrics}");
}

#[tokio::test(start_paused = true)]
async fn pings_past_the_burst_close_the_connection_with_4002() {
    let mut c = connect(|c| {
        c.rate_limit = 1.0;
        c.rate_burst = 3.0;
    });
    assert_eq!(c.next_type().await, "welcome");
    for _ in 0..4 {
        c.tx.send(Message::Ping(Default::default())).unwrap();
    }
    assert_eq!(c.close_code().await, codes::RATE_LIMITED);
}

#[test]
fn a_write_cut_short_mid_frame_resumes_where_it_stopped() {
    let mut out = Outgoing { frames: vec![Bytes::from_static(b"abc"), Bytes::from_static(b"defg")], sent: 0, off: 0 };
    out.advance(2);
    assert_eq!((out.sent, out.off), (0, 2), "inside the first frame");
    out.advance(3);
    assert_eq!((out.sent, out.off), (1, 2), "past the first, inside the second");
    assert!(!out.is_done());
    assert_eq!(out.take_rest(), [Bytes::from_static(b"defg")], "the frame begun is still owed whole");
    let mut out = Outgoing { frames: vec![Bytes::from_static(b"abc")], sent: 0, off: 0 };
    out.advance(3);
    assert!(out.is_done());
}
