// The provider API stand-ins speak their providers' protocols: how they refuse
// (401 with WWW-Authenticate, 403 for a scope, the error bodies), how they
// page (nextPageToken, @odata.nextLink), and the documented rules the unified
// adapters must follow (Calendar's offsets and orderBy, Graph's $search).
import assert from "node:assert/strict";
import { AccessToken } from "../../shared/tokens/schemas.ts";
import { parsed } from "../helpers/assert.ts";
import { createUser, test } from "../helpers/stack.ts";
import { accessToken, PROVIDER_URL } from "../oauth/flow.ts";
import { apis, connectTo, DAY, iso, READ_ONLY, today } from "./support.ts";

async function get(token: string | null, path: string, init: RequestInit = {}) {
  const res = await fetch(`${PROVIDER_URL}${path}`, {
    ...init,
    headers: {
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
      ...(init.body ? { "Content-Type": "application/json" } : {}),
      ...init.headers,
    },
  });
  return { status: res.status, headers: res.headers, body: await res.json().catch(() => null) };
}

const user = await createUser("stand-ins");
const google = await connectTo(user, "google");
const googleToken =
  parsed(AccessToken, await accessToken(user, "google", { token_id: google.id })).access_token;
const microsoft = await connectTo(user, "microsoft");
const graphToken =
  parsed(AccessToken, await accessToken(user, "microsoft", { token_id: microsoft.id }))
    .access_token;
const q = (o: Record<string, string>) => new URLSearchParams(o).toString();
const EVENTS = "/calendar/v3/calendars/primary/events";

test("a missing or unknown token: 401 with WWW-Authenticate, in each provider's error shape", async () => {
  for (const token of [null, "devat_unknown"]) {
    const g = await get(token, `${EVENTS}?${q({ timeMin: iso(today()) })}`);
    assert.equal(g.status, 401);
    assert.match(g.headers.get("www-authenticate") ?? "", /^Bearer .*invalid_token/);
    assert.equal(g.body.error.code, 401);
    assert.equal(g.body.error.status, "UNAUTHENTICATED");
    assert.equal(g.body.error.errors[0].reason, "authError");
    const m = await get(token, "/v1.0/me/messages");
    assert.equal(m.status, 401);
    assert.match(m.headers.get("www-authenticate") ?? "", /^Bearer /);
    assert.equal(m.body.error.code, "InvalidAuthenticationToken");
  }
});

test("a token without the scope: Google's insufficientPermissions, Graph's ErrorAccessDenied", async () => {
  const other = await createUser("stand-ins-ro");
  const ro = await connectTo(other, "google", { services: READ_ONLY.google });
  const roToken =
    parsed(AccessToken, await accessToken(other, "google", { token_id: ro.id })).access_token;
  const g = await get(roToken, "/gmail/v1/users/me/drafts", {
    method: "POST",
    body: JSON.stringify({ message: { raw: "eA" } }),
  });
  assert.equal(g.status, 403);
  assert.equal(g.body.error.errors[0].reason, "insufficientPermissions");
  assert.match(g.headers.get("www-authenticate") ?? "", /insufficient_scope/);
  const calOnly = await connectTo(other, "microsoft", { services: ["calendar"] });
  const msToken =
    parsed(AccessToken, await accessToken(other, "microsoft", { token_id: calOnly.id }))
      .access_token;
  const m = await get(msToken, "/v1.0/me/messages");
  assert.equal(m.status, 403);
  assert.equal(m.body.error.code, "ErrorAccessDenied");
});

test("Calendar: offsets required, orderBy=startTime only with singleEvents, nextPageToken pages", async () => {
  const bad = await get(googleToken, `${EVENTS}?${q({ timeMin: "2026-12-01T10:00:00" })}`);
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.status, "INVALID_ARGUMENT");
  const unordered = await get(googleToken, `${EVENTS}?${q({ orderBy: "startTime" })}`);
  assert.equal(unordered.status, 400);
  const range = { timeMin: iso(today()), timeMax: iso(today() + 20 * DAY) };
  const first = await get(
    googleToken,
    `${EVENTS}?${q({ ...range, singleEvents: "true", orderBy: "startTime", maxResults: "10" })}`,
  );
  assert.equal(first.body.kind, "calendar#events");
  assert.equal(first.body.items.length, 10);
  assert.ok(first.body.nextPageToken);
  const second = await get(
    googleToken,
    `${EVENTS}?${
      q({
        ...range,
        singleEvents: "true",
        orderBy: "startTime",
        pageToken: first.body.nextPageToken,
      })
    }`,
  );
  assert.equal(second.body.items.length, 6);
  assert.equal(second.body.nextPageToken, undefined);
});

test("Gmail: an empty result has no messages field; full format carries base64url parts", async () => {
  const none = await get(googleToken, `/gmail/v1/users/me/messages?${q({ q: "zzzz-nothing" })}`);
  assert.deepEqual(none.body, { resultSizeEstimate: 0 });
  const list = await get(googleToken, `/gmail/v1/users/me/messages?${q({ q: "quarterly" })}`);
  const full = await get(googleToken, `/gmail/v1/users/me/messages/${list.body.messages[0].id}`);
  assert.equal(full.body.payload.mimeType, "multipart/mixed");
  const text = full.body.payload.parts[0].parts[0];
  assert.equal(text.mimeType, "text/plain");
  assert.match(text.body.data, /^[A-Za-z0-9_-]+$/);
  assert.equal(full.body.payload.parts[1].filename, "Q3-report.pdf");
  assert.ok(full.body.payload.parts[1].body.attachmentId);
});

test("Graph: calendarView needs its window, pages by @odata.nextLink, $search refuses $filter", async () => {
  const none = await get(graphToken, "/v1.0/me/calendarView");
  assert.equal(none.status, 400);
  const first = await get(
    graphToken,
    `/v1.0/me/calendarView?${
      q({ startDateTime: iso(today()), endDateTime: iso(today() + 20 * DAY), $top: "10" })
    }`,
  );
  assert.equal(first.body.value.length, 10);
  const next = new URL(first.body["@odata.nextLink"]);
  assert.equal(next.searchParams.get("$skip"), "10");
  const rest = await get(graphToken, `${next.pathname}${next.search}`);
  assert.equal(rest.body.value.length, 6);
  assert.equal(rest.body["@odata.nextLink"], undefined);
  const mixed = await get(
    graphToken,
    `/v1.0/me/messages?${q({ $search: '"lunch"', $filter: "isRead eq false" })}`,
  );
  assert.equal(mixed.status, 400);
});

test("faults: 429 with Retry-After in the provider's shape, counted down", async () => {
  await apis.fault(microsoft.email, "messages.list", "429", { retry_after: 11 });
  const limited = await get(graphToken, "/v1.0/me/messages");
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get("retry-after"), "11");
  assert.equal(limited.body.error.code, "ApplicationThrottled");
  assert.equal((await get(graphToken, "/v1.0/me/messages")).status, 200);
});
