// Starts Swagger UI from a file rather than an inline script, so the page works under a
// Content-Security-Policy that forbids inline scripts.

// Swagger UI's logo is an SVG carrying an inline <style>, which that policy refuses: the top
// bar shows the page's title in its place.
function TitleForLogo(system) {
  return {
    components: {
      Logo: function () {
        return system.React.createElement("span", null, document.title);
      },
    },
  };
}

window.addEventListener("load", function () {
  var target = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: target.dataset.specUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [TitleForLogo],
    layout: "StandaloneLayout",
  });
});
