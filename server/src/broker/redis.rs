//! Scale-out over Redis (`--broker redis://…`). Each feature is one stream shared by every node:
//! a Lua script assigns the next sequence number, appends the frame to a capped Redis Stream
//! (history by count and TTL) and publishes it on the feature's channel, atomically (the model
//! is Centrifugo's `broker_history_add_stream.lua`). The epoch lives in Redis beside the
//! sequence number, so it survives node restarts and changes only when Redis loses the stream.
//! Each node subscribes to the channels of the features its own clients want, and relays them.
//! Losing Redis never closes a client: the node reports itself unhealthy, retries with
//! backoff, and when Redis is back tells its clients they have a gap, so they recover.

use super::{batch_frames, frame_priority, new_epoch, Attached, History, Relay, REPLAY_FRAME};
use crate::metrics::Drop;
use futures_util::StreamExt;
use livestate::protocol::{Position as ClientPosition, StreamState};
use redis::aio::MultiplexedConnection;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// Both scripts start here: the stream's epoch, created (from ARGV[1]) if Redis has none, which
/// is exactly when the stream was lost. KEYS[1] is the meta hash.
macro_rules! with_epoch {
    ($rest:literal) => {
        concat!(
            "local epoch = redis.call('HGET', KEYS[1], 'e')\n",
            "if not epoch then\n  epoch = ARGV[1]\n  redis.call('HSET', KEYS[1], 'e', epoch)\nend\n",
            $rest
        )
    };
}

/// Publishes one feature's events, numbered in order and sent to subscribers as one frame (a
/// batch when there are several). KEYS: meta hash, stream. ARGV: an epoch to use if there is
/// none, MAXLEN, stream TTL (s), channel, now (ms), meta TTL (s), then each message's JSON
/// after its opening brace.
const PUBLISH: &str = with_epoch!(
    r#"
local frames = {}
for i = 7, #ARGV do
  local seq = redis.call('HINCRBY', KEYS[1], 's', 1)
  if seq == 1 then redis.call('DEL', KEYS[2]) end
  local frame = '{"type":"event","seq":' .. seq .. ',"epoch":"' .. epoch .. '",' .. ARGV[i]
  redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[2], seq .. '-1', 't', ARGV[5], 'd', frame)
  frames[#frames + 1] = frame
end
redis.call('EXPIRE', KEYS[2], ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[6])
if #frames == 1 then
  redis.call('PUBLISH', ARGV[4], frames[1])
else
  redis.call('PUBLISH', ARGV[4], '{"type":"batch","events":[' .. table.concat(frames, ',') .. ']}')
end
return #frames
"#
);

/// A stream's position, and the frames after `from` when asked. KEYS: meta hash, stream. ARGV:
/// an epoch to use if there is none, meta TTL (s), from (-1 for none), most entries to return.
/// Returns {epoch, top, t1, frame1, t2, frame2, ...}.
const POSITION: &str = with_epoch!(
    r#"
redis.call('EXPIRE', KEYS[1], ARGV[2])
local top = tonumber(redis.call('HGET', KEYS[1], 's') or '0')
local out = {epoch, top}
local from = tonumber(ARGV[3])
if from >= 0 and from < top then
  local entries = redis.call('XRANGE', KEYS[2], (from + 1) .. '-0', '+', 'COUNT', ARGV[4])
  for _, entry in ipairs(entries) do
    local fields = entry[2]
    local t, d
    for i = 1, #fields, 2 do
      if fields[i] == 't' then t = fields[i + 1] elseif fields[i] == 'd' then d = fields[i + 1] end
    end
    table.insert(out, t)
    table.insert(out, d)
  end
end
return out
"#
);

/// How long a feature's epoch and sequence number outlive its last event.
const META_TTL_SECS: u64 = 7 * 24 * 3600;
/// Events waiting for Redis; beyond this, new ones are dropped and counted.
const QUEUE: usize = 10_000;

fn meta_key(feature: &str) -> String {
    format!("livestate:{{{feature}}}:meta")
}
fn stream_key(feature: &str) -> String {
    format!("livestate:{{{feature}}}:stream")
}
pub(super) fn channel(feature: &str) -> String {
    format!("livestate:{{{feature}}}:events")
}
fn feature_of(channel: &str) -> Option<&str> {
    channel.strip_prefix("livestate:{")?.strip_suffix("}:events")
}

/// A stream's position as Redis holds it, with the frames after the asked position.
struct Position {
    epoch: String,
    top: u64,
    /// (stored at, ms since the Unix epoch; frame)
    frames: Vec<(u64, String)>,
}

/// One feature's events to publish: feature, bodies, and who waits for them to be in Redis.
type Job = (String, Vec<String>, oneshot::Sender<()>);

enum Control {
    Subscribe(String, oneshot::Sender<()>),
    Unsubscribe(String),
}

/// Streams shared through Redis.
pub(crate) struct Redis {
    client: redis::Client,
    /// The hub, once [`spawn`] has run.
    relay: OnceLock<Weak<dyn Relay>>,
    /// The background tasks' ends, taken by [`spawn`].
    tasks: Mutex<Option<(mpsc::Receiver<Job>, mpsc::UnboundedReceiver<Control>)>>,
    conn: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    up: AtomicBool,
    history: History,
    jobs: mpsc::Sender<Job>,
    control: mpsc::UnboundedSender<Control>,
    /// Features whose channel this node listens to.
    channels: Mutex<HashSet<String>>,
    publish: redis::Script,
    position: redis::Script,
    /// Presence and targeted sends, done in order by one task (src/broker/presence.rs).
    pub(super) presence: super::shared_presence::Presence,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis").field("up", &self.up.load(Ordering::Relaxed)).finish_non_exhaustive()
    }
}

pub(super) fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis() as u64
}

impl Redis {
    /// Checks the URL; the connection itself is made (and remade) in the background.
    pub(super) fn new(url: &str, history: History, presence_ttl: Duration) -> Result<Arc<Self>, String> {
        let client = redis::Client::open(url).map_err(|e| format!("--broker {url:?}: {e}"))?;
        let (jobs, jobs_rx) = mpsc::channel(QUEUE);
        let (control, control_rx) = mpsc::unbounded_channel();
        Ok(Arc::new(Redis {
            client,
            relay: OnceLock::new(),
            tasks: Mutex::new(Some((jobs_rx, control_rx))),
            conn: tokio::sync::Mutex::new(None),
            up: AtomicBool::new(false),
            history,
            jobs,
            control,
            channels: Mutex::default(),
            publish: redis::Script::new(PUBLISH),
            position: redis::Script::new(POSITION),
            presence: super::shared_presence::Presence::new(presence_ttl),
        }))
    }

    /// Whether Redis answered the last time it was asked.
    pub(super) fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    pub(super) fn relay(&self) -> Option<Arc<dyn Relay>> {
        self.relay.get()?.upgrade()
    }

    fn set_up(&self, up: bool) {
        if self.up.swap(up, Ordering::Relaxed) != up {
            if let Some(relay) = self.relay() {
                relay.metrics().broker_up.store(up, Ordering::Relaxed);
            }
            if up {
                tracing::info!("broker: connected to Redis");
            } else {
                tracing::warn!("broker: Redis unreachable; retrying");
            }
        }
    }

    /// Queues one feature's events for publishing (in order). `bodies` are the messages' JSON
    /// after their `{`. The receiver hears once the events are in Redis, and errs if they never
    /// get there.
    pub(super) fn enqueue(&self, feature: &str, bodies: Vec<String>, relay: &dyn Relay) -> oneshot::Receiver<()> {
        let (done, receipt) = oneshot::channel();
        let count = bodies.len() as u64;
        if self.jobs.try_send((feature.to_owned(), bodies, done)).is_err() {
            for _ in 0..count {
                relay.metrics().drop(Drop::Broker);
            }
        }
        receipt
    }

    /// A connection for commands, made on first use and after a failure.
    pub(super) async fn connection(&self) -> redis::RedisResult<MultiplexedConnection> {
        let mut slot = self.conn.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let c = self.client.get_multiplexed_async_connection().await?;
        *slot = Some(c.clone());
        Ok(c)
    }

    pub(super) async fn forget_connection(&self) {
        *self.conn.lock().await = None;
    }

    /// Makes sure this node listens to `feature`'s channel, so that nothing published after
    /// this returns is missed. Times out (false) while Redis is away.
    async fn listen(&self, feature: &str) -> bool {
        // Always through the listener task, even when already listening: a pending unsubscribe
        // of the same feature (its last subscriber just left) is then undone in order.
        let (tx, rx) = oneshot::channel();
        if self.control.send(Control::Subscribe(feature.to_owned(), tx)).is_err() {
            return false;
        }
        tokio::time::timeout(Duration::from_secs(2), rx).await.is_ok_and(|r| r.is_ok())
    }

    /// Stops listening to `feature` (its last local subscriber left).
    pub(super) fn stop_listening(&self, feature: &str) {
        let _ = self.control.send(Control::Unsubscribe(feature.to_owned()));
    }

    /// The stream's epoch and top sequence number, and the frames after `from` (at most the
    /// history size), read atomically.
    async fn position(&self, feature: &str, from: Option<u64>) -> Option<Position> {
        // A second try on a fresh connection: after a Redis restart the cached one is dead.
        let mut result = self.read_position(feature, from).await;
        if result.is_err() {
            self.forget_connection().await;
            result = self.read_position(feature, from).await;
        }
        match result {
            Ok(values) => {
                self.set_up(true);
                let mut it = values.into_iter();
                let epoch: String = redis::from_redis_value(it.next()?).ok()?;
                let top: u64 = redis::from_redis_value(it.next()?).ok()?;
                let mut frames = Vec::new();
                while let (Some(t), Some(d)) = (it.next(), it.next()) {
                    frames.push((redis::from_redis_value::<u64>(t).ok()?, redis::from_redis_value::<String>(d).ok()?));
                }
                Some(Position { epoch, top, frames })
            }
            Err(e) => {
                tracing::debug!("broker: position of {feature}: {e}");
                self.forget_connection().await;
                self.set_up(false);
                None
            }
        }
    }

    async fn read_position(&self, feature: &str, from: Option<u64>) -> redis::RedisResult<Vec<redis::Value>> {
        let mut conn = self.connection().await?;
        self.position
            .key(meta_key(feature))
            .key(stream_key(feature))
            .arg(new_epoch())
            .arg(META_TTL_SECS)
            .arg(from.map_or(-1, |f| f as i64))
            .arg(self.history.size)
            .invoke_async(&mut conn)
            .await
    }

    /// The oldest time (ms since the Unix epoch) an event may have been stored at to be replayed.
    fn oldest_replayable(&self) -> u64 {
        now_ms().saturating_sub(self.history.ttl.as_millis() as u64)
    }

    /// Subscribes from `from`, reading the stream's position and the events missed since then
    /// from Redis. `join` runs first, so live frames that arrive meanwhile reach the hub, which
    /// holds them and sends those after the position once this returns: nothing falls between
    /// the replay and the live stream. While Redis is away the subscription still counts: the
    /// stream state is `None`, and a gap once Redis is back brings the client up to date.
    pub(super) async fn attach(&self, feature: &str, from: Option<&ClientPosition>, join: impl FnOnce()) -> Attached {
        join();
        let position = match self.listen(feature).await {
            true => self.position(feature, from.map(|p| p.seq)).await,
            false => None,
        };
        let Some(position) = position else { return Attached { replay: Vec::new(), stream: None } };
        let (mut replay, mut recovered) = (Vec::new(), None);
        if let Some(from) = from {
            let missed = position.top.saturating_sub(from.seq);
            let fresh = position.frames.first().is_none_or(|(at, _)| *at >= self.oldest_replayable());
            let ok = from.epoch == position.epoch && from.seq <= position.top && position.frames.len() as u64 == missed && fresh;
            recovered = Some(ok);
            if ok && missed > 0 {
                let frames: Vec<Utf8Bytes> = position.frames.into_iter().map(|(_, f)| f.into()).collect();
                replay = batch_frames(frames.iter(), REPLAY_FRAME);
            }
        }
        Attached { replay, stream: Some(StreamState { epoch: position.epoch, seq: position.top, recovered }) }
    }
}

/// Starts the publisher and the channel listener. They hold the hub and the broker weakly, and
/// end when the hub is dropped.
pub(super) fn spawn(redis: &Arc<Redis>, relay: Weak<dyn Relay>) {
    let Some((jobs, control)) = redis.tasks.lock().unwrap_or_else(|e| e.into_inner()).take() else { return };
    let _ = redis.relay.set(relay);
    tokio::spawn(publisher(Arc::downgrade(redis), jobs));
    tokio::spawn(listener(Arc::downgrade(redis), control));
    super::shared_presence::spawn(redis);
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis((100u64 << attempt.min(5)).min(3000))
}

/// Publishes queued events in order, a pipeline of up to 64 at a time, retrying with backoff
/// while Redis is away (a batch that failed half-way may then be published twice).
async fn publisher(broker: Weak<Redis>, mut jobs: mpsc::Receiver<Job>) {
    let mut batch = Vec::new();
    while jobs.recv_many(&mut batch, 64).await > 0 {
        let mut attempt = 0;
        loop {
            let Some(broker) = broker.upgrade().filter(|b| b.relay().is_some()) else { return };
            let result: redis::RedisResult<()> = async {
                let mut conn = broker.connection().await?;
                // Load the script (again after a Redis restart), then EVALSHA in one pipeline.
                let _: String = redis::cmd("SCRIPT").arg("LOAD").arg(PUBLISH).query_async(&mut conn).await?;
                let mut pipe = redis::pipe();
                let now = now_ms();
                for (feature, bodies, _) in &batch {
                    pipe.cmd("EVALSHA")
                        .arg(broker.publish.get_hash())
                        .arg(2)
                        .arg(meta_key(feature))
                        .arg(stream_key(feature))
                        .arg(new_epoch())
                        .arg(broker.history.size)
                        .arg(broker.history.ttl.as_secs().max(1))
                        .arg(channel(feature))
                        .arg(now)
                        .arg(META_TTL_SECS)
                        .arg(bodies)
                        .ignore();
                }
                pipe.query_async(&mut conn).await
            }
            .await;
            match result {
                Ok(()) => {
                    broker.set_up(true);
                    for (_, _, done) in batch.drain(..) {
                        let _ = done.send(());
                    }
                    break;
                }
                Err(e) => {
                    tracing::debug!("broker: publish failed: {e}");
                    broker.forget_connection().await;
                    broker.set_up(false);
                    drop(broker);
                    tokio::time::sleep(backoff(attempt)).await;
                    attempt += 1;
                }
            }
        }
        batch.clear();
    }
}

/// Listens to the channels of the features local clients subscribe to and relays their frames.
/// After a lost connection it listens again and reports a gap for every such feature.
async fn listener(weak: Weak<Redis>, mut control: mpsc::UnboundedReceiver<Control>) {
    let mut attempt = 0;
    let mut lost = false;
    loop {
        let Some(broker) = weak.upgrade() else { return };
        let Some(relay) = broker.relay() else { return };
        let (mut sink, mut stream) = match broker.client.get_async_pubsub().await {
            Ok(pubsub) => pubsub.split(),
            Err(e) => {
                tracing::debug!("broker: pubsub connection failed: {e}");
                broker.set_up(false);
                lost = true;
                drop((relay, broker));
                tokio::time::sleep(backoff(attempt)).await;
                attempt += 1;
                continue;
            }
        };
        let features: Vec<String> = broker.channels.lock().unwrap_or_else(|e| e.into_inner()).iter().cloned().collect();
        let mut ok = sink.subscribe(super::shared_presence::DIRECT).await.is_ok();
        for f in &features {
            ok &= sink.subscribe(channel(f)).await.is_ok();
        }
        if !ok {
            continue;
        }
        attempt = 0;
        broker.set_up(true);
        if std::mem::take(&mut lost) {
            // Events published while we were away never reached our clients.
            for f in &features {
                relay.gap(f);
            }
            // Joins and leaves may have been missed too (or Redis lost them): members are
            // listed again, and watchers get fresh snapshots.
            broker.presence.resync();
        }
        drop((relay, broker));
        loop {
            tokio::select! {
                msg = stream.next() => {
                    let Some(msg) = msg else { break };
                    let Some(relay) = weak.upgrade().and_then(|b| b.relay()) else { return };
                    let name = msg.get_channel_name().to_owned();
                    let Ok(payload) = msg.get_payload::<String>() else { continue };
                    if name == super::shared_presence::DIRECT {
                        super::shared_presence::direct_received(&*relay, &payload);
                    } else if let Some(feature) = feature_of(&name) {
                        let frame: Utf8Bytes = payload.into();
                        if frame.starts_with(r#"{"type":"join""#) || frame.starts_with(r#"{"type":"leave""#) {
                            relay.presence(feature, frame);
                        } else {
                            let priority = frame_priority(&frame);
                            relay.deliver(feature, frame, priority);
                        }
                    }
                }
                ctl = control.recv() => match ctl {
                    None => return,
                    Some(Control::Subscribe(feature, done)) => {
                        if sink.subscribe(channel(&feature)).await.is_err() {
                            break;
                        }
                        let Some(broker) = weak.upgrade() else { return };
                        broker.channels.lock().unwrap_or_else(|e| e.into_inner()).insert(feature);
                        let _ = done.send(());
                    }
                    Some(Control::Unsubscribe(feature)) => {
                        let Some(broker) = weak.upgrade() else { return };
                        broker.channels.lock().unwrap_or_else(|e| e.into_inner()).remove(&feature);
                        if sink.unsubscribe(channel(&feature)).await.is_err() {
                            break;
                        }
                    }
                }
            }
        }
        lost = true;
        if let Some(broker) = weak.upgrade() {
            broker.forget_connection().await;
            broker.set_up(false);
        }
    }
}
