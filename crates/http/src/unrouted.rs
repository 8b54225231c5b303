//! Requests no route took: `405` with `Allow` when the path is one of the API's
//! under another method, else `404`. The OpenAPI document is the route table.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse};
use utoipa::OpenApi;

use crate::openapi::ApiDoc;
use crate::problem::ApiError;

/// A documented path, split into segments (`None` for a `{parameter}`), and
/// its methods.
struct Route {
    segments: Vec<Option<String>>,
    methods: BTreeSet<&'static str>,
}

fn routes() -> &'static [Route] {
    static ROUTES: OnceLock<Vec<Route>> = OnceLock::new();
    ROUTES.get_or_init(|| {
        ApiDoc::openapi()
            .paths
            .paths
            .iter()
            // Mounted by the server only when `[metrics]` puts it beside the
            // API: switched off or bound elsewhere, it is not there at all.
            .filter(|(path, _)| path.as_str() != "/metrics")
            .map(|(path, item)| Route {
                segments: path
                    .split('/')
                    .map(|s| (!s.starts_with('{')).then(|| s.to_owned()))
                    .collect(),
                methods: [
                    ("GET", item.get.is_some()),
                    ("PUT", item.put.is_some()),
                    ("POST", item.post.is_some()),
                    ("DELETE", item.delete.is_some()),
                    ("PATCH", item.patch.is_some()),
                ]
                .into_iter()
                .filter_map(|(method, present)| present.then_some(method))
                .collect(),
            })
            .collect()
    })
}

/// The methods the API serves at `path`; empty when it serves none.
fn allowed(path: &str) -> BTreeSet<&'static str> {
    let segments: Vec<&str> = path.split('/').collect();
    routes()
        .iter()
        .filter(|route| {
            route.segments.len() == segments.len()
                && route
                    .segments
                    .iter()
                    .zip(&segments)
                    .all(|(expected, actual)| expected.as_deref().is_none_or(|e| e == *actual))
        })
        .flat_map(|route| route.methods.iter().copied())
        .collect()
}

pub async fn unrouted(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let methods = allowed(req.path());
    if methods.is_empty() {
        return Err(ApiError::not_found());
    }
    let allow = methods.into_iter().collect::<Vec<_>>().join(", ");
    Err(ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("The resource supports {allow} only."),
    )
    .with_header(header::ALLOW, allow))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_found_by_the_documented_templates() {
        let methods = |path| allowed(path).into_iter().collect::<Vec<_>>();
        assert_eq!(methods("/api/admin/v1/users"), ["GET", "POST"]);
        assert_eq!(
            methods("/api/admin/v1/users/0190f0f0-0000-7000-8000-000000000000"),
            ["DELETE", "GET", "PATCH"]
        );
        assert_eq!(
            methods("/api/public/v1/users/by-external-id/crm-1"),
            ["PUT"]
        );
        assert_eq!(methods("/health/live"), ["GET"]);
        assert!(methods("/api/admin/v1/nothing").is_empty());
        assert!(methods("/api/admin/v1/users/a/b").is_empty());
    }
}
