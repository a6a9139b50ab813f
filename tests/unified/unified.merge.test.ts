// Reads across several connections: lists merged in order (events by start,
// mail newest first) with cursors that carry each connection's own page
// token; free/busy merged; connection_id narrows to one; a connection whose
// grant does not allow the read is left out of the merge.
import assert from "node:assert/strict";
import type { z } from "zod";
import { EventPage, FreeBusy, MailPage } from "../../shared/unified/schemas.ts";
import { parsed } from "../helpers/assert.ts";
import { createUser, test } from "../helpers/stack.ts";
import { apis, connectTo, DAY, enc, iso, range, today, unified } from "./support.ts";

const user = await createUser("unified-merge");
const google = await connectTo(user, "google");
const microsoft = await connectTo(user, "microsoft");
// Each mailbox and calendar gets a few items of its own, interleaved in time.
const h = (n: number) => iso(today() + 50 * DAY + n * 3_600_000);
await apis.seed(google.email, {
  append: true,
  events: [1, 3, 5].map((n) => ({ title: `G${n}`, start: h(n), end: h(n + 1) })),
});
await apis.seed(microsoft.email, {
  append: true,
  events: [2, 4, 6].map((n) => ({ title: `M${n}`, start: h(n), end: h(n + 1.5) })),
});

async function all<T extends { data: unknown[]; next_cursor: string | null }>(
  path: (cursor: string | null) => string,
  schema: z.ZodType<T>,
): Promise<{ items: T["data"]; pages: number }> {
  const items: T["data"] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const page: T = parsed(schema, await unified(user, "GET", path(cursor)));
    items.push(...page.data);
    cursor = page.next_cursor;
    pages++;
  } while (cursor && pages < 60);
  assert.equal(cursor, null, "the last page says so");
  return { items, pages };
}

test("events of both connections merge by start time", async () => {
  const page = parsed(
    EventPage,
    await unified(user, "GET", `/calendar/events?${range(50, 51)}`),
  );
  assert.deepEqual(page.data.map((e) => e.title), ["G1", "M2", "G3", "M4", "G5", "M6"]);
  assert.deepEqual(
    page.data.map((e) => e.connection_id),
    [google.id, microsoft.id, google.id, microsoft.id, google.id, microsoft.id],
  );
});

test("merged event pages: every event once, in start order, whatever the page size", async () => {
  for (const limit of [1, 3, 7]) {
    const { items, pages } = await all(
      (c) => `/calendar/events?${range(0, 60)}&limit=${limit}${c ? `&cursor=${enc(c)}` : ""}`,
      EventPage,
    );
    assert.equal(items.length, 2 * 16 + 6, `limit ${limit}`);
    assert.equal(new Set(items.map((e) => e.id)).size, items.length, "no repeats");
    const starts = items.map((e) => Date.parse(e.start));
    assert.deepEqual([...starts].sort((a, b) => a - b), starts, "start order");
    assert.equal(pages, Math.ceil(items.length / limit));
  }
});

test("merged mail pages: both mailboxes, newest first, each message once", async () => {
  const { items } = await all(
    (c) => `/mail/messages?limit=4${c ? `&cursor=${enc(c)}` : ""}`,
    MailPage,
  );
  assert.equal(items.length, 30);
  assert.equal(new Set(items.map((m) => m.id)).size, 30);
  assert.equal(items.filter((m) => m.connection_id === google.id).length, 15);
  const times = items.map((m) => Date.parse(m.received_at));
  assert.deepEqual([...times].sort((a, b) => b - a), times);
});

test("connection_id narrows a read to that connection", async () => {
  const page = parsed(
    EventPage,
    await unified(user, "GET", `/calendar/events?${range(50, 51)}&connection_id=${microsoft.id}`),
  );
  assert.deepEqual(page.data.map((e) => e.title), ["M2", "M4", "M6"]);
  const mail = parsed(
    MailPage,
    await unified(user, "GET", `/mail/messages?query=invoice&connection_id=${google.id}`),
  );
  assert.deepEqual(mail.data.map((m) => m.connection_id), [google.id]);
});

test("free/busy merges both calendars' busy times and the gaps between", async () => {
  const fb = parsed(
    FreeBusy,
    await unified(
      user,
      "GET",
      `/calendar/free-busy?time_min=${enc(h(0))}&time_max=${enc(h(10))}`,
    ),
  );
  assert.deepEqual(fb.connections.sort(), [google.id, microsoft.id].sort());
  assert.equal(fb.busy.length, 6);
  // G1 1-2, M2 2-3.5, G3 3-4, M4 4-5.5, G5 5-6, M6 6-7.5: busy from 1 to 7.5.
  assert.deepEqual(fb.free.map((f) => [f.start, f.end]), [[h(0), h(1)], [h(7.5), h(10)]]);
});

test("a connection whose grant does not allow the read is left out of the merge", async () => {
  const other = await createUser("unified-merge-partial");
  const cal = await connectTo(other, "google", { services: ["calendar"] });
  const mail = await connectTo(other, "microsoft", { services: ["outlook"] });
  const events = parsed(EventPage, await unified(other, "GET", `/calendar/events?${range(0, 2)}`));
  assert.ok(events.data.length > 0);
  assert.ok(events.data.every((e) => e.connection_id === cal.id));
  const messages = parsed(MailPage, await unified(other, "GET", "/mail/messages"));
  assert.ok(messages.data.every((m) => m.connection_id === mail.id));
});
