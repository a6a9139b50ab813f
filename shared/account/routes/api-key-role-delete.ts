// Deleting a role no key references (409 while keys do). The user's own
// session only.
import { createRoute } from "@hono/zod-openapi";
import { queryAsUser } from "../../db/client.ts";
import type { App } from "../../http/app.ts";
import { notFound } from "../../core/errors.ts";
import { errorResponsesWith, userAccess } from "../../http/openapi.ts";
import { roleConflict } from "../roles.ts";
import { ApiKeyRoleId } from "../schemas.ts";
import { deleteRole } from "../store.ts";

export const route = createRoute({
  method: "delete",
  path: "/api-key-roles/{id}",
  summary: "Delete one of the caller's roles that no key references",
  tags: ["api keys"],
  ...userAccess("account:write", "default", { sessionOnly: true }),
  request: { params: ApiKeyRoleId },
  responses: {
    204: { description: "Deleted" },
    ...errorResponsesWith({ 409: "Keys still reference the role: change them first" })(
      400,
      401,
      403,
      404,
      409,
      429,
    ),
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => {
    const { id } = c.req.valid("param");
    const [deleted] = await queryAsUser(c.get("user"), deleteRole(id))
      .catch((err) => Promise.reject(roleConflict(err)));
    if (deleted.length === 0) throw notFound("role");
    return c.body(null, 204);
  });
}
