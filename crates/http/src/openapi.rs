use utoipa::OpenApi;

use crate::admin::AdminApi;
use crate::health;

/// The OpenAPI 3 document, generated from the handlers and bodies.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "omnichannel",
        description = "Self-hosted omnichannel communication service: clients, departments, policies and communications over SMS, messenger, e-mail and push."
    ),
    paths(health::live, health::ready),
    nest((path = "/api/admin/v1", api = AdminApi)),
    tags(
        (name = "users", description = "Clients and their availability"),
        (name = "dictionaries", description = "Communication types and sources (channels)"),
        (name = "departments", description = "Departments, favourite sources and rules"),
        (name = "health", description = "Liveness and readiness"),
    )
)]
pub struct ApiDoc;
