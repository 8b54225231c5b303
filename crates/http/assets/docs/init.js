// Starts Swagger UI on this server's OpenAPI document (the page GET /api/docs).
// A file of its own because the page's Content-Security-Policy allows no inline
// script. Nothing here may name another origin: the page must work offline.
"use strict";

window.ui = SwaggerUIBundle({
  url: "/api/openapi.json",
  dom_id: "#swagger-ui",
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
  deepLinking: true,
  // Credentials entered under "Authorize" stay in this tab's memory only.
  persistAuthorization: false,
  // No badge from the online validator (validator.swagger.io).
  validatorUrl: null,
  // No `?url=` / `?configUrl=` from the address bar: only this server's document.
  queryConfigEnabled: false,
});
