//! Helpers for the connection tests (`tests/conn_*.rs`): a recording [`Recycler`], request
//! shortcuts, and a runner.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use bytes::Bytes;
use weir::conn::state::Idle;
use weir::conn::{CloseReason, ConnConfig, Connection, Recycled, Recycler};
use weir::http::{Request, Url};

/// A recycler that keeps what it is given, for assertions.
///
/// Idle connections it keeps have their recycler removed (a connection holding an `Rc` to the
/// collector that holds it would be a leaking cycle) and put back by [`Collect::take_idle`].
#[derive(Debug, Default)]
pub struct Collect {
    /// Itself, to reinstall on connections taken back out.
    me: Weak<Collect>,
    /// Idle connections given back, in order.
    pub idle: RefCell<Vec<Connection<Idle>>>,
    /// Close reasons reported, in order.
    pub closed: RefCell<Vec<CloseReason>>,
}

impl Recycler for Collect {
    fn recycle(&self, outcome: Recycled) {
        match outcome {
            Recycled::Idle(mut c) => {
                c.set_recycler(None);
                self.idle.borrow_mut().push(c)
            }
            Recycled::Closed(reason) => self.closed.borrow_mut().push(reason),
        }
    }
}

impl Collect {
    /// A new shared collector.
    pub fn new() -> Rc<Collect> {
        Rc::new_cyclic(|me| Collect {
            me: me.clone(),
            ..Collect::default()
        })
    }

    /// The last idle connection given back, with this collector as its recycler again.
    pub fn take_idle(&self) -> Option<Connection<Idle>> {
        let mut conn = self.idle.borrow_mut().pop()?;
        let me = self.me.upgrade().map(|r| r as Rc<dyn Recycler>);
        conn.set_recycler(me);
        Some(conn)
    }

    /// How many outcomes (idle + closed) were reported.
    pub fn reports(&self) -> usize {
        self.idle.borrow().len() + self.closed.borrow().len()
    }

    /// The close reasons so far.
    pub fn closed(&self) -> Vec<CloseReason> {
        self.closed.borrow().clone()
    }
}

/// Connects to the origin of `url` with `cfg`, installing `recycler` if given.
pub async fn connect(
    url: &str,
    cfg: &ConnConfig,
    recycler: Option<Rc<Collect>>,
) -> Connection<Idle> {
    let url = Url::parse(url).expect("test URL");
    let mut conn = weir::conn::connect(url.origin(), cfg)
        .await
        .expect("connect");
    conn.set_recycler(recycler.map(|r| r as Rc<dyn Recycler>));
    conn
}

/// `GET url`.
pub fn get(url: &str) -> Request {
    Request::get(url).build().expect("GET request")
}

/// Sends `req` on a standalone connection, reads the body, and returns status, body and the
/// connection when it stayed open.
pub async fn roundtrip(
    conn: Connection<Idle>,
    req: Request,
) -> weir::Result<(u16, Bytes, Option<Connection<Idle>>)> {
    let resp = conn.send(req).await?;
    let status = resp.status();
    let mut body = resp.into_body();
    let bytes = body.read_to_end().await?;
    Ok((status, bytes, body.take_connection()))
}

/// A stream yielding the items of `iter` (always ready), for request bodies.
pub fn stream_of<I>(iter: I) -> IterStream<I::IntoIter>
where
    I: IntoIterator<Item = Bytes>,
{
    IterStream(iter.into_iter())
}

/// See [`stream_of`].
#[derive(Debug)]
pub struct IterStream<I>(I);

impl<I: Iterator<Item = Bytes> + Unpin> futures_core::Stream for IterStream<I> {
    type Item = std::io::Result<Bytes>;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        std::task::Poll::Ready(self.0.next().map(Ok))
    }
}

/// Runs the loop until `pool` has at least `n` reports (a drain runs on a spawned task);
/// bounded by 10 s so that a bug fails instead of hanging.
pub async fn until_reports(pool: &Collect, n: usize) {
    let wait = async {
        while pool.reports() < n {
            weir::rt::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    };
    weir::rt::time::timeout(std::time::Duration::from_secs(10), wait)
        .await
        .expect("the recycler was not called");
}
