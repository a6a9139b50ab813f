import { createRoute } from "@hono/zod-openapi";
import { asUser } from "../../db/client.ts";
import type { App } from "../../http/app.ts";
import { errorResponses, jsonResponse, userAccess } from "../../http/openapi.ts";
import { tokensConfig } from "../config.ts";
import { TokenStats } from "../schemas.ts";
import { tokenStats } from "../store.ts";

export const route = createRoute({
  method: "get",
  path: "/stats",
  summary: "Connections by provider and status, expiring soon, refresh success over 24 h",
  tags: ["tokens"],
  ...userAccess("tokens:read"),
  responses: {
    200: jsonResponse("Connection statistics", TokenStats),
    ...errorResponses(401),
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => {
    const window = tokensConfig().TOKEN_REFRESH_WINDOW_SECONDS;
    const { providers, refresh } = await asUser(c.get("user"), (tx) => tokenStats(tx, window));
    const by_status = { active: 0, needs_reauth: 0, revoked: 0 };
    const by_provider: Record<
      string,
      { active: number; needs_reauth: number; revoked: number; total: number }
    > = {};
    let expiring_soon = 0;
    for (const p of providers) {
      by_status.active += p.active;
      by_status.needs_reauth += p.needs_reauth;
      by_status.revoked += p.revoked;
      expiring_soon += p.expiring_soon;
      by_provider[p.provider] = {
        active: p.active,
        needs_reauth: p.needs_reauth,
        revoked: p.revoked,
        total: p.active + p.needs_reauth + p.revoked,
      };
    }
    return c.json({
      total: by_status.active + by_status.needs_reauth + by_status.revoked,
      by_status,
      by_provider,
      expiring_soon,
      refresh: {
        attempts_24h: refresh.attempts,
        succeeded_24h: refresh.succeeded,
        failed_24h: refresh.failed,
        success_rate_24h: refresh.attempts ? refresh.succeeded / refresh.attempts : null,
        last_refresh_at: refresh.last_refresh_at,
      },
    }, 200);
  });
}
