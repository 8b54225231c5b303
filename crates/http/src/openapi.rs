use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, OpenApi as Document, PathItem, Ref, RefOr, ResponseBuilder, SecurityRequirement,
};
use utoipa::{Modify, OpenApi};

use crate::admin::AdminApi;
use crate::auth::{API_KEY_HEADER, API_SECRET_HEADER};
use crate::health;
use crate::public::PublicApi;

/// The OpenAPI 3 document, generated from the handlers and bodies.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "omnichannel",
        description = "Self-hosted omnichannel communication service: clients, departments, policies and communications over SMS, messenger, e-mail and push."
    ),
    paths(
        health::live,
        health::ready,
        crate::metrics::scrape,
        crate::receipts::twilio
    ),
    nest(
        (path = "/api/admin/v1", api = AdminApi),
        (path = "/api/public/v1", api = PublicApi),
    ),
    modifiers(&Security, &CommonAnswers, &UniqueOperationIds),
    tags(
        (name = "auth", description = "Operators' logins and tokens"),
        (name = "operators", description = "Operators and API keys"),
        (name = "users", description = "Clients and their availability"),
        (name = "dictionaries", description = "Communication types and sources (channels)"),
        (name = "departments", description = "Departments, favourite sources and rules"),
        (name = "communications", description = "Sends, bookings, their history and delivery receipts"),
        (name = "health", description = "Liveness and readiness"),
    )
)]
pub struct ApiDoc;

/// The admin API's routes need a bearer access token (but login, refresh and
/// logout); the public API's need the key and its secret.
struct Security;

const OPEN_ADMIN_ROUTES: [&str; 3] = [
    "/api/admin/v1/auth/login",
    "/api/admin/v1/auth/refresh",
    "/api/admin/v1/auth/logout",
];

impl Modify for Security {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An operator's access token from POST /api/admin/v1/auth/login",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new(API_KEY_HEADER))),
        );
        components.add_security_scheme(
            "api_secret",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new(API_SECRET_HEADER))),
        );
        let bearer = SecurityRequirement::new("bearer", Vec::<String>::new());
        let key_pair = SecurityRequirement::new("api_key", Vec::<String>::new())
            .add("api_secret", Vec::<String>::new());
        for (path, item) in openapi.paths.paths.iter_mut() {
            let requirement = if path.starts_with("/api/public/") {
                key_pair.clone()
            } else if path.starts_with("/api/admin/") && !OPEN_ADMIN_ROUTES.contains(&path.as_str())
            {
                bearer.clone()
            } else {
                continue;
            };
            for operation in operations(item) {
                operation.security = Some(vec![requirement.clone()]);
            }
        }
    }
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
    ]
    .into_iter()
    .flatten()
}

/// The problem answers every route of a kind can give, documented once here:
/// `401` behind a credential, `400`/`413`/`415`/`422` with a body, `422` with
/// query parameters, `404` with an id in the path.
struct CommonAnswers;

impl Modify for CommonAnswers {
    fn modify(&self, openapi: &mut Document) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let has_id = path.contains('{');
            for operation in operations(item) {
                let secured = operation.security.is_some();
                let has_body = operation.request_body.is_some();
                let has_query = operation
                    .parameters
                    .iter()
                    .flatten()
                    .any(|p| p.parameter_in == ParameterIn::Query);
                let mut answers = Vec::new();
                if secured {
                    answers.push(("401", "No valid credential"));
                }
                if has_body {
                    answers.extend([
                        ("400", "The body is not valid JSON"),
                        ("413", "The body is larger than the route accepts"),
                        ("415", "The body is not sent as application/json"),
                        ("422", "A field is invalid; `errors` names each"),
                    ]);
                }
                if has_query {
                    answers.push(("422", "A query parameter is invalid; `errors` names each"));
                }
                if has_id {
                    answers.push(("404", "No such resource"));
                }
                let responses = &mut operation.responses.responses;
                for (status, description) in answers {
                    responses
                        .entry(status.to_owned())
                        .or_insert_with(|| problem_answer(description));
                }
            }
        }
    }
}

fn problem_answer(description: &str) -> RefOr<utoipa::openapi::Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                crate::problem::CONTENT_TYPE,
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build(),
    )
}

/// The public API mounts the admin API's handlers, so both would carry the same
/// `operationId`, which must be unique among all operations: clients
/// generated from the document, and Swagger UI at `/api/docs`, which keys
/// "Try it out" by it, would mix the two. The public ones get `public_` first.
struct UniqueOperationIds;

impl Modify for UniqueOperationIds {
    fn modify(&self, openapi: &mut Document) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            if !path.starts_with("/api/public/") {
                continue;
            }
            for operation in operations(item) {
                if let Some(id) = operation.operation_id.as_mut() {
                    id.insert_str(0, "public_");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_bookings_and_histories_are_documented() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
        let schemas = &doc["components"]["schemas"];
        let refused = &schemas["BookingRefused"];
        assert!(refused["properties"]["reason"].is_object(), "{refused}");
        assert!(refused["properties"]["next_available_at"].is_object());
        assert_eq!(refused["required"].as_array().map(Vec::len), Some(6));
        assert!(schemas["ChangeConflict"]["oneOf"].is_array());
        assert!(schemas["Problem"]["properties"].get("extensions").is_none());
        for api in ["/api/admin/v1", "/api/public/v1"] {
            let send = &doc["paths"][format!("{api}/communications")]["post"]["responses"];
            assert!(send["202"].is_object(), "{api}");
            let conflict = &send["409"]["content"]["application/problem+json"]["schema"]["$ref"];
            assert_eq!(conflict, "#/components/schemas/SendConflict");
            let detail = &doc["paths"][format!("{api}/communications/{{id}}")]["get"];
            assert_eq!(
                detail["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/CommunicationDetail"
            );
        }
    }

    #[test]
    fn bulks_and_batches_are_documented_on_both_apis() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
        let schema = |answer: &serde_json::Value| {
            answer["content"]["application/json"]["schema"]["$ref"].clone()
        };
        for api in ["/api/admin/v1", "/api/public/v1"] {
            let bulk = &doc["paths"][format!("{api}/communications/bulk")]["post"];
            assert_eq!(
                bulk["requestBody"]["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/SendBulk",
                "{api}"
            );
            assert_eq!(
                schema(&bulk["responses"]["202"]),
                "#/components/schemas/BulkAccepted"
            );
            assert!(bulk["responses"]["413"].is_object());
            let batch = &doc["paths"][format!("{api}/batches/{{id}}")]["get"];
            assert_eq!(
                schema(&batch["responses"]["200"]),
                "#/components/schemas/BatchBody"
            );
            assert!(batch["responses"]["404"].is_object());
        }
        let counts = &doc["components"]["schemas"]["BatchCounts"]["properties"];
        assert_eq!(counts.as_object().map(|c| c.len()), Some(7));
    }
}
