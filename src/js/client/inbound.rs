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
        if me.core.conn().socket() != Some(gen) {
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
    let decoded = {
        let mut me = rc.borrow_mut();
        let me = &mut *me;
        me.decoder.decode(text, &mut me.core)
    };
    // Every frame, valid or not, counts as a sign of life on socket `gen`.
    drive(rc, |me, out| me.core.frame(gen, now(), out));
    let frame = match decoded {
        Ok(f) => f,
        Err(report) => return invalid(rc, report),
    };
    match frame {
        Frame::Event(e) => dispatch(rc, &e),
        Frame::Subscribed(streams) => drive(rc, |me, out| {
            for (feature, state) in &streams {
                me.core.subscribed(feature, state, out);
            }
        }),
        Frame::Batch(n) => {
            // Delivered synchronously, one after another: stores coalesce them into one
            // change notification (they flush in a microtask).
            for i in 0..n {
                let item = {
                    let mut me = rc.borrow_mut();
                    let me = &mut *me;
                    me.decoder.item(i, &mut me.core)
                };
                match item {
                    Ok(e) => dispatch(rc, &e),
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
            drive(rc, |me, out| me.core.gap(&features, out));
            notify(rc, vec![Notice::Error(report)]);
        }
        Frame::Heartbeat => drive(rc, |me, out| me.core.handle(Input::Heartbeat { gen }, now(), out)),
        Frame::Ack => {}
        Frame::Error(report) => notify(rc, vec![Notice::Error(report)]),
    }
}

/// A dropped frame: counted, and reported to `onError`.
fn invalid(rc: &Shared, report: JsValue) {
    rc.borrow_mut().core.invalid_frame();
    notify(rc, vec![Notice::Error(report)]);
}

/// Delivers one event to the subscriptions the session routes it to, in its order. Each one is
/// checked again right before its turn, so one that an earlier callback unsubscribed is skipped.
fn dispatch(rc: &Shared, event: &decode::Event) {
    let decode::Event { message, feature, entity, action, seq, epoch } = event;
    let mut route = Vec::new();
    drive(rc, |me, out| route.extend_from_slice(me.core.event(*feature, *entity, *action, *seq, *epoch, out)));
    if route.is_empty() {
        return;
    }
    let data = message.unchecked_ref::<RawFrame>().data();
    for id in route {
        let target = {
            let me = rc.borrow();
            match me.core.sink(id) {
                Some(Sink::Callback) => me.callbacks.get(&id).cloned().map(Ok),
                Some(Sink::Store(sid)) => me.stores.get(&sid).cloned().map(|s| Err((s, me.core.op()))),
                None => None,
            }
        };
        match target {
            None => {}
            Some(Err((store, op))) => {
                let action = rc.borrow().core.name(*action).to_owned();
                store.deliver(op, &action, data.clone(), message);
            }
            Some(Ok(f)) => {
                if let Err(e) = f.call2(&JsValue::NULL, &data, message) {
                    let name = {
                        let mut me = rc.borrow_mut();
                        me.core.callback_error();
                        [me.core.name(*feature), ".", me.core.name(*entity), ".", me.core.name(*action)].concat()
                    };
                    notify(rc, vec![Notice::Error(error_event(0, &name, &e))]);
                }
            }
        }
    }
}
