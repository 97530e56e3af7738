//! Fuzzes what the gateway does with a client's text frame: decode it, and for a publish, check
//! it against the registry, number it and serialise it. Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use livestate::protocol::ClientFrame;
use livestate_server::{parse_client_frame, Hub, Publisher};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let hub = Hub::default();
    match parse_client_frame(text) {
        Ok(ClientFrame::Publish(event)) => {
            let _ = hub.publish(event, &Publisher::system());
        }
        Ok(ClientFrame::Subscribe { features, .. }) => {
            for f in features {
                let _ = hub.registry().feature(&f);
                let _ = hub.feature_clients(&f);
            }
        }
        Ok(_) | Err(_) => {}
    }
});
