//! The listener in front of the HTTP server, against sockets that hold a slot without saying
//! anything (slowloris): a new socket must deliver its request's headers within the header
//! timeout, and at most `max_pending` sockets may be waiting for theirs at once. Beyond that
//! the listener stops accepting (the kernel's backlog holds the rest) until one is done, with
//! a log line that counts these waits: a burst of honest reconnects is slowed, never refused,
//! and idle sockets cannot use up the file descriptors. Past the headers (a WebSocket upgrade,
//! an API call) the socket is no longer watched.
//!
//! When the server is done with a socket, it closes it lingering (as nginx's
//! `lingering_close`): it sends its FIN and reads what the client still sends for a moment. A
//! socket closed with unread input sends a TCP reset instead, and a reset makes the client
//! throw away what it had not read yet, such as the close frame saying why (1009 after an
//! oversized message followed by more frames).

use axum::serve::Listener;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Sleep;

pub(crate) struct Guarded {
    inner: TcpListener,
    pending: Arc<Semaphore>,
    max_pending: usize,
    timeout: Duration,
    waits: Arc<AtomicU64>,
}

impl Guarded {
    pub(crate) fn new(inner: TcpListener, max_pending: usize, timeout: Duration) -> Self {
        Self { inner, pending: Arc::new(Semaphore::new(max_pending)), max_pending, timeout, waits: Arc::default() }
    }
}

impl Listener for Guarded {
    type Io = GuardedIo;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (GuardedIo, SocketAddr) {
        let permit = match self.pending.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                let n = self.waits.fetch_add(1, Relaxed) + 1;
                if n.is_power_of_two() {
                    tracing::warn!(
                        pending = self.max_pending,
                        waits_so_far = n,
                        "not accepting for now: --max-pending sockets are still sending their request (slow or idle clients?)"
                    );
                }
                self.pending.clone().acquire_owned().await.expect("the semaphore is never closed")
            }
        };
        let (tcp, addr) = Listener::accept(&mut self.inner).await;
        // Events are small frames that must leave now: with Nagle's algorithm a frame written
        // while the previous one is unacknowledged waits for the client's delayed ACK (40 ms
        // on Linux), which was the p99 of the fan-out benchmark.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("TCP_NODELAY: {e}");
        }
        let guard = Guard { _permit: permit, deadline: Box::pin(tokio::time::sleep(self.timeout)), matched: 0 };
        (GuardedIo { tcp: Some(tcp), guard: Some(guard) }, addr)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// Watches a socket until its first request's headers are complete.
struct Guard {
    _permit: OwnedSemaphorePermit,
    deadline: Pin<Box<Sleep>>,
    /// How much of the `\r\n\r\n` that ends the headers has been seen.
    matched: usize,
}

pub(crate) struct GuardedIo {
    /// Taken only by `drop`, to close it lingering.
    tcp: Option<TcpStream>,
    guard: Option<Guard>,
}

/// How long, and for how many bytes, a closed socket's input is still read and discarded.
const LINGER: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 1 << 20;

impl GuardedIo {
    fn tcp(&mut self) -> Pin<&mut TcpStream> {
        Pin::new(self.tcp.as_mut().expect("taken only on drop"))
    }
}

impl Drop for GuardedIo {
    fn drop(&mut self) {
        let (Some(tcp), Ok(runtime)) = (self.tcp.take(), tokio::runtime::Handle::try_current()) else { return };
        runtime.spawn(linger(tcp));
    }
}

/// Sends FIN after what was written, then reads until the client closes too, or for at most
/// [`LINGER`] and [`LINGER_BYTES`]: past that a reset is the client's own doing.
async fn linger(mut tcp: TcpStream) {
    let _ = tcp.shutdown().await;
    let mut buf = [0u8; 4096];
    let mut read = 0;
    let until = tokio::time::Instant::now() + LINGER;
    while read < LINGER_BYTES {
        match tokio::time::timeout_at(until, tcp.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => read += n,
            _ => return,
        }
    }
}

impl AsyncRead for GuardedIo {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if let Some(g) = &mut this.guard {
            if g.deadline.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "request headers not complete within the header timeout")));
            }
        }
        let before = buf.filled().len();
        let read = this.tcp().poll_read(cx, buf);
        if let (Poll::Ready(Ok(())), Some(g)) = (&read, &mut this.guard) {
            for &b in &buf.filled()[before..] {
                g.matched = match (g.matched, b) {
                    (0 | 2, b'\r') => g.matched + 1,
                    (1 | 3, b'\n') => g.matched + 1,
                    (_, b'\r') => 1,
                    _ => 0,
                };
                if g.matched == 4 {
                    this.guard = None; // releases the pending slot
                    break;
                }
            }
        }
        read
    }
}

impl AsyncWrite for GuardedIo {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        self.tcp().poll_write(cx, data)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.tcp().poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.tcp().poll_shutdown(cx)
    }
    fn poll_write_vectored(mut self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        self.tcp().poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.tcp.as_ref().is_some_and(|t| t.is_write_vectored())
    }
}
