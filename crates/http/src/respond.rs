use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;

/// `201 Created` with the object, and its `Location`: the collection's path (the
/// request's) followed by `id`.
pub fn created(
    req: &HttpRequest,
    id: impl std::fmt::Display,
    body: impl Serialize,
) -> HttpResponse {
    let location = format!("{}/{id}", req.path().trim_end_matches('/'));
    HttpResponse::Created()
        .insert_header((header::LOCATION, location))
        .json(body)
}

/// `201 Created` with the object, and its `Location` in `collection` of the
/// request's API (`/api/public/v1/users/{id}` for a request under `/api/public/v1`).
pub fn created_in(
    req: &HttpRequest,
    collection: &str,
    id: impl std::fmt::Display,
    body: impl Serialize,
) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((header::LOCATION, location_in(req, collection, id)))
        .json(body)
}

/// `202 Accepted` with the object, and its `Location` in `collection` of the
/// request's API, as `created_in` does.
pub fn accepted_in(
    req: &HttpRequest,
    collection: &str,
    id: impl std::fmt::Display,
    body: impl Serialize,
) -> HttpResponse {
    HttpResponse::Accepted()
        .insert_header((header::LOCATION, location_in(req, collection, id)))
        .json(body)
}

/// `/api/<name>/v1/{collection}/{id}` for a request under `/api/<name>/v1`.
fn location_in(req: &HttpRequest, collection: &str, id: impl std::fmt::Display) -> String {
    let api: Vec<&str> = req.path().split('/').take(4).collect();
    format!("{}/{collection}/{id}", api.join("/"))
}
