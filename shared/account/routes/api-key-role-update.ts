// Changing a role: its keys follow on their next request (the verification
// reads the role's scopes). The user's own session only.
import { createRoute } from "@hono/zod-openapi";
import { queryAsUser } from "../../db/client.ts";
import type { App } from "../../http/app.ts";
import { notFound } from "../../core/errors.ts";
import { errorResponsesWith, jsonBody, jsonResponse, userAccess } from "../../http/openapi.ts";
import { roleConflict } from "../roles.ts";
import { ApiKeyRole, ApiKeyRoleId, type ApiKeyRoleRow, UpdateApiKeyRole } from "../schemas.ts";
import { updateRole } from "../store.ts";

export const route = createRoute({
  method: "patch",
  path: "/api-key-roles/{id}",
  summary: "Change one of the caller's roles; its keys follow on their next request",
  tags: ["api keys"],
  ...userAccess("account:write", "default", { sessionOnly: true }),
  request: { params: ApiKeyRoleId, body: jsonBody(UpdateApiKeyRole) },
  responses: {
    200: jsonResponse("The changed role", ApiKeyRole),
    ...errorResponsesWith({ 409: "The caller already has a role of that name" })(
      400,
      401,
      403,
      404,
      409,
      413,
      429,
    ),
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => {
    const { id } = c.req.valid("param");
    const [[role]] = await queryAsUser(c.get("user"), updateRole(id, c.req.valid("json")))
      .catch((err) => Promise.reject(roleConflict(err))) as [ApiKeyRoleRow[]];
    if (!role) throw notFound("role");
    return c.json(role, 200);
  });
}
