//! The control socket: a Unix socket speaking versioned JSON lines.
//!
//! Request: `{"v":1,"cmd":"status"}` or `{"v":1,"cmd":"routes"}`, one per line.
//! Reply: `{"v":1,"ok":true,"data":…}` or `{"v":1,"ok":false,"error":"…"}`, one line.

use serde::{Deserialize, Serialize};

/// The protocol version spoken on the control socket.
pub const VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
pub struct Request {
    pub v: u32,
    pub cmd: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Reply {
    pub v: u32,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

pub mod server {
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;
    use std::sync::Arc;

    use anyhow::Context;
    use serde_json::json;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    use tokio::net::{UnixListener, UnixStream};
    use tokio::sync::oneshot;
    use tracing::{debug, warn};

    use super::{Reply, Request, VERSION};
    use crate::daemon::Shared;
    use crate::rib_task::{RibEvent, RibQuery};

    /// Bind the control socket (mode 0660), replacing a stale socket file left by a crash.
    pub fn bind(path: &Path) -> anyhow::Result<UnixListener> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| {
                format!("creating the control socket directory {}", dir.display())
            })?;
        }
        if path.exists() {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                anyhow::bail!(
                    "control socket {} is in use: is another bgpod running?",
                    path.display()
                );
            }
            std::fs::remove_file(path)
                .with_context(|| format!("removing the stale control socket {}", path.display()))?;
        }
        let listener = UnixListener::bind(path)
            .with_context(|| format!("binding the control socket {}", path.display()))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
            .with_context(|| format!("setting permissions on {}", path.display()))?;
        Ok(listener)
    }

    pub fn remove(path: &Path) {
        let _ = std::fs::remove_file(path);
    }

    pub async fn serve(listener: UnixListener, shared: Arc<Shared>) {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    tokio::spawn(client(stream, shared.clone()));
                }
                Err(e) => {
                    warn!(error = %e, "control socket accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
        }
    }

    async fn client(stream: UnixStream, shared: Arc<Shared>) {
        let (r, mut w) = stream.into_split();
        let mut lines = BufReader::new(r).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let reply = match serde_json::from_str::<Request>(&line) {
                Ok(req) if req.v != VERSION => err(format!(
                    "unsupported control protocol version {} (this bgpod speaks {VERSION})",
                    req.v
                )),
                Ok(req) => answer(&req.cmd, &shared).await,
                Err(e) => err(format!("bad request: {e}")),
            };
            let mut text = serde_json::to_string(&reply).unwrap_or_else(|e| {
                format!(r#"{{"v":{VERSION},"ok":false,"error":"cannot encode reply: {e}"}}"#)
            });
            text.push('\n');
            if w.write_all(text.as_bytes()).await.is_err() {
                return;
            }
        }
        debug!("control client gone");
    }

    fn err(msg: String) -> Reply {
        Reply {
            v: VERSION,
            ok: false,
            data: None,
            error: Some(msg),
        }
    }

    async fn answer(cmd: &str, shared: &Shared) -> Reply {
        let data = match cmd {
            "status" => status(shared).await,
            "routes" => {
                let (tx, rx) = oneshot::channel();
                if shared
                    .rib
                    .send(RibEvent::Query(RibQuery::Routes(tx)))
                    .await
                    .is_err()
                {
                    return err("the RIB task is not running".into());
                }
                match rx.await {
                    Ok(routes) => json!({ "routes": routes }),
                    Err(_) => return err("the RIB task did not answer".into()),
                }
            }
            other => return err(format!("unknown command {other:?} (try status, routes)")),
        };
        Reply {
            v: VERSION,
            ok: true,
            data: Some(data),
            error: None,
        }
    }

    async fn status(shared: &Shared) -> serde_json::Value {
        let (tx, rx) = oneshot::channel();
        let counts = if shared
            .rib
            .send(RibEvent::Query(RibQuery::Counts(tx)))
            .await
            .is_ok()
        {
            rx.await.unwrap_or_default()
        } else {
            Default::default()
        };
        let peers: Vec<serde_json::Value> = shared
            .peers
            .iter()
            .filter_map(|p| {
                let s = p.status.lock().ok()?.clone();
                let c = counts.get(&p.id).copied().unwrap_or_default();
                Some(json!({
                    "address": s.address,
                    "asn": s.asn,
                    "description": s.description,
                    "state": s.state,
                    "uptime_secs": s.established_at.map(|t| t.elapsed().as_secs()),
                    "prefixes_received": c.received,
                    "prefixes_accepted": c.accepted,
                    "prefixes_advertised": c.advertised,
                    "last_error": s.last_error,
                    "established_transitions": s.established_transitions,
                    "updates_received": s.updates_received,
                    "updates_sent": s.updates_sent,
                    "notifications_received": s.notifications_received,
                    "notifications_sent": s.notifications_sent,
                }))
            })
            .collect();
        let fib = shared.fib.as_ref().map(|r| {
            let f = r.read();
            json!({
                "table": shared.config.fib.table,
                "protocol": shared.config.fib.protocol,
                "installed": f.installed,
                "desired": f.desired,
                "pending": f.pending,
                "held": f.held.iter().map(|(k, n)| (k.clone(), json!(n))).collect::<serde_json::Map<_, _>>(),
                "held_examples": f.held_examples.iter().map(|(p, why)| json!({"prefix": p, "reason": why})).collect::<Vec<_>>(),
                "errors": f.errors,
                "recent_errors": f.recent_errors.iter().map(|(p, e)| json!({"prefix": p, "error": e})).collect::<Vec<_>>(),
                "repairs": f.repairs,
                "resyncs": f.resyncs,
                "last_sync_ms": f.last_sync.map(|d| d.as_secs_f64() * 1000.0),
            })
        });
        json!({
            "router_id": shared.config.router_id,
            "asn": shared.config.asn,
            "uptime_secs": shared.started.elapsed().as_secs(),
            "peers": peers,
            "fib": fib,
        })
    }
}

pub mod client {
    use std::io::{BufRead, BufReader, Write};
    use std::os::unix::net::UnixStream;
    use std::path::Path;
    use std::process::ExitCode;

    use anyhow::Context;
    use serde_json::Value;

    use super::{Reply, Request, VERSION};

    pub fn ask(socket: &Path, cmd: &str) -> anyhow::Result<Value> {
        let mut stream = UnixStream::connect(socket).with_context(|| {
            format!(
                "cannot reach bgpod at {} (is the daemon running? pass --socket PATH)",
                socket.display()
            )
        })?;
        let mut line = serde_json::to_string(&Request {
            v: VERSION,
            cmd: cmd.to_string(),
        })?;
        line.push('\n');
        stream.write_all(line.as_bytes())?;
        let mut reply = String::new();
        BufReader::new(stream)
            .read_line(&mut reply)
            .context("reading the daemon's reply")?;
        let reply: Reply = serde_json::from_str(&reply).context("decoding the daemon's reply")?;
        match (reply.ok, reply.data) {
            (true, Some(data)) => Ok(data),
            _ => anyhow::bail!(
                "bgpod: {}",
                reply.error.unwrap_or_else(|| "empty reply".into())
            ),
        }
    }

    fn s(v: &Value) -> String {
        match v {
            Value::Null => "-".into(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }

    fn duration(v: &Value) -> String {
        let Some(secs) = v.as_u64() else {
            return "-".into();
        };
        let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
        if h > 0 {
            format!("{h}h{m:02}m")
        } else if m > 0 {
            format!("{m}m{s:02}s")
        } else {
            format!("{s}s")
        }
    }

    pub fn status(socket: &Path, json: bool) -> anyhow::Result<ExitCode> {
        let data = ask(socket, "status")?;
        if json {
            println!("{}", serde_json::to_string_pretty(&data)?);
            return Ok(ExitCode::SUCCESS);
        }
        println!(
            "bgpod router {} AS {}, up {}",
            s(&data["router_id"]),
            s(&data["asn"]),
            duration(&data["uptime_secs"])
        );
        let fib = &data["fib"];
        if fib.is_null() {
            println!("kernel routes: not installed ([fib] enabled = false)");
        } else {
            let held: u64 = fib["held"]
                .as_object()
                .map_or(0, |m| m.values().filter_map(Value::as_u64).sum());
            println!(
                "kernel routes: {} installed in table {} (proto {}), {} pending, {} held back, {} errors",
                s(&fib["installed"]),
                s(&fib["table"]),
                s(&fib["protocol"]),
                s(&fib["pending"]),
                held,
                s(&fib["errors"])
            );
        }
        println!(
            "{:<28} {:>10} {:<12} {:>7} {:>8} {:>8} {:>8}  LAST ERROR",
            "PEER", "AS", "STATE", "UP", "RCVD", "ACCEPTED", "ADVERT"
        );
        for p in data["peers"].as_array().into_iter().flatten() {
            println!(
                "{:<28} {:>10} {:<12} {:>7} {:>8} {:>8} {:>8}  {}",
                s(&p["address"]),
                s(&p["asn"]),
                s(&p["state"]),
                duration(&p["uptime_secs"]),
                s(&p["prefixes_received"]),
                s(&p["prefixes_accepted"]),
                s(&p["prefixes_advertised"]),
                s(&p["last_error"])
            );
        }
        Ok(ExitCode::SUCCESS)
    }

    pub fn routes(socket: &Path, json: bool) -> anyhow::Result<ExitCode> {
        let data = ask(socket, "routes")?;
        if json {
            println!("{}", serde_json::to_string_pretty(&data)?);
            return Ok(ExitCode::SUCCESS);
        }
        println!(
            "{:<2} {:<24} {:<26} {:<26} {:<20} {:>6} {:>6}",
            "", "PREFIX", "NEXT HOP", "FROM", "AS PATH", "LPREF", "MED"
        );
        for r in data["routes"].as_array().into_iter().flatten() {
            for (i, p) in r["paths"].as_array().into_iter().flatten().enumerate() {
                let mark = match (p["best"].as_bool(), p["multipath"].as_bool()) {
                    (Some(true), _) => "*>",
                    (_, Some(true)) => "*=",
                    _ => "* ",
                };
                let as_path: Vec<String> = p["as_path"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|a| a.to_string())
                    .collect();
                println!(
                    "{:<2} {:<24} {:<26} {:<26} {:<20} {:>6} {:>6}",
                    mark,
                    if i == 0 {
                        s(&r["prefix"])
                    } else {
                        String::new()
                    },
                    s(&p["next_hop"]),
                    s(&p["source"]),
                    if as_path.is_empty() {
                        "(empty)".into()
                    } else {
                        as_path.join(" ")
                    },
                    s(&p["local_pref"]),
                    s(&p["med"])
                );
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}
