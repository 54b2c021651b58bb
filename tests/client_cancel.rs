//! Cancellation: a request future dropped after k polls, for every k until it completes, leaves
//! the pool consistent; the pool's transitions, recorded through `weir::trace`, replay legally
//! against the generated reference model (`weir::generated::pool`), whose invariants hold after
//! every step and whose counts match the real pool's at the end. Plus the httpcore #1093 /
//! #1110 cases: cancel while waiting for a slot, during connect, and mid-body.

mod util;

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Once};
use std::task::{Context, Wake, Waker};
use std::time::Duration;

use util::hyper_server::HyperServer;
use util::rt::run;
use util::scripted::{Script, ScriptedPeer};
use weir::client::{Client, PoolCounts, PoolStats};
use weir::generated::pool::{Event, Model, HOSTS, IDLE, REQS};
use weir::http::{Origin, Url};

// ---- recording the pool's transitions of this thread -------------------------------------

/// One recorded transition: machine, from, event, args, to.
type Recorded = (
    &'static str,
    &'static str,
    &'static str,
    Vec<i32>,
    &'static str,
);

thread_local! {
    /// The transitions this thread made, of every machine.
    static TRACE: RefCell<Vec<Recorded>> = const { RefCell::new(Vec::new()) };
}

/// Installs (once per process) a hook that files each transition under its thread.
fn record_pool_transitions() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        weir::trace::set_hook(|t: &weir::trace::Transition<'_>| {
            let entry = (t.machine, t.from, t.event, t.args.to_vec(), t.to);
            let _ = TRACE.try_with(|tr| tr.borrow_mut().push(entry));
        })
    });
}

/// This thread's transitions of every machine since the last take.
fn take_all() -> Vec<Recorded> {
    TRACE.with(|t| std::mem::take(&mut *t.borrow_mut()))
}

/// This thread's pool transitions since the last take: (event, args).
fn take_trace() -> Vec<(&'static str, Vec<i32>)> {
    let all = take_all().into_iter().filter(|t| t.0 == "pool");
    all.map(|(_, _, event, args, _)| (event, args)).collect()
}

/// Replays recorded pool transitions against the reference model.
struct Replay {
    /// The model.
    model: Model,
    /// Real request serial → model request.
    requests: HashMap<i32, i32>,
    /// Real host (port) → model host.
    hosts: HashMap<i32, i32>,
    /// Steps replayed.
    steps: usize,
    /// Whether any model request has waited.
    waited: bool,
}

impl Replay {
    fn new(max_per_host: i32, max_total: i32, ports: &[u16]) -> Replay {
        assert!(ports.len() <= HOSTS as usize);
        let hosts = ports
            .iter()
            .zip(0..)
            .map(|(p, h)| (i32::from(*p), h))
            .collect();
        Replay {
            model: Model::new(max_per_host, max_total),
            requests: HashMap::new(),
            hosts,
            steps: 0,
            waited: false,
        }
    }

    /// Applies every transition in `trace`; panics on an illegal step or a broken invariant.
    fn apply_all(&mut self, trace: &[(&'static str, Vec<i32>)]) {
        for (event, args) in trace {
            self.apply(event, args);
        }
    }

    fn apply(&mut self, event: &str, args: &[i32]) {
        let is_host_event = matches!(event, "expire" | "evict");
        let (model_arg, request) = if is_host_event {
            (self.host(args[0]), None)
        } else {
            let r = self.request(args[0], args[1]);
            (r, Some(r))
        };
        let e = Event::decode(event, &[model_arg]).unwrap_or_else(|| panic!("unknown {event}"));
        if let Err(illegal) = self.model.apply(e) {
            panic!(
                "step {}: {event}{args:?} as {e:?} is illegal: {illegal:?} in {:?}",
                self.steps, self.model.vars
            );
        }
        if let Err(broken) = self.model.check() {
            panic!(
                "step {}: invariant {broken} broken after {e:?}: {:?}",
                self.steps, self.model.vars
            );
        }
        if let Some(r) = request {
            if self.model.vars.st[r as usize] == IDLE {
                self.requests.retain(|_, m| *m != r); // the model request is free again
            }
        }
        self.waited |= self.model.vars.qlen > 0;
        self.steps += 1;
    }

    fn host(&self, port: i32) -> i32 {
        *self
            .hosts
            .get(&port)
            .unwrap_or_else(|| panic!("unknown host port {port}"))
    }

    /// The model request standing for real request `serial` of host `port`.
    fn request(&mut self, serial: i32, port: i32) -> i32 {
        if let Some(r) = self.requests.get(&serial) {
            return *r;
        }
        let h = self.host(port);
        let used: Vec<i32> = self.requests.values().copied().collect();
        let free = (0..REQS).find(|r| r % HOSTS == h && !used.contains(r));
        let r = free
            .unwrap_or_else(|| panic!("more requests in flight on host {h} than the model has"));
        self.requests.insert(serial, r);
        r
    }

    /// The model's counts of host `port` must equal the real pool's.
    fn assert_counts_match(&self, port: u16, real: PoolCounts) {
        let h = self.host(i32::from(port)) as usize;
        let v = &self.model.vars;
        let model = (v.connecting[h], v.active[h], v.idle[h]);
        let real_counts = (real.connecting as i32, real.active as i32, real.idle as i32);
        assert_eq!(
            model, real_counts,
            "model vs real (connecting, active, idle) of host {h}"
        );
        assert_eq!(v.qlen, 0, "no model waiter left");
    }
}

// ---- driving a future by hand ------------------------------------------------------------

/// A waker that counts its wakes.
#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Polls `fut` at most `k` times with a counting waker, letting the loop run between two polls
/// until the waker fires. Returns whether it completed.
async fn poll_k_times<F: Future>(fut: Pin<&mut F>, k: usize) -> bool {
    let counter = Arc::new(CountingWaker::default());
    let waker = Waker::from(counter.clone());
    let mut fut = fut;
    for i in 0..k {
        let seen = counter.0.load(Ordering::SeqCst);
        if fut
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_ready()
        {
            return true;
        }
        if i + 1 == k {
            break;
        }
        let mut spins = 0u64;
        while counter.0.load(Ordering::SeqCst) == seen {
            weir::rt::time::sleep(Duration::from_micros(200)).await;
            spins += 1;
            assert!(
                spins < 100_000,
                "the future was never woken: a lost wake-up"
            );
        }
    }
    false
}

/// Waits until no connection of the pool is connecting or active (dropped bodies drain or
/// close on tasks of their own).
async fn settle(client: &Client) -> PoolStats {
    loop {
        let stats = client.pool_stats();
        if stats.total.connecting + stats.total.active + stats.total.waiters == 0 {
            return stats;
        }
        weir::rt::time::sleep(Duration::from_millis(2)).await;
    }
}

fn assert_within(stats: &PoolStats, per_host: usize, total: usize) {
    for (origin, c) in &stats.hosts {
        assert!(c.connections() <= per_host, "{origin:?}: {c:?}");
    }
    assert!(stats.total.connections() <= total, "{:?}", stats.total);
}

fn port_of(url: &str) -> u16 {
    match Url::parse(url).unwrap().origin() {
        Origin::Tcp { port, .. } => *port,
        other => panic!("not tcp: {other:?}"),
    }
}

// ---- the sweep ---------------------------------------------------------------------------

/// Drops `client.get(url)` + reading its body after k polls, for k = 0, 1, … until one run
/// completes; after each, the pool settles with nothing leaked and the trace replays.
/// With `elsewhere`, the competitor uses a second host and the pool holds one connection in
/// total, so waits (and evictions of the other host's idle connection) cross hosts.
fn sweep(body: &'static [u8], competitor: bool) -> usize {
    sweep_hosts(body, competitor, false)
}

fn sweep_hosts(body: &'static [u8], competitor: bool, elsewhere: bool) -> usize {
    record_pool_transitions();
    let server = HyperServer::fixed(body);
    let other = HyperServer::fixed(body);
    let url = server.url("/");
    let port = port_of(&url);
    let rival_url = if elsewhere {
        other.url("/")
    } else {
        url.clone()
    };
    let rival_port = port_of(&rival_url);
    let (per_host, total) = if elsewhere { (2, 1) } else { (2, 3) };
    let client = Client::builder()
        .max_connections_per_host(per_host)
        .max_connections(total)
        .build();
    let ports: &[u16] = if elsewhere {
        &[port, rival_port]
    } else {
        &[port]
    };
    let mut replay = Replay::new(per_host as i32, total as i32, ports);
    run(async {
        take_trace();
        let mut k = 0;
        loop {
            // With a competitor, the swept request also meets a busy pool and waits for a slot.
            let rival = competitor.then(|| {
                let (client, url) = (client.clone(), rival_url.clone());
                weir::rt::spawn(async move {
                    for _ in 0..2 {
                        let resp = client.get(&url).await.unwrap();
                        resp.into_body().bytes().await.unwrap();
                    }
                })
            });
            let (client2, url2) = (client.clone(), url.clone());
            let mut fut = Box::pin(async move {
                let resp = client2.get(&url2).await.unwrap();
                resp.into_body().bytes().await.unwrap()
            });
            let done = poll_k_times(fut.as_mut(), k).await;
            drop(fut);
            assert_within(&client.pool_stats(), per_host, total);
            if let Some(rival) = rival {
                rival.await.unwrap();
            }
            let stats = settle(&client).await;
            assert_within(&stats, per_host, total);
            replay.apply_all(&take_trace());
            for (p, u) in [(port, &url), (rival_port, &rival_url)] {
                replay.assert_counts_match(p, stats.host(&Url::parse(u).unwrap().origin().clone()));
            }
            if done {
                assert!(
                    !elsewhere || replay.waited,
                    "a request waited for the other host's slot"
                );
                assert!(
                    replay.steps >= k,
                    "the trace was replayed ({} steps, k = {k})",
                    replay.steps
                );
                return k;
            }
            k += 1;
        }
    })
}

#[test]
fn cancel_after_every_poll_leaves_the_pool_consistent() {
    let k = sweep(b"hello", false);
    assert!(k >= 2, "the request needed several polls ({k})");
}

#[test]
fn cancel_after_every_poll_with_a_competitor() {
    let k = sweep(b"contended", true);
    assert!(k >= 2, "the request needed several polls ({k})");
}

#[test]
fn cancel_after_every_poll_with_a_competitor_on_another_host() {
    let k = sweep_hosts(b"contended", true, true);
    assert!(k >= 2, "the request needed several polls ({k})");
}

#[test]
fn cancel_after_every_poll_of_a_large_body() {
    static BIG: [u8; 256 * 1024] = [7; 256 * 1024];
    let k = sweep(&BIG, false);
    assert!(k >= 3, "a 256 KiB body needs several reads ({k})");
}

// ---- httpcore #1093 / #1110 ----------------------------------------------------------------

#[test]
fn cancel_while_waiting_for_a_slot_leaks_nothing() {
    record_pool_transitions();
    let stuck = Script::new()
        .respond(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nok")
        .read_head()
        .write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    let peer = ScriptedPeer::start(vec![stuck]);
    let url = peer.url("/");
    let client = Client::builder().max_connections_per_host(1).build();
    let mut replay = Replay::new(1, 1, &[port_of(&url)]);
    run(async {
        take_trace();
        let held = client.get(&url).await.unwrap(); // 2 of 4 body bytes: stays active
        for _ in 0..3 {
            let mut waiter = Box::pin(client.get(&url));
            assert!(!poll_k_times(waiter.as_mut(), 1).await);
            assert_eq!(client.pool_stats().total.waiters, 1);
            drop(waiter);
            assert_eq!(client.pool_stats().total.waiters, 0);
        }
        assert_eq!(
            client.pool_stats().total,
            PoolCounts {
                active: 1,
                ..Default::default()
            }
        );
        drop(held); // unfinished body: closed
        settle(&client).await;
        // The slot came back: a new request gets a (new) connection.
        let stats = client.pool_stats().total;
        assert_eq!(stats.connections(), 0, "{stats:?}");
        let trace = take_trace();
        let cancels = trace.iter().filter(|(e, _)| *e == "cancel").count();
        assert_eq!(cancels, 3, "{trace:?}");
        replay.apply_all(&trace);
    });
}

#[test]
fn cancel_during_connect_gives_the_slot_back() {
    record_pool_transitions();
    fn slow_resolver(host: &str) {
        if host == "slow-resolver.invalid" {
            std::thread::sleep(Duration::from_millis(300));
        }
    }
    weir::rt::net::set_resolve_hook_for_tests(Some(slow_resolver));
    let client = Client::builder().max_connections_per_host(1).build();
    run(async {
        let mut connecting = Box::pin(client.get("http://slow-resolver.invalid:9/"));
        let waker = Waker::from(Arc::new(CountingWaker::default()));
        let polled = connecting.as_mut().poll(&mut Context::from_waker(&waker));
        assert!(polled.is_pending());
        assert_eq!(
            client.pool_stats().total,
            PoolCounts {
                connecting: 1,
                ..Default::default()
            }
        );
        drop(connecting);
        assert_eq!(
            client.pool_stats(),
            PoolStats::default(),
            "slot given back at once"
        );
    });
    let trace = take_trace();
    let events: Vec<&str> = trace.iter().map(|(e, _)| *e).collect();
    assert_eq!(events, ["checkout", "cancel"]);
}

#[test]
fn cancel_mid_body_then_the_pool_keeps_working() {
    record_pool_transitions();
    let server = HyperServer::fixed(&[1u8; 1 << 20]);
    let url = server.url("/");
    let port = port_of(&url);
    let client = Client::builder().max_connections_per_host(1).build();
    let mut replay = Replay::new(1, 1, &[port]);
    run(async {
        take_trace();
        for _ in 0..3 {
            let resp = client.get(&url).await.unwrap();
            let mut body = resp.into_body();
            let first = body.next_chunk().await.unwrap().unwrap();
            assert!(!first.is_empty());
            drop(body); // #1110: a body dropped mid-way must not strand the single slot
            let resp = client.get(&url).await.unwrap();
            assert_eq!(resp.into_body().bytes().await.unwrap().len(), 1 << 20);
        }
        let stats = settle(&client).await;
        replay.apply_all(&take_trace());
        replay.assert_counts_match(
            port,
            stats.host(&Url::parse(&url).unwrap().origin().clone()),
        );
    });
}

#[test]
fn evicting_for_another_host_replays_as_the_models_serve() {
    record_pool_transitions();
    let (a, b) = (HyperServer::fixed(b"a"), HyperServer::fixed(b"b"));
    let (url_a, url_b) = (a.url("/"), b.url("/"));
    let (port_a, port_b) = (port_of(&url_a), port_of(&url_b));
    let client = Client::builder()
        .max_connections_per_host(2)
        .max_connections(2)
        .build();
    let mut replay = Replay::new(2, 2, &[port_a, port_b]);
    run(async {
        take_trace();
        // Two connections to A at once, both idle afterwards: the pool is full.
        let both: Vec<_> = (0..2)
            .map(|_| {
                let (client, url) = (client.clone(), url_a.clone());
                weir::rt::spawn(async move {
                    let resp = client.get(&url).await.unwrap();
                    resp.into_body().bytes().await.unwrap();
                })
            })
            .collect();
        for t in both {
            t.await.unwrap();
        }
        assert_eq!(client.pool_stats().total.idle, 2);
        // B needs a connection: one of A's idle ones is closed to make room.
        let resp = client.get(&url_b).await.unwrap();
        resp.into_body().bytes().await.unwrap();
        let stats = settle(&client).await;
        let trace = take_trace();
        assert!(trace.iter().any(|(e, _)| *e == "serve"), "{trace:?}");
        replay.apply_all(&trace);
        let origin = |u: &str| Url::parse(u).unwrap().origin().clone();
        replay.assert_counts_match(port_a, stats.host(&origin(&url_a)));
        replay.assert_counts_match(port_b, stats.host(&origin(&url_b)));
    });
}

#[test]
fn connection_transitions_of_a_real_run_replay_against_the_connection_model() {
    use weir::generated::connection as cm;
    record_pool_transitions();
    let server = HyperServer::fixed(&[3u8; 200 * 1024]);
    let url = server.url("/");
    let client = Client::builder().max_connections_per_host(1).build();
    let trace = run(async {
        take_all();
        for i in 0..6 {
            let resp = client.get(&url).await.unwrap();
            let mut body = resp.into_body();
            if i % 3 == 2 {
                body.next_chunk().await.unwrap(); // dropped mid-way: drained or closed
            } else {
                assert_eq!(body.read_to_end().await.unwrap().len(), 200 * 1024);
            }
        }
        settle(&client).await;
        take_all()
    });
    let conn: Vec<_> = trace.into_iter().filter(|t| t.0 == cm::MACHINE).collect();
    assert!(
        conn.len() >= 6 * 4,
        "every exchange took several transitions: {}",
        conn.len()
    );
    // One connection at a time (limit 1): a transition out of `connecting` starts a new one.
    let mut model: Option<cm::Model> = None;
    for (i, (_, from, event, args, to)) in conn.iter().enumerate() {
        if *from == cm::State::Connecting.name() {
            let done = model.as_ref().map_or(true, |m| m.state.is_terminal());
            assert!(done, "step {i}: a second connection while one is open");
            model = Some(cm::Model::new());
        }
        let m = model
            .as_mut()
            .unwrap_or_else(|| panic!("step {i}: no connection"));
        assert_eq!(m.state.name(), *from, "step {i}: model state vs trace");
        let e = cm::Event::decode(event, args).unwrap_or_else(|| panic!("unknown event {event}"));
        m.apply(e)
            .unwrap_or_else(|illegal| panic!("step {i}: {event} illegal: {illegal:?}"));
        assert_eq!(m.state.name(), *to, "step {i}: {event} led elsewhere");
    }
}
