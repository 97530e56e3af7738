//! The inbound side of the client: opening sockets (after fetching a token), and turning
//! socket events and frames into core inputs and deliveries to subscribers.

use super::*;

/// Calls the token function; the error is the thrown value (or a text saying what was wrong).
pub(super) async fn fetch_token(provider: &Function) -> Result<String, JsValue> {
    let value = provider.call0(&JsValue::NULL)?;
    let value = match value.dyn_into::<Promise>() {
        Ok(p) => JsFuture::from(p).await?,
        Err(v) => v,
    };
    value.as_string().ok_or_else(|| "the token function must return a string".into())
}

pub(super) fn open_socket(rc: &Shared, gen: u32, token: Result<Option<String>, JsValue>) {
    let mut notices = Vec::new();
    let opened = {
        let mut me = rc.borrow_mut();
        if me.core.socket() != Some(gen) {
            return; // disconnected or replaced while the token was being fetched
        }
        match token {
            Err(thrown) => {
                notices.push(Notice::Error(error_event(1, "", &thrown)));
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
        Err(report) => return invalid(rc, report),
    };
    match frame {
        Frame::Event(e) => dispatch(rc, gen, &e),
        Frame::Subscribed(streams) => drive(rc, |me, out| {
            me.core.handle(Input::Activity { gen }, now(), out);
            for (feature, state) in &streams {
                me.core.subscribed(feature, state, out);
            }
        }),
        Frame::Batch(n) => {
            // Delivered synchronously, one after another: stores coalesce them into one
            // change notification (they flush in a microtask).
            for i in 0..n {
                let item = rc.borrow_mut().decoder.item(i);
                match item {
                    Ok(e) => dispatch(rc, gen, &e),
                    Err(report) => invalid(rc, report),
                }
            }
        }
        Frame::Welcome { heartbeat_ms, token_ms } => {
            drive(rc, |me, out| me.core.handle(Input::Welcome { gen, heartbeat_ms, token_ms }, now(), out))
        }
        Frame::Authenticated(token_ms) => drive(rc, |me, out| me.core.handle(Input::Authenticated { gen, token_ms }, now(), out)),
        Frame::Gap(features, report) => {
            // Each feature is recovered from the gateway's history (a replay on this socket).
            drive(rc, |me, out| {
                me.core.handle(Input::Activity { gen }, now(), out);
                me.stats.gaps += 1;
                for f in &features {
                    me.core.gap(f, out);
                }
            });
            notify(rc, vec![Notice::Error(report)]);
        }
        Frame::Heartbeat => drive(rc, |me, out| me.core.handle(Input::Heartbeat { gen }, now(), out)),
        Frame::Ack => drive(rc, |me, out| me.core.handle(Input::Activity { gen }, now(), out)),
        Frame::Error(report) => {
            drive(rc, |me, out| me.core.handle(Input::Activity { gen }, now(), out));
            notify(rc, vec![Notice::Error(report)]);
        }
    }
}

/// A dropped frame: counted, and reported to `onError`.
fn invalid(rc: &Shared, report: JsValue) {
    rc.borrow_mut().stats.invalid_frames += 1;
    notify(rc, vec![Notice::Error(report)]);
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
            let name = [&**feature, ".", entity, ".", action].concat();
            notify(rc, vec![Notice::Error(error_event(0, &name, &e))]);
        }
    }
    if delivered {
        rc.borrow_mut().stats.events_delivered += 1;
    }
}
