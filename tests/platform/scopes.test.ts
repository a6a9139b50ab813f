// The scope matrix over every route of every function the gateway serves,
// read from their OpenAPI documents: a key without the route's scope gets 403
// insufficient_scope, a key with only that scope gets through, and routes
// that declare no key scope refuse keys altogether.
import assert from "node:assert/strict";
import { SCOPES } from "../../shared/auth/scopes.ts";
import { assertError } from "../helpers/assert.ts";
import { fill, operations } from "../helpers/openapi.ts";
import { API_URL, call, createApiKey, createUser, test } from "../helpers/stack.ts";

const { functions } = await (await fetch(`${API_URL}/health`)).json() as { functions: string[] };
const ops = (await Promise.all(functions.map(operations))).flat().filter((o) => o.secured);
// Two users, since a user holds at most 25 live keys (API_KEYS_MAX_LIVE).
const user = await createUser("scopes");
const other = await createUser("scopes-only");

const everyScopeBut = new Map<string, string>();
const onlyScope = new Map<string, string>();
for (const scope of SCOPES) {
  everyScopeBut.set(scope, (await createApiKey(user, SCOPES.filter((s) => s !== scope))).key);
  onlyScope.set(scope, (await createApiKey(other, [scope])).key);
}
const allScopes = (await createApiKey(other, [...SCOPES])).key;

test("the matrix covers every function's secured routes", () => {
  assert.ok(functions.includes("sessions") && functions.includes("account"));
  assert.ok(ops.length >= 16, `${ops.length} operations`);
  for (const op of ops) {
    if (op.scope) {
      assert.ok((SCOPES as readonly string[]).includes(op.scope), `${op.path} names ${op.scope}`);
    }
  }
});

for (const op of ops) {
  const name = `${op.method} ${op.path}`;
  const path = fill(op.path, crypto.randomUUID());
  const body = op.hasBody ? {} : undefined;
  if (op.scope) {
    test(`${name}: a key without ${op.scope} is 403 insufficient_scope`, async () => {
      const res = await call(op.method, path, {
        headers: { "X-API-Key": everyScopeBut.get(op.scope!)! },
        body,
      });
      assertError(res, 403, "insufficient_scope");
    });
    test(`${name}: a key with only ${op.scope} gets through`, async () => {
      const res = await call(op.method, path, {
        headers: { "X-API-Key": onlyScope.get(op.scope!)! },
        body,
      });
      assert.ok(![401, 403].includes(res.status), `${res.status} ${JSON.stringify(res.body)}`);
    });
  } else {
    test(`${name}: keys are refused even with every scope`, async () => {
      const res = await call(op.method, path, { headers: { "X-API-Key": allScopes }, body });
      assert.equal(res.status, 403, JSON.stringify(res.body));
    });
  }
}
