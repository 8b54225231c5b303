//! `GET /api/docs`: the API explorer, served from files embedded in the binary,
//! loading nothing from another origin. It does not touch the database: one
//! backend is enough.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use reqwest::header::HeaderMap;

use crate::api::TestApp;
use crate::db::{Backend, TestDb, runtime};

/// A raw `GET` without any credential.
async fn get(app: &TestApp, path: &str) -> (u16, HeaderMap, Vec<u8>) {
    let response = reqwest::get(format!("{}{path}", app.base))
        .await
        .expect("the server answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.bytes().await.expect("the body arrives").to_vec();
    (status, headers, body)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// The values of every `src="…"` and `href="…"` attribute of `html`.
fn links(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        let mut rest = html;
        while let Some(start) = rest.find(attribute) {
            rest = &rest[start + attribute.len()..];
            let end = rest.find('"').expect("the attribute is closed");
            found.push(rest[..end].to_owned());
            rest = &rest[end..];
        }
    }
    found
}

fn assert_no_outside_url(name: &str, text: &str) {
    for scheme in ["http://", "https://", "//cdn", "url("] {
        assert!(
            !text.to_ascii_lowercase().contains(scheme),
            "{name} names `{scheme}`:\n{text}"
        );
    }
}

#[test]
fn docs_page_is_served_offline_with_a_strict_policy() {
    let db = TestDb::new(Backend::Sqlite);
    runtime().block_on(async {
        let app = TestApp::spawn(&db).await;

        let (status, headers, body) = get(&app, "/api/docs").await;
        assert_eq!(status, 200);
        assert!(header(&headers, "content-type").starts_with("text/html"));
        let csp = header(&headers, "content-security-policy");
        for directive in [
            "default-src 'self'",
            "script-src 'self'",
            "connect-src 'self'",
            "img-src 'self' data:",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(directive), "no `{directive}` in {csp:?}");
        }
        assert!(!csp.contains("unsafe-eval"), "{csp:?}");
        let script_src = csp
            .split(';')
            .find(|d| d.trim().starts_with("script-src"))
            .unwrap();
        assert!(!script_src.contains("unsafe-inline"), "{csp:?}");
        assert_eq!(header(&headers, "x-content-type-options"), "nosniff");

        let html = String::from_utf8(body).unwrap();
        assert_no_outside_url("the page", &html);
        assert!(!html.contains("<script>"), "an inline script:\n{html}");
        let links = links(&html);
        for expected in ["swagger-ui-bundle.js", "init.js", "swagger-ui.css"] {
            assert!(
                links.iter().any(|l| l.contains(expected)),
                "the page does not load {expected}: {links:?}"
            );
        }
        for link in &links {
            assert!(
                link.starts_with('/') && !link.starts_with("//"),
                "{link} is not a path of this server"
            );
            let (status, headers, body) = get(&app, link).await;
            assert_eq!(status, 200, "{link}");
            assert_eq!(
                header(&headers, "x-content-type-options"),
                "nosniff",
                "{link}"
            );
            let content_type = header(&headers, "content-type");
            let path = link.split('?').next().unwrap();
            let expected = match path.rsplit('.').next().unwrap() {
                "js" => "text/javascript",
                "css" => "text/css",
                "png" => "image/png",
                other => panic!("{link}: an unexpected kind of file, {other}"),
            };
            assert!(content_type.starts_with(expected), "{link}: {content_type}");
            assert!(!body.is_empty(), "{link} is empty");
            if link.contains("?v=") {
                assert!(
                    header(&headers, "cache-control").contains("max-age=31536000"),
                    "{link} is versioned but not cached long"
                );
            }
        }

        let (status, _, init) = get(&app, "/api/docs/init.js").await;
        assert_eq!(status, 200);
        let init = String::from_utf8(init).unwrap();
        assert!(init.contains(r#"url: "/api/openapi.json""#), "{init}");
        assert!(init.contains("validatorUrl: null"), "{init}");
        assert!(init.contains("persistAuthorization: false"), "{init}");
        assert_no_outside_url("init.js", &init);

        // The document the page shows sends "Try it out" to this same server.
        let (status, _, document) = get(&app, "/api/openapi.json").await;
        assert_eq!(status, 200);
        let document: serde_json::Value = serde_json::from_slice(&document).unwrap();
        let servers = document["servers"].as_array().cloned().unwrap_or_default();
        assert!(
            servers
                .iter()
                .all(|s| s["url"].as_str().is_some_and(|u| u.starts_with('/'))),
            "servers other than this one: {servers:?}"
        );
        let schemes = &document["components"]["securitySchemes"];
        for scheme in ["bearer", "api_key", "api_secret"] {
            assert!(schemes[scheme].is_object(), "no {scheme} scheme: {schemes}");
        }
        let paths = document["paths"].as_object().unwrap();
        // Swagger UI keys "Try it out" by `operationId`: a public operation
        // sharing the admin one's id would run the admin one, with its token.
        let mut ids = std::collections::BTreeSet::new();
        for item in paths.values() {
            for operation in item.as_object().unwrap().values() {
                if let Some(id) = operation["operationId"].as_str() {
                    assert!(ids.insert(id.to_owned()), "operationId {id} twice");
                }
            }
        }
        assert!(ids.len() > 40, "{ids:?}");
        assert!(
            !paths.keys().any(|p| p.starts_with("/api/docs")),
            "the explorer is in the document"
        );

        let (status, headers, body) = get(&app, "/api/docs/nothing.js").await;
        assert_eq!(status, 404);
        assert_eq!(header(&headers, "content-type"), "application/problem+json");
        let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(problem["status"], 404);
    });
}
