// Starts Swagger UI from a file rather than an inline script, so the page works under a
// Content-Security-Policy that forbids inline scripts.
window.addEventListener("load", function () {
  var target = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: target.dataset.specUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "StandaloneLayout",
  });
});
