//! The operator's Kubernetes client: kube's usual stack with a cap on the
//! requests in flight.
//!
//! Over HTTP/1 every request in flight takes a connection of its own, and
//! hyper keeps each connection it ever opened in its pool, with its buffers
//! and channels (tens of KiB each). Without a cap, the reconciles of every
//! kind and the event sends at their peak opened over a hundred connections
//! to the apiserver, and kept them (issue 34). Watches are long-lived and
//! hold their connection anyway; they are not counted, so a full cap never
//! starves a watch nor a watch the cap.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use http::{Request, Response, Uri};
use http_body::{Body, Frame, SizeHint};
use kube::client::ClientBuilder;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::buffer::BufferLayer;
use tower::{Layer, Service, ServiceBuilder};

/// Requests to the apiserver in flight at once, watches aside. The local
/// apiserver answers in milliseconds: 16 at a time is thousands a second,
/// far above what a thousand objects settling need.
pub const REQUESTS_IN_FLIGHT: usize = 16;

/// Requests the queue of kube's stack holds for the cap (as kube's own).
const QUEUED: usize = 1024;

/// The client from the inferred configuration (in-cluster, or KUBECONFIG).
pub async fn client() -> Result<kube::Client, kube::Error> {
    let config = kube::Config::infer()
        .await
        .map_err(kube::Error::InferConfig)?;
    let stack = ClientBuilder::try_from(config)?;
    Ok(stack
        .with_layer(
            &ServiceBuilder::new()
                .layer(CapLayer::new(REQUESTS_IN_FLIGHT))
                .layer(BufferLayer::new(QUEUED)),
        )
        .build())
}

/// Whether a request is a watch: a long-lived stream that never counts.
pub fn is_watch(uri: &Uri) -> bool {
    uri.query().is_some_and(|q| {
        q.split('&')
            .any(|pair| matches!(pair, "watch=true" | "watch=1"))
    })
}

/// Holds a permit from the request until its response's body has been read
/// (or dropped): until then hyper has not given the connection back.
#[derive(Clone)]
pub struct CapLayer {
    permits: Arc<Semaphore>,
}

impl CapLayer {
    pub fn new(in_flight: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(in_flight)),
        }
    }
}

impl<S> Layer<S> for CapLayer {
    type Service = Cap<S>;

    fn layer(&self, inner: S) -> Cap<S> {
        Cap {
            inner,
            permits: self.permits.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Cap<S> {
    inner: S,
    permits: Arc<Semaphore>,
}

impl<S, ReqBody, B> Service<Request<ReqBody>> for Cap<S>
where
    S: Service<Request<ReqBody>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
{
    type Response = Response<Held<B>>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        // The service polled ready is the one that must be called.
        let fresh = self.inner.clone();
        let mut ready = std::mem::replace(&mut self.inner, fresh);
        let permits = (!is_watch(request.uri())).then(|| self.permits.clone());
        Box::pin(async move {
            let permit = match permits {
                // The semaphore lives as long as the layer and is never closed.
                Some(p) => p.acquire_owned().await.ok(),
                None => None,
            };
            let response = ready.call(request).await?;
            Ok(response.map(|body| Held { body, permit }))
        })
    }
}

/// A response body that gives its permit back at its end.
pub struct Held<B> {
    body: B,
    permit: Option<OwnedSemaphorePermit>,
}

impl<B: Body + Unpin> Body for Held<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.body).poll_frame(cx);
        if matches!(polled, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
            this.permit = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use http_body_util::{BodyExt, Full};

    #[test]
    fn watches_are_told_from_other_requests() {
        let cases = [
            (
                "/api/v1/namespaces/a/secrets?watch=true&resourceVersion=1",
                true,
            ),
            ("/apis/x/v1/foos?labelSelector=a&watch=1", true),
            ("/apis/x/v1/foos?allowWatchBookmarks=true&watch=true", true),
            ("/apis/x/v1/foos?limit=500", false),
            ("/apis/x/v1/foos?allowWatchBookmarks=true", false),
            ("/apis/x/v1/foos?watch=false", false),
            ("/apis/x/v1/namespaces/watch=true/foos", false),
            ("/apis/x/v1/foos", false),
        ];
        for (uri, want) in cases {
            assert_eq!(is_watch(&uri.parse().unwrap()), want, "{uri}");
        }
    }

    /// A service that counts the calls running at once.
    #[derive(Clone, Default)]
    struct Counting {
        now: Arc<AtomicUsize>,
        most: Arc<AtomicUsize>,
    }

    impl Service<Request<()>> for Counting {
        type Response = Response<Full<bytes::Bytes>>;
        type Error = Infallible;
        type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: Request<()>) -> Self::Future {
            let (now, most) = (self.now.clone(), self.most.clone());
            Box::pin(async move {
                let running = now.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(running, Ordering::SeqCst);
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                now.fetch_sub(1, Ordering::SeqCst);
                Ok(Response::new(Full::new(bytes::Bytes::from_static(b"{}"))))
            })
        }
    }

    async fn call(mut service: Cap<Counting>, uri: &'static str) -> Held<Full<bytes::Bytes>> {
        let request = Request::get(uri).body(()).unwrap();
        service.call(request).await.unwrap().into_body()
    }

    #[tokio::test]
    async fn no_more_requests_run_than_the_cap_and_a_body_holds_its_permit() {
        let layer = CapLayer::new(3);
        let inner = Counting::default();
        let service = layer.layer(inner.clone());
        let reads = (0..12).map(|_| {
            let service = service.clone();
            async move {
                let body = call(service, "/api/v1/secrets?limit=10").await;
                body.collect().await.unwrap().to_bytes()
            }
        });
        for read in futures::future::join_all(reads).await {
            assert_eq!(read.as_ref(), b"{}");
        }
        assert_eq!(inner.most.load(Ordering::SeqCst), 3);
        assert_eq!(layer.permits.available_permits(), 3);

        // Until its body is read, a response keeps its permit.
        let unread = call(service.clone(), "/api/v1/secrets").await;
        assert_eq!(layer.permits.available_permits(), 2);
        unread.collect().await.unwrap();
        assert_eq!(layer.permits.available_permits(), 3);
    }

    #[tokio::test]
    async fn watches_pass_a_full_cap() {
        let layer = CapLayer::new(1);
        let inner = Counting::default();
        let service = layer.layer(inner.clone());
        let held = call(service.clone(), "/api/v1/secrets").await;
        assert_eq!(layer.permits.available_permits(), 0);
        let watches = (0..4).map(|_| call(service.clone(), "/api/v1/secrets?watch=true"));
        assert_eq!(futures::future::join_all(watches).await.len(), 4);
        assert_eq!(inner.most.load(Ordering::SeqCst), 4);
        drop(held);
        assert_eq!(layer.permits.available_permits(), 1);
    }
}
