// Mail routes on each provider: search and list (words, label/folder, time
// range, pages), read (headers, text body, attachments), drafts and sending.
import assert from "node:assert/strict";
import type { z } from "zod";
import { Draft, Mail, MailPage, SentDraft } from "../../shared/unified/schemas.ts";
import { parsed } from "../helpers/assert.ts";
import { test } from "../helpers/stack.ts";
import { apis, enc, iso, KINDS, unified, userWith } from "./support.ts";

const HOUR = 3_600_000;

for (const kind of KINDS) {
  const { user, conn } = await userWith(`mail-${kind}`, kind);
  const search = async (q: string) =>
    parsed(MailPage, await unified(user, "GET", `/mail/messages?${q}`));

  test(`${kind}: the newest mail first, with from, to, cc, subject and snippet`, async () => {
    const page = await search("limit=4");
    assert.deepEqual(page.data.map((m) => m.subject), [
      "Quarterly report",
      "Re: Lunch tomorrow?",
      "Lunch tomorrow?",
      "Urgent: action required",
    ]);
    const report = page.data[0];
    assert.equal(report.provider, kind);
    assert.equal(report.connection_id, conn.id);
    assert.ok(report.id.startsWith(`${conn.id}:`));
    assert.deepEqual(report.from, { email: "alex.kim@example.com", name: "Alex Kim" });
    assert.deepEqual(report.to.map((p) => p.email), [conn.email]);
    assert.deepEqual(report.cc.map((p) => p.email), ["sam.lee@example.com"]);
    assert.match(report.snippet, /quarterly report is attached/);
    assert.ok(report.unread);
    assert.ok(report.has_attachments);
    assert.ok(page.next_cursor);
  });

  test(`${kind}: words find the matching mail`, async () => {
    const page = await search("query=invoice");
    assert.deepEqual(page.data.map((m) => m.subject), ["Your invoice"]);
  });

  test(`${kind}: the inbox label leaves sent mail out`, async () => {
    const all = await search("label=inbox&limit=50");
    assert.equal(all.data.length, 14);
    assert.ok(!all.data.some((m) => m.subject === "Re: Lunch tomorrow?"));
    const sent = await search("label=sent");
    assert.deepEqual(sent.data.map((m) => m.subject), ["Re: Lunch tomorrow?"]);
  });

  test(`${kind}: a time range, alone and with words`, async () => {
    const after = iso(Date.now() - 6 * HOUR), before = iso(Date.now() - 3 * HOUR);
    const page = await search(`after=${enc(after)}&before=${enc(before)}`);
    assert.deepEqual(page.data.map((m) => m.subject), ["Re: Lunch tomorrow?", "Lunch tomorrow?"]);
    const words = await search(`query=lunch&after=${enc(iso(Date.now() - 4.5 * HOUR))}`);
    assert.deepEqual(words.data.map((m) => m.subject), ["Re: Lunch tomorrow?"]);
  });

  test(`${kind}: cursor pages cover the mailbox once, newest first`, async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let i = 0; i < 10; i++) {
      const q: string = `limit=6${cursor ? `&cursor=${enc(cursor)}` : ""}`;
      const page: z.infer<typeof MailPage> = await search(q);
      seen.push(...page.data.map((m) => m.received_at + m.subject));
      cursor = page.next_cursor;
      if (!cursor) break;
    }
    assert.equal(cursor, null);
    assert.equal(seen.length, 15);
    assert.equal(new Set(seen).size, 15);
    assert.deepEqual([...seen].sort().reverse(), seen);
  });

  test(`${kind}: read one mail: text body and attachment metadata`, async () => {
    const [report] = (await search("query=quarterly")).data;
    const mail = parsed(Mail, await unified(user, "GET", `/mail/messages/${enc(report.id)}`));
    assert.equal(mail.subject, "Quarterly report");
    assert.equal(
      mail.body_text,
      "Hi,\n\nthe quarterly report is attached. Numbers look good.\n\nAlex",
    );
    assert.deepEqual(
      mail.attachments.map((a) => [a.filename, a.mime_type, a.size]),
      [["Q3-report.pdf", "application/pdf", 48213]],
    );
    assert.ok(mail.message_id_header?.startsWith("<"));
    assert.equal(mail.thread_id?.startsWith(`${conn.id}:`), true);
  });

  test(`${kind}: a draft is written, not sent, until it is sent`, async () => {
    const draft = parsed(
      Draft,
      await unified(user, "POST", "/mail/drafts", {
        to: ["pat@example.com"],
        cc: ["lee@example.com"],
        subject: "Grüße aus Berlin",
        body_text: "Hallo Pat,\n\nbis morgen! ☀️",
      }),
      201,
    );
    assert.equal(draft.connection_id, conn.id);
    assert.deepEqual(draft.to, ["pat@example.com"]);
    let state = await apis.state(conn.email);
    assert.equal(state.sent.length, 0, "nothing sent by a draft");
    const stored = state.messages.find((m: { subject: string }) =>
      m.subject === "Grüße aus Berlin"
    );
    assert.ok(stored, "the draft is in the mailbox");
    assert.equal(stored.text, "Hallo Pat,\n\nbis morgen! ☀️");
    assert.deepEqual(stored.cc.map((p: { email: string }) => p.email), ["lee@example.com"]);

    const sent = parsed(
      SentDraft,
      await unified(user, "POST", `/mail/drafts/${enc(draft.id)}/send`),
    );
    assert.equal(sent.status, "sent");
    assert.equal(sent.draft_id, draft.id);
    state = await apis.state(conn.email);
    assert.deepEqual(state.sent.map((s: { subject: string }) => s.subject), ["Grüße aus Berlin"]);
  });
}

test("microsoft: ids with '/', '+' and '=' (as Graph's may have) travel encoded both ways", async () => {
  const { user, conn } = await userWith("mail-odd-ids", "microsoft");
  await apis.seed(conn.email, {
    messages: [{ id: "Ab/Cd+Ef", subject: "Odd id", text: "It still reads." }],
  });
  const page = parsed(MailPage, await unified(user, "GET", "/mail/messages"));
  assert.deepEqual(page.data.map((m) => m.id), [`${conn.id}:AAMkADAb/Cd+EfAAA=`]);
  const mail = parsed(Mail, await unified(user, "GET", `/mail/messages/${enc(page.data[0].id)}`));
  assert.equal(mail.body_text, "It still reads.");
});
