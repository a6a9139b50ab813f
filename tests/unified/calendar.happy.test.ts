// Calendar routes on each provider: list (a range, pages), get, create,
// free/busy, in one shape whichever provider answers.
import assert from "node:assert/strict";
import type { z } from "zod";
import { Event, EventPage, FreeBusy } from "../../shared/unified/schemas.ts";
import { parsed } from "../helpers/assert.ts";
import { test } from "../helpers/stack.ts";
import { apis, DAY, enc, iso, KINDS, range, today, unified, userWith } from "./support.ts";

for (const kind of KINDS) {
  const { user, conn } = await userWith(`cal-${kind}`, kind);

  test(`${kind}: today and tomorrow's events, in start order, with the seeded details`, async () => {
    const page = parsed(EventPage, await unified(user, "GET", `/calendar/events?${range(0, 2)}`));
    assert.deepEqual(page.data.map((e) => e.title), [
      "Daily stand-up",
      "Design review",
      "Lunch with Sam",
    ]);
    assert.equal(page.next_cursor, null);
    const review = page.data[1];
    assert.equal(review.provider, kind);
    assert.equal(review.connection_id, conn.id);
    assert.ok(review.id.startsWith(`${conn.id}:`));
    assert.equal(review.start, iso(today() + DAY + 10 * 3_600_000));
    assert.equal(review.end, iso(today() + DAY + 11 * 3_600_000));
    assert.equal(review.location, "Room 4 / Building B");
    assert.equal(review.meeting_link, "https://meet.example.com/xyz-review");
    assert.equal(review.organizer?.email, "alex.kim@example.com");
    assert.deepEqual(
      review.attendees.map((a) => [a.email, a.response, a.organizer]),
      [["alex.kim@example.com", "accepted", true], [conn.email, "needs_action", false]],
    );
  });

  test(`${kind}: cursor pages cover the range once, in order`, async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const q: string = `${range(0, 20)}&limit=4${cursor ? `&cursor=${enc(cursor)}` : ""}`;
      const page: z.infer<typeof EventPage> = parsed(
        EventPage,
        await unified(user, "GET", `/calendar/events?${q}`),
      );
      assert.ok(page.data.length <= 4);
      seen.push(...page.data.map((e) => e.start + e.title));
      cursor = page.next_cursor;
      pages++;
    } while (cursor && pages < 10);
    assert.equal(seen.length, 16, "4 seeded events and 12 focus blocks");
    assert.equal(new Set(seen).size, 16, "no repeats");
    assert.deepEqual([...seen].sort(), seen, "in start order");
    assert.equal(pages, 4);
  });

  test(`${kind}: get one event by its id`, async () => {
    const list = parsed(EventPage, await unified(user, "GET", `/calendar/events?${range(0, 1)}`));
    const one = parsed(
      Event,
      await unified(user, "GET", `/calendar/events/${enc(list.data[0].id)}`),
    );
    assert.deepEqual(one, list.data[0]);
  });

  test(`${kind}: create an event with attendees and a meeting link; it is listed after`, async () => {
    const start = iso(today() + 30 * DAY + 15 * 3_600_000);
    const end = iso(today() + 30 * DAY + 16 * 3_600_000);
    const created = parsed(
      Event,
      await unified(user, "POST", "/calendar/events", {
        title: "Planning ☕",
        start,
        end,
        location: "Room 1",
        description: "Next quarter",
        attendees: ["pat@example.com"],
        add_meeting_link: true,
      }),
      201,
    );
    assert.equal(created.title, "Planning ☕");
    assert.equal(created.start, start);
    assert.equal(created.end, end);
    assert.equal(created.location, "Room 1");
    assert.deepEqual(created.attendees.map((a) => a.email), ["pat@example.com"]);
    assert.ok(created.meeting_link);
    const state = await apis.state(conn.email);
    assert.ok(state.events.some((e: { title: string }) => e.title === "Planning ☕"));
    const listed = parsed(
      EventPage,
      await unified(user, "GET", `/calendar/events?${range(29, 31)}`),
    );
    assert.deepEqual(listed.data.map((e) => e.id), [created.id]);
  });

  test(`${kind}: free/busy merges busy times and answers the gaps`, async () => {
    const fb = parsed(FreeBusy, await unified(user, "GET", `/calendar/free-busy?${range(1, 2)}`));
    const h = (n: number) => iso(today() + DAY + n * 3_600_000);
    assert.deepEqual(fb.busy.map((b) => [b.start, b.end]), [[h(10), h(11)], [h(12.5), h(13.5)]]);
    assert.ok(fb.busy.every((b) => b.connection_id === conn.id));
    assert.deepEqual(fb.free.map((f) => [f.start, f.end]), [
      [h(0), h(10)],
      [h(11), h(12.5)],
      [h(13.5), h(24)],
    ]);
    assert.deepEqual(fb.connections, [conn.id]);
  });
}
