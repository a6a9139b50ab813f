import assert from "node:assert/strict";
import { Session } from "../../shared/sessions/schemas.ts";
import { assertError, parsed } from "../helpers/assert.ts";
import {
  addMessages,
  call,
  createApiKey,
  createUser,
  SERVICE_ROLE_KEY,
  sql,
  test,
} from "../helpers/stack.ts";

test("admin stats: admins and the service see totals across users", async () => {
  const admin = await createUser("admin", { role: "admin" });
  const user = await createUser("counted");
  const s = parsed(
    Session,
    await call("POST", "/sessions", { token: user.token, body: { title: "counted" } }),
    201,
  );
  await addMessages(user, s.id, 2, { total_tokens: 5 });
  const [{ users, messages }] =
    await sql`select (select count(*) from public.profiles)::int as users,
                                                  (select count(*) from public.messages)::int as messages`;
  for (const token of [admin.token, SERVICE_ROLE_KEY]) {
    const res = await call("GET", "/account/admin/stats", { token });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.ok(res.body.users >= users);
    assert.ok(res.body.messages >= messages);
    const today = res.body.last_30_days[0];
    assert.ok(today.messages >= 2 && today.tokens >= 10);
  }
});

test("admin stats: users, keys and the anon key are refused", async () => {
  const user = await createUser("not-admin");
  assertError(await call("GET", "/account/admin/stats", { token: user.token }), 403, "forbidden");
  const admin = await createUser("admin-with-key", { role: "admin" });
  const key = await createApiKey(admin, ["account:read"]);
  assertError(
    await call("GET", "/account/admin/stats", { headers: { "X-API-Key": key.key } }),
    403,
    "forbidden",
  );
  assertError(await call("GET", "/account/admin/stats"), 401, "unauthorized");
  const anon = Deno.env.get("SUPABASE_ANON_KEY");
  assertError(await call("GET", "/account/admin/stats", { token: anon }), 401, "unauthorized");
});
