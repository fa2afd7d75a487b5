//! The tooz group operations the membership task needs, as a trait so the timing logic can
//! be unit-tested against an in-memory store on tokio's paused clock.

use std::future::Future;

use crate::view::MemberId;

/// The group as read on one tick, after pruning dead members.
#[derive(Clone, Debug, PartialEq)]
pub enum GroupState {
    /// The group hash does not exist (never created, or Redis lost it).
    Missing,
    /// Live members (ourselves included whenever our field is there, even if our own beat
    /// key expired: tooz never prunes itself) and their raw capabilities bytes.
    Present(Vec<(MemberId, Vec<u8>)>),
}

/// The fields of a record hash, as byte pairs.
pub type RecordFields = Vec<(Vec<u8>, Vec<u8>)>;

/// A failed store operation. `retryable` is false only for errors no reconnect can fix.
#[derive(Debug, thiserror::Error)]
#[error("{doing} on {target}: {message}")]
pub struct StoreError {
    /// What was being done (`connecting`, `heartbeat and group read`, …).
    pub doing: &'static str,
    /// The (masked) server or sentinel set.
    pub target: String,
    /// What went wrong.
    pub message: String,
}

/// tooz's group operations on one connection.
pub trait Store: Send + 'static {
    /// Whether a connection is held.
    fn is_connected(&self) -> bool;
    /// Opens a connection (through Sentinel when configured) if none is held.
    fn connect(&mut self) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Drops the connection; the next operation reconnects (and re-resolves the master).
    fn disconnect(&mut self);
    /// `PSETEX` our beat key, then read the group (tooz `get_members` with capabilities),
    /// pruning members whose beat key is gone with WATCH/MULTI, never ourselves.
    fn beat_and_read(&mut self) -> impl Future<Output = Result<GroupState, StoreError>> + Send;
    /// Writes our field (creating the group first, atomically, if it is missing).
    /// Returns whether the group had to be created.
    fn join(&mut self, caps: Vec<u8>) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Leaves: HDEL our field under WATCH, then DEL our beat key.
    fn leave(&mut self) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Our own id.
    fn member_id(&self) -> &MemberId;
    /// Sets `field` of our record hash `name` (`<ns>_ceilometer_central:<group>:<name>`, a key
    /// no tooz client uses) and (re)sets the hash's TTL, so records never pile up.
    fn put_record(
        &mut self,
        name: &str,
        field: Vec<u8>,
        value: Vec<u8>,
        ttl: std::time::Duration,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Every field of record hash `name` (empty when it does not exist).
    fn get_record(
        &mut self,
        name: &str,
    ) -> impl Future<Output = Result<RecordFields, StoreError>> + Send;
}
