// Writes go through the API. PostgREST serves `public` to any signed-in user
// with their own JWT: it logs in as `authenticator`, sets the role the token
// names (`authenticated`) and the claims, and runs the request as one SQL
// statement. The local stack has no PostgREST, so each abuse below runs in SQL
// exactly as PostgREST would run it, and must be refused. Before migration
// 20261130000600 each of them went through.
import assert from "node:assert/strict";
import fc from "fast-check";
import postgres from "postgres";
import { CreatedApiKey, UpdateProfile } from "../../shared/account/schemas.ts";
import { hashApiKey } from "../../shared/auth/api-keys.ts";
import { Exchange, SendMessage, UpdateVoiceAvatar } from "../../shared/chat/schemas.ts";
import { API_USER_ROLE } from "../../shared/db/client.ts";
import { encodeHexLowerCase } from "@oslojs/encoding";
import { newSession, send } from "../chat/support.ts";
import { parsed } from "../helpers/assert.ts";
import { call, createUser, sql, test, type TestUser } from "../helpers/stack.ts";

type PgError = { code: string; message: string };

// One Data API request: PostgREST's setup statement (role and claims from the
// JWT, the request's method and path), then its statement, in one transaction.
// `role` is what the token's role claim says; only the tests of the API's own
// role change it.
async function dataApi(
  user: TestUser,
  method: "POST" | "PATCH",
  table: string,
  statement: string,
  params: postgres.ParameterOrJSON<never>[],
  role = "authenticated",
): Promise<number> {
  return await sql.begin(async (tx) => {
    await tx`select set_config('search_path', '"public", "extensions"', true),
                    set_config('role', ${role}, true),
                    set_config('request.jwt.claims', ${
      JSON.stringify({
        sub: user.id,
        role: "authenticated",
        aud: "authenticated",
        email: user.email,
      })
    }, true),
                    set_config('request.method', ${method}, true),
                    set_config('request.path', ${`/${table}`}, true)`;
    const [{ n }] = await tx.unsafe(statement, params);
    return Number(n);
  });
}

// POST /rest/v1/<table> with a JSON body, as PostgREST builds it (with
// `Prefer: return=minimal`, its default: nothing is read back).
function insertFor(table: string, body: Record<string, unknown>) {
  const cols = Object.keys(body).map((c) => `"${c}"`).join(", ");
  const picked = Object.keys(body).map((c) => `_."${c}"`).join(", ");
  return {
    statement: `with pgrst_source as (
        insert into "public"."${table}" (${cols})
        select ${picked} from json_populate_recordset(null::"public"."${table}", $1::json) _
        returning 1)
      select count(*) as n from pgrst_source`,
    params: [[body] as postgres.JSONValue],
  };
}

// PATCH /rest/v1/<table>?id=eq.<id> with a JSON body.
function updateFor(table: string, idColumn: string, id: string, body: Record<string, unknown>) {
  const set = Object.keys(body).map((c) => `"${c}" = _."${c}"`).join(", ");
  return {
    statement: `with pgrst_source as (
        update "public"."${table}" set ${set}
          from (select * from json_populate_record(null::"public"."${table}", $1::json)) _
         where "public"."${table}"."${idColumn}" = $2::uuid
        returning 1)
      select count(*) as n from pgrst_source`,
    params: [body as postgres.JSONValue, id],
  };
}

async function refusal(p: Promise<unknown>): Promise<PgError> {
  try {
    await p;
  } catch (err) {
    return { code: (err as PgError).code, message: (err as PgError).message };
  }
  assert.fail("the write went through");
}

// A user with a session, one exchange with the local agent, and its ids.
async function userWithExchange(label: string) {
  const user = await createUser(label);
  const session = await newSession(user);
  const res = await send(user, session.id, { content: "hello" });
  const { user_message, assistant_message } = parsed(Exchange, res, 201);
  return {
    user,
    sessionId: session.id,
    userMessageId: user_message.id,
    replyId: assistant_message.id,
  };
}

test("abuse 1: an API key with chosen material is refused through the Data API", async () => {
  const user = await createUser("data-api-key");
  // A key in the API's own format, but material the user picked, bypassing
  // the random generation and the key-creation rate limit.
  const chosen = `opr_${"a".repeat(32)}`;
  const row = {
    name: "mine",
    prefix: chosen.slice(0, 12),
    key_hash: `\\x${encodeHexLowerCase(hashApiKey(chosen))}`,
    scopes: ["sessions:read", "sessions:write", "chat:write", "tokens:read", "tokens:write"],
  };
  const { statement, params } = insertFor("api_keys", row);
  const err = await refusal(dataApi(user, "POST", "api_keys", statement, params));
  assert.equal(err.code, "42501", err.message);
  const [{ n }] =
    await sql`select count(*)::int as n from public.api_keys where user_id = ${user.id}`;
  assert.equal(n, 0, "no key stored");
  const res = await call("GET", "/sessions", { headers: { "X-API-Key": chosen } });
  assert.equal(res.status, 401, "the chosen key opens nothing");
  // The API still creates keys (as oprina_api_user), with material it generates.
  const created = await call("POST", "/account/api-keys", {
    token: user.token,
    body: { name: "through the API", scopes: ["sessions:read"] },
  });
  assert.match(parsed(CreatedApiKey, created, 201).key, /^opr_[a-z2-7]{32}$/);
});

test("abuse 2: javascript: URLs and non-JSON json messages are refused through the Data API", async () => {
  const a = await userWithExchange("data-api-js");
  const attempts = [
    updateFor("messages", "id", a.replyId, {
      voice_response_url: "javascript:alert(document.cookie)",
      has_voice_response: true,
    }),
    updateFor("profiles", "id", a.user.id, { avatar_url: "javascript:alert(document.cookie)" }),
    insertFor("messages", {
      session_id: a.sessionId,
      role: "user",
      content: "{not json",
      content_type: "json",
    }),
  ];
  for (const [i, { statement, params }] of attempts.entries()) {
    const method = i < 2 ? "PATCH" : "POST";
    const table = i === 1 ? "profiles" : "messages";
    const err = await refusal(dataApi(a.user, method, table, statement, params));
    assert.equal(err.code, "42501", `${table}: ${err.message}`);
    // Were a write path to reach the table anyway (the API's own role), the
    // database's constraints refuse the same data.
    const again = await refusal(dataApi(a.user, method, table, statement, params, API_USER_ROLE));
    assert.equal(again.code, "23514", `${table} as ${API_USER_ROLE}: ${again.message}`);
  }
  const [row] = await sql`
    select m.voice_response_url, p.avatar_url,
           (select count(*)::int from public.messages where session_id = ${a.sessionId}) as messages
      from public.messages m, public.profiles p
     where m.id = ${a.replyId} and p.id = ${a.user.id}`;
  assert.deepEqual({ ...row }, { voice_response_url: null, avatar_url: null, messages: 2 });
});

test("abuse 3: another user's message ids cannot be probed with chosen-id inserts", async () => {
  const owner = await userWithExchange("data-api-owner");
  const prober = await userWithExchange("data-api-prober");
  // Insert into the prober's own session with a chosen id: before, a taken id
  // answered 23505 (unique violation) and a free one went through.
  const tryId = (id: string) => {
    const { statement, params } = insertFor("messages", {
      id,
      session_id: prober.sessionId,
      role: "user",
      content: "probe",
    });
    return refusal(dataApi(prober.user, "POST", "messages", statement, params));
  };
  const taken = await tryId(owner.userMessageId);
  const free = await tryId(crypto.randomUUID());
  assert.equal(taken.code, "42501", taken.message);
  assert.deepEqual(taken, free, "the same answer for a taken and a free id: nothing to learn");
  // The API still names messages itself (Idempotency-Key, one round trip).
  const res = await send(prober.user, prober.sessionId, { content: "through the API" }, {
    "Idempotency-Key": crypto.randomUUID(),
  });
  parsed(Exchange, res, 201);
});

test("PostgREST cannot switch to the API's role: authenticator is not a member", async () => {
  const url = new URL(Deno.env.get("SUPABASE_DB_URL")!);
  url.username = "authenticator";
  const authenticator = postgres(url.toString(), { max: 1, onnotice: () => {} });
  try {
    const [{ who }] = await authenticator`select current_user as who`;
    assert.equal(who, "authenticator");
    // What PostgREST runs for a JWT whose role claim is "authenticated" ...
    const ok = await authenticator.begin((tx) =>
      tx`select set_config('role', 'authenticated', true) as role`
    );
    assert.equal(ok[0].role, "authenticated");
    // ... and for one claiming the API's role: refused before any statement.
    const err = await refusal(
      authenticator.begin((tx) => tx`select set_config('role', ${API_USER_ROLE}, true)`),
    );
    assert.equal(err.code, "42501", err.message);
    assert.match(err.message, /permission denied to set role/);
  } finally {
    await authenticator.end();
  }
});

function parses(json: string): boolean {
  try {
    JSON.parse(json);
    return true;
  } catch {
    return false;
  }
}

// The API's rules and the database's constraints must agree: whatever zod
// lets through is stored, so no valid request ends as a 400 from the database.
test("zod and the database agree on URL schemes", async () => {
  const urls = [
    "https://cdn.example.com/v.mp3",
    "HTTPS://CDN.EXAMPLE.COM/v.mp3",
    "http://localhost:8080/x",
    "  https://padded.example/  ",
    "https://\ttab.example/",
    "https:///three-slashes.example",
    "http:no-slashes.example",
    "https:/one-slash.example",
    "javascript:alert(1)",
    "JavaScript://%0Aalert(1)",
    "data:text/html,<script>alert(1)</script>",
    "ftp://files.example/x",
    "//protocol-relative.example/x",
    "not a url",
  ];
  for (const url of urls) {
    const voice = UpdateVoiceAvatar.safeParse({ voice_response_url: url });
    const avatar = UpdateProfile.safeParse({ avatar_url: url });
    assert.equal(voice.success, avatar.success, url);
    if (!voice.success) continue;
    const stored = voice.data.voice_response_url!;
    const [{ ok }] = await sql`select ${stored}::text ~* '^https?://' as ok`;
    assert.ok(
      ok,
      `zod accepts ${JSON.stringify(url)} as ${JSON.stringify(stored)}; the database refuses it`,
    );
  }
  const [{ ok }] = await sql`select 'javascript:alert(1)' ~* '^https?://' as ok`;
  assert.equal(ok, false);
});

test("zod and the database agree on what is JSON", async () => {
  const fixed = [
    '{"a": 1}',
    " [1, 2.5e10, -0, true, null] ",
    '"\\u0000"',
    '"\\ud800"',
    "1e999",
    "{nope",
    "[1,]",
    "\uFEFF1",
    "\u00a01",
    "'single'",
    "NaN",
    `${"[".repeat(1000)}${"]".repeat(1000)}`,
    `${"[".repeat(1001)}${"]".repeat(1001)}`,
  ];
  const sampled = fc.sample(fc.oneof(fc.json({ maxDepth: 4 }), fc.string({ maxLength: 12 })), {
    seed: 20261130,
    numRuns: 300,
  });
  const contents = [...fixed, ...sampled].filter((s) => s.trim() && !s.includes("\u0000"));
  const db = await sql<{ ok: boolean }[]>`
    select private.is_json(c) as ok from unnest(${contents}::text[]) with ordinality as t(c, i)
     order by i`;
  for (const [i, content] of contents.entries()) {
    // JSON.parse and Postgres's parser agree, both ways ...
    assert.equal(db[i].ok, parses(content), JSON.stringify(content));
    // ... and the API accepts a subset: what parses and nests at most 1000 deep.
    const api = SendMessage.safeParse({ content, content_type: "json" }).success;
    assert.equal(api, parses(content) && !content.startsWith("[".repeat(1001)), content);
  }
});
