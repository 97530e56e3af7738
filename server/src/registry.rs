//! The feature registry (the seed's WEBSOCKET_FEATURES): which features, entities and actions
//! exist, each feature's default priority and schema version. Loaded from a JSON file, with a
//! built-in default for the seed's four features.
//!
//! Opting out, for apps whose features are dynamic: a feature named `"*"` stands for every
//! feature not listed, and `"*"` in `entities` or `actions` accepts any name there.

use livestate::protocol::Priority;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// One feature's definition.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FeatureDef {
    /// Entities that may appear in this feature's events.
    pub entities: Vec<String>,
    /// Actions that may appear in this feature's events.
    pub actions: Vec<String>,
    /// Priority of events that do not name one.
    #[serde(default)]
    pub priority: Priority,
    /// Schema version, copied into every event's `meta.featureVersion`.
    #[serde(default = "default_version")]
    pub version: String,
    /// Presence: who is subscribed, with join and leave events, for subscribers whose token
    /// allows it. Off unless set: `true` for the default limits, or the limits themselves.
    #[serde(default, deserialize_with = "presence_setting")]
    pub presence: Option<PresenceDef>,
}

/// A feature's presence limits.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PresenceDef {
    /// Most members listed at once; a connection subscribing beyond it is subscribed but not
    /// listed (it gets a `presence_full` error). Default 1 000.
    #[serde(default = "default_max_members")]
    pub max_members: usize,
    /// Largest `info` a client may attach, in bytes of JSON; a larger one refuses the
    /// subscription with `too_big`. Default 256.
    #[serde(default = "default_max_info")]
    pub max_info_bytes: usize,
}

impl Default for PresenceDef {
    fn default() -> Self {
        Self { max_members: default_max_members(), max_info_bytes: default_max_info() }
    }
}

fn default_max_members() -> usize {
    1000
}

fn default_max_info() -> usize {
    256
}

/// `"presence": true | false | { "maxMembers": .., "maxInfoBytes": .. }`.
fn presence_setting<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<PresenceDef>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Setting {
        On(bool),
        Limits(PresenceDef),
    }
    Ok(match Setting::deserialize(d)? {
        Setting::On(on) => on.then(PresenceDef::default),
        Setting::Limits(def) => Some(def),
    })
}

fn default_version() -> String {
    "1.0".into()
}

/// Every known feature.
#[derive(Debug, Clone, PartialEq)]
pub struct Registry {
    features: BTreeMap<String, FeatureDef>,
    /// With a `"*"` feature: how many names beyond the listed ones may have state at once.
    max_dynamic: usize,
}

/// An event names something the registry does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unknown {
    /// `feature`, `entity` or `action`.
    pub field: &'static str,
    /// What is wrong, naming the value and what would be accepted.
    pub message: String,
}

impl std::fmt::Display for Unknown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

const SEED: &str = r#"{
  "rbac":     { "entities": ["role", "permission", "user_role"], "actions": ["created", "updated", "deleted", "assigned", "revoked"], "priority": "high" },
  "users":    { "entities": ["user", "profile", "session"], "actions": ["created", "updated", "deleted", "activated", "deactivated"], "priority": "normal" },
  "products": { "entities": ["product", "inventory", "pricing"], "actions": ["created", "updated", "deleted", "stock_changed", "price_updated"], "priority": "normal" },
  "orders":   { "entities": ["order", "payment", "shipment"], "actions": ["created", "updated", "cancelled", "paid", "shipped", "delivered", "completed"], "priority": "high" }
}"#;

impl Default for Registry {
    /// The seed's four features.
    fn default() -> Self {
        Self::from_json(SEED).expect("the built-in registry is valid")
    }
}

impl Registry {
    /// Parses a registry: `{ "<feature>": { "entities": [..], "actions": [..], "priority"?: .., "version"?: .. } }`.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let features: BTreeMap<String, FeatureDef> = serde_json::from_str(text).map_err(|e| format!("feature registry: {e}"))?;
        for (name, def) in &features {
            if name != "*" {
                livestate::protocol::validate_name("feature", name).map_err(|e| format!("feature registry: {name:?}: {e}"))?;
            }
            for n in def.entities.iter().chain(&def.actions).filter(|n| *n != "*") {
                livestate::protocol::validate_name("entity or action", n).map_err(|e| format!("feature registry: {name}: {n:?}: {e}"))?;
            }
        }
        Ok(Self { features, max_dynamic: 10_000 })
    }

    /// Sets how many feature names beyond the listed ones a `"*"` registry accepts.
    pub fn with_max_dynamic(mut self, n: usize) -> Self {
        self.max_dynamic = n;
        self
    }

    /// Turns presence on for `feature` (every listed feature with `"*"`), with these limits:
    /// for gateways built in Rust, and for the demo.
    pub fn with_presence(mut self, feature: &str, def: PresenceDef) -> Self {
        for (name, f) in &mut self.features {
            if feature == "*" || name == feature {
                f.presence = Some(def);
            }
        }
        self
    }

    /// True for a feature listed by name (not only matched by `"*"`).
    pub fn is_listed(&self, feature: &str) -> bool {
        feature != "*" && self.features.contains_key(feature)
    }

    /// How many feature names beyond the listed ones may have state at once.
    pub fn max_dynamic(&self) -> usize {
        self.max_dynamic
    }

    /// Reads a registry file.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("feature registry {}: {e}", path.display()))?;
        Self::from_json(&text)
    }

    /// The feature, or an error naming it.
    pub fn feature(&self, feature: &str) -> Result<&FeatureDef, Unknown> {
        self.features.get(feature).or_else(|| self.features.get("*")).ok_or_else(|| Unknown {
            field: "feature",
            message: format!("unknown feature {feature:?}; known: {}", self.names().join(", ")),
        })
    }

    /// Checks an event's names; the error names the first unknown field.
    pub fn check(&self, feature: &str, entity: &str, action: &str) -> Result<&FeatureDef, Unknown> {
        let def = self.feature(feature)?;
        if !def.entities.iter().any(|e| e == entity || e == "*") {
            return Err(Unknown {
                field: "entity",
                message: format!("unknown entity {entity:?} for feature {feature:?}; known: {}", def.entities.join(", ")),
            });
        }
        if !def.actions.iter().any(|a| a == action || a == "*") {
            return Err(Unknown {
                field: "action",
                message: format!("unknown action {action:?} for feature {feature:?}; known: {}", def.actions.join(", ")),
            });
        }
        Ok(def)
    }

    /// Feature names in order.
    pub fn names(&self) -> Vec<&str> {
        self.features.keys().map(String::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_registry_knows_the_seed_features_and_names_what_is_unknown() {
        let r = Registry::default();
        assert_eq!(r.names(), ["orders", "products", "rbac", "users"]);
        assert_eq!(r.check("rbac", "role", "assigned").unwrap().priority, Priority::High);
        assert_eq!(r.check("chat", "message", "created").unwrap_err().field, "feature");
        assert_eq!(r.check("rbac", "rolez", "created").unwrap_err().field, "entity");
        let e = r.check("rbac", "role", "exploded").unwrap_err();
        assert_eq!(e.field, "action");
        assert!(e.message.contains("assigned"), "{e}");
    }

    #[test]
    fn a_wildcard_feature_accepts_any_name_but_listed_features_stay_strict() {
        let r =
            Registry::from_json(r#"{"rbac": {"entities": ["role"], "actions": ["created"]}, "*": {"entities": ["*"], "actions": ["*"]}}"#)
                .unwrap();
        assert!(r.check("tenant-42", "thing", "poked").is_ok());
        assert_eq!(r.check("rbac", "thing", "created").unwrap_err().field, "entity");
    }

    #[test]
    fn a_registry_file_is_validated() {
        assert!(Registry::from_json(r#"{"chat": {"entities": ["message"], "actions": ["created"]}}"#).is_ok());
        assert!(Registry::from_json(r#"{"Chat": {"entities": ["message"], "actions": ["created"]}}"#).is_err());
        assert!(Registry::from_json(r#"{"chat": {"entities": ["message"], "actions": ["created"], "colour": 1}}"#).is_err());
        assert!(Registry::from_json(r#"{"chat": {"entities": ["message"], "actions": ["created"], "priority": "urgent"}}"#).is_err());
    }

    #[test]
    fn presence_is_off_unless_a_feature_asks_for_it_with_true_or_with_limits() {
        let r = Registry::from_json(
            r#"{"chat": {"entities": ["message"], "actions": ["created"], "presence": true},
                "room": {"entities": ["message"], "actions": ["created"], "presence": {"maxMembers": 2}},
                "news": {"entities": ["item"], "actions": ["created"]}}"#,
        )
        .unwrap();
        assert_eq!(r.feature("chat").unwrap().presence, Some(PresenceDef::default()));
        assert_eq!(r.feature("room").unwrap().presence, Some(PresenceDef { max_members: 2, max_info_bytes: 256 }));
        assert_eq!(r.feature("news").unwrap().presence, None);
        let bad = r#"{"chat": {"entities": ["m"], "actions": ["created"], "presence": {"maxMembres": 2}}}"#;
        assert!(Registry::from_json(bad).is_err(), "a misspelt limit is an error, not a default");
    }
}
