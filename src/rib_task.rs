//! The RIB task: the one owner of Adj-RIB-In, Loc-RIB and Adj-RIB-Out.
//!
//! Peer tasks feed it over a bounded channel (a peer that floods UPDATEs is slowed down by TCP
//! flow control instead of growing memory); it answers with per-peer exports and sends
//! best-route changes to the FIB task. No lock is shared with the peers.

use std::collections::HashMap;
use std::net::IpAddr;

use bgpod_bgp::rib::{
    FibChange, LocalSettings, Path, PathSource, PeerId, PeerInfo, Rib, RibChanges,
};
use bgpod_bgp::wire::attr::AsPathSegment;
use bgpod_bgp::wire::prefix::Prefix;
use bgpod_bgp::wire::{Afi, Origin, Safi, Update};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, trace, warn};

use crate::peer::PeerCommand;

/// Events for the RIB task.
#[derive(Debug)]
pub enum RibEvent {
    /// A session reached Established. `generation` tags everything that belongs to it.
    PeerUp {
        info: PeerInfo,
        generation: u64,
    },
    PeerDown {
        peer: PeerId,
        generation: u64,
    },
    /// Boxed: an UPDATE is much larger than the other events.
    Update {
        peer: PeerId,
        generation: u64,
        update: Box<Update>,
    },
    RouteRefresh {
        peer: PeerId,
        generation: u64,
        afi: Afi,
        safi: Safi,
    },
    Query(RibQuery),
}

/// Read-only questions from the control socket.
#[derive(Debug)]
pub enum RibQuery {
    Routes(oneshot::Sender<Vec<RouteView>>),
    Counts(oneshot::Sender<HashMap<PeerId, PeerCounts>>),
}

/// Prefix counters of one peer, for `bgpod status`.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct PeerCounts {
    pub received: usize,
    pub accepted: usize,
    pub advertised: usize,
}

/// One Loc-RIB entry as the control socket shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RouteView {
    pub prefix: Prefix,
    pub paths: Vec<PathView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PathView {
    /// The peer's address, or "local" for the node's own prefixes.
    pub source: String,
    pub next_hop: Option<IpAddr>,
    pub as_path: Vec<u32>,
    pub origin: &'static str,
    pub local_pref: Option<u32>,
    pub med: Option<u32>,
    pub communities: Vec<String>,
    pub best: bool,
    pub multipath: bool,
}

struct PeerSlot {
    generation: u64,
    tx: mpsc::UnboundedSender<PeerCommand>,
}

/// Where each peer's exports go: filled by the daemon before the peers start.
pub type PeerDirectory = HashMap<PeerId, mpsc::UnboundedSender<PeerCommand>>;

pub async fn run(
    settings: LocalSettings,
    local_prefixes: Vec<Prefix>,
    directory: PeerDirectory,
    mut rx: mpsc::Receiver<RibEvent>,
    fib: mpsc::UnboundedSender<Vec<FibChange>>,
) {
    let mut rib = Rib::new(settings);
    let mut up: HashMap<PeerId, PeerSlot> = HashMap::new();
    let changes = rib.set_local_prefixes(local_prefixes);
    dispatch(changes, &up, &fib, false);
    while let Some(ev) = rx.recv().await {
        match ev {
            RibEvent::PeerUp { info, generation } => {
                let id = info.id;
                let Some(tx) = directory.get(&id) else {
                    warn!(peer = id, "PeerUp from an unknown peer id");
                    continue;
                };
                info!(peer = %info.address, "peer up: sending the initial table");
                up.insert(
                    id,
                    PeerSlot {
                        generation,
                        tx: tx.clone(),
                    },
                );
                let changes = rib.peer_up(info);
                dispatch_initial(changes, id, &up, &fib);
            }
            RibEvent::PeerDown { peer, generation } => {
                if up.get(&peer).is_some_and(|s| s.generation == generation) {
                    up.remove(&peer);
                    let changes = rib.peer_down(peer);
                    debug!(peer, fib = changes.fib.len(), "peer down: routes withdrawn");
                    dispatch(changes, &up, &fib, false);
                }
            }
            RibEvent::Update {
                peer,
                generation,
                update,
            } => {
                if up.get(&peer).is_some_and(|s| s.generation == generation) {
                    trace!(
                        peer,
                        nlri = update.nlri.len(),
                        withdrawn = update.withdrawn.len(),
                        "update"
                    );
                    let changes = rib.update(peer, *update);
                    dispatch(changes, &up, &fib, false);
                }
            }
            RibEvent::RouteRefresh {
                peer,
                generation,
                afi,
                safi,
            } => {
                if up.get(&peer).is_some_and(|s| s.generation == generation) {
                    let changes = rib.route_refresh(peer, afi, safi);
                    dispatch(changes, &up, &fib, false);
                }
            }
            RibEvent::Query(RibQuery::Routes(reply)) => {
                let _ = reply.send(routes_view(&rib, &up));
            }
            RibEvent::Query(RibQuery::Counts(reply)) => {
                let counts = up
                    .keys()
                    .map(|id| {
                        let received = rib.adj_rib_in_count(*id);
                        (
                            *id,
                            PeerCounts {
                                received,
                                accepted: received,
                                advertised: rib.adj_rib_out_count(*id),
                            },
                        )
                    })
                    .collect();
                let _ = reply.send(counts);
            }
        }
    }
}

/// Like [`dispatch`], but the export to `initial_peer` is its whole table: End-of-RIB follows.
fn dispatch_initial(
    mut changes: RibChanges,
    initial_peer: PeerId,
    up: &HashMap<PeerId, PeerSlot>,
    fib: &mpsc::UnboundedSender<Vec<FibChange>>,
) {
    let mut sent_initial = false;
    for (peer, export) in std::mem::take(&mut changes.exports) {
        let eor = peer == initial_peer;
        sent_initial |= eor;
        send_export(up, peer, export, eor);
    }
    if !sent_initial {
        // Nothing to advertise: the End-of-RIB alone tells the peer the table is complete.
        send_export(up, initial_peer, Default::default(), true);
    }
    dispatch(changes, up, fib, false);
}

fn dispatch(
    changes: RibChanges,
    up: &HashMap<PeerId, PeerSlot>,
    fib: &mpsc::UnboundedSender<Vec<FibChange>>,
    end_of_rib: bool,
) {
    for (peer, export) in changes.exports {
        send_export(up, peer, export, end_of_rib);
    }
    if !changes.fib.is_empty() && fib.send(changes.fib).is_err() {
        warn!("FIB task is gone; best-route changes dropped");
    }
}

fn send_export(
    up: &HashMap<PeerId, PeerSlot>,
    peer: PeerId,
    export: bgpod_bgp::rib::Export,
    end_of_rib: bool,
) {
    if let Some(slot) = up.get(&peer) {
        let _ = slot.tx.send(PeerCommand::Export {
            generation: slot.generation,
            export,
            end_of_rib,
        });
    }
}

fn routes_view(rib: &Rib, _up: &HashMap<PeerId, PeerSlot>) -> Vec<RouteView> {
    let mut out: Vec<RouteView> = rib
        .loc_rib()
        .map(|(prefix, paths)| {
            let best_set = rib.best(&prefix).map_or(0, <[Path]>::len);
            RouteView {
                prefix,
                paths: paths
                    .iter()
                    .enumerate()
                    .map(|(i, p)| {
                        path_view(p, i == 0 && best_set > 0, i < best_set && best_set > 1)
                    })
                    .collect(),
            }
        })
        .collect();
    out.sort_by_key(|r| r.prefix);
    out
}

fn path_view(p: &Path, best: bool, multipath: bool) -> PathView {
    let a = &p.attrs;
    PathView {
        source: match p.source {
            PathSource::Local => "local".to_string(),
            PathSource::Peer(_) => p
                .peer_address
                .map_or_else(|| "peer".to_string(), |a| a.to_string()),
        },
        next_hop: p.next_hop,
        as_path: a
            .as_path
            .as_ref()
            .map(|ap| {
                ap.segments
                    .iter()
                    .flat_map(|s| match s {
                        AsPathSegment::Sequence(v)
                        | AsPathSegment::Set(v)
                        | AsPathSegment::ConfedSequence(v)
                        | AsPathSegment::ConfedSet(v) => v.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        origin: match a.origin {
            Some(Origin::Igp) | None => "igp",
            Some(Origin::Egp) => "egp",
            Some(Origin::Incomplete) => "incomplete",
        },
        local_pref: a.local_pref,
        med: a.med,
        communities: a
            .communities
            .iter()
            .map(|c| format!("{}:{}", c >> 16, c & 0xffff))
            .collect(),
        best,
        multipath,
    }
}
