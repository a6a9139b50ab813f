// Roles: named scope sets keys reference. Built-in roles (reader, assistant)
// are the project's; a user adds their own. Changing a role changes what its
// keys may do on their next request (verification reads the role's scopes).
// Listing is open to keys with account:read; changing roles needs the user's
// own session, as changing keys does.
import { createRoute } from "@hono/zod-openapi";
import { queryAsUser } from "../../db/client.ts";
import type { App } from "../../http/app.ts";
import { AppError, notFound } from "../../http/errors.ts";
import {
  errorResponses,
  errorResponsesWith,
  jsonBody,
  jsonResponse,
  userAccess,
} from "../../http/openapi.ts";
import {
  ApiKeyRole,
  ApiKeyRoleId,
  ApiKeyRoleList,
  type ApiKeyRoleRow,
  CreateApiKeyRole,
  UpdateApiKeyRole,
} from "../schemas.ts";
import { deleteRole, insertRole, listRoles, updateRole } from "../store.ts";

export const listRoute = createRoute({
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

export const createRoleRoute = createRoute({
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

export const updateRoleRoute = createRoute({
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

export const deleteRoleRoute = createRoute({
  method: "delete",
  path: "/api-key-roles/{id}",
  summary: "Delete one of the caller's roles that no key references",
  tags: ["api keys"],
  ...userAccess("account:write", "default", { sessionOnly: true }),
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
  request: { params: ApiKeyRoleId },
});

const nameTaken = () => new AppError("conflict", "you already have a role of that name");

function refine(err: unknown): unknown {
  const code = (err as { code?: unknown })?.code;
  if (code === "23505") return nameTaken();
  if (code === "23503") {
    return new AppError(
      "conflict",
      "API keys still reference this role: change or revoke them first",
    );
  }
  return err;
}

export function register(app: App) {
  app.openapi(listRoute, async (c) => {
    const [rows] = await queryAsUser(c.get("user"), listRoles()) as [ApiKeyRoleRow[]];
    return c.json({ data: rows }, 200);
  });
  app.openapi(createRoleRoute, async (c) => {
    const [[role]] = await queryAsUser(c.get("user"), insertRole(c.req.valid("json")))
      .catch((err) => Promise.reject(refine(err))) as [ApiKeyRoleRow[]];
    return c.json(role, 201);
  });
  app.openapi(updateRoleRoute, async (c) => {
    const { id } = c.req.valid("param");
    const [[role]] = await queryAsUser(c.get("user"), updateRole(id, c.req.valid("json")))
      .catch((err) => Promise.reject(refine(err))) as [ApiKeyRoleRow[]];
    if (!role) throw notFound("role");
    return c.json(role, 200);
  });
  app.openapi(deleteRoleRoute, async (c) => {
    const { id } = c.req.valid("param");
    const [deleted] = await queryAsUser(c.get("user"), deleteRole(id))
      .catch((err) => Promise.reject(refine(err)));
    if (deleted.length === 0) throw notFound("role");
    return c.body(null, 204);
  });
}
