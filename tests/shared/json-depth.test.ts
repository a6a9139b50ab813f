// JSON depth without a stack: the count, the field schema every JSON field is
// declared with, and the guard every JSON body passes before its schema.
import assert from "node:assert/strict";
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { MAX_BODY_DEPTH, MAX_JSON_DEPTH, pathDeeperThan } from "../../shared/http/json-depth.ts";
import { jsonObjectField } from "../../shared/http/json-field.ts";
import { depthGuarded, jsonBody } from "../../shared/http/openapi.ts";

// {"a":[{"a":[...]}]}: containers alternate, `levels` of them in all.
function nested(levels: number): unknown {
  let value: unknown = 1;
  for (let i = levels - 1; i >= 0; i--) value = i % 2 ? [value] : { a: value };
  return value;
}

Deno.test("depth: scalars 0, empty containers 1, each container inside one more", () => {
  for (const scalar of [1, "x", null, true]) assert.equal(pathDeeperThan(scalar, 0), undefined);
  assert.deepEqual(pathDeeperThan({}, 0), []);
  assert.equal(pathDeeperThan({}, 1), undefined);
  assert.equal(pathDeeperThan([[], { a: 1 }], 2), undefined);
  assert.deepEqual(pathDeeperThan([[], { a: [] }], 2), [1, "a"]);
  assert.equal(pathDeeperThan(nested(MAX_JSON_DEPTH), MAX_JSON_DEPTH), undefined);
  const path = pathDeeperThan(nested(MAX_JSON_DEPTH + 1), MAX_JSON_DEPTH);
  assert.equal(path?.length, MAX_JSON_DEPTH, "the path to the container one level too deep");
});

Deno.test("depth: a million levels are counted without the call stack", () => {
  const text = "[".repeat(1_000_000) + "]".repeat(1_000_000);
  const value = JSON.parse(text); // V8's parser is iterative too
  assert.equal(pathDeeperThan(value, MAX_JSON_DEPTH)?.length, MAX_JSON_DEPTH);
  assert.throws(() => JSON.stringify(value), RangeError, "what a recursive walk would meet");
});

const Body = z.strictObject({
  title: z.string().optional(),
  config: jsonObjectField({ maxBytes: 1024, description: "Test config." }).optional(),
});

function issues(schema: z.ZodType, value: unknown) {
  const result = schema.safeParse(value);
  return result.success
    ? []
    : result.error.issues.map((i) => ({ path: i.path.join("."), message: i.message }));
}

Deno.test("a JSON field refuses depth past the limit, naming the field, at any depth", () => {
  assert.deepEqual(issues(Body, { config: nested(MAX_JSON_DEPTH) }), []);
  for (const levels of [MAX_JSON_DEPTH + 1, 20_000, 200_000]) {
    assert.deepEqual(issues(Body, { config: nested(levels) }), [
      { path: "config", message: `must nest at most ${MAX_JSON_DEPTH} levels` },
    ], `${levels} levels`);
  }
});

Deno.test("a JSON field: an object, bounded in UTF-8 bytes, without NUL", () => {
  assert.deepEqual(issues(Body, { config: { s: "x".repeat(1000) } }), []);
  assert.deepEqual(issues(Body, { config: { s: "é".repeat(600) } }), [
    { path: "config", message: "must serialize to at most 1 KiB" },
  ]);
  assert.deepEqual(issues(Body, { config: { "k\u0000": 1 } }), [
    { path: "config", message: "must not contain NUL characters" },
  ]);
  assert.equal(issues(Body, { config: [1] }).length, 1);
});

Deno.test("a JSON field says its limits in the OpenAPI document, through a guarded body", () => {
  const app = new OpenAPIHono();
  const route = createRoute({
    method: "post",
    path: "/x",
    request: { body: jsonBody(Body) },
    responses: { 200: { description: "ok" } },
  });
  app.openapi(route, (c) => c.body(null, 200));
  const doc = app.getOpenAPI31Document({ openapi: "3.1.0", info: { title: "t", version: "1" } });
  // deno-lint-ignore no-explicit-any
  const body = (doc.paths?.["/x"]?.post?.requestBody as any).content["application/json"].schema;
  assert.equal(body.additionalProperties, false, "the guard leaves the body's schema as it is");
  const config = body.properties.config;
  assert.equal(config["x-max-depth"], MAX_JSON_DEPTH);
  assert.match(config.description, /^Test config\. .*at most 1 KiB.*32 levels/);
});

Deno.test("a body nested past the guard is refused before its schema, naming its field", () => {
  const guarded = depthGuarded(Body);
  const deep = { title: "x", config: nested(MAX_BODY_DEPTH + 10) };
  assert.deepEqual(issues(guarded, deep), [
    { path: "config", message: `nests more than ${MAX_BODY_DEPTH} levels deep` },
  ]);
  const deepTitle = { title: nested(500_000) };
  assert.deepEqual(issues(guarded, deepTitle).map((i) => i.path), ["title"]);
  const deepArray = JSON.parse("[".repeat(100_000) + "]".repeat(100_000));
  assert.deepEqual(issues(guarded, deepArray).map((i) => i.path), ["0"]);
  assert.deepEqual(issues(guarded, { title: "x", config: nested(MAX_JSON_DEPTH) }), []);
});
