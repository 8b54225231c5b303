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
    let api: Vec<&str> = req.path().split('/').take(4).collect();
    let location = format!("{}/{collection}/{id}", api.join("/"));
    HttpResponse::Created()
        .insert_header((header::LOCATION, location))
        .json(body)
}
