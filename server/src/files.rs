//! The static folders (`--static-dir`, `--pkg-dir`), served by tower-http's `ServeDir` behind
//! one more check: the file a request resolves to, symbolic links followed, must lie inside
//! the folder. `ServeDir` refuses `..` but follows a link that points elsewhere.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::response::IntoResponse;
use std::path::{Path, PathBuf};
use tower::ServiceExt;
use tower_http::services::ServeDir;

/// A router service for `root` that never serves a file outside it.
pub(crate) fn inside(root: &Path) -> axum::routing::MethodRouter {
    let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    axum::routing::get(move |req: Request<Body>| {
        let root = root.clone();
        async move {
            if escapes(&root, req.uri().path()) {
                return StatusCode::NOT_FOUND.into_response();
            }
            match ServeDir::new(&root).oneshot(req).await {
                Ok(r) => r.into_response(),
                Err(e) => match e {},
            }
        }
    })
}

/// True when `path` names something whose real location is outside `root`: the file itself,
/// or for a folder, the `index.html` it would be served as.
fn escapes(root: &Path, path: &str) -> bool {
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
    let mut target = PathBuf::from(root);
    target.extend(decoded.split('/').filter(|s| !s.is_empty() && *s != "." && *s != ".."));
    let outside = |p: &Path| p.canonicalize().is_ok_and(|real| !real.starts_with(root));
    outside(&target) || (target.is_dir() && outside(&target.join("index.html")))
}
