// Scope choices against the local OAuth server: read-only levels, partial
// grants (a person unticks a scope at consent), incremental authorization of
// an existing connection, and another account coming back for it.
import assert from "node:assert/strict";
import { CallbackResult, CompleteResult } from "../../shared/oauth/schemas.ts";
import { AccessToken, ServiceToken, TokenPage } from "../../shared/tokens/schemas.ts";
import { assertError, parsed } from "../helpers/assert.ts";
import { call, createUser, test, type TestUser } from "../helpers/stack.ts";
import { authorize, callback, complete, connect, consent, provider, uniqueEmail } from "./flow.ts";

const GOOGLE = "https://www.googleapis.com/auth/";
const GRAPH = "https://graph.microsoft.com/";
const APP = "http://localhost:3000/connected";

const scopesOf = (authorizationUrl: string) =>
  new URL(authorizationUrl).searchParams.get("scope")!.split(" ");

// Authorize, consent (unticking some boxes), and come back to the callback.
async function authorizeAndConsent(
  user: TestUser,
  body: Record<string, unknown>,
  o: { email: string; untick?: string[] },
) {
  const started = await authorize(user, body);
  assert.equal(started.status, 200, JSON.stringify(started.body));
  const back = await callback(await consent(started.body.authorization_url, o));
  return { started, back };
}

async function getToken(user: TestUser, id: string) {
  return parsed(ServiceToken, await call("GET", `/tokens/${id}`, { token: user.token }));
}

test("a read-only level asks for the read-only scopes, and the connection reports read", async () => {
  const user = await createUser("scopes-read");
  const { started, back } = await authorizeAndConsent(user, {
    provider: "dev",
    services: ["gmail:read", "calendar"],
  }, { email: uniqueEmail() });
  const scopes = scopesOf(started.body.authorization_url);
  assert.ok(scopes.includes("dev.mail.readonly"));
  assert.ok(!scopes.includes("dev.mail"), "no full mail scope for a read-only request");
  assert.ok(scopes.includes("dev.calendar"), "plain calendar still means full access");
  assert.deepEqual(started.body.access, { gmail: "read", calendar: "write" });
  assert.deepEqual(started.body.services, ["gmail", "calendar"]);

  const authorized = parsed(CallbackResult, back);
  assert.equal(authorized.status, "authorized");
  assert.deepEqual(authorized.service_access, { gmail: "read", calendar: "write" });
  assert.deepEqual(authorized.missing_access, {});
  const done = parsed(CompleteResult, await complete(user, authorized.completion), 201);
  assert.equal(done.status, "connected");
  const token = await getToken(user, done.token.id);
  assert.deepEqual(token.service_access, { gmail: "read", calendar: "write" });
  assert.deepEqual(token.services, ["calendar", "gmail"]);
  assert.deepEqual(token.missing_access, {});
  assert.ok(token.granted_scopes.includes("dev.mail.readonly"));
  // The agent learns the levels with the token.
  const vended = parsed(
    AccessToken,
    await call("POST", "/tokens/dev/access-token", { token: user.token, body: {} }),
  );
  assert.deepEqual(vended.service_access, { gmail: "read", calendar: "write" });
});

test("Google and Microsoft read-only levels use their read-only scopes", async () => {
  const user = await createUser("scopes-read-providers");
  const google = await authorize(user, {
    provider: "google",
    services: ["gmail:read", "calendar:read"],
  });
  assert.equal(google.status, 200, JSON.stringify(google.body));
  const g = scopesOf(google.body.authorization_url);
  assert.ok(g.includes(`${GOOGLE}gmail.readonly`) && g.includes(`${GOOGLE}calendar.readonly`));
  assert.ok(!g.includes(`${GOOGLE}gmail.modify`) && !g.includes(`${GOOGLE}calendar`));

  const email = uniqueEmail("ms-read");
  const { started, back } = await authorizeAndConsent(user, {
    provider: "microsoft",
    services: ["outlook:read", "calendar:write"],
  }, { email });
  const m = scopesOf(started.body.authorization_url);
  assert.ok(m.includes(`${GRAPH}Mail.Read`) && m.includes(`${GRAPH}Calendars.ReadWrite`));
  assert.ok(!m.includes(`${GRAPH}Mail.ReadWrite`) && !m.includes(`${GRAPH}Mail.Send`));
  const done = parsed(CompleteResult, await complete(user, back.body.completion), 201);
  assert.deepEqual(done.token.service_access, { outlook: "read", calendar: "write" });

  const listed = parsed(TokenPage, await call("GET", "/tokens", { token: user.token }));
  assert.deepEqual(
    listed.data.find((t) => t.id === done.token.id)?.service_access,
    { outlook: "read", calendar: "write" },
    "the list reports the levels too",
  );
});

test("a partial grant redirects with status=partial and missing, and the connection says so", async () => {
  const user = await createUser("scopes-partial");
  const email = uniqueEmail("partial");
  const { back } = await authorizeAndConsent(user, {
    provider: "dev",
    services: ["gmail", "calendar"],
    redirect_to: APP,
  }, { email, untick: ["dev.calendar"] });
  assert.equal(back.status, 302);
  const to = back.location!;
  assert.equal(to.searchParams.get("status"), "partial");
  assert.equal(to.searchParams.get("services"), "gmail");
  assert.equal(to.searchParams.get("missing"), "calendar");
  // The provider really granted less: its token answer's scope field said so.
  const done = parsed(
    CompleteResult,
    await complete(user, to.searchParams.get("completion")!),
    201,
  );
  assert.equal(done.status, "partial");
  assert.deepEqual(done.token.service_access, { gmail: "write" });
  assert.deepEqual(done.token.missing_access, { calendar: "write" });
  assert.deepEqual(done.token.services, ["gmail"]);
  assert.ok(!done.token.granted_scopes.includes("dev.calendar"));
  // After completion, the app reads the same report from the connection.
  const token = await getToken(user, done.token.id);
  assert.deepEqual(token.missing_access, { calendar: "write" });
  // A connection that lacks calendar is not served for calendar.
  const vend = await call("POST", "/tokens/dev/access-token", {
    token: user.token,
    body: { service: "calendar" },
  });
  assertError(vend, 404, "not_found");
});

test("a partial grant without redirect_to answers JSON status=partial", async () => {
  const user = await createUser("scopes-partial-json");
  const { back } = await authorizeAndConsent(user, {
    provider: "dev",
    services: ["gmail:read", "outlook"],
  }, { email: uniqueEmail(), untick: ["dev.mail.readonly", "dev.outlook"] });
  const result = parsed(CallbackResult, back);
  assert.equal(result.status, "partial");
  assert.deepEqual(result.service_access, {});
  assert.deepEqual(result.missing_access, { gmail: "read", outlook: "write" });
  const done = parsed(CompleteResult, await complete(user, result.completion), 201);
  assert.equal(done.status, "partial");
  assert.deepEqual(done.token.services, []);
});

test("unticking one of a level's scopes leaves the lower level (Microsoft outlook)", async () => {
  const user = await createUser("scopes-downgrade");
  const { back } = await authorizeAndConsent(user, {
    provider: "microsoft",
    services: ["outlook"],
    redirect_to: APP,
  }, { email: uniqueEmail("ms"), untick: [`${GRAPH}Mail.Send`] });
  const to = back.location!;
  assert.equal(to.searchParams.get("status"), "partial");
  // Mail.ReadWrite reads mail too: read access is granted, write is missing.
  assert.equal(to.searchParams.get("services"), "outlook:read");
  assert.equal(to.searchParams.get("missing"), "outlook");
  const done = parsed(
    CompleteResult,
    await complete(user, to.searchParams.get("completion")!),
    201,
  );
  assert.deepEqual(done.token.service_access, { outlook: "read" });
  assert.deepEqual(done.token.missing_access, { outlook: "write" });
});

test("incremental authorization adds a service to the same connection (Microsoft-style union)", async () => {
  const user = await createUser("scopes-incremental");
  const email = uniqueEmail("incr");
  const first = await connect(user, { services: ["gmail:read"], email });
  assert.deepEqual(first.token.service_access, { gmail: "read" });

  const { started, back } = await authorizeAndConsent(user, {
    provider: "dev",
    services: ["calendar"],
    connection_id: first.token.id,
    redirect_to: APP,
  }, { email });
  assert.equal(started.body.connection_id, first.token.id);
  // The dev provider, like Microsoft, is asked for the earlier scopes again.
  const scopes = scopesOf(started.body.authorization_url);
  assert.ok(scopes.includes("dev.mail.readonly") && scopes.includes("dev.calendar"));
  assert.deepEqual(started.body.access, { calendar: "write" });
  const to = back.location!;
  assert.equal(to.searchParams.get("status"), "authorized");
  assert.equal(to.searchParams.get("services"), "gmail:read,calendar");
  const done = parsed(
    CompleteResult,
    await complete(user, to.searchParams.get("completion")!),
    201,
  );
  assert.equal(done.status, "connected");
  assert.equal(done.token.id, first.token.id, "the same connection, extended");
  assert.deepEqual(done.token.service_access, { gmail: "read", calendar: "write" });
  assert.deepEqual(done.token.services, ["calendar", "gmail"]);
  assert.deepEqual(done.token.missing_access, {});
  const all = parsed(TokenPage, await call("GET", "/tokens", { token: user.token }));
  assert.equal(all.data.length, 1, "no second connection");
});

test("incremental authorization at Google asks for the new scope only; include_granted_scopes keeps the rest", async () => {
  const user = await createUser("scopes-incremental-google");
  const email = uniqueEmail("incr-google");
  const first = await connect(user, { provider: "google", services: ["gmail"], email });
  const { started, back } = await authorizeAndConsent(user, {
    provider: "google",
    services: ["calendar:read"],
    connection_id: first.token.id,
  }, { email });
  const url = new URL(started.body.authorization_url);
  assert.equal(url.searchParams.get("include_granted_scopes"), "true");
  const scopes = scopesOf(url.href);
  assert.ok(scopes.includes(`${GOOGLE}calendar.readonly`));
  assert.ok(!scopes.includes(`${GOOGLE}gmail.modify`), "earlier scopes are not asked again");
  const done = parsed(CompleteResult, await complete(user, back.body.completion), 201);
  assert.equal(done.token.id, first.token.id);
  // The provider's answer listed both grants (include_granted_scopes).
  assert.ok(done.token.granted_scopes.includes(`${GOOGLE}gmail.modify`));
  assert.ok(done.token.granted_scopes.includes(`${GOOGLE}calendar.readonly`));
  assert.deepEqual(done.token.service_access, { gmail: "write", calendar: "read" });
});

test("extending a connection with another account is refused, merges nothing, and revokes the grant", async () => {
  const user = await createUser("scopes-wrong-account");
  const email = uniqueEmail("owner");
  const first = await connect(user, { services: ["gmail"], email });
  const intruder = uniqueEmail("other");
  const { back } = await authorizeAndConsent(user, {
    provider: "dev",
    services: ["calendar"],
    connection_id: first.token.id,
    redirect_to: APP,
  }, { email: intruder });
  assert.equal(back.status, 302);
  const to = back.location!;
  assert.equal(to.searchParams.get("status"), "error");
  assert.equal(to.searchParams.get("code"), "conflict");
  assert.equal(to.searchParams.get("reason"), "wrong_account");
  assert.equal(to.searchParams.get("completion"), null, "nothing to complete");
  const token = await getToken(user, first.token.id);
  assert.deepEqual(token.service_access, { gmail: "write" });
  assert.equal(token.provider_account_id, first.token.provider_account_id);
  const all = parsed(TokenPage, await call("GET", "/tokens", { token: user.token }));
  assert.equal(all.data.length, 1, "the other account was not connected either");
  const seen = await provider.seen(intruder);
  assert.equal(seen.revocations.length, 1, "the other account's grant was revoked");

  // Without redirect_to the app gets the same answer as JSON.
  const again = await authorizeAndConsent(user, {
    provider: "dev",
    services: ["calendar"],
    connection_id: first.token.id,
  }, { email: intruder });
  assertError(again.back, 409, "conflict");
  assert.equal(again.back.body.error.details.reason, "wrong_account");
});

test("authorize refuses unknown services and levels, and connections it cannot extend", async () => {
  const user = await createUser("scopes-errors");
  const bad = async (body: Record<string, unknown>, status = 400, code = "validation_failed") =>
    assertError(await authorize(user, body), status, code);
  await bad({ provider: "dev", services: ["gmail:admin"] });
  await bad({ provider: "dev", services: ["drive:read"] });
  await bad({ provider: "dev", services: ["gmail:read", "gmail"] });
  await bad({ provider: "google", services: ["outlook:read"] });
  await bad({ provider: "dev", services: ["gmail"], connection_id: "not-a-uuid" });
  await bad(
    { provider: "dev", services: ["gmail"], connection_id: crypto.randomUUID() },
    404,
    "not_found",
  );

  const mine = await connect(user, { services: ["gmail"] });
  await bad({ provider: "google", services: ["calendar"], connection_id: mine.token.id });
  const other = await createUser("scopes-errors-other");
  const theirs = await connect(other, { services: ["gmail"] });
  await bad(
    { provider: "dev", services: ["calendar"], connection_id: theirs.token.id },
    404,
    "not_found",
  );
  const revoked = await call("DELETE", `/tokens/${mine.token.id}`, { token: user.token });
  assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
  await bad(
    { provider: "dev", services: ["calendar"], connection_id: mine.token.id },
    409,
    "conflict",
  );
});
