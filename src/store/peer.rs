//! This home's identity as a peer: a random id, a generation, and the host it was created on.
//!
//! The id is made on first use and never changes. The generation starts at 1; sync starts a new
//! one when this database's history and what it published have parted (a restored backup, a
//! copied home), so that both histories survive. The host name it was created on lets a home
//! copied to another machine be noticed as such. Its name, what every peer calls this machine,
//! is that host name until `context sync name NAME` sets another; nothing else changes it.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use super::{Result, StoreError};
use crate::ids::PeerId;
use crate::runtime::Runtime;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerIdentity {
    pub id: PeerId,
    pub generation: i64,
    /// The host this identity was created on.
    pub host: String,
    /// What this machine is called everywhere: set once (the creation host), changed only by
    /// [`crate::store::Store::set_name`].
    pub name: String,
    pub created_at_ms: i64,
}

/// Loads this home's identity, creating it if the database has none yet.
pub(super) fn ensure(conn: &mut Connection, rt: &Runtime) -> Result<PeerIdentity> {
    if let Some(peer) = load(conn)? {
        return Ok(peer);
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // INSERT OR IGNORE: another process may have created it while we waited for the lock.
    tx.execute(
        "INSERT OR IGNORE INTO peer (id, peer_id, generation, host, name, created_at)
         VALUES (1, ?1, 1, ?2, ?2, ?3)",
        rusqlite::params![
            PeerId::generate(rt.ids.as_ref()).as_bytes(),
            rt.host,
            rt.clock.now_ms()
        ],
    )?;
    tx.commit()?;
    let peer = load(conn)?.ok_or(StoreError::Corrupt {
        what: "peer identity",
        seq: 1,
    })?;
    tracing::info!(peer = %peer.id, host = %peer.host, "created peer identity");
    Ok(peer)
}

fn load(conn: &Connection) -> Result<Option<PeerIdentity>> {
    let row = conn
        .query_row(
            "SELECT peer_id, generation, host, created_at, coalesce(name, host) FROM peer \
             WHERE id = 1",
            [],
            |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, String>(4)?,
                ))
            },
        )
        .optional()?;
    row.map(|(id, generation, host, created_at_ms, name)| {
        let id = PeerId::from_slice(&id).ok_or(StoreError::Corrupt {
            what: "peer id",
            seq: 1,
        })?;
        Ok(PeerIdentity {
            id,
            generation,
            host,
            name,
            created_at_ms,
        })
    })
    .transpose()
}

/// The longest machine name `sync name` accepts, in bytes.
pub const MAX_NAME_BYTES: usize = 64;

/// Sets this machine's name (what `context sync name NAME` does), checked by the caller.
pub(super) fn set_name(conn: &Connection, name: &str) -> Result<()> {
    conn.execute("UPDATE peer SET name = ?1 WHERE id = 1", [name])?;
    Ok(())
}
