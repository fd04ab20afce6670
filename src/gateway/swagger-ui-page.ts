/**
 * The two files of the Swagger UI page that are ours, not swagger-ui-dist's: the index page and
 * the initializer script. Every URL in them is relative, so the page works under any host and
 * behind a proxy that mounts the REST port under a prefix; nothing is loaded from elsewhere.
 */

/** The swagger-ui-dist files the page loads (and the licence the bundle points to). */
export const SWAGGER_UI_ASSETS: Readonly<Record<string, string>> = Object.freeze({
  'swagger-ui.css': 'text/css; charset=utf-8',
  'index.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'swagger-ui-bundle.js.LICENSE.txt': 'text/plain; charset=utf-8',
  'favicon-16x16.png': 'image/png',
  'favicon-32x32.png': 'image/png',
});

/**
 * The index page at `/docs/`. `version` (swagger-ui-dist's) is appended to the asset URLs so an
 * upgrade is fetched anew despite the assets' long cache lifetime.
 */
export function swaggerUiIndexHtml(title: string, version: string): string {
  const v = encodeURIComponent(version);
  return `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>${escapeHtml(title)}</title>
    <link rel="stylesheet" type="text/css" href="./swagger-ui.css?v=${v}" />
    <link rel="stylesheet" type="text/css" href="./index.css?v=${v}" />
    <link rel="icon" type="image/png" href="./favicon-32x32.png?v=${v}" sizes="32x32" />
    <link rel="icon" type="image/png" href="./favicon-16x16.png?v=${v}" sizes="16x16" />
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="./swagger-ui-bundle.js?v=${v}" charset="utf-8"></script>
    <script src="./swagger-initializer.js" charset="utf-8"></script>
  </body>
</html>
`;
}

/**
 * The initializer: loads `../openapi.json` (the document beside `/docs/`), with the Authorize
 * button (the bearer scheme) and "Try it out". No validator badge (it would call a remote
 * validator), no URL bar and no `?url=` override (a page that loads any document is a phishing aid).
 */
export const SWAGGER_UI_INITIALIZER = `'use strict';
window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({
    url: new URL('../openapi.json', window.location.href).href,
    dom_id: '#swagger-ui',
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
    validatorUrl: null,
    queryConfigEnabled: false,
    displayRequestDuration: true,
    persistAuthorization: false,
  });
});
`;

/**
 * The page's Content-Security-Policy: scripts, styles and fetches from this origin only (Swagger
 * UI sets inline styles and draws icons from data: URLs).
 */
export const SWAGGER_UI_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
