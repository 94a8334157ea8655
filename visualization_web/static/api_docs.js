/* The API page: Swagger UI over the OpenAPI document. A file, not an inline script (CSP); "Try it out"
   requests carry the page's CSRF token, as app.js's do. */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", () => {
    const root = document.getElementById("swagger-ui");
    if (!root || !window.SwaggerUIBundle) return;
    const csrf = document.querySelector('meta[name="csrf-token"]').content;
    window.SwaggerUIBundle({
      url: root.dataset.specUrl,
      domNode: root,
      presets: [window.SwaggerUIBundle.presets.apis],
      layout: "BaseLayout",
      validatorUrl: null, // never ask swagger.io to validate the document
      requestInterceptor: (request) => {
        request.headers["X-CSRF-Token"] = csrf;
        return request;
      },
    });
  });
})();
