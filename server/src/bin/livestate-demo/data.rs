//! The demo backend's data: the seed's four features held in memory, seeded with plausible
//! rows. Every change returns the events it causes, so the API and the activity generator
//! emit exactly what a real backend would through the EventService.

use serde_json::{json, Map, Value};

/// One event to emit: feature, entity, action, data.
pub(crate) type Event = (&'static str, &'static str, &'static str, Value);

/// What a field accepts. Checked on create and patch, so bad input gets a 400 naming the field.
#[derive(Clone, Copy)]
enum Kind {
    Text,
    Number,
    Bool,
    Choice(&'static [&'static str]),
    Ids,
}

pub(crate) const ORDER_STATUSES: &[&str] = &["created", "paid", "shipped", "delivered", "cancelled"];

struct Table {
    feature: &'static str,
    entity: &'static str,
    prefix: &'static str,
    /// Fields a client may set, with a default for create.
    fields: &'static [(&'static str, Kind, fn() -> Value)],
    deletable: bool,
    items: Vec<Value>,
    next: u64,
}

/// A request the data refuses, with the HTTP status it maps to.
#[derive(Debug)]
pub(crate) enum Refused {
    NotFound(String),
    Invalid(String),
    NotAllowed(String),
}

/// Every table of the demo.
pub(crate) struct Db {
    tables: Vec<Table>,
}

fn text() -> Value {
    json!("")
}
fn zero() -> Value {
    json!(0)
}
fn yes() -> Value {
    json!(true)
}
fn none() -> Value {
    json!([])
}
fn created() -> Value {
    json!("created")
}
fn viewer() -> Value {
    json!("role-3")
}

fn now() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

impl Db {
    /// The seed data: roles and permissions, users, products with stock and prices, orders.
    pub(crate) fn seeded() -> Self {
        let mut db = Db {
            tables: vec![
                Table {
                    feature: "rbac",
                    entity: "role",
                    prefix: "role",
                    fields: &[("name", Kind::Text, text), ("description", Kind::Text, text), ("permissions", Kind::Ids, none)],
                    deletable: true,
                    items: vec![],
                    next: 1,
                },
                Table {
                    feature: "rbac",
                    entity: "permission",
                    prefix: "perm",
                    fields: &[("name", Kind::Text, text), ("description", Kind::Text, text)],
                    deletable: true,
                    items: vec![],
                    next: 1,
                },
                Table {
                    feature: "users",
                    entity: "user",
                    prefix: "user",
                    fields: &[
                        ("name", Kind::Text, text),
                        ("email", Kind::Text, text),
                        ("roleId", Kind::Text, viewer),
                        ("active", Kind::Bool, yes),
                    ],
                    deletable: true,
                    items: vec![],
                    next: 1,
                },
                Table {
                    feature: "products",
                    entity: "product",
                    prefix: "prod",
                    fields: &[
                        ("name", Kind::Text, text),
                        ("sku", Kind::Text, text),
                        ("price", Kind::Number, zero),
                        ("stock", Kind::Number, zero),
                    ],
                    deletable: true,
                    items: vec![],
                    next: 1,
                },
                Table {
                    feature: "orders",
                    entity: "order",
                    prefix: "order",
                    fields: &[
                        ("customer", Kind::Text, text),
                        ("productId", Kind::Text, text),
                        ("quantity", Kind::Number, zero),
                        ("total", Kind::Number, zero),
                        ("status", Kind::Choice(ORDER_STATUSES), created),
                    ],
                    // The registry's orders actions have no `deleted`: orders are cancelled.
                    deletable: false,
                    items: vec![],
                    next: 1,
                },
            ],
        };
        let seed = |db: &mut Db, key: &str, rows: Vec<Value>| {
            for row in rows {
                db.create(key, row).expect("seed rows are valid");
            }
        };
        seed(
            &mut db,
            "rbac.permission",
            ["users.read", "users.write", "products.write", "orders.refund", "rbac.admin"]
                .iter()
                .map(|p| json!({"name": p, "description": format!("May {}", p.replace('.', " "))}))
                .collect(),
        );
        seed(
            &mut db,
            "rbac.role",
            vec![
                json!({"name": "Administrator", "description": "Everything", "permissions": ["perm-1", "perm-2", "perm-3", "perm-4", "perm-5"]}),
                json!({"name": "Support", "description": "Helps customers", "permissions": ["perm-1", "perm-4"]}),
                json!({"name": "Viewer", "description": "Reads only", "permissions": ["perm-1"]}),
                json!({"name": "Catalogue editor", "description": "Keeps products up to date", "permissions": ["perm-1", "perm-3"]}),
            ],
        );
        let people = [
            ("Ada Lovelace", "role-1"),
            ("Grace Hopper", "role-2"),
            ("Alan Turing", "role-3"),
            ("Katherine Johnson", "role-4"),
            ("Edsger Dijkstra", "role-3"),
            ("Barbara Liskov", "role-2"),
        ];
        seed(
            &mut db,
            "users.user",
            people
                .iter()
                .map(|(name, role)| {
                    let email = format!("{}@example.com", name.split(' ').next().unwrap_or(name).to_lowercase());
                    json!({"name": name, "email": email, "roleId": role, "active": true})
                })
                .collect(),
        );
        let products = [
            ("Mechanical keyboard", 89.0, 42),
            ("USB-C dock", 129.0, 17),
            ("27\" monitor", 279.0, 8),
            ("Noise-cancelling headset", 199.0, 23),
            ("Laptop stand", 39.0, 64),
            ("Webcam 4K", 149.0, 11),
        ];
        seed(
            &mut db,
            "products.product",
            products
                .iter()
                .enumerate()
                .map(|(i, (name, price, stock))| json!({"name": name, "sku": format!("SKU-{:04}", 1001 + i), "price": price, "stock": stock}))
                .collect(),
        );
        let orders = [
            ("Ada Lovelace", "prod-1", 1, "delivered"),
            ("Grace Hopper", "prod-3", 2, "shipped"),
            ("Alan Turing", "prod-2", 1, "paid"),
            ("Barbara Liskov", "prod-5", 3, "created"),
        ];
        let rows = orders
            .iter()
            .map(|(who, product, qty, status)| {
                let total = db.price(product).unwrap_or(0.0) * f64::from(*qty);
                json!({"customer": who, "productId": product, "quantity": qty, "total": total, "status": status})
            })
            .collect();
        seed(&mut db, "orders.order", rows);
        db
    }

    fn table(&self, key: &str) -> Result<&Table, Refused> {
        self.tables
            .iter()
            .find(|t| t.key() == key)
            .ok_or_else(|| Refused::NotFound(format!("no collection {key:?}; known: {}", self.keys())))
    }

    fn table_mut(&mut self, key: &str) -> Result<&mut Table, Refused> {
        let known = self.keys();
        self.tables.iter_mut().find(|t| t.key() == key).ok_or_else(|| Refused::NotFound(format!("no collection {key:?}; known: {known}")))
    }

    fn keys(&self) -> String {
        self.tables.iter().map(Table::key).collect::<Vec<_>>().join(", ")
    }

    /// Every item of `feature.entity`, oldest first.
    pub(crate) fn list(&self, key: &str) -> Result<Vec<Value>, Refused> {
        Ok(self.table(key)?.items.clone())
    }

    /// Ids of a collection (for the activity generator).
    pub(crate) fn ids(&self, key: &str) -> Vec<String> {
        self.table(key).map(|t| t.items.iter().filter_map(|i| i["id"].as_str().map(String::from)).collect()).unwrap_or_default()
    }

    /// One item.
    pub(crate) fn get(&self, key: &str, id: &str) -> Option<&Value> {
        self.table(key).ok()?.items.iter().find(|i| i["id"] == id)
    }

    pub(crate) fn price(&self, product: &str) -> Option<f64> {
        self.get("products.product", product)?["price"].as_f64()
    }

    /// Creates an item from `body` (unset fields get defaults) and returns it with its events.
    pub(crate) fn create(&mut self, key: &str, body: Value) -> Result<(Value, Vec<Event>), Refused> {
        let table = self.table_mut(key)?;
        let patch = table.check(body)?;
        let mut item = Map::new();
        item.insert("id".into(), json!(format!("{}-{}", table.prefix, table.next)));
        for (name, _, default) in table.fields {
            item.insert((*name).into(), patch.get(*name).cloned().unwrap_or_else(default));
        }
        item.insert("version".into(), json!(1));
        item.insert("updatedAt".into(), json!(now()));
        table.next += 1;
        let item = Value::Object(item);
        table.items.push(item.clone());
        Ok((item.clone(), vec![(table.feature, table.entity, "created", item)]))
    }

    /// Applies `patch` to one item, bumping its version; returns the new item and its events:
    /// `updated` with the whole item first (what stores apply), then the domain events.
    pub(crate) fn update(&mut self, key: &str, id: &str, patch: Value) -> Result<(Value, Vec<Event>), Refused> {
        let table = self.table_mut(key)?;
        let patch = table.check(patch)?;
        let (feature, entity) = (table.feature, table.entity);
        let item = table.items.iter_mut().find(|i| i["id"] == id).ok_or_else(|| Refused::NotFound(format!("no {entity} {id:?}")))?;
        let before = item.clone();
        let object = item.as_object_mut().expect("items are objects");
        for (name, value) in patch {
            object.insert(name, value);
        }
        let version = object.get("version").and_then(Value::as_u64).unwrap_or(0) + 1;
        object.insert("version".into(), json!(version));
        object.insert("updatedAt".into(), json!(now()));
        let after = item.clone();
        let mut events = vec![(feature, entity, "updated", after.clone())];
        events.extend(domain_events(key, &before, &after));
        Ok((after, events))
    }

    /// Deletes one item and returns its `deleted` event.
    pub(crate) fn delete(&mut self, key: &str, id: &str) -> Result<Vec<Event>, Refused> {
        let table = self.table_mut(key)?;
        if !table.deletable {
            return Err(Refused::NotAllowed(format!("{key} items cannot be deleted; set their status instead")));
        }
        let at = table.items.iter().position(|i| i["id"] == id).ok_or_else(|| Refused::NotFound(format!("no {} {id:?}", table.entity)))?;
        table.items.remove(at);
        Ok(vec![(table.feature, table.entity, "deleted", json!({ "id": id }))])
    }
}

impl Table {
    fn key(&self) -> String {
        format!("{}.{}", self.feature, self.entity)
    }

    /// Checks a create body or a patch: an object whose fields this table knows, each of the
    /// right type.
    fn check(&self, body: Value) -> Result<Map<String, Value>, Refused> {
        let Value::Object(body) = body else {
            return Err(Refused::Invalid("the body must be a JSON object".into()));
        };
        for (name, value) in &body {
            let Some((_, kind, _)) = self.fields.iter().find(|(f, ..)| f == name) else {
                if name == "id" || name == "version" || name == "updatedAt" {
                    continue; // echoed back by clients; the server owns these
                }
                let known: Vec<_> = self.fields.iter().map(|(f, ..)| *f).collect();
                return Err(Refused::Invalid(format!("unknown field {name:?}; {} has {}", self.key(), known.join(", "))));
            };
            let ok = match kind {
                Kind::Text => value.as_str().is_some_and(|s| s.len() <= 200),
                Kind::Number => value.as_f64().is_some_and(|n| n.is_finite() && n >= 0.0),
                Kind::Bool => value.is_boolean(),
                Kind::Choice(options) => value.as_str().is_some_and(|s| options.contains(&s)),
                Kind::Ids => value.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
            };
            if !ok {
                let wanted = match kind {
                    Kind::Text => "a string of at most 200 bytes".to_string(),
                    Kind::Number => "a number of at least 0".to_string(),
                    Kind::Bool => "true or false".to_string(),
                    Kind::Choice(options) => format!("one of {}", options.join(", ")),
                    Kind::Ids => "an array of id strings".to_string(),
                };
                return Err(Refused::Invalid(format!("{name} must be {wanted}")));
            }
        }
        Ok(body.into_iter().filter(|(name, _)| self.fields.iter().any(|(f, ..)| f == name)).collect())
    }
}

/// The events a change means beyond `updated`, named as the registry's actions.
fn domain_events(key: &str, before: &Value, after: &Value) -> Vec<Event> {
    let id = after["id"].clone();
    let changed = |field: &str| before[field] != after[field];
    let mut events = vec![];
    match key {
        "products.product" => {
            if changed("stock") {
                let delta = after["stock"].as_f64().unwrap_or(0.0) - before["stock"].as_f64().unwrap_or(0.0);
                events.push(("products", "inventory", "stock_changed", json!({"productId": id, "stock": after["stock"], "delta": delta})));
            }
            if changed("price") {
                events.push((
                    "products",
                    "pricing",
                    "price_updated",
                    json!({"productId": id, "price": after["price"], "previous": before["price"]}),
                ));
            }
        }
        "orders.order" if changed("status") => {
            let event = match after["status"].as_str() {
                Some("paid") => Some(("orders", "payment", "paid", json!({"orderId": id, "amount": after["total"]}))),
                Some("shipped") => Some(("orders", "shipment", "shipped", json!({"orderId": id}))),
                Some("delivered") => Some(("orders", "order", "delivered", json!({"id": id}))),
                Some("cancelled") => Some(("orders", "order", "cancelled", json!({"id": id}))),
                _ => None,
            };
            events.extend(event);
        }
        "users.user" if changed("active") => {
            let action = if after["active"] == true { "activated" } else { "deactivated" };
            events.push(("users", "user", action, json!({"id": id})));
        }
        "rbac.role" if changed("permissions") => {
            let list = |v: &Value| v.as_array().cloned().unwrap_or_default();
            let (old, new) = (list(&before["permissions"]), list(&after["permissions"]));
            for p in new.iter().filter(|p| !old.contains(p)) {
                events.push(("rbac", "permission", "assigned", json!({"roleId": id, "permissionId": p})));
            }
            for p in old.iter().filter(|p| !new.contains(p)) {
                events.push(("rbac", "permission", "revoked", json!({"roleId": id, "permissionId": p})));
            }
        }
        _ => {}
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_data_has_every_feature() {
        let db = Db::seeded();
        for key in ["rbac.role", "rbac.permission", "users.user", "products.product", "orders.order"] {
            assert!(db.list(key).unwrap().len() >= 4, "{key}");
        }
    }

    #[test]
    fn an_update_bumps_the_version_and_names_its_domain_events() {
        let mut db = Db::seeded();
        let (item, events) = db.update("products.product", "prod-1", json!({"stock": 40, "price": 79})).unwrap();
        assert_eq!(item["version"], 2);
        let names: Vec<_> = events.iter().map(|(f, e, a, _)| format!("{f}.{e}.{a}")).collect();
        assert_eq!(names, ["products.product.updated", "products.inventory.stock_changed", "products.pricing.price_updated"]);
        assert_eq!(events[1].3["delta"], -2.0);
    }

    #[test]
    fn bad_input_is_refused_with_the_field_named_and_changes_nothing() {
        let mut db = Db::seeded();
        let before = db.list("products.product").unwrap();
        for (patch, wanted) in [
            (json!({"price": "cheap"}), "price must be a number"),
            (json!({"colour": "red"}), "unknown field \"colour\""),
            (json!([1]), "JSON object"),
            (json!({"stock": -1}), "at least 0"),
        ] {
            match db.update("products.product", "prod-1", patch) {
                Err(Refused::Invalid(message)) => assert!(message.contains(wanted), "{message}"),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(db.list("products.product").unwrap(), before);
        assert!(matches!(db.delete("orders.order", "order-1"), Err(Refused::NotAllowed(_))));
        assert!(matches!(db.update("users.user", "user-99", json!({})), Err(Refused::NotFound(_))));
    }
}
