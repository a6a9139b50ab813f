// Roles: named scope sets keys reference. Built-in roles (reader, assistant)
// are the project's; a user adds their own. Changing a role changes what its
// keys may do on their next request (verification reads the role's scopes).
// Listing is open to keys with account:read; changing roles needs the user's
// own session, as changing keys does.
import { createRoute } from "@hono/zod-openapi";
import { queryAsUser } from "../../db/client.ts";
import type { App } from "../../http/app.ts";
import { errorResponses, jsonResponse, userAccess } from "../../http/openapi.ts";
import { ApiKeyRoleList, type ApiKeyRoleRow } from "../schemas.ts";
import { listRoles } from "../store.ts";

export const route = createRoute({
  method: "get",
  path: "/api-key-roles",
  summary: "The built-in roles and the caller's own",
  tags: ["api keys"],
  ...userAccess("account:read", "default", { oneTrip: true }),
  responses: {
    200: jsonResponse("Roles, built-in first", ApiKeyRoleList),
    ...errorResponses(401, 403, 429),
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => {
    const [rows] = await queryAsUser(c.get("user"), listRoles()) as [ApiKeyRoleRow[]];
    return c.json({ data: rows }, 200);
  });
}
