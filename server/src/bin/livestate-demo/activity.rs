//! Background activity for the demo: orders placed and moved along, stock sold and restocked,
//! at a rate the page can change. Seeded, so a run with the same seed makes the same changes.

use crate::data::{Db, ORDER_STATUSES};
use crate::Demo;
use livestate::core::rng::Rng;
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;
use tokio::sync::Notify;

/// How many changes per second the generator makes; shared with the API.
#[derive(Default)]
pub(crate) struct Activity {
    rate_bits: AtomicU64,
    changed: Notify,
}

impl Activity {
    pub(crate) fn rate(&self) -> f64 {
        f64::from_bits(self.rate_bits.load(Relaxed))
    }

    pub(crate) fn set_rate(&self, rate: f64) {
        self.rate_bits.store(rate.to_bits(), Relaxed);
        self.changed.notify_one();
    }
}

/// Runs forever, making one change per tick.
pub(crate) async fn run(demo: Demo, seed: u64) {
    let mut rng = Rng::new(seed);
    loop {
        let rate = demo.activity.rate();
        if rate <= 0.0 {
            demo.activity.changed.notified().await;
            continue;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs_f64(1.0 / rate)) => {}
            _ = demo.activity.changed.notified() => continue,
        }
        if let Err(e) = crate::api::change(&demo, |db| step(db, &mut rng)) {
            tracing::warn!("demo activity: {e:?}");
        }
    }
}

fn pick<'a>(rng: &mut Rng, list: &'a [String]) -> Option<&'a String> {
    (!list.is_empty()).then(|| &list[(rng.next_u64() % list.len() as u64) as usize])
}

/// One random change: a new order (while there are fewer than 40 open ones), an order moving to
/// its next status, or a stock change.
fn step(db: &mut Db, rng: &mut Rng) -> Result<((), Vec<crate::data::Event>), crate::data::Refused> {
    let orders = db.ids("orders.order");
    let open: Vec<String> = orders
        .iter()
        .filter(|id| db.get("orders.order", id).is_some_and(|o| !matches!(o["status"].as_str(), Some("delivered" | "cancelled"))))
        .cloned()
        .collect();
    let roll = rng.next_f64();
    if roll < 0.35 && open.len() < 40 {
        let customers = db.list("users.user")?;
        let products = db.ids("products.product");
        let customer = customers[(rng.next_u64() % customers.len() as u64) as usize]["name"].clone();
        let product = pick(rng, &products).cloned().unwrap_or_default();
        let quantity = 1 + rng.next_u64() % 3;
        let total = db.price(&product).unwrap_or(0.0) * quantity as f64;
        let (_, events) =
            db.create("orders.order", json!({"customer": customer, "productId": product, "quantity": quantity, "total": total}))?;
        return Ok(((), events));
    }
    if roll < 0.7 {
        if let Some(id) = pick(rng, &open) {
            let status = db.get("orders.order", id).and_then(|o| o["status"].as_str().map(String::from)).unwrap_or_default();
            let next = if rng.next_f64() < 0.05 {
                "cancelled"
            } else {
                ORDER_STATUSES.iter().skip_while(|s| **s != status).nth(1).copied().unwrap_or("delivered")
            };
            let (_, events) = db.update("orders.order", id, json!({ "status": next }))?;
            return Ok(((), events));
        }
    }
    let products = db.ids("products.product");
    let Some(id) = pick(rng, &products) else { return Ok(((), vec![])) };
    let stock = db.get("products.product", id).and_then(|p| p["stock"].as_f64()).unwrap_or(0.0);
    let next = if stock < 3.0 { stock + 20.0 } else { stock - 1.0 - (rng.next_u64() % 2) as f64 };
    let (_, events) = db.update("products.product", id, json!({ "stock": next }))?;
    Ok(((), events))
}
