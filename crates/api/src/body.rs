//! Knowing when a response body really ends: streams are logged, measured and release
//! their per-client slot when the last byte is sent or the client goes away, not when the
//! headers leave.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use axum::response::Response;
use http_body::{Frame, SizeHint};

/// How a response body ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every byte was handed to the connection.
    Completed,
    /// The body failed while being produced.
    Failed,
    /// Dropped before its end: the client left, or the connection was closed.
    Aborted,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::Failed => "failed",
            Outcome::Aborted => "aborted",
        }
    }
}

/// Call `on_end` once, when `response`'s body ends or is dropped.
pub fn on_end<F>(response: Response, on_end: F) -> Response
where
    F: FnOnce(Outcome) + Send + Unpin + 'static,
{
    response.map(|inner| {
        Body::new(Watched {
            inner,
            on_end: Some(on_end),
        })
    })
}

struct Watched<F: FnOnce(Outcome)> {
    inner: Body,
    on_end: Option<F>,
}

impl<F: FnOnce(Outcome)> Watched<F> {
    fn fire(&mut self, outcome: Outcome) {
        if let Some(f) = self.on_end.take() {
            f(outcome);
        }
    }
}

impl<F: FnOnce(Outcome) + Send + Unpin + 'static> HttpBody for Watched<F> {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => this.fire(Outcome::Completed),
            Poll::Ready(Some(Err(_))) => this.fire(Outcome::Failed),
            // Whole bodies end with their one frame; hyper may not poll again.
            Poll::Ready(Some(Ok(_))) if this.inner.is_end_stream() => this.fire(Outcome::Completed),
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<F: FnOnce(Outcome)> Drop for Watched<F> {
    fn drop(&mut self) {
        self.fire(Outcome::Aborted);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::response::IntoResponse;
    use futures::StreamExt;
    use http_body_util::BodyExt;
    use std::sync::{Arc, Mutex};

    fn recorder() -> (
        Arc<Mutex<Vec<Outcome>>>,
        impl FnOnce(Outcome) + Send + Unpin,
    ) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = Arc::clone(&seen);
        (seen, move |o| s.lock().unwrap().push(o))
    }

    #[tokio::test]
    async fn whole_streamed_and_dropped_bodies_report_their_end_once() {
        let (seen, f) = recorder();
        let r = on_end("hello".into_response(), f);
        let _ = r.into_body().collect().await.unwrap();
        assert_eq!(*seen.lock().unwrap(), vec![Outcome::Completed]);

        let (seen, f) = recorder();
        let chunks = futures::stream::iter(["a", "b"]).map(Ok::<_, std::io::Error>);
        let r = on_end(Body::from_stream(chunks).into_response(), f);
        assert!(
            seen.lock().unwrap().is_empty(),
            "not before the body is read"
        );
        let _ = r.into_body().collect().await.unwrap();
        assert_eq!(*seen.lock().unwrap(), vec![Outcome::Completed]);

        let (seen, f) = recorder();
        let r = on_end(
            Body::from_stream(futures::stream::pending::<Result<Bytes, std::io::Error>>())
                .into_response(),
            f,
        );
        drop(r);
        assert_eq!(*seen.lock().unwrap(), vec![Outcome::Aborted]);
    }
}
