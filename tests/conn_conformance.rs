//! The connection's conformance to the generated reference model
//! (`weir::generated::connection::Model`), with random server behaviours: framings, 1xx,
//! HTTP/1.0, `Connection` headers, leftover bytes, closes at any byte offset, writes split at
//! random points, and a consumer that reads the whole body or drops it at a random chunk.
//!
//! For every exchange the test records the transitions the real code takes (through
//! `weir::trace`), and checks that
//! 1. each one is legal in the reference model and lands in the same state (replay);
//! 2. the events up to the final head are exactly what the spec predicts from the server's
//!    bytes (send, head_written, body_written, one interim per 1xx, final_head with its
//!    arguments, or peer_close when the server closed first);
//! 3. the exchange ends where the model says: idle (and the connection really comes back and
//!    carries the next request) or closed (and it never comes back);
//! 4. the recycler hears of every exchange exactly once, and reads see the predicted errors.
//!
//! The server runs as a task on the client's own loop over loopback TCP and yields between
//! pieces, so the client's reads split wherever the pieces end.

mod util;

use std::sync::{Mutex, Once};
use std::thread::ThreadId;

use proptest::prelude::*;
use util::conn::{until_reports, Collect};
use weir::conn::ConnConfig;
use weir::error::Kind;
use weir::generated::connection::{Event, Model, State};
use weir::http::{Request, Url};
use weir::rt::net::{AsyncStream, TcpStream};

/// A transition as recorded: thread, event, args, from, to.
type Rec = (ThreadId, &'static str, Vec<i32>, &'static str, &'static str);

static TRACE: Mutex<Vec<Rec>> = Mutex::new(Vec::new());

fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        weir::trace::set_hook(|t: &weir::trace::Transition<'_>| {
            if t.machine == "connection" {
                let rec = (
                    std::thread::current().id(),
                    t.event,
                    t.args.to_vec(),
                    t.from,
                    t.to,
                );
                TRACE.lock().unwrap().push(rec);
            }
        })
    });
}

/// This thread's transitions since the last call.
fn take_trace() -> Vec<Rec> {
    let me = std::thread::current().id();
    let mut all = TRACE.lock().unwrap();
    let (mine, rest): (Vec<Rec>, Vec<Rec>) = all.drain(..).partition(|r| r.0 == me);
    *all = rest;
    mine
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    None,
    Length,
    Chunked,
    CloseDelimited,
}

/// One exchange's server behaviour and consumer behaviour.
#[derive(Clone, Debug)]
struct Exchange {
    post: bool,
    /// A POST with `Expect: 100-continue`: the server answers `100` first, or (when false)
    /// its final response right away without reading the body.
    expect: Option<bool>,
    /// The server never answers and the client drops the request future (cancellation).
    cancel: bool,
    framing: Framing,
    body_len: usize,
    chunk: usize,
    interims: usize,
    http10: bool,
    keep_alive_header: bool,
    close_header: bool,
    leftover: bool,
    /// Close after this per-mille of the response (>= 1000: no early close).
    cut: u16,
    /// Write sizes, cycled.
    pieces: Vec<usize>,
    /// The consumer drops the body after this many chunks (`None`: reads it all).
    drop_after: Option<usize>,
}

fn exchange() -> impl Strategy<Value = Exchange> {
    let framing = prop_oneof![
        Just(Framing::None),
        Just(Framing::Length),
        Just(Framing::Chunked),
        Just(Framing::CloseDelimited)
    ];
    (
        (any::<bool>(), framing, 0usize..2000, 1usize..600, 0usize..3),
        (
            prop::bool::weighted(0.2),
            any::<bool>(),
            prop::bool::weighted(0.2),
            prop::bool::weighted(0.15),
        ),
        (
            prop_oneof![3 => Just(1000u16), 1 => 0u16..1000],
            prop::collection::vec(1usize..80, 1..6),
        ),
        prop::option::weighted(0.3, 0usize..4),
        prop::option::weighted(0.2, any::<bool>()),
        prop::bool::weighted(0.1),
    )
        .prop_map(
            |(
                (post, framing, body_len, chunk, interims),
                (http10, ka, close, leftover),
                (cut, pieces),
                drop_after,
                expect,
                cancel,
            )| {
                let framing = match (http10, framing) {
                    (true, Framing::Chunked) => Framing::Length,
                    (_, f) => f,
                };
                Exchange {
                    post: post || expect.is_some(),
                    expect: expect.filter(|_| !cancel),
                    cancel,
                    framing,
                    body_len,
                    chunk,
                    interims,
                    http10,
                    keep_alive_header: ka,
                    close_header: close,
                    leftover: leftover && framing != Framing::CloseDelimited,
                    cut: if framing == Framing::CloseDelimited {
                        1000
                    } else {
                        cut
                    },
                    pieces,
                    drop_after,
                }
            },
        )
}

/// The response bytes: (bytes, end of each interim head, end of the final head, end of body).
fn response(ex: &Exchange) -> (Vec<u8>, Vec<usize>, usize, usize) {
    let mut out = Vec::new();
    let mut interim_ends = Vec::new();
    for _ in 0..ex.interims {
        out.extend_from_slice(b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n");
        interim_ends.push(out.len());
    }
    let version = if ex.http10 { "HTTP/1.0" } else { "HTTP/1.1" };
    let status = if ex.framing == Framing::None {
        "204 No Content"
    } else {
        "200 OK"
    };
    out.extend_from_slice(format!("{version} {status}\r\nServer: scripted\r\n").as_bytes());
    if ex.close_header {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    if ex.keep_alive_header {
        out.extend_from_slice(b"Connection: keep-alive\r\n");
    }
    let body = util::pattern(ex.body_len);
    match ex.framing {
        Framing::Length => {
            out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes())
        }
        Framing::Chunked => out.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
        Framing::None | Framing::CloseDelimited => {}
    }
    out.extend_from_slice(b"\r\n");
    let head_end = out.len();
    match ex.framing {
        Framing::None => {}
        Framing::Length | Framing::CloseDelimited => out.extend_from_slice(&body),
        Framing::Chunked => {
            for piece in body.chunks(ex.chunk) {
                out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
                out.extend_from_slice(piece);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"0\r\n\r\n");
        }
    }
    let body_end = out.len();
    (out, interim_ends, head_end, body_end)
}

/// Where the server closes early, if it does.
fn cut_at(ex: &Exchange, total: usize) -> Option<usize> {
    (ex.cut < 1000).then(|| total * ex.cut as usize / 1000)
}

/// What the spec says about one exchange.
#[derive(Debug)]
struct Prediction {
    /// Events up to and including the final head (or the failure instead of it).
    prefix: Vec<Event>,
    /// Where the exchange ends.
    end: State,
    /// The error a reading consumer sees.
    error: Option<Kind>,
}

fn predict(ex: &Exchange) -> Prediction {
    let (bytes, interim_ends, head_end, body_end) = response(ex);
    let cut = cut_at(ex, bytes.len());
    let mut prefix = vec![Event::Send { body: ex.post }, Event::HeadWritten];
    if ex.cancel {
        if ex.post {
            prefix.push(Event::BodyWritten);
        }
        prefix.push(Event::Cancel);
        return Prediction {
            prefix,
            end: State::Closed,
            error: None,
        };
    }
    match ex.expect {
        Some(true) => prefix.extend([Event::Interim, Event::BodyWritten]),
        Some(false) => {}
        None if ex.post => prefix.push(Event::BodyWritten),
        None => {}
    }
    if let Some(t) = cut.filter(|&t| t < head_end) {
        let done = interim_ends.iter().filter(|&&e| e <= t).count();
        prefix.extend(std::iter::repeat(Event::Interim).take(done));
        prefix.push(Event::PeerClose);
        let kind = if t == 0 {
            Kind::ClosedBeforeResponse
        } else {
            Kind::ClosedMidResponse
        };
        return Prediction {
            prefix,
            end: State::Closed,
            error: Some(kind),
        };
    }
    prefix.extend(std::iter::repeat(Event::Interim).take(ex.interims));
    use weir::generated::connection::Framing as M;
    let framing = match ex.framing {
        Framing::None => M::None,
        Framing::Length if ex.body_len == 0 => M::None,
        Framing::Length => M::Length,
        Framing::Chunked => M::Chunked,
        Framing::CloseDelimited => M::CloseDelimited,
    };
    prefix.push(Event::FinalHead {
        framing,
        req_close: false,
        resp_close: ex.close_header,
        http10: ex.http10,
        keep_alive: ex.http10 && ex.keep_alive_header,
    });
    // An early final response (the body never sent) is never reused.
    let early = ex.expect == Some(false);
    let reuse = !early
        && !ex.close_header
        && (!ex.http10 || ex.keep_alive_header)
        && framing != M::CloseDelimited;
    if cut.is_some_and(|t| t < body_end) {
        return Prediction {
            prefix,
            end: State::Closed,
            error: Some(Kind::BodyIncomplete),
        };
    }
    let end = if reuse && !ex.leftover {
        State::Idle
    } else {
        State::Closed
    };
    Prediction {
        prefix,
        end,
        error: None,
    }
}

/// Reads until `buf` holds `n` bytes or more; false at EOF.
async fn fill(s: &mut TcpStream, buf: &mut Vec<u8>, n: usize) -> bool {
    let mut chunk = [0u8; 4096];
    while buf.len() < n {
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return false,
            Ok(k) => buf.extend_from_slice(&chunk[..k]),
        }
    }
    true
}

/// Reads one request head and returns its Content-Length; `None` at EOF.
async fn read_head(s: &mut TcpStream, buf: &mut Vec<u8>) -> Option<usize> {
    loop {
        if let Some(end) = util::scripted::find(buf, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            buf.drain(..end + 4);
            let len = head.lines().find_map(|l| {
                l.strip_prefix("content-length: ")
                    .and_then(|v| v.trim().parse().ok())
            });
            return Some(len.unwrap_or(0));
        }
        let want = buf.len() + 1;
        if !fill(s, buf, want).await {
            return None;
        }
    }
}

/// Reads one request (head and Content-Length body), answering `100 Continue` first when
/// the exchange says so; `None` at EOF.
async fn read_request(s: &mut TcpStream, buf: &mut Vec<u8>, ex: &Exchange) -> Option<()> {
    let len = read_head(s, buf).await?;
    match ex.expect {
        Some(false) => return Some(()), // the final response goes out before the body
        Some(true) => s.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await.ok()?,
        None => {}
    }
    if !fill(s, buf, len).await {
        return None;
    }
    buf.drain(..len);
    Some(())
}

/// The server side of one connection.
async fn serve(mut s: TcpStream, exchanges: Vec<Exchange>) {
    let mut pending = Vec::new();
    for ex in exchanges {
        if read_request(&mut s, &mut pending, &ex).await.is_none() {
            return;
        }
        if ex.cancel {
            let _ = fill(&mut s, &mut pending, usize::MAX).await; // until the client closes
            return;
        }
        let (mut bytes, ..) = response(&ex);
        let cut = cut_at(&ex, bytes.len());
        if let Some(t) = cut {
            bytes.truncate(t);
        } else if ex.leftover {
            bytes.extend_from_slice(b"X");
        }
        let mut at = 0;
        for size in ex.pieces.iter().cycle() {
            if at >= bytes.len() {
                break;
            }
            // Leftover bytes leave with the end of the body, in one write.
            let mut end = (at + size).min(bytes.len());
            if ex.leftover && cut.is_none() && end + 1 == bytes.len() {
                end = bytes.len();
            }
            if s.write_all(&bytes[at..end]).await.is_err() {
                return;
            }
            at = end;
            weir::rt::yield_now().await;
        }
        if cut.is_some() || predict(&ex).end == State::Closed {
            let _ = s.close();
            return;
        }
    }
}

/// Runs the exchanges on one connection and checks each against the model.
fn run(exchanges: Vec<Exchange>) -> Result<(), TestCaseError> {
    install_hook();
    weir::rt::block_on(async move {
        let (listener, addr) = util::rt::listener();
        let script = exchanges.clone();
        let server = weir::rt::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            serve(s, script).await;
        });
        let url = format!("http://{addr}/c");
        let pool = Collect::new();
        let cfg = ConnConfig {
            // Only the server's `100` (or its early final response) releases a held body.
            expect_continue_wait: std::time::Duration::from_secs(3600),
            ..ConnConfig::default()
        };
        let mut conn = util::conn::connect(&url, &cfg, Some(pool.clone())).await;
        let mut model = Model::new().step(Event::Connected).unwrap();
        take_trace();
        for (i, ex) in exchanges.iter().enumerate() {
            let reports = pool.reports();
            let predicted = predict(ex);
            let seen_error = exchange_once(conn, &url, ex).await;
            until_reports(&pool, reports + 1).await;
            weir::rt::yield_now().await;
            prop_assert_eq!(
                pool.reports(),
                reports + 1,
                "exactly one report for exchange {}",
                i
            );
            let trace = take_trace();
            model = replay(model, &trace)?;
            let events: Vec<Event> = trace
                .iter()
                .map(|r| Event::decode(r.1, &r.2).unwrap())
                .collect();
            prop_assert!(
                events.starts_with(&predicted.prefix),
                "exchange {}: events {:?}, predicted prefix {:?}",
                i,
                events,
                predicted.prefix
            );
            prop_assert_eq!(model.state, predicted.end, "exchange {}: {:?}", i, events);
            if ex.drop_after.is_none() {
                prop_assert_eq!(seen_error, predicted.error, "exchange {}", i);
            }
            match pool.take_idle() {
                Some(c) => {
                    prop_assert_eq!(predicted.end, State::Idle);
                    prop_assert_eq!(c.model().state, State::Idle);
                    conn = c;
                }
                None => {
                    prop_assert_eq!(predicted.end, State::Closed);
                    break;
                }
            }
        }
        drop(server);
        Ok(())
    })
}

/// Steps the model through the recorded transitions; each must be legal and land where the
/// real code went.
fn replay(mut model: Model, trace: &[Rec]) -> Result<Model, TestCaseError> {
    for (_, event, args, from, to) in trace {
        let e = Event::decode(event, args).expect("known event");
        prop_assert_eq!(model.state.name(), *from);
        model = model
            .step(e)
            .map_err(|ill| TestCaseError::fail(format!("illegal {ill:?} in the model")))?;
        prop_assert_eq!(model.state.name(), *to, "after {:?}", e);
    }
    Ok(model)
}

/// One exchange from the client side; returns the error a reading consumer saw.
async fn exchange_once(
    conn: weir::conn::Connection<weir::conn::state::Idle>,
    url: &str,
    ex: &Exchange,
) -> Option<Kind> {
    let url = Url::parse(url).unwrap();
    let req = match (ex.post, ex.expect) {
        (_, Some(_)) => Request::post(&url.to_string())
            .header("Expect", "100-continue")
            .body("hello")
            .build()
            .unwrap(),
        (true, None) => Request::post(&url.to_string())
            .body("hello")
            .build()
            .unwrap(),
        (false, None) => Request::new(weir::http::Method::Get, url.clone()),
    };
    if ex.cancel {
        // The server never answers: the request future is dropped while it waits.
        let send = weir::rt::time::timeout(std::time::Duration::from_millis(5), conn.send(req));
        assert!(send.await.is_err(), "the server never answers");
        return None;
    }
    let resp = match conn.send(req).await {
        Ok(resp) => resp,
        Err(err) => return Some(err.kind()),
    };
    let mut body = resp.into_body();
    let limit = ex.drop_after.unwrap_or(usize::MAX);
    let mut chunks = 0;
    while chunks < limit {
        match body.next_chunk().await {
            Ok(Some(_)) => chunks += 1,
            Ok(None) => return None,
            Err(err) => return Some(err.kind()),
        }
    }
    None // dropped early
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_connection_follows_the_model(exchanges in prop::collection::vec(exchange(), 1..4)) {
        run(exchanges)?;
    }
}

#[test]
fn a_clean_keep_alive_sequence_stays_on_one_connection() {
    let ex = Exchange {
        post: false,
        expect: None,
        cancel: false,
        framing: Framing::Chunked,
        body_len: 1500,
        chunk: 100,
        interims: 1,
        http10: false,
        keep_alive_header: false,
        close_header: false,
        leftover: false,
        cut: 1000,
        pieces: vec![7, 13],
        drop_after: None,
    };
    let mut exs = vec![ex.clone(); 3];
    exs[1].drop_after = Some(1);
    exs[2].framing = Framing::Length;
    run(exs).unwrap();
}
