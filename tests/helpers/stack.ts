// What a test needs to reach the stack that scripts/test.sh started: the
// gateway over HTTP, Postgres as `postgres` (not a superuser, as on a
// project) for setup and inspection, and users with real ES256 tokens.
import postgres from "postgres";
import type { z } from "zod";
import { stackSigningKey, userToken } from "../../scripts/local/keys.ts";
import { insertAuthUser } from "../../scripts/local/users.ts";
import { CreatedApiKey } from "../../shared/account/schemas.ts";
import { parsed } from "./assert.ts";

function env(name: string): string {
  const value = Deno.env.get(name);
  if (!value) throw new Error(`${name} is not set: run the tests with scripts/test.sh`);
  return value;
}

export const API_URL = env("SUPABASE_URL");
export const FUNCTIONS_URL = `${API_URL}/functions/v1`;
export const ANON_KEY = env("SUPABASE_ANON_KEY");
// The legacy service_role JWT and the new secret key: both are service keys.
export const SERVICE_ROLE_KEY = env("SUPABASE_SERVICE_ROLE_KEY");
export const SECRET_KEY = Object.values(JSON.parse(env("SUPABASE_SECRET_KEYS")))[0] as string;

// One small pool per test module; closed by the sanitizer-friendly helper below.
export const sql = postgres(env("SUPABASE_DB_URL"), { max: 2, onnotice: () => {} });

export type TestUser = { id: string; email: string; token: string };

export async function createUser(
  label = "user",
  appMetadata: Record<string, unknown> = {},
): Promise<TestUser> {
  const email = `${label}-${crypto.randomUUID()}@test.local`;
  const id = await insertAuthUser(sql, { email, appMetadata });
  const signingKey = await stackSigningKey();
  const token = await userToken({ userId: id, email, apiUrl: API_URL, appMetadata, signingKey });
  return { id, email, token };
}

// An anonymous sign-in: no e-mail, and a token that says is_anonymous: true.
export async function createAnonymousUser(): Promise<TestUser> {
  const appMetadata = { provider: "anonymous", providers: ["anonymous"] };
  const id = await insertAuthUser(sql, { email: "", appMetadata, anonymous: true });
  const token = await userToken({
    userId: id,
    email: "",
    apiUrl: API_URL,
    appMetadata,
    isAnonymous: true,
    signingKey: await stackSigningKey(),
  });
  return { id, email: "", token };
}

export type CallOptions = {
  token?: string;
  body?: unknown;
  headers?: Record<string, string>;
};

// deno-lint-ignore no-explicit-any
export type Call = { status: number; headers: Headers; body: any };

// Every error answer of the run, one per line, for the secret scan that
// scripts/test.sh runs afterwards: no error response may carry a secret.
const ERROR_RESPONSES = Deno.env.get("ERROR_RESPONSES_LOG");

export function recordErrorResponse(status: number, text: string): void {
  if (!ERROR_RESPONSES || status < 400) return;
  Deno.writeTextFileSync(ERROR_RESPONSES, `${status} ${text.replaceAll("\n", " ")}\n`, {
    append: true,
  });
}

// fetch against a function; parses JSON bodies and always drains the body.
export async function call(method: string, path: string, o: CallOptions = {}): Promise<Call> {
  const headers = new Headers(o.headers);
  if (o.token) headers.set("Authorization", `Bearer ${o.token}`);
  let body: BodyInit | undefined;
  if (typeof o.body === "string") body = o.body;
  else if (o.body !== undefined) {
    body = JSON.stringify(o.body);
    if (!headers.has("Content-Type")) headers.set("Content-Type", "application/json");
  }
  const res = await fetch(`${FUNCTIONS_URL}${path}`, { method, headers, body });
  const text = await res.text();
  recordErrorResponse(res.status, text);
  let parsed: unknown = text;
  if (res.headers.get("content-type")?.includes("application/json") && text) {
    parsed = JSON.parse(text);
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

// Tests share one pool per module, so per-test op and resource sanitizers
// would flag the pool's open sockets.
export function test(name: string, fn: () => Promise<void> | void): void {
  Deno.test({ name, fn, sanitizeOps: false, sanitizeResources: false });
}

// Inserts messages the way the chat domain will: as the service, through the
// trigger that assigns indexes and counters.
export async function addMessages(
  user: TestUser,
  sessionId: string,
  count: number,
  usage: { total_tokens?: number; estimated_cost?: number } = {},
): Promise<void> {
  for (let i = 0; i < count; i++) {
    await sql`insert into public.messages
                (session_id, user_id, role, content, total_tokens, estimated_cost)
              values (${sessionId}, ${user.id}, ${i % 2 ? "assistant" : "user"}, ${`message ${
      i + 1
    }`},
                      ${usage.total_tokens ?? null}, ${usage.estimated_cost ?? null})`;
  }
}

// Creates an API key through the API, as a client would.
export async function createApiKey(
  user: TestUser,
  scopes: string[],
  extra: Record<string, unknown> & { name?: string } = {},
): Promise<z.infer<typeof CreatedApiKey>> {
  const res = await call("POST", "/account/api-keys", {
    token: user.token,
    body: { name: extra.name ?? "test key", scopes, ...extra },
  });
  return parsed(CreatedApiKey, res, 201);
}
