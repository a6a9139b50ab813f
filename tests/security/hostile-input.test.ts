// Hostile input against every route of every function, generated from their
// OpenAPI documents with a fixed seed: whatever arrives, the answer is never a
// 5xx, every error is the envelope with a request id, and nothing leaks a
// stack trace or SQL. HOSTILE_RUNS raises the case count (nightly mode).
import assert from "node:assert/strict";
import fc from "fast-check";
import { MAX_JSON_DEPTH } from "../../shared/http/json-depth.ts";
import { Session } from "../../shared/sessions/schemas.ts";
import { parsed } from "../helpers/assert.ts";
import {
  API_URL,
  call,
  createApiKey,
  createUser,
  FUNCTIONS_URL,
  recordErrorResponse,
  test,
} from "../helpers/stack.ts";

const SEED = Number(Deno.env.get("HOSTILE_SEED") ?? 20261125);
const TOTAL = Number(Deno.env.get("HOSTILE_RUNS") ?? 600);

type Schema = {
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  enum?: unknown[];
  additionalProperties?: unknown;
  "x-max-depth"?: number;
};
type Param = { name: string; in: "path" | "query"; schema?: Schema };
type Op = {
  fn: string;
  method: string;
  path: string;
  params: Param[];
  body?: Schema;
};
type Doc = {
  paths: Record<
    string,
    Record<
      string,
      { parameters?: Param[]; requestBody?: { content?: Record<string, { schema: Schema }> } }
    >
  >;
  components?: { schemas?: Record<string, Schema> };
};

const { functions } = await (await fetch(`${API_URL}/health`)).json() as { functions: string[] };
const docs = new Map<string, Doc>();
for (const fn of functions) docs.set(fn, (await call("GET", `/${fn}/openapi.json`)).body);

function resolve(fn: string, s: Schema | undefined): Schema | undefined {
  if (!s?.$ref) return s;
  return docs.get(fn)!.components?.schemas?.[s.$ref.split("/").pop()!];
}

const ops: Op[] = [...docs].flatMap(([fn, doc]) =>
  Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({
      fn,
      method: method.toUpperCase(),
      path,
      params: op.parameters ?? [],
      body: resolve(fn, op.requestBody?.content?.["application/json"]?.schema),
    }))
  )
);

const NASTY = [
  "' OR '1'='1",
  "'; drop table public.chat_sessions; --",
  "\u0000",
  "a\u0000b",
  "\ud800",
  "\u202eevil",
  "𝕏🧨👩‍👩‍👧‍👦",
  "../../etc/passwd",
  "%00%0d%0aSet-Cookie: x=1",
  "<script>alert(1)</script>",
  "${jndi:ldap://127.0.0.1/a}",
  "null",
  "NaN",
  "-1",
  "9".repeat(40),
  "x".repeat(2_000),
];
const nastyString = fc.oneof(
  fc.constantFrom(...NASTY),
  fc.string({ maxLength: 64 }),
  fc.string({ unit: "binary", maxLength: 32 }),
);
const anyJson = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  nastyString,
  fc.constant("x".repeat(200_000)),
  fc.constant(null),
  fc.double(),
  fc.integer(),
);

// A value the schema accepts, to carry one hostile field past validation.
function valid(fn: string, s: Schema | undefined): unknown {
  const schema = resolve(fn, s);
  if (schema?.enum) return schema.enum[0];
  const type = Array.isArray(schema?.type) ? schema.type[0] : schema?.type;
  if (type === "string") return "hostile";
  if (type === "integer" || type === "number") return 1;
  if (type === "boolean") return true;
  if (type === "array") return schema?.items ? [valid(fn, schema.items)] : [];
  if (type === "object" && schema?.properties) {
    return Object.fromEntries(Object.entries(schema.properties).map(([k, v]) => [k, valid(fn, v)]));
  }
  return type === "object" ? {} : null;
}

// Bodies that are almost right: the documented fields with random values,
// some dropped, some added; or a valid body with one field made hostile,
// which reaches the database.
function bodyArb(op: Op): fc.Arbitrary<unknown> {
  const props = Object.keys(op.body?.properties ?? {});
  const mutated = fc.record(Object.fromEntries(props.map((p) => [p, anyJson])), {
    requiredKeys: [],
  })
    .chain((o) =>
      fc.dictionary(nastyString, anyJson, { maxKeys: 2 }).map((extra) => ({ ...o, ...extra }))
    );
  const base = valid(op.fn, op.body) as Record<string, unknown> | null;
  const oneHostile = props.length && base
    ? fc.tuple(fc.constantFrom(...props), nastyString).map(([key, value]) => ({
      ...base,
      [key]: typeof base[key] === "object" && base[key] !== null && !Array.isArray(base[key])
        ? { [value.slice(0, 20) || "k"]: value }
        : value,
    }))
    : anyJson;
  return fc.oneof(oneHostile, oneHostile, mutated, anyJson, fc.array(anyJson, { maxLength: 3 }));
}

// What a case must get beyond "never a 5xx": accepted (2xx), or refused with
// validation_failed naming `field`.
type Expect = { accepted: true } | { refusedAt: string };
type Case = {
  path: string;
  query: string;
  body?: string;
  contentType?: string;
  label: string;
  expect?: Expect;
};

function caseArb(op: Op, ownIds: string[]): fc.Arbitrary<Case> {
  const idArb = fc.oneof(fc.constantFrom(...ownIds), fc.uuid(), nastyString);
  const queryParams = op.params.filter((p) => p.in === "query");
  const queryArb = fc.array(
    fc.tuple(
      fc.constantFrom(...(queryParams.length ? queryParams.map((p) => p.name) : ["x"])),
      nastyString,
    ),
    { maxLength: 4 },
  ).map((pairs) => new URLSearchParams(pairs.map(([k, v]) => [k, v.toWellFormed()])).toString()); // repeats keys on purpose
  const rawBody = fc.oneof(
    bodyArb(op).map((b) => ({
      body: JSON.stringify(b),
      contentType: "application/json",
      label: "mutated json",
    })),
    fc.constantFrom(
      { body: '{"title": "x"', contentType: "application/json", label: "truncated json" },
      { body: "{", contentType: "application/json", label: "malformed json" },
      { body: "title=x", contentType: "application/x-www-form-urlencoded", label: "form body" },
      { body: '{"title":"x"}', contentType: "text/plain", label: "wrong content type" },
      {
        body: "[".repeat(5000) + "]".repeat(5000),
        contentType: "application/json",
        label: "deep nesting",
      },
      {
        body: JSON.stringify({ pad: "x".repeat(1_100_000) }),
        contentType: "application/json",
        label: "over 1 MiB",
      },
    ),
  );
  return fc.record({
    id: idArb,
    query: queryArb,
    raw: op.method === "GET" || op.method === "DELETE" ? fc.constant(undefined) : rawBody,
  }).map(({ id, query, raw }) => ({
    path: op.path.replace(/\{[^}]+\}/g, encodeURIComponent(id.toWellFormed())),
    query,
    body: raw?.body,
    contentType: raw?.contentType,
    label: raw?.label ?? "query/path",
  }));
}

const LEAK =
  /(\bat .+\.(ts|js):\d+|PostgresError|syntax error at|\bstack\b|node_modules|SQLSTATE)/i;

async function send(token: string, op: Op, c: Case): Promise<string | undefined> {
  const headers: Record<string, string> = { Authorization: `Bearer ${token}` };
  if (c.contentType) headers["Content-Type"] = c.contentType;
  const url = `${FUNCTIONS_URL}${c.path}${c.query ? `?${c.query}` : ""}`;
  const res = await fetch(url, { method: op.method, headers, body: c.body });
  const text = await res.text();
  recordErrorResponse(res.status, text);
  const where = `${op.method} ${op.path} [${c.label}] ${url.slice(0, 160)} -> ${res.status}`;
  if (res.status >= 500) return `${where}: ${text.slice(0, 200)}`;
  if (LEAK.test(text)) return `${where}: leaks internals: ${text.slice(0, 200)}`;
  if (res.status >= 400) {
    try {
      const body = JSON.parse(text);
      if (typeof body.error?.code !== "string" || !body.error.request_id) {
        return `${where}: not the envelope`;
      }
      if (res.headers.get("x-request-id") !== body.error.request_id) {
        return `${where}: request id mismatch`;
      }
    } catch {
      return `${where}: error body is not JSON`;
    }
  }
  return c.expect ? unmet(c.expect, res.status, text, where) : undefined;
}

function unmet(expect: Expect, status: number, text: string, where: string): string | undefined {
  if ("accepted" in expect) {
    return status < 300 ? undefined : `${where}: expected to be accepted: ${text.slice(0, 200)}`;
  }
  const error = status === 400 ? JSON.parse(text).error : undefined;
  const paths = (error?.details?.issues ?? []).map((i: { path: string }) => i.path);
  return error?.code === "validation_failed" && paths.includes(expect.refusedAt)
    ? undefined
    : `${where}: expected validation_failed at ${expect.refusedAt}: ${text.slice(0, 200)}`;
}

const perOp = Math.max(10, Math.ceil(TOTAL / ops.length));

test(`the hostile suite runs at least ${TOTAL} cases over ${ops.length} operations`, () => {
  assert.ok(ops.length >= 16, `${ops.length} operations`);
  assert.ok(perOp * ops.length >= TOTAL);
});

// Every documented body field gets every nasty string once, in an otherwise
// valid body: these are the cases that reach the database.
function exhaustive(op: Op): Case[] {
  const full = valid(op.fn, op.body) as Record<string, unknown> | null;
  if (!full || typeof full !== "object" || op.method === "GET" || op.method === "DELETE") return [];
  const required = new Set(op.body?.required ?? []);
  const base = Object.fromEntries(Object.entries(full).filter(([k]) => required.has(k)));
  return Object.keys(full).flatMap((key) =>
    NASTY.map((value) => ({
      path: op.path.replace(/\{[^}]+\}/g, "00000000-0000-4000-8000-000000000000"),
      query: "",
      body: JSON.stringify({
        ...base,
        [key]: typeof full[key] === "object" && !Array.isArray(full[key]) ? { k: value } : value,
      }),
      contentType: "application/json",
      label: `${key} = nasty`,
    }))
  );
}

// JSON fields: free-form objects in a request body (agent_config, metadata, ...).
function jsonFields(op: Op): string[] {
  return Object.entries(op.body?.properties ?? {})
    .filter(([, s]) => {
      const schema = resolve(op.fn, s);
      return schema?.type === "object" && !schema.properties &&
        schema.additionalProperties !== false;
    })
    .map(([name]) => name);
}

// A field's value nested `levels` deep, as text: building it as an object
// and stringifying would overflow this test's own stack.
const deepObject = (levels: number) => '{"a":'.repeat(levels - 1) + "{}" + "}".repeat(levels - 1);
const deepArrayIn = (levels: number) =>
  '{"a":' + "[".repeat(levels - 1) + "]".repeat(levels - 1) + "}";

// Every JSON field at the depth limit (accepted), one past it and far past it
// (refused, naming the field); every other field and the body itself nested
// far too deep (a 4xx like any bad input).
function depthCases(op: Op): Case[] {
  const full = valid(op.fn, op.body) as Record<string, unknown> | null;
  if (!full || typeof full !== "object" || op.method === "GET" || op.method === "DELETE") return [];
  const required = new Set(op.body?.required ?? []);
  const base = Object.fromEntries(Object.entries(full).filter(([k]) => required.has(k)));
  const path = op.path.replace(/\{[^}]+\}/g, "00000000-0000-4000-8000-000000000000");
  const withField = (key: string, text: string) =>
    JSON.stringify({ ...base, [key]: "__deep__" }).replace('"__deep__"', text);
  const at = (key: string, text: string, label: string, expect?: Expect): Case => ({
    path,
    query: "",
    body: withField(key, text),
    contentType: "application/json",
    label: `${key} ${label}`,
    expect,
  });
  const fields = jsonFields(op);
  return [
    ...fields.flatMap((key) => [
      at(key, deepObject(MAX_JSON_DEPTH), "at the depth limit", { accepted: true }),
      at(key, deepArrayIn(MAX_JSON_DEPTH), "at the depth limit (arrays)", { accepted: true }),
      at(key, deepObject(MAX_JSON_DEPTH + 1), "one level too deep", { refusedAt: key }),
      at(key, deepArrayIn(MAX_JSON_DEPTH + 1), "one level too deep (arrays)", { refusedAt: key }),
      at(key, deepObject(20_000), "20,000 levels", { refusedAt: key }),
      at(key, deepArrayIn(200_000), "200,000 levels", { refusedAt: key }),
    ]),
    ...Object.keys(full).filter((k) => !fields.includes(k)).map((key) =>
      at(key, "[".repeat(100_000) + "]".repeat(100_000), "nested 100,000 levels")
    ),
    {
      path,
      query: "",
      body: "[".repeat(500_000) + "]".repeat(500_000),
      contentType: "application/json",
      label: "a body nested 500,000 levels",
    },
  ];
}

const jsonFieldOps = ops.flatMap((op) => jsonFields(op).map((f) => `${op.method} ${op.path} ${f}`));

test("every JSON field of every request body documents its depth limit", () => {
  // agent_config and context_data (create, update), metadata, preferences.
  assert.ok(jsonFieldOps.length >= 6, jsonFieldOps.join("; "));
  const undocumented = ops.flatMap((op) =>
    jsonFields(op)
      .filter((f) => resolve(op.fn, op.body!.properties![f])?.["x-max-depth"] !== MAX_JSON_DEPTH)
      .map((f) => `${op.method} ${op.path} ${f}`)
  );
  assert.deepEqual(undocumented, []);
});

for (const [i, op] of ops.entries()) {
  test(`hostile input: ${op.method} ${op.path}`, async () => {
    const user = await createUser(`hostile-${op.fn}`);
    const session = parsed(
      Session,
      await call("POST", "/sessions", { token: user.token, body: { title: "target" } }),
      201,
    );
    // An API key's routes name one of the user's keys; every other, their session.
    const target = op.path.includes("/api-keys/{id}")
      ? (await createApiKey(user, ["sessions:read"])).id
      : session.id;
    const own = (c: Case) => ({
      ...c,
      path: c.path.replace("00000000-0000-4000-8000-000000000000", target),
    });
    const cases = [
      // Depth first: its accepted cases create keys, which the cap on live
      // keys refuses once the other cases have made 25.
      ...depthCases(op).map(own),
      ...exhaustive(op).map(own),
      ...fc.sample(caseArb(op, [target]), { numRuns: perOp, seed: SEED + i }),
    ];
    const failures: string[] = [];
    for (let j = 0; j < cases.length; j += 8) {
      const found = await Promise.all(cases.slice(j, j + 8).map((c) => send(user.token, op, c)));
      failures.push(...found.filter((f): f is string => f !== undefined));
    }
    assert.deepEqual(
      failures,
      [],
      `${failures.length} of ${cases.length} cases failed: ${failures.slice(0, 3).join("; ")}`,
    );
  });
}
