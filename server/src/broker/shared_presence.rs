//! Presence and targeted sends across nodes, through Redis. Each feature's members are a hash
//! (connection id → member JSON) and a sorted set of expiry times, as in Centrifugo: the node
//! holding a member refreshes its entry every quarter of the TTL, so a node that dies takes
//! its members with it within the TTL. Every script that touches a feature first sweeps the
//! expired entries and announces them as leaves, so the watchers of a dead node's members
//! hear that they left; a refresh that re-creates an entry (Redis restarted) announces a join.
//! Joins and leaves travel on the feature's event channel. Targeted sends travel on one
//! channel every node listens to. One task does all of it in order, so a leave never
//! overtakes the join before it.

use super::redis::{channel, now_ms, Redis};
use super::{Direct, Joined, Relay};
use redis::aio::MultiplexedConnection;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// The channel of targeted sends: `{"n":node,"c":id}` or `{"n":node,"u":user}`, a newline, the frame.
pub(super) const DIRECT: &str = "livestate:direct";

/// Sweeps the expired members of KEYS[1] (hash) / KEYS[2] (expiry set), announcing each leave.
/// ARGV: channel, feature, now (ms), key TTL (ms), then the script's own.
macro_rules! presence_script {
    ($rest:literal) => {
        concat!(
            "local function announce(kind, m)\n",
            "  redis.call('PUBLISH', ARGV[1], '{\"type\":\"' .. kind .. '\",\"feature\":\"' .. ARGV[2] .. '\",\"member\":' .. m .. '}')\n",
            "end\n",
            "local gone = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[3])\n",
            "for _, id in ipairs(gone) do\n",
            "  local m = redis.call('HGET', KEYS[1], id)\n",
            "  redis.call('HDEL', KEYS[1], id)\n",
            "  redis.call('ZREM', KEYS[2], id)\n",
            "  if m then announce('leave', m) end\n",
            "end\n",
            $rest
        )
    };
}

/// ARGV[5..]: id, member, expires at (ms), most members. Returns 1 if listed, 0 if full.
const JOIN: &str = presence_script!(
    r#"
if redis.call('HEXISTS', KEYS[1], ARGV[5]) == 0 and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[8]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[5], ARGV[6])
redis.call('ZADD', KEYS[2], ARGV[7], ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
announce('join', ARGV[6])
return 1
"#
);

/// ARGV[5]: id.
const LEAVE: &str = presence_script!(
    r#"
local m = redis.call('HGET', KEYS[1], ARGV[5])
if m then
  redis.call('HDEL', KEYS[1], ARGV[5])
  redis.call('ZREM', KEYS[2], ARGV[5])
  announce('leave', m)
end
return 0
"#
);

/// ARGV[5]: expires at (ms); ARGV[6..]: id, member pairs of this node's members.
const REFRESH: &str = presence_script!(
    r#"
for i = 6, #ARGV, 2 do
  if redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) == 1 then announce('join', ARGV[i + 1]) end
  redis.call('ZADD', KEYS[2], ARGV[5], ARGV[i])
end
if #ARGV >= 6 then
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
end
return 0
"#
);

/// Returns every member's JSON.
const SNAPSHOT: &str = presence_script!(
    r#"
return redis.call('HVALS', KEYS[1])
"#
);

fn members_key(feature: &str) -> String {
    format!("livestate:{{{feature}}}:presence")
}
fn expiry_key(feature: &str) -> String {
    format!("livestate:{{{feature}}}:presence:expiry")
}

enum Op {
    Join {
        feature: String,
        id: u64,
        member: String,
        max: usize,
        done: oneshot::Sender<Joined>,
    },
    Leave {
        feature: String,
        id: u64,
    },
    Snapshot {
        feature: String,
        done: oneshot::Sender<Option<Vec<String>>>,
    },
    Direct(String),
    Resync,
    /// Answered once every operation queued before it is done.
    Flush(oneshot::Sender<()>),
}

/// The broker's presence side: a queue of operations for its task.
pub(crate) struct Presence {
    ttl: Duration,
    ops: mpsc::UnboundedSender<Op>,
    rx: Mutex<Option<mpsc::UnboundedReceiver<Op>>>,
    join: redis::Script,
    leave: redis::Script,
    refresh: redis::Script,
    snapshot: redis::Script,
}

/// How long one Redis call may take before the operation counts as failed.
const CALL: Duration = Duration::from_secs(2);

impl Presence {
    pub(super) fn new(ttl: Duration) -> Self {
        let (ops, rx) = mpsc::unbounded_channel();
        Self {
            ttl: ttl.max(Duration::from_secs(1)),
            ops,
            rx: Mutex::new(Some(rx)),
            join: redis::Script::new(JOIN),
            leave: redis::Script::new(LEAVE),
            refresh: redis::Script::new(REFRESH),
            snapshot: redis::Script::new(SNAPSHOT),
        }
    }

    pub(super) async fn join(&self, feature: &str, id: u64, member: &str, max: usize) -> Joined {
        let (done, answer) = oneshot::channel();
        let op = Op::Join { feature: feature.to_owned(), id, member: member.to_owned(), max, done };
        if self.ops.send(op).is_err() {
            return Joined::Unknown;
        }
        tokio::time::timeout(CALL * 2, answer).await.ok().and_then(Result::ok).unwrap_or(Joined::Unknown)
    }

    pub(super) fn leave(&self, feature: &str, id: u64) {
        let _ = self.ops.send(Op::Leave { feature: feature.to_owned(), id });
    }

    /// Every node's members of `feature`; none while Redis is away.
    pub(super) async fn snapshot(&self, feature: &str) -> Option<Vec<String>> {
        let (done, answer) = oneshot::channel();
        self.ops.send(Op::Snapshot { feature: feature.to_owned(), done }).ok()?;
        tokio::time::timeout(CALL * 2, answer).await.ok()?.ok()?
    }

    /// Publishes a targeted frame for the other nodes.
    pub(super) fn direct(&self, to: &Direct, frame: &str) {
        let head = serde_json::to_string(to).expect("a target always serialises");
        let _ = self.ops.send(Op::Direct(format!("{head}\n{frame}")));
    }

    /// Resolves once every change queued so far has reached Redis (or failed): a node shutting
    /// down waits for its members' leaves.
    pub(super) async fn flush(&self) {
        let (done, answer) = oneshot::channel();
        if self.ops.send(Op::Flush(done)).is_ok() {
            let _ = answer.await;
        }
    }

    /// After Redis was away: list this node's members again, and send fresh snapshots.
    pub(super) fn resync(&self) {
        let _ = self.ops.send(Op::Resync);
    }
}

/// Delivers a targeted frame heard on [`DIRECT`] to the local connection or user it names.
pub(super) fn direct_received(relay: &dyn Relay, payload: &str) {
    let Some((head, frame)) = payload.split_once('\n') else { return };
    if let Ok(to) = serde_json::from_str::<Direct>(head) {
        relay.direct(&to, frame.to_owned().into());
    }
}

/// Starts the presence task; it holds the broker weakly and ends with it.
pub(super) fn spawn(redis: &Arc<Redis>) {
    let Some(rx) = redis.presence.rx.lock().unwrap_or_else(|e| e.into_inner()).take() else { return };
    tokio::spawn(run(Arc::downgrade(redis), rx));
}

async fn run(weak: Weak<Redis>, mut ops: mpsc::UnboundedReceiver<Op>) {
    let period = match weak.upgrade() {
        Some(b) => b.presence.ttl / 4,
        None => return,
    };
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut batch = Vec::new();
    loop {
        tokio::select! {
            n = ops.recv_many(&mut batch, 256) => {
                let Some(broker) = weak.upgrade().filter(|_| n > 0) else { return };
                // Joins and leaves in a row go to Redis in one pipeline (one round trip).
                let mut run = Vec::new();
                for op in batch.drain(..) {
                    if matches!(op, Op::Join { .. } | Op::Leave { .. }) {
                        run.push(op);
                        continue;
                    }
                    changes(&broker, std::mem::take(&mut run)).await;
                    perform(&broker, op).await;
                }
                changes(&broker, run).await;
            }
            _ = tick.tick() => {
                let Some(broker) = weak.upgrade() else { return };
                refresh_all(&broker).await;
            }
        }
    }
}

/// The arguments every presence script starts with.
fn invocation<'a>(broker: &Redis, script: &'a redis::Script, feature: &str) -> redis::ScriptInvocation<'a> {
    let ttl = broker.presence.ttl.as_millis() as u64;
    let mut call = script.key(members_key(feature));
    call.key(expiry_key(feature)).arg(channel(feature)).arg(feature).arg(now_ms()).arg(ttl * 2);
    call
}

/// Runs `f` on the broker's connection within [`CALL`]; a failure drops the connection (the
/// next call makes a fresh one) and gives `None`.
async fn query<T>(broker: &Redis, f: impl AsyncFnOnce(&mut MultiplexedConnection) -> redis::RedisResult<T>) -> Option<T> {
    let result = tokio::time::timeout(CALL, async {
        let mut conn = broker.connection().await?;
        f(&mut conn).await
    })
    .await;
    match result {
        Ok(Ok(v)) => Some(v),
        failed => {
            if let Ok(Err(e)) = failed {
                tracing::debug!("broker: presence: {e}");
            }
            broker.forget_connection().await;
            None
        }
    }
}

/// One presence script (which loads itself if Redis lost it).
async fn call<T: redis::FromRedisValue>(broker: &Redis, call: redis::ScriptInvocation<'_>) -> Option<T> {
    query(broker, async |conn| call.invoke_async::<T>(conn).await).await
}

fn expires_at(broker: &Redis) -> u64 {
    now_ms() + broker.presence.ttl.as_millis() as u64
}

/// Joins and leaves, in order, in one pipeline. A leave that fails (Redis away) is not retried:
/// the entry expires after the TTL and a sweep announces it.
async fn changes(broker: &Redis, ops: Vec<Op>) {
    if ops.is_empty() {
        return;
    }
    let p = &broker.presence;
    let (ttl, now, at) = (p.ttl.as_millis() as u64 * 2, now_ms(), expires_at(broker));
    let mut pipe = redis::pipe();
    // Loaded in the same round trip: after a Redis restart the scripts are gone.
    pipe.cmd("SCRIPT").arg("LOAD").arg(JOIN).ignore().cmd("SCRIPT").arg("LOAD").arg(LEAVE).ignore();
    for op in &ops {
        let (script, feature) = match op {
            Op::Join { feature, .. } => (&p.join, feature),
            Op::Leave { feature, .. } => (&p.leave, feature),
            _ => continue,
        };
        let cmd = pipe.cmd("EVALSHA").arg(script.get_hash()).arg(2).arg(members_key(feature)).arg(expiry_key(feature));
        cmd.arg(channel(feature)).arg(feature.as_str()).arg(now).arg(ttl);
        match op {
            Op::Join { id, member, max, .. } => cmd.arg(id).arg(member).arg(at).arg(max),
            Op::Leave { id, .. } => cmd.arg(id),
            _ => cmd,
        };
    }
    let answers = query(broker, async |conn| pipe.query_async::<Vec<i64>>(conn).await).await;
    let mut answers = answers.into_iter().flatten();
    for op in ops {
        let answer = answers.next();
        if let Op::Join { done, .. } = op {
            let _ = done.send(match answer {
                Some(1) => Joined::Shared,
                Some(_) => Joined::Full,
                None => Joined::Unknown,
            });
        }
    }
}

async fn perform(broker: &Redis, op: Op) {
    let p = &broker.presence;
    match op {
        Op::Join { .. } | Op::Leave { .. } => changes(broker, vec![op]).await,
        Op::Snapshot { feature, done } => {
            let _ = done.send(call::<Vec<String>>(broker, invocation(broker, &p.snapshot, &feature)).await);
        }
        Op::Direct(payload) => {
            let sent = query(broker, async |conn| redis::cmd("PUBLISH").arg(DIRECT).arg(&payload).query_async::<i64>(conn).await);
            if sent.await.is_none() {
                if let Some(relay) = broker.relay() {
                    relay.metrics().drop(crate::metrics::Drop::Broker);
                }
            }
        }
        Op::Flush(done) => {
            let _ = done.send(());
        }
        Op::Resync => {
            refresh_all(broker).await;
            let Some(relay) = broker.relay() else { return };
            for (feature, _) in relay.presence_here() {
                let held = relay.hold_presence(&feature);
                if held.is_empty() {
                    continue;
                }
                let members = call::<Vec<String>>(broker, invocation(broker, &p.snapshot, &feature)).await;
                let frame = members.map(|m| crate::presence::snapshot_frame(&feature, m.iter()));
                relay.release_presence(&feature, &held, frame);
            }
        }
    }
}

/// Renews this node's members (re-creating any Redis lost) and sweeps the expired ones of
/// every feature it has members or watchers of.
async fn refresh_all(broker: &Redis) {
    let Some(relay) = broker.relay() else { return };
    let at = expires_at(broker);
    for (feature, members) in relay.presence_here() {
        let mut c = invocation(broker, &broker.presence.refresh, &feature);
        c.arg(at);
        for (id, member) in &members {
            c.arg(id).arg(member);
        }
        if call::<i64>(broker, c).await.is_none() {
            return; // Redis is away: the listener asks for a resync once it is back
        }
    }
}
