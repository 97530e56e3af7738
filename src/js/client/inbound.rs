//! The inbound side of the client: opening sockets (after fetching a token), and turning
//! socket events and frames into core inputs and deliveries to subscribers.

use super::*;

pub(super) async fn fetch_token(provider: &Function) -> Result<String, String> {
    let value = provider.call0(&JsValue::NULL).map_err(|e| describe(&e))?;
    let value = match value.dyn_into::<Promise>() {
        Ok(p) => JsFuture::from(p).await.map_err(|e| describe(&e))?,
        Err(v) => v,
    };
    value.as_string().ok_or_else(|| "the token function must return a string".into())
}

pub(super) fn open_socket(rc: &Shared, gen: u32, token: Result<Option<String>, String>) {
    let mut notices = Vec::new();
    let opened = {
        let mut me = rc.borrow_mut();
        if me.core.socket() != Some(gen) {
            return; // disconnected or replaced while the token was being fetched
        }
        match token {
            Err(message) => {
                notices.push(Notice::Error(RealtimeErrorEvent::Token { message }));
                false
            }
            Ok(token) => {
                me.socket_token = token;
                let weak = Rc::downgrade(rc);
                let handler: Rc<dyn Fn(SocketEvent)> = Rc::new(move |ev| {
                    if let Some(rc) = weak.upgrade() {
                        on_socket_event(&rc, gen, ev);
                    }
                });
                match Socket::open(&me.url, handler) {
                    Ok(socket) => {
                        me.socket = Some((gen, socket));
                        true
                    }
                    Err(_) => false,
                }
            }
        }
    };
    notify(rc, notices);
    if !opened {
        drive(rc, |me, out| me.core.handle(Input::Closed { gen, code: 1006, reason: "" }, now(), out));
    }
}

fn on_socket_event(rc: &Shared, gen: u32, ev: SocketEvent) {
    // A socket that reports something while the client is busy with it (a frame delivered from
    // inside `send`, say) would find the state borrowed: take it up in a microtask instead, in
    // the order it came, rather than panic and lose the module.
    if rc.try_borrow_mut().is_err() {
        let rc = rc.clone();
        wasm_bindgen_futures::spawn_local(async move { on_socket_event(&rc, gen, ev) });
        return;
    }
    match ev {
        SocketEvent::Open => drive(rc, |me, out| me.core.handle(Input::Opened { gen }, now(), out)),
        SocketEvent::Close { code, reason } => {
            drive(rc, |me, out| me.core.handle(Input::Closed { gen, code, reason: &reason }, now(), out))
        }
        SocketEvent::Message(text) => on_frame(rc, gen, &text),
    }
}

fn on_frame(rc: &Shared, gen: u32, text: &JsValue) {
    rc.borrow_mut().stats.frames_received += 1;
    let decoded = rc.borrow_mut().decoder.decode(text);
    let frame = match decoded {
        Ok(f) => f,
        Err(reason) => {
            rc.borrow_mut().stats.invalid_frames += 1;
            let frame = decode::excerpt(text);
            return notify(rc, vec![Notice::Error(RealtimeErrorEvent::InvalidFrame { reason, frame })]);
        }
    };
    match frame {
        Frame::Event(e) => dispatch(rc, gen, &e),
        Frame::Subscribed(streams) => drive(rc, |me, out| {
            me.core.handle(Input::Activity { gen }, now(), out);
            for (feature, state) in &streams {
                me.core.subscribed(feature, state, out);
            }
        }),
        Frame::Batch(events) => {
            // Delivered synchronously, one after another: stores coalesce them into one
            // change notification (they flush in a microtask).
            for e in events {
                match e {
                    Ok(e) => dispatch(rc, gen, &e),
                    Err(reason) => {
                        rc.borrow_mut().stats.invalid_frames += 1;
                        let frame = decode::excerpt(text);
                        notify(rc, vec![Notice::Error(RealtimeErrorEvent::InvalidFrame { reason, frame })]);
                    }
                }
            }
        }
        Frame::Welcome(w) => {
            let token_ms = w.token_expires_in.map(|ms| ms as f64);
            drive(rc, |me, out| me.core.handle(Input::Welcome { gen, heartbeat_ms: w.heartbeat.into(), token_ms }, now(), out))
        }
        Frame::Authenticated(token_ms) => drive(rc, |me, out| me.core.handle(Input::Authenticated { gen, token_ms }, now(), out)),
        Frame::Gap(features) => {
            // Each feature is recovered from the gateway's history (a replay on this socket).
            drive(rc, |me, out| {
                me.core.handle(Input::Activity { gen }, now(), out);
                me.stats.gaps += 1;
                for f in &features {
                    me.core.gap(f, out);
                }
            });
            notify(rc, vec![Notice::Error(RealtimeErrorEvent::Gap { features })]);
        }
        Frame::Heartbeat => drive(rc, |me, out| me.core.handle(Input::Heartbeat { gen }, now(), out)),
        Frame::Ack => drive(rc, |me, out| me.core.handle(Input::Activity { gen }, now(), out)),
        Frame::Error(e) => {
            drive(rc, |me, out| me.core.handle(Input::Activity { gen }, now(), out));
            let event = RealtimeErrorEvent::Server { code: e.code, message: e.message, feature: e.feature };
            notify(rc, vec![Notice::Error(event)]);
        }
    }
}

/// Delivers one event to its subscribers. Each callback is looked up again right before it
/// runs, so one that an earlier callback unsubscribed is skipped.
/// One state borrow per event: it counts as activity on socket `gen`, then the core decides
/// whether it is new, a duplicate or part of a gap.
fn dispatch(rc: &Shared, gen: u32, event: &decode::Event) {
    let decode::Event { message, feature, entity, action, seq, epoch } = event;
    let mut deliver = false;
    drive(rc, |me, out| {
        me.core.handle(Input::Activity { gen }, now(), out);
        deliver = me.core.event(feature, epoch.as_deref(), *seq, out);
    });
    if !deliver {
        return;
    }
    let mut ids = Vec::new();
    rc.borrow().core.router().route(feature, entity, action, &mut ids);
    if ids.is_empty() {
        return;
    }
    let data = message.unchecked_ref::<RawFrame>().data();
    let mut delivered = false;
    for id in ids {
        let Some(sink) = rc.borrow().callbacks.get(&id).cloned() else { continue };
        delivered = true;
        let f = match sink {
            Sink::Js(f) => f,
            Sink::Store(store) => {
                store.deliver(action, data.clone(), message);
                continue;
            }
        };
        if let Err(e) = f.call2(&JsValue::NULL, &data, message) {
            rc.borrow_mut().stats.callback_errors += 1;
            let event = RealtimeErrorEvent::Callback { event: format!("{feature}.{entity}.{action}"), message: describe(&e) };
            notify(rc, vec![Notice::Error(event)]);
        }
    }
    if delivered {
        rc.borrow_mut().stats.events_delivered += 1;
    }
}
