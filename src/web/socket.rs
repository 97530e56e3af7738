//! An owned browser WebSocket. Its callbacks live exactly as long as it does: dropping it
//! detaches them and closes the socket, so a replaced socket can never call back.

use std::rc::Rc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{CloseEvent, MessageEvent, WebSocket};

/// What a socket reports, as plain data.
pub(crate) enum SocketEvent {
    Open,
    /// The frame's `data`: a JS string for text frames (left in JS: JSON.parse reads it there).
    Message(JsValue),
    Close {
        code: u16,
        reason: String,
    },
}

pub(crate) struct Socket {
    ws: WebSocket,
    _open: Closure<dyn FnMut()>,
    _message: Closure<dyn FnMut(MessageEvent)>,
    _close: Closure<dyn FnMut(CloseEvent)>,
}

impl Socket {
    pub(crate) fn open(url: &str, on_event: Rc<dyn Fn(SocketEvent)>) -> Result<Self, JsValue> {
        let ws = WebSocket::new(url)?;
        let f = on_event.clone();
        let open = Closure::<dyn FnMut()>::new(move || f(SocketEvent::Open));
        let f = on_event.clone();
        let message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| f(SocketEvent::Message(e.data())));
        let close =
            Closure::<dyn FnMut(CloseEvent)>::new(move |e: CloseEvent| on_event(SocketEvent::Close { code: e.code(), reason: e.reason() }));
        ws.set_onopen(Some(open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(close.as_ref().unchecked_ref()));
        // No onerror: the browser always follows an error with a close event, handled above.
        Ok(Self { ws, _open: open, _message: message, _close: close })
    }

    /// Sends a text frame; false if the socket is not open.
    pub(crate) fn send(&self, text: &str) -> bool {
        self.ws.send_with_str(text).is_ok()
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        let _ = self.ws.close_with_code(1000);
    }
}
