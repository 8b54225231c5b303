//! `GET /api/docs`: an API explorer (Swagger UI) on `GET /api/openapi.json`.
//!
//! Every file the page loads is embedded in the binary and served from
//! `/api/docs/…`, so the page works on a machine without internet access; its
//! Content-Security-Policy lets it load nothing from another origin. Swagger UI's
//! files come from the `swagger-ui-dist` npm package: see
//! `crates/http/assets/swagger-ui/README.md`. These routes need no credential and
//! are not in the OpenAPI document.

use actix_web::http::header::{self, ContentType};
use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpResponse, get};

use crate::problem::ApiError;

/// The version of the embedded Swagger UI (`swagger-ui-dist`); the page asks for
/// its files with `?v=` this, so that a browser's long-cached copy is not used
/// after an upgrade.
macro_rules! swagger_ui_version {
    () => {
        "5.35.0"
    };
}

/// The version of the embedded Swagger UI.
pub const SWAGGER_UI_VERSION: &str = swagger_ui_version!();

/// The page's policy: its own origin only, no inline script. Swagger UI sets
/// styles through the DOM (allowed), not with `<style>` or `style=""`.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const PAGE: &str = concat!(
    "<!doctype html>\n",
    "<html lang=\"en\">\n",
    "<head>\n",
    "<meta charset=\"utf-8\">\n",
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n",
    "<title>omnichannel API</title>\n",
    "<link rel=\"icon\" type=\"image/png\" href=\"/api/docs/favicon-32x32.png?v=",
    swagger_ui_version!(),
    "\">\n",
    "<link rel=\"stylesheet\" href=\"/api/docs/swagger-ui.css?v=",
    swagger_ui_version!(),
    "\">\n",
    "</head>\n",
    "<body>\n",
    "<div id=\"swagger-ui\"></div>\n",
    "<script src=\"/api/docs/swagger-ui-bundle.js?v=",
    swagger_ui_version!(),
    "\"></script>\n",
    "<script src=\"/api/docs/init.js\"></script>\n",
    "</body>\n",
    "</html>\n",
);

/// An embedded file: its name under `/api/docs/`, type, and whether it is one of
/// Swagger UI's (versioned, cached for a year) or ours (revalidated).
struct Asset {
    name: &'static str,
    content_type: &'static str,
    versioned: bool,
    bytes: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "swagger-ui-bundle.js",
        content_type: "text/javascript; charset=utf-8",
        versioned: true,
        bytes: include_bytes!("../assets/swagger-ui/swagger-ui-bundle.js"),
    },
    Asset {
        name: "swagger-ui.css",
        content_type: "text/css; charset=utf-8",
        versioned: true,
        bytes: include_bytes!("../assets/swagger-ui/swagger-ui.css"),
    },
    Asset {
        name: "favicon-32x32.png",
        content_type: "image/png",
        versioned: true,
        bytes: include_bytes!("../assets/swagger-ui/favicon-32x32.png"),
    },
    Asset {
        name: "init.js",
        content_type: "text/javascript; charset=utf-8",
        versioned: false,
        bytes: include_bytes!("../assets/docs/init.js"),
    },
];

const LONG_CACHE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

/// Mounts the page and its files.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(page).service(asset);
}

/// The API explorer.
#[get("/api/docs")]
async fn page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::html())
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::CACHE_CONTROL, REVALIDATE))
        .body(PAGE)
}

/// A file of the page; `404` for any other name.
#[get("/api/docs/{asset}")]
async fn asset(name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let asset = ASSETS
        .iter()
        .find(|a| a.name == name.as_str())
        .ok_or_else(ApiError::not_found)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, asset.content_type))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((
            header::CACHE_CONTROL,
            if asset.versioned {
                LONG_CACHE
            } else {
                REVALIDATE
            },
        ))
        .body(asset.bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_bundle_is_the_version_the_page_names() {
        let bundle = String::from_utf8_lossy(ASSETS[0].bytes);
        let stamp = format!("PACKAGE_VERSION:\"{SWAGGER_UI_VERSION}\"");
        assert!(
            bundle.contains(&stamp),
            "swagger-ui-bundle.js is not {SWAGGER_UI_VERSION}"
        );
        let readme = include_str!("../assets/swagger-ui/README.md");
        assert!(
            readme.contains(SWAGGER_UI_VERSION),
            "the assets' README names another version"
        );
    }
}
