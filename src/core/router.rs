//! Subscriptions by feature, entity and action, reference-counted per feature.
//!
//! Routing an event costs one map lookup per level (feature, entity, action), never a scan
//! over all subscribers. The gateway only knows features: the first local subscriber of a
//! feature asks for it, the last one to leave gives it up; `pin` keeps a feature wanted
//! without any subscriber (the client's `features` option).

use super::vecmap::VecMap;

/// Identifies one subscription; never reused within a router.
pub type SubId = u32;

/// What a subscription listens to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every event of the feature.
    Feature,
    /// Every event of one entity.
    Entity(Box<str>),
    /// One action on one entity.
    Event(Box<str>, Box<str>),
}

#[derive(Default, Debug)]
struct EntityNode {
    all: Vec<SubId>,
    actions: VecMap<Box<str>, Vec<SubId>>,
}

#[derive(Default, Debug)]
struct FeatureNode {
    /// Subscriptions at any level plus pins: 0 means the gateway need not send this feature.
    refs: usize,
    pinned: bool,
    all: Vec<SubId>,
    entities: VecMap<Box<str>, EntityNode>,
}

/// The subscription table.
#[derive(Default, Debug)]
pub struct Router {
    next_id: SubId,
    features: VecMap<Box<str>, FeatureNode>,
    /// Where each live subscription sits, so unsubscribe needs no search.
    index: VecMap<SubId, (Box<str>, Scope)>,
}

/// The result of adding a subscription.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Added {
    /// The new subscription's id.
    pub id: SubId,
    /// True when it is the feature's first reference: the gateway must be told.
    pub first: bool,
}

impl Router {
    /// Adds a subscription.
    pub fn subscribe(&mut self, feature: &str, scope: Scope) -> Added {
        self.next_id += 1;
        let id = self.next_id;
        let node = self.features.entry(feature.into());
        node.refs += 1;
        let list = match &scope {
            Scope::Feature => &mut node.all,
            Scope::Entity(e) => &mut node.entities.entry(e.clone()).all,
            Scope::Event(e, a) => node.entities.entry(e.clone()).actions.entry(a.clone()),
        };
        list.push(id);
        self.index.insert(id, (feature.into(), scope));
        Added { id, first: node.refs == 1 }
    }

    /// Removes a subscription. Returns the feature when this was its last reference (the
    /// gateway must be told), `None` otherwise, including for unknown or repeated ids.
    pub fn unsubscribe(&mut self, id: SubId) -> Option<Box<str>> {
        let (feature, scope) = self.index.remove(&id)?;
        let node = self.features.get_mut(&feature)?;
        match &scope {
            Scope::Feature => remove_id(&mut node.all, id),
            Scope::Entity(e) | Scope::Event(e, _) => {
                if let Some(ent) = node.entities.get_mut(e) {
                    match &scope {
                        Scope::Event(_, a) => {
                            if let Some(list) = ent.actions.get_mut(a) {
                                remove_id(list, id);
                                if list.is_empty() {
                                    ent.actions.remove(a);
                                }
                            }
                        }
                        _ => remove_id(&mut ent.all, id),
                    }
                    if ent.all.is_empty() && ent.actions.is_empty() {
                        node.entities.remove(e);
                    }
                }
            }
        }
        self.release(feature)
    }

    /// Keeps `feature` wanted even with no subscriber. Returns true if it was not wanted yet.
    pub fn pin(&mut self, feature: &str) -> bool {
        let node = self.features.entry(feature.into());
        if node.pinned {
            return false;
        }
        node.pinned = true;
        node.refs += 1;
        node.refs == 1
    }

    fn release(&mut self, feature: Box<str>) -> Option<Box<str>> {
        let node = self.features.get_mut(&feature)?;
        node.refs -= 1;
        if node.refs == 0 {
            self.features.remove(&feature);
            Some(feature)
        } else {
            None
        }
    }

    /// Appends the subscriptions an event reaches to `out`: feature-wide ones first, then the
    /// entity's, then the action's, each in subscription order.
    pub fn route(&self, feature: &str, entity: &str, action: &str, out: &mut Vec<SubId>) {
        let Some(node) = self.features.get(feature) else { return };
        out.extend_from_slice(&node.all);
        if let Some(ent) = node.entities.get(entity) {
            out.extend_from_slice(&ent.all);
            if let Some(list) = ent.actions.get(action) {
                out.extend_from_slice(list);
            }
        }
    }

    /// True while the subscription exists (a callback may unsubscribe another mid-dispatch).
    pub fn is_live(&self, id: SubId) -> bool {
        self.index.contains_key(&id)
    }

    /// Every feature the gateway should be sending, in name order.
    pub fn features(&self) -> Vec<String> {
        self.features.keys().map(|f| String::from(&**f)).collect()
    }

    /// Drops every subscription but keeps pins (they are configuration, not subscriptions).
    pub fn clear_subscriptions(&mut self) {
        self.index.clear();
        self.features.retain(|_, node| {
            node.all.clear();
            node.entities.clear();
            node.refs = usize::from(node.pinned);
            node.pinned
        });
    }

    /// Number of live subscriptions.
    pub fn len(&self) -> usize {
        self.index.len()
    }
}

fn remove_id(list: &mut Vec<SubId>, id: SubId) {
    if let Some(pos) = list.iter().position(|x| *x == id) {
        list.remove(pos);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(e: &str, a: &str) -> Scope {
        Scope::Event(e.into(), a.into())
    }

    fn routed(r: &Router, f: &str, e: &str, a: &str) -> Vec<SubId> {
        let mut out = Vec::new();
        r.route(f, e, a, &mut out);
        out
    }

    #[test]
    fn an_event_reaches_its_feature_entity_and_action_subscribers_and_no_one_else() {
        let mut r = Router::default();
        let feat = r.subscribe("rbac", Scope::Feature).id;
        let role = r.subscribe("rbac", Scope::Entity("role".into())).id;
        let created = r.subscribe("rbac", ev("role", "created")).id;
        let deleted = r.subscribe("rbac", ev("role", "deleted")).id;
        let perm = r.subscribe("rbac", Scope::Entity("permission".into())).id;
        let users = r.subscribe("users", Scope::Feature).id;

        assert_eq!(routed(&r, "rbac", "role", "created"), [feat, role, created]);
        assert_eq!(routed(&r, "rbac", "role", "deleted"), [feat, role, deleted]);
        assert_eq!(routed(&r, "rbac", "permission", "created"), [feat, perm]);
        assert_eq!(routed(&r, "users", "user", "created"), [users]);
        assert!(routed(&r, "orders", "order", "created").is_empty());
        let _ = (perm, users);
    }

    #[test]
    fn only_the_first_subscriber_and_the_last_unsubscriber_of_a_feature_reach_the_gateway() {
        let mut r = Router::default();
        let a = r.subscribe("rbac", Scope::Feature);
        let b = r.subscribe("rbac", ev("role", "created"));
        let c = r.subscribe("rbac", ev("role", "created"));
        assert!(a.first);
        assert!(!b.first && !c.first);
        assert_eq!(r.features(), ["rbac"]);

        assert_eq!(r.unsubscribe(b.id), None);
        assert_eq!(r.unsubscribe(a.id), None);
        assert_eq!(r.unsubscribe(c.id).as_deref(), Some("rbac"));
        assert!(r.features().is_empty());
        assert!(r.subscribe("rbac", Scope::Feature).first, "a new first subscriber subscribes again");
    }

    #[test]
    fn subscribing_the_same_scope_twice_gives_two_independent_handles() {
        let mut r = Router::default();
        let a = r.subscribe("users", Scope::Entity("user".into()));
        let b = r.subscribe("users", Scope::Entity("user".into()));
        assert_ne!(a.id, b.id);
        assert_eq!(routed(&r, "users", "user", "updated"), [a.id, b.id]);
        r.unsubscribe(a.id);
        assert_eq!(routed(&r, "users", "user", "updated"), [b.id]);
    }

    #[test]
    fn unsubscribing_twice_or_an_unknown_id_changes_nothing() {
        let mut r = Router::default();
        let a = r.subscribe("rbac", Scope::Feature);
        let b = r.subscribe("rbac", Scope::Feature);
        assert_eq!(r.unsubscribe(a.id), None);
        assert_eq!(r.unsubscribe(a.id), None, "a second unsubscribe must not release b's reference");
        assert_eq!(r.unsubscribe(999), None);
        assert_eq!(r.features(), ["rbac"]);
        assert!(!r.is_live(a.id) && r.is_live(b.id));
    }

    #[test]
    fn pinned_features_stay_wanted_without_subscribers_and_survive_clearing() {
        let mut r = Router::default();
        assert!(r.pin("orders"));
        assert!(!r.pin("orders"));
        let s = r.subscribe("orders", Scope::Feature);
        assert!(!s.first, "already wanted through the pin");
        assert_eq!(r.unsubscribe(s.id), None);
        r.subscribe("rbac", Scope::Feature);
        r.clear_subscriptions();
        assert_eq!(r.features(), ["orders"]);
        assert_eq!(r.len(), 0);
    }

    #[test]
    fn empty_entity_and_action_nodes_are_pruned() {
        let mut r = Router::default();
        let keep = r.subscribe("p", Scope::Feature);
        let ids: Vec<_> = (0..100).map(|i| r.subscribe("p", ev(&format!("e{i}"), "a")).id).collect();
        for id in ids {
            r.unsubscribe(id);
        }
        assert!(r.features.get("p").unwrap().entities.is_empty());
        assert_eq!(routed(&r, "p", "e1", "a"), [keep.id]);
    }
}
