import { createRoute } from "@hono/zod-openapi";
import type { App } from "../../http/app.ts";
import { errorResponses, jsonResponse } from "../../http/openapi.ts";
import { limitByAddress } from "../../http/public-limit.ts";
import { oauthConfig } from "../config.ts";
import type { Service, ServiceScopes } from "../../providers/definitions.ts";
import { ProviderList } from "../schemas.ts";

export const route = createRoute({
  method: "get",
  path: "/providers",
  summary: "Enabled providers, their services and scopes (public)",
  tags: ["oauth"],
  middleware: [limitByAddress] as const, // public: limited per client address
  responses: {
    200: jsonResponse("The providers a user can connect", ProviderList),
    ...errorResponses(429),
  },
});

export function register(app: App) {
  app.openapi(route, (c) => {
    const data = [...oauthConfig().providers.values()].map((p) => ({
      id: p.id,
      name: p.name,
      services: (Object.entries(p.services) as [Service, ServiceScopes][])
        .map(([service, scopes]) => ({
          service,
          scopes: scopes.write,
          read_scopes: scopes.read,
        })),
      identity_scopes: p.identityScopes,
      supports_revocation: p.endpoints.revocation !== null,
    }));
    c.header("Cache-Control", "public, max-age=60");
    return c.json({ data }, 200);
  });
}
