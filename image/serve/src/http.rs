//! HTTP/1 serving with read timeouts, which `axum::serve` lacks: a client that sends its
//! headers or its body a byte at a time is cut off instead of holding a connection forever.
//!
//! [`serve_with_timeouts`] runs any axum [`Router`]; the serving container and the local
//! servers share it.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::Router;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use pin_project_lite::pin_project;
use tokio::net::TcpListener;
use tokio::time::{Instant, Sleep};

/// Default time a client has to send a request's headers.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Default time a client has to send a request's whole body, counted from the end of its
/// headers (a 6 MB body over a slow link still fits).
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a client may take to send a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// For a request's headers (hyper closes the connection when it passes). hyper starts
    /// this timer whenever the connection waits for headers, so an idle keep-alive
    /// connection is closed after this long as well.
    pub header_read: Duration,
    /// For the whole body, not per chunk: a client trickling one byte a second would reset a
    /// per-chunk timer forever.
    pub body_read: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            header_read: DEFAULT_HEADER_READ_TIMEOUT,
            body_read: DEFAULT_BODY_READ_TIMEOUT,
        }
    }
}

/// The error a request body gives once its [`Timeouts::body_read`] has passed; find it in
/// an extractor's rejection with [`body_timeout`].
#[derive(Debug, thiserror::Error)]
#[error("the request body was not received within {0:?}")]
pub struct BodyReadTimeout(pub Duration);

/// The timeout, when `err` (or an error it wraps) is a [`BodyReadTimeout`].
pub fn body_timeout(err: &(dyn std::error::Error + 'static)) -> Option<Duration> {
    let mut current = Some(err);
    while let Some(err) = current {
        if let Some(BodyReadTimeout(timeout)) = err.downcast_ref() {
            return Some(*timeout);
        }
        current = err.source();
    }
    None
}

/// Serves `router` on `listener` over HTTP/1 with `timeouts` until `shutdown` completes, then
/// stops accepting and waits for the requests in flight (bound that wait yourself, e.g. with
/// `tokio::time::timeout`, if a handler may never return).
pub async fn serve_with_timeouts(
    listener: TcpListener,
    router: Router,
    timeouts: Timeouts,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let body_read = timeouts.body_read;
    let router = router.layer(axum::middleware::map_request(move |request: Request| {
        let deadline = Instant::now() + body_read;
        async move { request.map(|body| Body::new(DeadlineBody::new(body, deadline, body_read))) }
    }));
    let service = TowerToHyperService::new(router);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(%err, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Small request/response pairs: send each response at once instead of waiting on Nagle.
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(%err, "cannot set TCP_NODELAY");
        }
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(timeouts.header_read)
            .serve_connection(TokioIo::new(stream), service.clone());
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(%peer, %err, "connection closed with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

pin_project! {
    /// A body that fails once `deadline` has passed before it ended.
    struct DeadlineBody {
        #[pin]
        body: Body,
        #[pin]
        sleep: Sleep,
        timeout: Duration,
    }
}

impl DeadlineBody {
    fn new(body: Body, deadline: Instant, timeout: Duration) -> Self {
        Self {
            body,
            sleep: tokio::time::sleep_until(deadline),
            timeout,
        }
    }
}

impl HttpBody for DeadlineBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        if let Poll::Ready(frame) = this.body.poll_frame(cx) {
            return Poll::Ready(frame);
        }
        match this.sleep.poll(cx) {
            Poll::Ready(()) => {
                Poll::Ready(Some(Err(axum::Error::new(BodyReadTimeout(*this.timeout)))))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
