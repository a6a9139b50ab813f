// The isolation probe (issue 7). Two users, A and B, each with rows in every
// table, made through the API the way a client makes them. Every documented
// operation that takes an id, read from the functions' OpenAPI documents, is
// called by B (session token, then an API key with every scope) with A's ids:
// each is a 404 envelope that says the same as an id that does not exist, and
// nothing A owns changes, down to the token ciphertexts. Ids B can send in
// headers, bodies and cursors are tried too. Then the other direction with A's
// key, service routes against user credentials, and the anon key everywhere.
import assert from "node:assert/strict";
import { Profile } from "../../shared/account/schemas.ts";
import { SCOPES } from "../../shared/auth/scopes.ts";
import { Exchange } from "../../shared/chat/schemas.ts";
import { Session } from "../../shared/sessions/schemas.ts";
import { assertError, parsed, shaped } from "../helpers/assert.ts";
import { rowCounts, type Snapshot, snapshotOf } from "../helpers/snapshot.ts";
import {
  ANON_KEY,
  API_URL,
  type Call,
  call,
  type CallOptions,
  createApiKey,
  createUser,
  SECRET_KEY,
  sql,
  test,
  type TestUser,
} from "../helpers/stack.ts";
import { toolDirective } from "../chat/tools-support.ts";
import { callback, connect, consent, provider, uniqueEmail } from "../oauth/flow.ts";

// The OpenAPI document, as far as the probe reads it ----------------------------------------

type Schema = {
  $ref?: string;
  type?: string | string[];
  format?: string;
  pattern?: string;
  enum?: unknown[];
  minimum?: number;
  minItems?: number;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
};
type Param = { name: string; in: string; description?: string; schema?: Schema };
type RawOp = {
  security?: Record<string, string[]>[];
  parameters?: Param[];
  requestBody?: { required?: boolean; content?: Record<string, { schema: Schema }> };
};
type Doc = {
  paths: Record<string, Record<string, RawOp>>;
  components?: { schemas?: Record<string, Schema> };
};

type Op = {
  name: string; // "PATCH /sessions/{id}"
  method: string;
  path: string;
  secured: boolean;
  scope?: string; // the API-key scope; undefined when keys are refused
  pathParams: Param[];
  queryParams: string[];
  body?: { required: boolean; schema: Schema };
};

const { functions } = await (await fetch(`${API_URL}/health`)).json() as { functions: string[] };
const docs = new Map<string, Doc>();
for (const fn of functions) docs.set(fn, (await call("GET", `/${fn}/openapi.json`)).body);

function resolver(doc: Doc) {
  const resolve = (s: Schema): Schema => {
    if (!s.$ref) return s;
    return resolve(doc.components?.schemas?.[s.$ref.split("/").pop()!] ?? {});
  };
  return resolve;
}

function toOp(doc: Doc, path: string, method: string, raw: RawOp): Op {
  const params = raw.parameters ?? [];
  const security = raw.security ?? [];
  const schema = raw.requestBody?.content?.["application/json"]?.schema;
  return {
    name: `${method.toUpperCase()} ${path}`,
    method: method.toUpperCase(),
    path,
    secured: security.length > 0,
    scope: security.find((s) => s.apiKey)?.apiKey[0],
    pathParams: params.filter((p) => p.in === "path"),
    queryParams: params.filter((p) => p.in === "query").map((p) => p.name),
    body: schema && {
      required: raw.requestBody?.required === true,
      schema: resolver(doc)(schema),
    },
  };
}

const ops: Op[] = [...docs.values()].flatMap((doc) =>
  Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, raw]) => toOp(doc, path, method, raw))
  )
);
const opNamed = (name: string) => ops.find((o) => o.name === name);
const resolveAny = (s: Schema) => [...docs.values()].reduce((r, d) => resolver(d)(r), s);

// What the probe knows about the operations -----------------------------------------------

// Everything a user owns that an id-taking route can name, plus what a
// client sends alongside (the provider, the secret key, the idempotency key).
type Ids = {
  user: TestUser;
  session: string; // has messages and an idempotency key
  message: string; // the agent's reply in that session
  token: string; // a Google connection, refreshed once
  apiKey: string;
  key: string; // the secret of that key; every scope
  provider: string;
  idempotencyKey: string;
  providerAccounts: string[]; // e-mails at the local provider
  webhookEndpoint: string; // has delivered deliveries of the connections' events
  apiKeyRole: string; // the user's own role, which their key references
  // The unified API's ids (<connection_id>:<provider id>) of the Google connection.
  event: string;
  mail: string;
  draft: string;
  action: string; // the agent's send_draft of that draft, waiting for confirmation
};
type Kind =
  | "session"
  | "message"
  | "token"
  | "apiKey"
  | "provider"
  | "webhookEndpoint"
  | "apiKeyRole"
  | "event"
  | "mail"
  | "draft"
  | "action";

// Path parameters by their documented description. Unknown ones fail the
// probe, so a new id-taking route must be placed here or in NOT_ID_ROUTES.
const PATH_IDS: Record<string, Kind> = {
  "Session id": "session",
  "Message id": "message",
  "Connection id": "token",
  "API key id": "apiKey",
  "Provider id": "provider",
  "Webhook endpoint id": "webhookEndpoint",
  "Role id": "apiKeyRole",
  "Event id (<connection_id>:<provider id>, URL-encoded)": "event",
  "Mail id (<connection_id>:<provider id>, URL-encoded)": "mail",
  "Draft id (<connection_id>:<provider id>, URL-encoded)": "draft",
  "Pending action id": "action",
};
// Names a thing every user shares, so it is never A's or B's.
const SHARED: Kind[] = ["provider"];

// Operations whose path takes a parameter that is not a user's row.
const NOT_ID_ROUTES: Record<string, string> = {
  "GET /oauth/callback/{provider}": "public: {provider} is a provider name, and the callback is " +
    "bound to its user by the secret state, never an id (tests/oauth/*.security.test.ts)",
};

// Routes with a bearer token only, no API key: either the user's own session
// is required, or they are for the service (and admins). Every such route in
// the documents must be in exactly one list.
const SESSION_ONLY = [
  "DELETE /account/me",
  "POST /account/api-keys",
  "DELETE /account/api-keys/{id}",
  "PATCH /account/api-keys/{id}",
  "POST /account/api-keys/{id}/reroll",
  "POST /account/api-key-roles",
  "PATCH /account/api-key-roles/{id}",
  "DELETE /account/api-key-roles/{id}",
];
const SERVICE_ONLY = [
  "POST /tokens/refresh-due",
  "POST /tokens/cleanup",
  "POST /oauth/cleanup",
  "GET /account/admin/stats",
  "POST /webhooks/deliver",
];

// What a client sends to send a message; B replays it, with A's
// Idempotency-Key, so a key that leaked across users would return A's reply.
const SEND = { content: "isolation probe: hello" };

// Ids that travel outside the path, per operation, taken from the victim.
type Extra = { body?: (v: Ids) => unknown; headers?: (v: Ids) => Record<string, string> };
const EXTRAS: Record<string, Extra> = {
  // Nobody's code. A's real code in B's hands is the account-linking attack,
  // which must end A's parked grant (revoked): tests/oauth/oauth.completion.test.ts.
  "POST /oauth/complete": { body: () => ({ completion: "A".repeat(43) }) },
  "POST /tokens/{provider}/access-token": { body: (v) => ({ token_id: v.token }) },
  "POST /chat/{sessionId}/messages": {
    body: () => SEND,
    headers: (v) => ({ "Idempotency-Key": v.idempotencyKey }),
  },
  // Writes that take no id; the connection is B's own (the probe never names A's here).
  "POST /unified/calendar/events": { body: () => UNIFIED_EVENT },
  "POST /unified/mail/drafts": { body: () => UNIFIED_DRAFT },
};
const UNIFIED_EVENT = {
  title: "isolation",
  start: new Date(Date.now() + 86_400_000).toISOString(),
  end: new Date(Date.now() + 90_000_000).toISOString(),
};
const UNIFIED_DRAFT = { to: ["isolation@example.com"], subject: "isolation", body_text: "probe" };

// Query parameters a read requires (one fixed range, so A's and B's queries are the same).
const RANGE = `time_min=${encodeURIComponent(new Date(Date.now() - 86_400_000).toISOString())}` +
  `&time_max=${encodeURIComponent(new Date(Date.now() + 14 * 86_400_000).toISOString())}`;
const QUERIES: Record<string, string> = {
  "GET /unified/calendar/events": RANGE,
  "GET /unified/calendar/free-busy": RANGE,
};

// A minimal valid body ----------------------------------------------------------------------

const FORMATS: Record<string, () => string> = {
  uri: () => "https://example.com/isolation",
  "date-time": () => new Date(Date.now() + 86_400_000).toISOString(),
};

function sample(op: Op, field: string, s: Schema): unknown {
  const schema = resolveAny(s);
  if (schema.enum) return schema.enum[0];
  const types = [schema.type ?? "object"].flat().filter((t) => t !== "null");
  switch (types[0]) {
    case "string":
      return sampleString(op, field, schema);
    case "integer":
    case "number":
      return schema.minimum ?? 1;
    case "boolean":
      return true;
    case "array":
      return Array.from({ length: schema.minItems ?? 1 }, () => sample(op, field, schema.items!));
    case "object":
      return minimalObject(op, schema, false);
  }
  throw new Error(`${op.name}: cannot build a value for ${field} (${JSON.stringify(schema)})`);
}

function sampleString(op: Op, field: string, s: Schema): string {
  // An id in a body names a row: it belongs in EXTRAS, not made up here.
  if (s.format === "uuid") throw new Error(`${op.name}: ${field} is an id; add it to EXTRAS`);
  const value = FORMATS[s.format ?? ""]?.() ?? "isolation";
  if (s.pattern && !new RegExp(s.pattern).test(value)) {
    throw new Error(`${op.name}: no sample for ${field} matching ${s.pattern}; add it to EXTRAS`);
  }
  return value;
}

// The required fields; a body that requires none gets its first field, since
// such bodies (PATCH) refuse to be empty.
function minimalObject(op: Op, schema: Schema, atLeastOne: boolean) {
  const props = schema.properties ?? {};
  let fields = schema.required ?? [];
  if (!fields.length && atLeastOne) fields = Object.keys(props).slice(0, 1);
  return Object.fromEntries(fields.map((f) => [f, sample(op, f, props[f] ?? {})]));
}

function bodyFor(op: Op, victim: Ids): unknown {
  const extra = EXTRAS[op.name]?.body;
  if (extra) return extra(victim);
  if (!op.body?.required) return undefined;
  return minimalObject(op, op.body.schema, true);
}

// Requests ------------------------------------------------------------------------------------

type Caller = { label: string; auth: (u: Ids) => CallOptions; isKey: boolean };
const JWT: Caller = {
  label: "session token",
  auth: (u) => ({ token: u.user.token }),
  isKey: false,
};
const KEY: Caller = {
  label: "API key with every scope",
  auth: (u) => ({ headers: { "X-API-Key": u.key } }),
  isKey: true,
};

function kindOf(op: Op, p: Param): Kind {
  const kind = PATH_IDS[p.description ?? ""];
  if (!kind) {
    throw new Error(
      `${op.name}: path parameter {${p.name}} (${p.description}) is unknown to the probe; ` +
        "add it to PATH_IDS, or the operation to NOT_ID_ROUTES with the reason",
    );
  }
  return kind;
}

// Every way to point the path at the victim: for each of its owned ids,
// the victim's or the caller's own, but never the caller's alone. A path
// without an owned id (a provider) reaches the victim through EXTRAS.
function mixes(op: Op): boolean[][] {
  const owned = op.pathParams.filter((p) => !SHARED.includes(kindOf(op, p)));
  if (!owned.length) return [[]];
  const all = Array.from({ length: 2 ** owned.length - 1 }, (_, i) => i + 1);
  return all.map((bits) => owned.map((_, j) => (bits & (1 << j)) !== 0));
}

function pathFor(op: Op, victim: Ids, caller: Ids, mix: boolean[]): string {
  let owned = 0;
  return op.pathParams.reduce((path, p) => {
    const kind = kindOf(op, p);
    const fromVictim = SHARED.includes(kind) || mix[owned++];
    return path.replace(`{${p.name}}`, (fromVictim ? victim : caller)[kind]);
  }, op.path);
}

async function send(op: Op, as: Caller, caller: Ids, victim: Ids, mix: boolean[]) {
  const o = as.auth(caller);
  return await call(op.method, pathFor(op, victim, caller, mix), {
    ...o,
    headers: { ...o.headers, ...EXTRAS[op.name]?.headers?.(victim) },
    body: bodyFor(op, victim),
  });
}

// assertError, naming the request that failed: one test walks many.
function expectError(res: Call, status: number, code: string, where: string) {
  try {
    assertError(res, status, code);
  } catch (err) {
    throw new Error(`${where}: ${(err as Error).message}`);
  }
}

// A session-only route refuses a key before it looks at any id.
function expectRefused(op: Op, as: Caller, res: Call, what: string) {
  const where = `${op.name} by ${as.label} with ${what}`;
  if (as.isKey && !op.scope) expectError(res, 403, "forbidden", where);
  else expectError(res, 404, "not_found", where);
}

async function unchangedAround(u: Ids, run: () => Promise<void>) {
  const before: Snapshot = await snapshotOf(u.user.id);
  await run();
  assert.deepEqual(await snapshotOf(u.user.id), before);
}

const answer = (res: Call) => ({
  status: res.status,
  code: res.body?.error?.code,
  message: res.body?.error?.message,
  details: res.body?.error?.details,
});

// The users --------------------------------------------------------------------------------

async function ok(user: TestUser, method: string, path: string, o: CallOptions = {}) {
  const res = await call(method, path, { token: user.token, ...o });
  assert.ok(
    res.status < 300,
    `${user.email} ${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`,
  );
  return res.body;
}

// Rows in every table, each the way a client makes it.
async function populate(label: string): Promise<Ids> {
  const user = await createUser(label);
  shaped(Profile, await ok(user, "PATCH", "/account/me", { body: { display_name: label } }));
  const session = shaped(
    Session,
    await ok(user, "POST", "/sessions", { body: { title: `${label}'s` } }),
  ).id;
  shaped(
    Session,
    await ok(user, "POST", "/sessions", { body: { title: "a second page of sessions" } }),
  );
  const idempotencyKey = `isolation-${crypto.randomUUID()}`;
  const exchange = shaped(
    Exchange,
    await ok(user, "POST", `/chat/${session}/messages`, {
      body: SEND,
      headers: { "Idempotency-Key": idempotencyKey },
    }),
  );
  // An endpoint before the connections, so their events are delivered to it.
  const inbox = `isolation-${label}-${crypto.randomUUID()}`;
  const endpoint = await ok(user, "POST", "/webhooks/endpoints", {
    body: { url: `${Deno.env.get("LOCAL_WEBHOOK_RECEIVER_URL")}/hooks/${inbox}` },
  });
  const google = await connect(user, { provider: "google", services: ["gmail", "calendar"] });
  const microsoft = await connect(user, { provider: "microsoft", services: ["outlook"] });
  await ok(user, "POST", `/tokens/${google.token.id}/refresh`);
  // Left pending: the consent page is never submitted.
  await ok(user, "POST", "/oauth/authorize", {
    body: { provider: "google", services: ["calendar"] },
  });
  // Authorized at the provider but never completed: a parked grant.
  const parked = await ok(user, "POST", "/oauth/authorize", {
    body: { provider: "dev", services: ["calendar"] },
  });
  const parkedMailbox = uniqueEmail("parked");
  const back = await callback(await consent(parked.authorization_url, { email: parkedMailbox }));
  assert.equal(back.status, 200, JSON.stringify(back.body));
  const role = await ok(user, "POST", "/account/api-key-roles", {
    body: { name: "isolation", scopes: ["sessions:read"] },
  });
  const key = await createApiKey(user, [...SCOPES], { name: `${label}'s key` });
  await ok(user, "PATCH", `/account/api-keys/${key.id}`, { body: { role_id: role.id } });
  // A use of the key: its usage (counted apart from requests) is not in the
  // snapshots; B reading it is a 404 like any of A's ids (the probe below).
  assert.equal((await call("GET", "/sessions", { headers: { "X-API-Key": key.key } })).status, 200);
  // Ids the unified API hands out, from the Google connection's calendar and mailbox.
  const unified = `?connection_id=${google.token.id}`;
  const event = (await ok(user, "GET", `/unified/calendar/events${unified}&${RANGE}`)).data[0].id;
  const mail = (await ok(user, "GET", `/unified/mail/messages${unified}&limit=1`)).data[0].id;
  const draft = (await ok(user, "POST", "/unified/mail/drafts", {
    body: { ...UNIFIED_DRAFT, connection_id: google.token.id },
  })).id;
  // The agent asks to send it (the local agent's tool directive): a pending action.
  const held = shaped(
    Exchange,
    await ok(user, "POST", `/chat/${session}/messages`, {
      body: { content: `isolation: ${toolDirective("send_draft", { id: draft })}` },
    }),
  );
  const action = held.pending_actions![0].id;
  await deliverAll(endpoint.id);
  return {
    user,
    session,
    message: exchange.assistant_message.id,
    token: google.token.id,
    apiKey: key.id,
    key: key.key,
    provider: "google",
    idempotencyKey,
    providerAccounts: [google.email, microsoft.email, parkedMailbox],
    webhookEndpoint: endpoint.id,
    apiKeyRole: role.id,
    event,
    mail,
    draft,
    action,
  };
}

// The snapshots must not move under the probe: every delivery to the
// endpoint is settled first (any run of the worker may take them).
async function deliverAll(endpointId: string) {
  for (let i = 0; i < 50; i++) {
    const [{ pending }] = await sql`select count(*)::int as pending from public.webhook_deliveries
                                     where endpoint_id = ${endpointId} and status = 'pending'`;
    if (pending === 0) return;
    await call("POST", "/webhooks/deliver", { token: SECRET_KEY });
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("the isolation users' webhook deliveries did not settle");
}

const [A, B] = await Promise.all([populate("isolation-a"), populate("isolation-b")]);
const nobody: Ids = {
  ...A,
  session: crypto.randomUUID(),
  message: crypto.randomUUID(),
  token: crypto.randomUUID(),
  apiKey: crypto.randomUUID(),
  webhookEndpoint: crypto.randomUUID(),
  action: crypto.randomUUID(),
  idempotencyKey: `isolation-${crypto.randomUUID()}`,
  event: `${crypto.randomUUID()}:${A.event.split(":")[1]}`,
  mail: `${crypto.randomUUID()}:${A.mail.split(":")[1]}`,
  draft: `${crypto.randomUUID()}:${A.draft.split(":")[1]}`,
};

const idOps = ops.filter((o) => o.pathParams.length > 0 && !(o.name in NOT_ID_ROUTES));
const bearerOnly = ops.filter((o) => o.secured && !o.scope).map((o) => o.name);
const providerSeen = (u: Ids) => Promise.all(u.providerAccounts.map((e) => provider.seen(e)));

// A's values that must never appear in anything B reads.
const traces = (u: Ids) => [
  ...[u.user.id, u.user.email, u.session, u.message, u.token, u.apiKey, u.webhookEndpoint],
  ...u.providerAccounts,
];

// The probe can only fail if there is something to find ------------------------------------

for (const [label, u] of [["A", A], ["B", B]] as const) {
  test(`${label} has a row in every table`, async () => {
    const counts = rowCounts(await snapshotOf(u.user.id));
    // The tables come from the catalog; a floor keeps a broken lookup from passing.
    assert.ok(Object.keys(counts).length >= 10, JSON.stringify(counts));
    const empty = Object.entries(counts).filter(([, n]) => n === 0).map(([t]) => t);
    assert.deepEqual(empty, [], `no rows in ${empty.join(", ")}: fill them in populate()`);
  });
}

test("the probe covers every documented operation that takes an id", () => {
  assert.ok(functions.length >= 5, functions.join());
  for (const name of Object.keys(NOT_ID_ROUTES)) {
    assert.ok(opNamed(name)?.pathParams.length, `NOT_ID_ROUTES names ${name}, which takes no id`);
  }
  for (const name of Object.keys(EXTRAS)) assert.ok(opNamed(name), `EXTRAS names ${name}`);
  for (const op of idOps) mixes(op); // throws on a path parameter the probe cannot fill
  assert.ok(idOps.length >= 14, idOps.map((o) => o.name).join());
});

test("every route without API keys is classified as session-only or service-only", () => {
  assert.deepEqual(bearerOnly.toSorted(), [...SESSION_ONLY, ...SERVICE_ONLY].toSorted());
});

// B with A's ids ---------------------------------------------------------------------------

async function probe(op: Op, as: Caller, caller: Ids, victim: Ids) {
  for (const mix of mixes(op)) {
    const what = `ids ${mix.map((v) => (v ? "victim's" : "own")).join("/") || "in the body"}`;
    expectRefused(op, as, await send(op, as, caller, victim, mix), what);
  }
  // An existing id of someone else and an id that exists nowhere look alike.
  const all = mixes(op).at(-1)!;
  const theirs = answer(await send(op, as, caller, victim, all));
  assert.deepEqual(theirs, answer(await send(op, as, caller, nobody, all)));
}

for (const op of idOps) {
  for (const as of [JWT, KEY]) {
    test(`B's ${as.label}: ${op.name} with A's ids is refused and changes nothing`, async () => {
      await unchangedAround(A, () => probe(op, as, B, A));
    });
  }
}

// The refused send is rolled back whole, so B's own session gains nothing either.
test("B's message cannot answer A's message (parent_message_id)", async () => {
  const reply = (parent: string) =>
    call("POST", `/chat/${B.session}/messages`, {
      token: B.user.token,
      body: { ...SEND, parent_message_id: parent },
    });
  await unchangedAround(B, () =>
    unchangedAround(A, async () => {
      const theirs = await reply(A.message);
      assertError(theirs, 400, "validation_failed");
      assert.deepEqual(answer(theirs), answer(await reply(nobody.message)));
    }));
});

test("A's Idempotency-Key, sent by B with A's request, replays nothing of A's", async () => {
  await unchangedAround(A, async () => {
    const res = await call("POST", `/chat/${B.session}/messages`, {
      token: B.user.token,
      body: SEND,
      headers: { "Idempotency-Key": A.idempotencyKey },
    });
    parsed(Exchange, res, 201);
    assert.equal(res.headers.get("idempotent-replayed"), null);
    assert.equal(res.body.user_message.session_id, B.session);
    assert.notEqual(res.body.assistant_message.id, A.message);
  });
});

// B's reads, with B's own ids and whatever cursor B brings, show only B's rows.
const reads = ops.filter((o) => o.method === "GET" && o.secured && !SERVICE_ONLY.includes(o.name));
const ownPath = (op: Op, u: Ids) =>
  (op.pathParams.length ? pathFor(op, u, u, mixes(op).at(-1)!) : op.path) +
  (QUERIES[op.name] ? `?${QUERIES[op.name]}` : "");
const withQuery = (path: string, query: string) =>
  `${path}${path.includes("?") ? "&" : "?"}${query}`;

// A's first pages, read before the baseline: A's own reads through the unified
// API count uses of A's connections, which nothing B does may.
const paged = reads.filter((o) => o.queryParams.includes("cursor"));
const firstPages = new Map<string, Call>();
for (const op of paged) {
  const first = await call("GET", withQuery(ownPath(op, A), "limit=1"), { token: A.user.token });
  firstPages.set(op.name, first);
}
const baseline = { snapshot: await snapshotOf(A.user.id), provider: await providerSeen(A) };

function assertNoTraces(res: Call, where: string) {
  assert.equal(res.status, 200, `${where}: ${res.status} ${JSON.stringify(res.body)}`);
  const text = JSON.stringify(res.body);
  for (const t of traces(A)) assert.ok(!text.includes(t), `${where} shows A's ${t}`);
}

test("B's reads never show A's rows", async () => {
  assert.ok(reads.length >= 10, reads.map((o) => o.name).join());
  for (const op of reads) {
    for (const as of [JWT, ...(op.scope ? [KEY] : [])]) {
      assertNoTraces(await call("GET", ownPath(op, B), as.auth(B)), `${op.name} by ${as.label}`);
    }
  }
});

test("A's cursors walk only B's rows for B", async () => {
  assert.ok(paged.length >= 4, paged.map((o) => o.name).join());
  for (const op of paged) {
    const first = firstPages.get(op.name)!;
    const cursor = first.body?.next_cursor;
    assert.ok(cursor, `${op.name}: A has a second page (${JSON.stringify(first.body)})`);
    const res = await call(
      "GET",
      withQuery(ownPath(op, B), `cursor=${encodeURIComponent(cursor)}`),
      {
        token: B.user.token,
      },
    );
    assertNoTraces(res, `${op.name} with A's cursor`);
  }
});

test("a streaming send to A's session is a 404 envelope, not a stream", async () => {
  await unchangedAround(A, async () => {
    const res = await call("POST", `/chat/${A.session}/messages`, {
      token: B.user.token,
      body: SEND,
      headers: { Accept: "text/event-stream" },
    });
    assertError(res, 404, "not_found");
  });
});

test("B's session token with A's API key is 401 everywhere a key is accepted", async () => {
  await unchangedAround(A, async () => {
    for (const op of ops.filter((o) => o.scope)) {
      const res = await call(op.method, ownPath(op, B), {
        token: B.user.token,
        headers: { "X-API-Key": A.key },
        body: bodyFor(op, B),
      });
      expectError(res, 401, "unauthorized", op.name);
    }
  });
});

// Nothing B did moved anything of A's, at the provider either.
test("after everything B tried, A's rows and provider accounts are exactly as before", async () => {
  assert.deepEqual(await snapshotOf(A.user.id), baseline.snapshot);
  assert.deepEqual(await providerSeen(A), baseline.provider);
});

// The other direction, service routes, the anon key ---------------------------------------

test("A's API key with B's ids is refused and changes nothing of B's", async () => {
  await unchangedAround(B, async () => {
    for (const op of idOps) await probe(op, KEY, A, B);
  });
});

for (const name of SERVICE_ONLY) {
  test(`${name} refuses A's session token and A's API key with 403`, async () => {
    const op = opNamed(name)!;
    await unchangedAround(A, async () => {
      for (const as of [JWT, KEY]) {
        const res = await call(op.method, op.path, { ...as.auth(A), body: bodyFor(op, A) });
        expectError(res, 403, "forbidden", `${op.name} by ${as.label}`);
      }
    });
  });
}

test("the anon key is 401 on every secured route", async () => {
  const secured = ops.filter((o) => o.secured && !(o.name in NOT_ID_ROUTES));
  await unchangedAround(A, async () => {
    for (const op of secured) {
      const res = await call(op.method, ownPath(op, A), { token: ANON_KEY, body: bodyFor(op, A) });
      expectError(res, 401, "unauthorized", op.name);
    }
  });
});
