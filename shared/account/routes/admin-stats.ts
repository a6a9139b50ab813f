import { createRoute, z } from "@hono/zod-openapi";
import { requireService } from "../../auth/middleware.ts";
import { asService } from "../../db/client.ts";
import type { App } from "../../http/app.ts";
import { errorResponses, jsonResponse } from "../../http/openapi.ts";

const DayUsage = z.object({
  day: z.string(),
  messages: z.number().int(),
  agent_replies: z.number().int(),
  failed: z.number().int(),
  tokens: z.number().int(),
  estimated_cost: z.number(),
  active_users: z.number().int(),
});

const AdminStats = z.object({
  users: z.number().int(),
  sessions: z.number().int(),
  messages: z.number().int(),
  api_keys_in_use: z.number().int(),
  last_30_days: z.array(DayUsage),
}).openapi("AdminStats");

export const route = createRoute({
  method: "get",
  path: "/admin/stats",
  summary: "Usage across all users (admins and the service only)",
  tags: ["admin"],
  security: [{ bearer: [] }],
  middleware: requireService({ admins: true }),
  responses: {
    200: jsonResponse("Totals and usage per day", AdminStats),
    ...errorResponses(401, 403),
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => {
    const [totals, days] = await asService((tx) =>
      Promise.all([
        tx<{ users: number; sessions: number; messages: number; api_keys_in_use: number }[]>`
          select (select count(*) from public.profiles)::int as users,
                 (select count(*) from public.chat_sessions)::int as sessions,
                 (select count(*) from public.messages)::int as messages,
                 (select count(*) from admin.api_keys_in_use)::int as api_keys_in_use`,
        tx<z.infer<typeof DayUsage>[]>`
          select day::text, messages::int, agent_replies::int, failed::int, tokens::int8,
                 estimated_cost::numeric, active_users::int
            from admin.usage_per_day where day > current_date - 30 order by day desc`,
      ])
    );
    return c.json({ ...totals[0], last_30_days: days }, 200);
  });
}
