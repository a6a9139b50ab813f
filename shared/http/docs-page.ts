// The docs page: Swagger UI from jsDelivr, pinned to one version and checked by
// Subresource Integrity, so a CDN that serves another file (compromised, or
// "latest" moving on) is refused by the browser instead of running script on
// our origin. The hashes are of the npm package's own files, which jsDelivr
// serves unchanged; scripts/swagger-ui-sri.sh prints them for a new version.
//
// @hono/swagger-ui is imported on the page's first request, not at start: no
// cold start waits for a page a person opens now and then.
import type { MiddlewareHandler } from "hono";

export const SWAGGER_UI_VERSION = "5.35.0";

// sha384 of swagger-ui-dist@5.35.0's files, keyed by file name.
const INTEGRITY: Record<string, string> = {
  "swagger-ui-bundle.js": "sha384-gjRm0bEPMeTmMh5jT2cHccIwCUZSTd8YC+j0d0sXw0MdGEfScduGpSyF3ZSSLkX9",
  "swagger-ui.css": "sha384-WlYgdmXYOOBWL5apwjDEZwN+U3HmXSSu5R6V5aGxEcf7z+KuRNwBhoxKVN1i3D5I",
};

// A URL we hold no hash for is a bug here (the library changed its asset
// names), never a reason to serve the page without the check.
function integrityOf(url: string): string {
  const file = url.split("/").pop() ?? "";
  const integrity = INTEGRITY[file];
  if (!integrity || !url.includes(`/swagger-ui-dist@${SWAGGER_UI_VERSION}/`)) {
    throw new Error(`no Subresource Integrity hash for ${url}`);
  }
  return integrity;
}

// The CDN learns nothing of the page that asked (no Referer).
const checked = `crossorigin="anonymous" referrerpolicy="no-referrer"`;

function assetTags(asset: { css: string[]; js: string[] }): string {
  return [
    ...asset.css.map((url) =>
      `<link rel="stylesheet" href="${url}" integrity="${integrityOf(url)}" ${checked} />`
    ),
    ...asset.js.map((url) =>
      `<script src="${url}" integrity="${integrityOf(url)}" ${checked}></script>`
    ),
  ].join("\n");
}

// Relative to the page, so it works under any base path.
const DOCUMENT = "openapi.json";

export function docsPage(title: string): MiddlewareHandler {
  let page: Promise<MiddlewareHandler> | undefined;
  return async (c, next) => {
    page ??= import("@hono/swagger-ui").then(({ swaggerUI }) =>
      swaggerUI({
        title,
        url: DOCUMENT, // our page below names it itself
        version: SWAGGER_UI_VERSION,
        manuallySwaggerUIHtml: (asset) => `
      <div id="swagger-ui"></div>
      ${assetTags(asset)}
      <script>
        window.onload = () => {
          window.ui = SwaggerUIBundle({ dom_id: "#swagger-ui", url: "${DOCUMENT}" });
        };
      </script>`,
      })
    );
    return await (await page)(c, next);
  };
}
