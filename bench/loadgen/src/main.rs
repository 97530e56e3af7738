//! `livestate-loadgen`: opens many WebSocket subscribers to one feature of a gateway (livestate's
//! or the Node baseline, which speak the same frames), then publishes over HTTP and measures
//! deliveries per second and delivery latency. Prints one JSON line of results.
//!
//! Runs on one thread, so `taskset` can give it exactly one core beside the gateway's.

use clap::Parser;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Parser)]
struct Args {
    /// Gateway host:port; several, comma-separated, spread the subscribers over them (the
    /// publisher uses the first).
    #[arg(long, default_value = "127.0.0.1:3333")]
    addr: String,
    /// Subscribers to open.
    #[arg(long, default_value_t = 1000)]
    connections: usize,
    /// Feature they subscribe to.
    #[arg(long, default_value = "products")]
    feature: String,
    /// Seconds to publish for (0: only connect, report, and hold until stdin closes).
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Events in flight: the publisher waits until all but this many have reached every subscriber.
    #[arg(long, default_value_t = 8)]
    window: u64,
    /// Events per HTTP request.
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Publishing connections, each sending its next request when the last one is answered.
    #[arg(long, default_value_t = 4)]
    publishers: usize,
    /// A token each subscriber sends in an `auth` frame before subscribing (a gateway with auth).
    #[arg(long)]
    token: Option<String>,
}

struct Shared {
    start: Instant,
    delivered: Cell<u64>,
    /// Delivery latencies in microseconds, one per delivery.
    latencies: RefCell<Vec<u32>>,
    measuring: Cell<bool>,
}

/// A minimal WebSocket client: the handshake, masked text frames out, frames in without UTF-8
/// validation or copying, so one loadgen core can keep up with the gateway's.
/// The signals a subscriber gives and takes: welcomed, then (once all are) subscribe, then subscribed.
struct Steps {
    welcomed: tokio::sync::mpsc::Sender<()>,
    go: tokio::sync::watch::Receiver<bool>,
    ready: tokio::sync::mpsc::Sender<()>,
}

async fn subscriber(addr: String, feature: String, token: Option<String>, shared: Rc<Shared>, mut steps: Steps) {
    // A burst of thousands of connects can overflow the listen backlog: retry like a browser would.
    let mut delay = Duration::from_millis(50);
    let stream = loop {
        match TcpStream::connect(&addr).await {
            Ok(s) => break s,
            Err(e) if delay < Duration::from_secs(5) => {
                eprintln!("loadgen: connect failed ({e}), retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            Err(e) => panic!("connect to {addr}: {e}"),
        }
    };
    stream.set_nodelay(true).ok();
    let mut stream = tokio::io::BufReader::with_capacity(16 * 1024, stream);
    let request = format!(
        "GET /ws HTTP/1.1\r\nhost: {addr}\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n"
    );
    stream.get_mut().write_all(request.as_bytes()).await.expect("handshake");
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(stream.read_u8().await.expect("handshake response"));
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "upgrade refused: {}", String::from_utf8_lossy(&head));
    if let Some(token) = token {
        send_text(stream.get_mut(), &format!(r#"{{"type":"auth","token":"{token}"}}"#)).await;
    }
    let mut welcomed = false;
    let mut announced = false;
    let mut payload = Vec::new();
    loop {
        let Ok(b0) = stream.read_u8().await else { return };
        let Ok(b1) = stream.read_u8().await else { return };
        let len = match b1 & 0x7f {
            126 => stream.read_u16().await.expect("frame") as usize,
            127 => stream.read_u64().await.expect("frame") as usize,
            n => n as usize,
        };
        payload.resize(len, 0);
        if stream.read_exact(&mut payload).await.is_err() {
            return;
        }
        match b0 & 0x0f {
            0x8 => return,
            0x9 => {
                let _ = send_frame(stream.get_mut(), 0xA, &payload).await;
                continue;
            }
            0x1 => {}
            _ => continue,
        }
        // Every subscriber connects first; they subscribe together, so that the time to
        // subscribe is measured apart from the time to connect.
        if !welcomed && find(&payload, b"\"welcome\"").is_some() {
            welcomed = true;
            let _ = steps.welcomed.send(()).await;
            let _ = steps.go.wait_for(|go| *go).await;
            send_text(stream.get_mut(), &format!(r#"{{"type":"subscribe","features":["{feature}"]}}"#)).await;
            continue;
        }
        if !announced && find(&payload, b"\"subscribed\"").is_some() {
            announced = true;
            let _ = steps.ready.send(()).await;
            continue;
        }
        // Latency: the publisher put its send time (µs since start) in data.t.
        if let Some(at) = find(&payload, b"\"t\":") {
            let sent = payload[at + 4..].iter().take_while(|b| b.is_ascii_digit()).fold(0u64, |n, b| n * 10 + u64::from(b - b'0'));
            shared.delivered.set(shared.delivered.get() + 1);
            if shared.measuring.get() {
                let now = shared.start.elapsed().as_micros() as u64;
                shared.latencies.borrow_mut().push(now.saturating_sub(sent) as u32);
            }
        } else if find(&payload, b"\"heartbeat\"").is_some() || find(&payload, b"\"ping\"").is_some() {
            send_text(stream.get_mut(), r#"{"type":"pong"}"#).await;
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

async fn send_text(stream: &mut TcpStream, text: &str) {
    send_frame(stream, 0x1, text.as_bytes()).await.expect("send");
}

/// A client frame: FIN + opcode, masked with a zero key (the spec asks for a mask, not a secret one).
async fn send_frame(stream: &mut TcpStream, opcode: u8, payload: &[u8]) -> std::io::Result<()> {
    let mut frame = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => frame.push(0x80 | n as u8),
        n => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
    }
    frame.extend_from_slice(&[0, 0, 0, 0]);
    frame.extend_from_slice(payload);
    stream.write_all(&frame).await
}

/// One HTTP/1.1 keep-alive connection for publishing.
struct Publisher {
    stream: TcpStream,
    addr: String,
    buf: Vec<u8>,
}

impl Publisher {
    async fn post(&mut self, body: &str) {
        let head = format!(
            "POST /api/events HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            self.addr,
            body.len()
        );
        self.stream.write_all(head.as_bytes()).await.expect("publish");
        self.stream.write_all(body.as_bytes()).await.expect("publish");
        // Read the response: headers, then content-length bytes.
        self.buf.clear();
        let mut chunk = [0u8; 4096];
        loop {
            let n = self.stream.read(&mut chunk).await.expect("response");
            assert!(n > 0, "gateway closed the publishing connection");
            self.buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&self.buf);
            if let Some(end) = text.find("\r\n\r\n") {
                let len = text[..end]
                    .lines()
                    .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap_or(0)))
                    .unwrap_or(0);
                if self.buf.len() >= end + 4 + len {
                    assert!(text.starts_with("HTTP/1.1 2"), "publish refused: {text}");
                    return;
                }
            }
        }
    }
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((p / 100.0) * sorted.len() as f64).min(sorted.len() as f64 - 1.0) as usize] as f64 / 1000.0
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = Args::parse();
    let shared =
        Rc::new(Shared { start: Instant::now(), delivered: Cell::new(0), latencies: RefCell::default(), measuring: Cell::new(false) });
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async move {
            let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel(args.connections.max(1));
            let (welcomed_tx, mut welcomed_rx) = tokio::sync::mpsc::channel(args.connections.max(1));
            let (go_tx, go_rx) = tokio::sync::watch::channel(false);
            let addrs: Vec<String> = args.addr.split(',').map(str::to_owned).collect();
            for i in 0..args.connections {
                tokio::task::spawn_local(subscriber(
                    addrs[i % addrs.len()].clone(),
                    args.feature.clone(),
                    args.token.clone(),
                    shared.clone(),
                    Steps { welcomed: welcomed_tx.clone(), go: go_rx.clone(), ready: ready_tx.clone() },
                ));
                if i % 100 == 99 {
                    tokio::task::yield_now().await; // let the gateway accept in step
                }
            }
            drop((ready_tx, welcomed_tx));
            for i in 0..args.connections {
                if !matches!(tokio::time::timeout(Duration::from_secs(60), welcomed_rx.recv()).await, Ok(Some(()))) {
                    eprintln!("loadgen: only {i} of {} subscribers connected", args.connections);
                    std::process::exit(1);
                }
            }
            let subscribing = Instant::now();
            let _ = go_tx.send(true);
            for i in 0..args.connections {
                match tokio::time::timeout(Duration::from_secs(60), ready_rx.recv()).await {
                    Ok(Some(())) => {}
                    _ => {
                        eprintln!("loadgen: only {i} of {} subscribers got in", args.connections);
                        std::process::exit(1);
                    }
                }
            }
            println!(
                "{{\"ready\":{},\"ms\":{:.1},\"subscribeMs\":{:.1}}}",
                args.connections,
                shared.start.elapsed().as_secs_f64() * 1000.0,
                subscribing.elapsed().as_secs_f64() * 1000.0
            );
            if args.seconds <= 0.0 {
                // Hold the connections until stdin closes (the caller measures memory meanwhile).
                let mut stdin = tokio::io::stdin();
                let mut sink = [0u8; 64];
                while stdin.read(&mut sink).await.map(|n| n > 0).unwrap_or(false) {}
                return;
            }
            let n = args.connections as u64;
            let sent = Rc::new(Cell::new(0u64));
            let mut publishers = Vec::new();
            for _ in 0..args.publishers {
                let stream = TcpStream::connect(&addrs[0]).await.expect("publish connection");
                stream.set_nodelay(true).ok();
                publishers.push(Rc::new(RefCell::new(Publisher { stream, addr: addrs[0].clone(), buf: vec![] })));
            }
            // A short warm-up, then the measured run.
            for (measure, seconds) in [(false, 1.0f64.min(args.seconds)), (true, args.seconds)] {
                shared.measuring.set(measure);
                let (begin, delivered0, sent0) = (Instant::now(), shared.delivered.get(), sent.get());
                let mut running = Vec::new();
                for publisher in &publishers {
                    let (publisher, sent, shared, feature) = (publisher.clone(), sent.clone(), shared.clone(), args.feature.clone());
                    let (window, batch) = (args.window, args.batch);
                    running.push(tokio::task::spawn_local(async move {
                        let mut publisher = publisher.borrow_mut();
                        while begin.elapsed().as_secs_f64() < seconds {
                            // Keep at most `window` events not yet delivered everywhere.
                            if sent.get() * n > shared.delivered.get() + window * n {
                                tokio::task::yield_now().await;
                                continue;
                            }
                            let mut body = String::from("[");
                            for k in 0..batch {
                                let t = shared.start.elapsed().as_micros();
                                if k > 0 {
                                    body.push(',');
                                }
                                let i = sent.get();
                                body.push_str(&format!(
                                    r#"{{"feature":"{feature}","entity":"product","action":"updated","data":{{"id":"p-{}","price":12.5,"stock":{},"t":{t}}}}}"#,
                                    i % 1000,
                                    i % 97
                                ));
                                sent.set(i + 1);
                            }
                            body.push(']');
                            publisher.post(&body).await;
                        }
                    }));
                }
                for task in running {
                    task.await.expect("publisher");
                }
                let sent = sent.get();
                // Let what was sent arrive (or give up after 10 s), then count.
                let drain = Instant::now();
                while shared.delivered.get() < sent * n && drain.elapsed() < Duration::from_secs(10) {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                if measure {
                    let elapsed = begin.elapsed().as_secs_f64();
                    let mut lat = std::mem::take(&mut *shared.latencies.borrow_mut());
                    lat.sort_unstable();
                    let delivered = shared.delivered.get() - delivered0;
                    let expected = (sent - sent0) * n;
                    println!(
                        "{{\"connections\":{},\"events\":{},\"deliveries\":{},\"expected\":{},\"seconds\":{:.3},\"deliveriesPerSec\":{:.0},\"p50Ms\":{:.3},\"p99Ms\":{:.3},\"maxMs\":{:.3}}}",
                        n,
                        sent - sent0,
                        delivered,
                        expected,
                        elapsed,
                        delivered as f64 / elapsed,
                        percentile(&lat, 50.0),
                        percentile(&lat, 99.0),
                        percentile(&lat, 100.0)
                    );
                }
            }
        })
        .await;
}
