import { createRoute, z } from "@hono/zod-openapi";
import { queryAsUser } from "../../db/client.ts";
import type { App } from "../../http/app.ts";
import { errorResponses, jsonResponse, userAccess } from "../../http/openapi.ts";
import { decodeCursor, page } from "../../http/pagination.ts";
import { ListTokensQuery, TokenPage } from "../schemas.ts";
import { type TokenPageRow, tokensPage } from "../store.ts";

const TokenCursor = z.tuple([z.string().regex(/^-?\d{1,19}$/), z.uuid()]);

export const route = createRoute({
  method: "get",
  path: "/",
  summary: "List the caller's provider connections, newest first",
  description: "Metadata only: tokens never leave the vault through this route.",
  tags: ["tokens"],
  ...userAccess("tokens:read", "default", { oneTrip: true }),
  request: { query: ListTokensQuery },
  responses: {
    200: jsonResponse("A page of connections", TokenPage),
    ...errorResponses(400, 401),
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => {
    const q = c.req.valid("query");
    const after = q.cursor ? decodeCursor(q.cursor, TokenCursor) : undefined;
    const [rows] = await queryAsUser(
      c.get("user"),
      tokensPage({
        provider: q.provider,
        status: q.status,
        includeRevoked: q.include_revoked === "true",
        limit: q.limit,
        after: after && { createdUs: after[0], id: after[1] },
      }),
    ) as [TokenPageRow[]];
    const result = page(rows, q.limit, (r) => [r.created_us, r.id]);
    return c.json({ ...result, data: result.data.map(({ created_us: _, ...t }) => t) }, 200);
  });
}
