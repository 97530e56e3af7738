//! `EventService`: the Rust API backends embedded in the gateway use to publish (the seed's
//! EventService, plus the gateway's targeting calls). The HTTP API calls the same methods.

use crate::hub::{Hub, Publisher, Reach};
use crate::registry::Unknown;
use livestate::protocol::{OutgoingEvent, PresenceMember, Priority};
use serde_json::{json, Value};

/// Publishes events with the gateway's meta filled in. Cheap to clone.
#[derive(Clone, Debug)]
pub struct EventService {
    hub: Hub,
    publisher: Publisher,
}

fn event(feature: &str, entity: &str, action: &str, data: Value, priority: Option<Priority>) -> OutgoingEvent<Value> {
    OutgoingEvent { feature: feature.into(), entity: entity.into(), action: action.into(), data, priority }
}

impl EventService {
    /// Publishes as `system`.
    pub fn new(hub: Hub) -> Self {
        Self { hub, publisher: Publisher::system() }
    }

    /// The same service publishing as someone else (their id lands in `meta.userId`).
    pub fn as_publisher(&self, publisher: Publisher) -> Self {
        Self { hub: self.hub.clone(), publisher }
    }

    /// Publishes `feature.entity.action` to the feature's subscribers. `priority` defaults to
    /// the feature's. Returns how many connections it was queued to.
    pub fn emit(&self, feature: &str, entity: &str, action: &str, data: Value, priority: Option<Priority>) -> Result<usize, Unknown> {
        self.hub.publish(event(feature, entity, action, data, priority), &self.publisher)
    }

    /// `emit(.., "created", item)`.
    pub fn emit_created(&self, feature: &str, entity: &str, data: Value) -> Result<usize, Unknown> {
        self.emit(feature, entity, "created", data, None)
    }

    /// `emit(.., "updated", item)`.
    pub fn emit_updated(&self, feature: &str, entity: &str, data: Value) -> Result<usize, Unknown> {
        self.emit(feature, entity, "updated", data, None)
    }

    /// `emit(.., "deleted", {id})`.
    pub fn emit_deleted(&self, feature: &str, entity: &str, id: impl Into<Value>) -> Result<usize, Unknown> {
        self.emit(feature, entity, "deleted", json!({ "id": id.into() }), None)
    }

    /// `emit(.., "assigned", data)` at high priority, as in the seed.
    pub fn emit_assigned(&self, feature: &str, entity: &str, data: Value) -> Result<usize, Unknown> {
        self.emit(feature, entity, "assigned", data, Some(Priority::High))
    }

    /// `emit(.., "revoked", data)` at high priority, as in the seed.
    pub fn emit_revoked(&self, feature: &str, entity: &str, data: Value) -> Result<usize, Unknown> {
        self.emit(feature, entity, "revoked", data, Some(Priority::High))
    }

    /// Publishes several events; each feature's go out as one batch frame. All or nothing:
    /// the error carries the index of the first invalid event.
    pub fn emit_batch(&self, events: Vec<OutgoingEvent<Value>>) -> Result<usize, (usize, Unknown)> {
        self.hub.publish_batch(events, &self.publisher)
    }

    /// The seed's `broadcastToFeature`: the same as [`emit`](Self::emit) with a whole event.
    pub fn broadcast_to_feature(&self, event: OutgoingEvent<Value>) -> Result<usize, Unknown> {
        self.hub.publish(event, &self.publisher)
    }

    /// The seed's `broadcastToClient`: one connection, by id, on whichever node holds it.
    /// `Delivered(0)`: it is not connected.
    pub fn broadcast_to_client(&self, connection_id: u64, event: OutgoingEvent<Value>) -> Result<Reach, Unknown> {
        self.hub.send_to_connection(connection_id, event, &self.publisher)
    }

    /// Every connection of one user (their token's `sub`), on every node.
    pub fn broadcast_to_user(&self, user_id: &str, event: OutgoingEvent<Value>) -> Result<Reach, Unknown> {
        self.hub.send_to_user(user_id, event, &self.publisher)
    }

    /// The seed's `getFeatureClients`: connection ids subscribed to `feature`.
    pub fn feature_clients(&self, feature: &str) -> Vec<u64> {
        self.hub.feature_clients(feature)
    }

    /// Who is subscribed to `feature` (a feature with presence), on every node; `None` while
    /// Redis is unreachable.
    pub async fn presence(&self, feature: &str) -> Option<Vec<PresenceMember<Value>>> {
        self.hub.presence(feature).await
    }
}
