//! `GET /admin/`: the admin web console, a client of `/api/admin/v1` written
//! in plain HTML, CSS and JavaScript modules (`crates/http/console`), embedded
//! in the binary and served from it.
//!
//! Every answer carries a strict Content-Security-Policy (the console's own
//! origin only, no inline script or style), refuses to be framed, and is
//! revalidated with its `ETag`, so that a new binary's files are used at once.
//! The screens are addressed by the URL's fragment (`/admin/#/clients`), so
//! the server knows only its files. These routes need no credential: the
//! console asks the operator to log in, and every call it makes is to the
//! admin API. They are not in the OpenAPI document.

use actix_web::http::header;
use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse, get};
use include_dir::{Dir, include_dir};

use crate::problem::ApiError;

static FILES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/console");

/// The console's own origin only: no inline script or style, no other host,
/// no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Mounts the console.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(console_root).service(console_file);
}

/// `/admin` → `/admin/`, where the page's relative links hold.
#[get("/admin")]
async fn console_root() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/admin/"))
        .finish()
}

/// A file of the console; `index.html` for `/admin/`.
#[get("/admin/{path:.*}")]
async fn console_file(
    request: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let path = match path.as_str() {
        "" => "index.html",
        other => other,
    };
    if path
        .split('/')
        .any(|part| part.is_empty() || part.starts_with('.'))
    {
        return Err(ApiError::not_found());
    }
    let file = FILES.get_file(path).ok_or_else(ApiError::not_found)?;
    let bytes = file.contents();
    let etag = format!("\"{:016x}\"", fnv1a(bytes));
    let fresh = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.split(',').any(|tag| tag.trim() == etag));
    let mut answer = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    answer
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::ETAG, etag));
    if fresh {
        return Ok(answer.finish());
    }
    Ok(answer
        .insert_header((header::CONTENT_TYPE, content_type(path)))
        .body(bytes))
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, extension)| extension) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

/// FNV-1a: a file's version for its `ETag`.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_the_page_loads_is_embedded() {
        let index = FILES
            .get_file("index.html")
            .and_then(|file| file.contents_utf8())
            .unwrap_or_default();
        for reference in [
            "/admin/js/main.js",
            "/admin/css/console.css",
            "/admin/favicon.svg",
        ] {
            assert!(
                index.contains(reference),
                "index.html does not load {reference}"
            );
            let path = reference.trim_start_matches("/admin/");
            assert!(FILES.get_file(path).is_some(), "{path} is not embedded");
        }
        // No inline script: the policy would refuse it.
        assert!(!index.contains("<script>"), "inline script in index.html");
        assert!(!index.contains("style="), "inline style in index.html");
    }

    fn files<'a>(dir: &'a Dir<'a>, into: &mut Vec<&'a include_dir::File<'a>>) {
        into.extend(dir.files());
        for sub in dir.dirs() {
            files(sub, into);
        }
    }

    #[test]
    fn every_import_of_a_module_is_embedded() {
        let mut all = Vec::new();
        files(&FILES, &mut all);
        let scripts: Vec<_> = all
            .into_iter()
            .filter(|file| file.path().extension().is_some_and(|e| e == "js"))
            .collect();
        assert!(scripts.len() > 3, "{} modules", scripts.len());
        for file in scripts {
            let text = file.contents_utf8().unwrap_or_default();
            let dir = file
                .path()
                .parent()
                .map(|p| p.to_path_buf())
                .unwrap_or_default();
            for line in text
                .lines()
                .filter(|l| l.trim_start().starts_with("import "))
            {
                let Some(target) = line.split(['\'', '"']).nth(1) else {
                    continue;
                };
                let mut path = dir.clone();
                for part in target.split('/') {
                    match part {
                        "." => {}
                        ".." => {
                            path.pop();
                        }
                        other => path.push(other),
                    }
                }
                assert!(
                    FILES.get_file(&path).is_some(),
                    "{} imports {target}, which is not embedded",
                    file.path().display()
                );
            }
        }
    }
}
