// Creating a role: the user's own session only (keys never manage roles).
import { createRoute } from "@hono/zod-openapi";
import { queryAsUser } from "../../db/client.ts";
import type { App } from "../../http/app.ts";
import { errorResponsesWith, jsonBody, jsonResponse, userAccess } from "../../http/openapi.ts";
import { roleConflict } from "../roles.ts";
import { ApiKeyRole, type ApiKeyRoleRow, CreateApiKeyRole } from "../schemas.ts";
import { insertRole } from "../store.ts";

export const route = createRoute({
  method: "post",
  path: "/api-key-roles",
  summary: "Create a role",
  tags: ["api keys"],
  ...userAccess("account:write", "default", { sessionOnly: true }),
  request: { body: jsonBody(CreateApiKeyRole) },
  responses: {
    201: jsonResponse("The new role", ApiKeyRole),
    ...errorResponsesWith({ 409: "The caller already has a role of that name" })(
      400,
      401,
      403,
      409,
      413,
      429,
    ),
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => {
    const [[role]] = await queryAsUser(c.get("user"), insertRole(c.req.valid("json")))
      .catch((err) => Promise.reject(roleConflict(err))) as [ApiKeyRoleRow[]];
    return c.json(role, 201);
  });
}
