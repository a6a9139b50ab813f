// What the unified routes answer when something is wrong: bad input, a grant
// without the scope (read-only grants read and cannot write), the provider's
// 401 (one refresh, one retry), 429 (Retry-After passed on), 5xx and
// timeouts, a missing or ambiguous connection, a connection to reconnect.
import assert from "node:assert/strict";
import { Draft, Event, EventPage, MailPage } from "../../shared/unified/schemas.ts";
import { assertError, parsed } from "../helpers/assert.ts";
import { createUser, sql, test } from "../helpers/stack.ts";
import {
  apis,
  calls,
  connectTo,
  DAY,
  enc,
  iso,
  KINDS,
  range,
  READ_ONLY,
  today,
  unified,
  userWith,
} from "./support.ts";

const EVENT = () => ({
  title: "Sync",
  start: iso(today() + 40 * DAY + 9 * 3_600_000),
  end: iso(today() + 40 * DAY + 10 * 3_600_000),
});
const DRAFT = { to: ["pat@example.com"], subject: "Hi", body_text: "Hello" };

test("bad input is a 400 in the envelope, before any provider call", async () => {
  const { user, conn } = await userWith("unified-bad-input", "google");
  const t = (d: number) => enc(iso(today() + d * DAY));
  const cases: [string, string, unknown?][] = [
    ["GET", `/calendar/events?time_min=${t(2)}&time_max=${t(1)}`],
    ["GET", `/calendar/events?time_min=${t(0)}&time_max=${t(400)}`],
    ["GET", `/calendar/events?time_min=tomorrow&time_max=${t(1)}`],
    ["GET", `/calendar/events?time_min=2026-12-01T10:00:00&time_max=${t(1)}`],
    ["GET", `/calendar/events?${range(0, 1)}&limit=500`],
    ["GET", `/calendar/events?${range(0, 1)}&cursor=not-a-cursor`],
    ["GET", `/calendar/free-busy?time_min=${t(0)}`],
    ["GET", `/calendar/events/not-an-id`],
    ["GET", `/calendar/events/${enc(`${conn.id}:`)}`],
    ["POST", "/calendar/events", { ...EVENT(), end: EVENT().start }],
    ["POST", "/calendar/events", { ...EVENT(), attendees: ["not an address"] }],
    ["POST", "/calendar/events", { ...EVENT(), color: "red" }],
    ["POST", "/calendar/events", { title: "No times" }],
    ["GET", `/mail/messages?label=${enc("in box")}`],
    ["GET", `/mail/messages?after=${t(1)}&before=${t(0)}`],
    ["POST", "/mail/drafts", { ...DRAFT, to: [] }],
    ["POST", "/mail/drafts", { ...DRAFT, to: ["x@example.com\r\nBcc: y@example.com"] }],
    ["POST", "/mail/drafts", { ...DRAFT, subject: "Hi\r\nBcc: y@example.com" }],
    ["POST", "/mail/drafts", { ...DRAFT, body_text: undefined }],
  ];
  for (const [method, path, body] of cases) {
    assertError(await unified(user, method, path, body), 400, "validation_failed");
  }
  assert.deepEqual(await calls(conn.email), {}, "the provider saw nothing");
});

test("a cursor only continues the query it came from", async () => {
  const { user } = await userWith("unified-cursor", "microsoft");
  const first = parsed(
    EventPage,
    await unified(user, "GET", `/calendar/events?${range(0, 20)}&limit=2`),
  );
  assert.ok(first.next_cursor);
  const other = await unified(
    user,
    "GET",
    `/calendar/events?${range(0, 21)}&limit=2&cursor=${enc(first.next_cursor!)}`,
  );
  assertError(other, 400, "validation_failed");
  const mail = await unified(user, "GET", `/mail/messages?cursor=${enc(first.next_cursor!)}`);
  assertError(mail, 400, "validation_failed");
});

for (const kind of KINDS) {
  test(`${kind}: a read-only grant reads, and cannot write (403 insufficient_provider_scope)`, async () => {
    const user = await createUser(`unified-readonly-${kind}`);
    const conn = await connectTo(user, kind, { services: READ_ONLY[kind] });
    parsed(EventPage, await unified(user, "GET", `/calendar/events?${range(0, 2)}`));
    parsed(MailPage, await unified(user, "GET", "/mail/messages?limit=2"));
    const before = await calls(conn.email);

    const event = await unified(user, "POST", "/calendar/events", EVENT());
    assertError(event, 403, "insufficient_provider_scope");
    assert.equal(event.body.error.details.service, "calendar");
    assert.equal(event.body.error.details.connection_id, conn.id);
    assert.match(event.body.error.message, /reconnect/);

    const draft = await unified(user, "POST", "/mail/drafts", DRAFT);
    assertError(draft, 403, "insufficient_provider_scope");
    assert.equal(draft.body.error.details.service, kind === "google" ? "gmail" : "outlook");
    assert.deepEqual(await calls(conn.email), before, "no write reached the provider");
  });

  test(`${kind}: a connection without mail cannot search mail, and says which service is missing`, async () => {
    const user = await createUser(`unified-calonly-${kind}`);
    const conn = await connectTo(user, kind, { services: ["calendar"] });
    parsed(EventPage, await unified(user, "GET", `/calendar/events?${range(0, 1)}`));
    const res = await unified(user, "GET", "/mail/messages");
    assertError(res, 403, "insufficient_provider_scope");
    assert.equal(res.body.error.details.service, kind === "google" ? "gmail" : "outlook");
    assert.equal(res.body.error.details.connection_id, conn.id);
  });

  test(`${kind}: a provider 401 costs exactly one refresh and one retry`, async () => {
    const { user, conn } = await userWith(`unified-401-${kind}`, kind);
    const refreshes = (await apis.oauth(conn.email)).refresh_grants;
    await apis.fault(conn.email, "events.list", "401");
    const page = parsed(EventPage, await unified(user, "GET", `/calendar/events?${range(0, 2)}`));
    assert.equal(page.data.length, 3);
    assert.equal((await apis.oauth(conn.email)).refresh_grants, refreshes + 1);
    const state = await apis.state(conn.email);
    assert.deepEqual(
      state.calls.filter((c: { endpoint: string }) => c.endpoint === "events.list")
        .map((c: { status: number }) => c.status),
      [401, 200],
    );
    // The refreshed token is the one used from now on: no further refresh.
    parsed(EventPage, await unified(user, "GET", `/calendar/events?${range(0, 2)}`));
    assert.equal((await apis.oauth(conn.email)).refresh_grants, refreshes + 1);
  });

  test(`${kind}: a provider that refuses the refreshed token too is a 502, after one retry`, async () => {
    const { user, conn } = await userWith(`unified-401x2-${kind}`, kind);
    const refreshes = (await apis.oauth(conn.email)).refresh_grants;
    // Listing first: Gmail's list reads each message's metadata through messages.get too.
    const list = parsed(MailPage, await unified(user, "GET", "/mail/messages?limit=1"));
    const gets = (await calls(conn.email))["messages.get"] ?? 0;
    await apis.fault(conn.email, "messages.get", "401", { count: 5 });
    const res = await unified(user, "GET", `/mail/messages/${enc(list.data[0].id)}`);
    assertError(res, 502, "provider_error");
    assert.equal((await apis.oauth(conn.email)).refresh_grants, refreshes + 1, "one refresh");
    assert.equal((await calls(conn.email))["messages.get"], gets + 2, "one retry");
    await apis.clear(conn.email);
  });

  test(`${kind}: a provider 429 is a 429 with the provider's Retry-After`, async () => {
    const { user, conn } = await userWith(`unified-429-${kind}`, kind);
    await apis.fault(conn.email, "events.insert", "429", { retry_after: 17 });
    const res = await unified(user, "POST", "/calendar/events", EVENT());
    assertError(res, 429, "provider_rate_limited");
    assert.equal(res.headers.get("retry-after"), "17");
    assert.equal(res.body.error.details.retry_after, "17");
    const state = await apis.state(conn.email);
    assert.equal(state.events.filter((e: { title: string }) => e.title === "Sync").length, 0);
    parsed(Event, await unified(user, "POST", "/calendar/events", EVENT()), 201);
  });

  test(`${kind}: provider 500 and 503 are 502 provider_error; a hang is 504 provider_timeout`, async () => {
    const { user, conn } = await userWith(`unified-5xx-${kind}`, kind);
    await apis.fault(conn.email, "freebusy", "500");
    const a = await unified(user, "GET", `/calendar/free-busy?${range(0, 1)}`);
    assertError(a, 502, "provider_error");
    assert.equal(a.body.error.details.provider_status, 500);
    await apis.fault(conn.email, "drafts.create", "503");
    assertError(await unified(user, "POST", "/mail/drafts", DRAFT), 502, "provider_error");
    await apis.fault(conn.email, "messages.list", "hang", { hang_ms: 20_000 });
    assertError(await unified(user, "GET", "/mail/messages"), 504, "provider_timeout");
    await apis.clear(conn.email);
    parsed(MailPage, await unified(user, "GET", "/mail/messages?limit=1"));
  });

  test(`${kind}: the provider's 404 is a 404`, async () => {
    const { user, conn } = await userWith(`unified-404-${kind}`, kind);
    const missing = kind === "google" ? "0000000000000000" : "AAMkAD0000AAA=";
    assertError(
      await unified(user, "GET", `/calendar/events/${enc(`${conn.id}:${missing}`)}`),
      404,
      "not_found",
    );
    assertError(
      await unified(user, "POST", `/mail/drafts/${enc(`${conn.id}:${missing}`)}/send`),
      404,
      "not_found",
    );
  });
}

test("writes with several able connections need connection_id (400 connection_required)", async () => {
  const user = await createUser("unified-ambiguous");
  const a = await connectTo(user, "google");
  const b = await connectTo(user, "microsoft");
  const res = await unified(user, "POST", "/calendar/events", EVENT());
  assertError(res, 400, "connection_required");
  assert.deepEqual(
    res.body.error.details.connections.map((c: { id: string }) => c.id).sort(),
    [a.id, b.id].sort(),
  );
  assert.deepEqual(await calls(a.email), {});
  const made = parsed(
    Event,
    await unified(user, "POST", "/calendar/events", { ...EVENT(), connection_id: b.id }),
    201,
  );
  assert.equal(made.connection_id, b.id);
  assertError(await unified(user, "POST", "/mail/drafts", DRAFT), 400, "connection_required");
  parsed(
    Draft,
    await unified(user, "POST", "/mail/drafts", { ...DRAFT, connection_id: a.id }),
    201,
  );
});

test("without a Google or Microsoft connection every route is a 404", async () => {
  const user = await createUser("unified-none");
  assertError(await unified(user, "GET", `/calendar/events?${range(0, 1)}`), 404, "not_found");
  assertError(await unified(user, "GET", "/mail/messages"), 404, "not_found");
  assertError(await unified(user, "POST", "/mail/drafts", DRAFT), 404, "not_found");
});

test("a connection to reconnect is a 409 needs_reauth; a revoked one is gone (404)", async () => {
  const { user, conn } = await userWith("unified-reauth", "google");
  await sql`update public.service_tokens set status = 'needs_reauth' where id = ${conn.id}`;
  assertError(await unified(user, "GET", `/calendar/events?${range(0, 1)}`), 409, "needs_reauth");
  assertError(
    await unified(user, "GET", `/calendar/events?${range(0, 1)}&connection_id=${conn.id}`),
    409,
    "needs_reauth",
  );
  await sql`update public.service_tokens set status = 'revoked', revoked_at = now() where id = ${conn.id}`;
  assertError(
    await unified(user, "GET", `/calendar/events?${range(0, 1)}&connection_id=${conn.id}`),
    404,
    "not_found",
  );
  assert.deepEqual(await calls(conn.email), {});
});

test("a connection failing for a passing reason still reads; an exhausted one is a 409 until reconnected", async () => {
  const { user, conn } = await userWith("unified-failing", "microsoft");
  await sql`update public.service_tokens set status = 'refresh_failing', failing_since = now()
             where id = ${conn.id}`;
  parsed(EventPage, await unified(user, "GET", `/calendar/events?${range(0, 1)}`));
  await sql`update public.service_tokens set status = 'exhausted' where id = ${conn.id}`;
  const res = await unified(user, "GET", "/mail/messages");
  assertError(res, 409, "connection_exhausted");
  assert.ok(res.body.error.details.failing_since);
});
