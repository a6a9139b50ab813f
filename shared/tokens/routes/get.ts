import { createRoute } from "@hono/zod-openapi";
import { queryAsUser } from "../../db/client.ts";
import type { App } from "../../http/app.ts";
import { notFound } from "../../core/errors.ts";
import { errorResponses, jsonResponse, userAccess } from "../../http/openapi.ts";
import { ServiceToken, TokenId } from "../schemas.ts";
import { tokenById, type TokenRow } from "../store.ts";

export const route = createRoute({
  method: "get",
  path: "/{id}",
  summary: "Get one connection (metadata only)",
  tags: ["tokens"],
  ...userAccess("tokens:read", "default", { oneTrip: true }),
  request: { params: TokenId },
  responses: {
    200: jsonResponse("The connection", ServiceToken),
    ...errorResponses(400, 401, 404),
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => {
    const { id } = c.req.valid("param");
    const [[token]] = await queryAsUser(c.get("user"), tokenById(id)) as [TokenRow[]];
    if (!token) throw notFound("connection");
    return c.json(token, 200);
  });
}
