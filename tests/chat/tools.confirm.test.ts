// Writes that leave the user's account wait for the user: send_draft and
// create_event with attendees end the turn with a pending action
// (confirmation_required), and run only on POST /chat/actions/{id}/confirm,
// once, however often it is confirmed; rejected or expired, they never run.
// What the provider stand-ins sent and created is read from their own record.
import assert from "node:assert/strict";
import { Exchange } from "../../shared/chat/schemas.ts";
import { ActionDecision } from "../../shared/chat/tools/schemas.ts";
import { assertError, parsed } from "../helpers/assert.ts";
import { call, sql, test, type TestUser } from "../helpers/stack.ts";
import { messagesOf, newSession, send } from "./support.ts";
import {
  draftFor,
  MAIL,
  type Provider,
  standIn,
  streamTurn,
  tomorrow,
  toolDirective,
  userWith,
} from "./tools-support.ts";

const decide = (user: TestUser, id: string, what: "confirm" | "reject") =>
  call("POST", `/chat/actions/${id}/${what}`, { token: user.token });

for (const provider of ["google", "microsoft"] as Provider[]) {
  test(`${provider}: send_draft waits for confirmation; confirm sends once, again is the same`, async () => {
    const { user, accounts: [mail] } = await userWith(`tools-confirm-${provider}`, [provider, [
      MAIL(provider),
    ]]);
    const draft = await draftFor(user);
    const s = await newSession(user);
    const res = await send(user, s.id, {
      content: `Send it. ${toolDirective("send_draft", { id: draft.id })}`,
    });
    const body = parsed(Exchange, res, 201);
    const [action] = body.pending_actions!;
    const [held] = body.tool_messages!;
    assert.equal(action.operation, "send_draft");
    assert.equal(action.status, "pending");
    assert.deepEqual(action.arguments, { id: draft.id });
    assert.equal(action.message_id, held.id);
    assert.equal(held.status, "pending");
    assert.match(held.content, /awaiting_user_confirmation/);
    assert.equal(body.assistant_message.status, "completed");
    assert.match(body.assistant_message.content, /confirmation/);
    assert.equal(
      (body.assistant_message.agent_response_data?.tools as { stopped_by: string }).stopped_by,
      "confirmation",
    );
    assert.deepEqual((await standIn(mail.email)).sent, [], "nothing is sent on the agent's word");
    const pending = await call("GET", `/chat/actions/${action.id}`, { token: user.token });
    assert.deepEqual(parsed(ActionDecision, pending, 200).action, action);
    assert.ok(Date.parse(action.expires_at) > Date.now());

    const first = parsed(ActionDecision, await decide(user, action.id, "confirm"), 200);
    assert.equal(first.action.status, "completed");
    assert.ok(first.action.completed_at);
    assert.equal((first.action.result as { status: string }).status, "sent");
    assert.equal(first.message.id, held.id);
    assert.equal(first.message.status, "completed");
    assert.match(first.message.content, /"sent"/);
    const after = await standIn(mail.email);
    assert.equal(after.sent.length, 1);
    assert.equal(after.calls.filter((c) => c.endpoint === "drafts.send").length, 1);

    const again = parsed(ActionDecision, await decide(user, action.id, "confirm"), 200);
    assert.deepEqual(again, first, "a second confirm answers the stored outcome");
    const read = await call("GET", `/chat/actions/${action.id}`, { token: user.token });
    assert.deepEqual(parsed(ActionDecision, read, 200), first);
    assert.equal((await standIn(mail.email)).sent.length, 1, "and sends nothing more");
    assertError(await decide(user, action.id, "reject"), 409, "action_decided");
  });
}

// A Gmail user whose agent asked to send a draft: the action waits.
async function heldSend(label: string) {
  const { user, accounts: [mail] } = await userWith(label, ["google", ["gmail"]]);
  const draft = await draftFor(user);
  const s = await newSession(user);
  const body = parsed(
    Exchange,
    await send(user, s.id, { content: toolDirective("send_draft", { id: draft.id }) }),
    201,
  );
  return { user, mail, session: s, action: body.pending_actions![0] };
}

test("reject: the action never runs, its message says so; rejecting again is the same", async () => {
  const { user, mail, action } = await heldSend("tools-reject");
  const rejected = parsed(ActionDecision, await decide(user, action.id, "reject"), 200);
  assert.equal(rejected.action.status, "rejected");
  assert.equal(rejected.action.completed_at, null);
  assert.equal(rejected.message.status, "failed");
  assert.equal(rejected.message.error_code, "rejected_by_user");
  assert.deepEqual(parsed(ActionDecision, await decide(user, action.id, "reject"), 200), rejected);
  assertError(await decide(user, action.id, "confirm"), 409, "action_decided");
  assert.deepEqual((await standIn(mail.email)).sent, []);
});

test("expired: confirming is 410 and runs nothing; the message is failed", async () => {
  const { user, mail, session: s, action } = await heldSend("tools-expired");
  // Its time passes (the TTL is at least a minute: move the clock, not the test).
  await sql`update public.chat_pending_actions
               set created_at = now() - interval '2 hours', expires_at = now() - interval '1 hour'
             where id = ${action.id}`;
  const res = await decide(user, action.id, "confirm");
  assertError(res, 410, "action_expired");
  const [row] = await sql`select status from public.chat_pending_actions where id = ${action.id}`;
  assert.equal(row.status, "expired");
  const tool = (await messagesOf(s.id)).find((m) => m.role === "tool")!;
  assert.deepEqual([tool.status, tool.error_code], ["failed", "confirmation_expired"]);
  assertError(await decide(user, action.id, "confirm"), 410, "action_expired");
  assertError(await decide(user, action.id, "reject"), 409, "action_decided");
  assert.deepEqual((await standIn(mail.email)).sent, []);
});

test("create_event: with attendees it waits (SSE confirmation_required), without it runs", async () => {
  const { user, accounts: [cal] } = await userWith("tools-event", ["microsoft", ["calendar"]]);
  const s = await newSession(user);
  const { time_min } = tomorrow();
  const at = (h: number) => new Date(Date.parse(time_min) + h * 3_600_000).toISOString();
  const solo = { title: "Focus", start: at(15), end: at(16) };
  const res = await send(user, s.id, { content: toolDirective("create_event", solo) });
  const body = parsed(Exchange, res, 201);
  assert.equal(body.pending_actions, undefined);
  assert.equal(body.tool_messages![0].status, "completed");
  assert.ok((await standIn(cal.email)).events.some((e) => e.title === "Focus"));

  const meeting = { ...solo, title: "Planning", attendees: ["sam.lee@example.com"] };
  const { events, names } = await streamTurn(user, s.id, toolDirective("create_event", meeting));
  assert.deepEqual(names.slice(0, 3), [
    "message.created",
    "tool_call.started",
    "confirmation_required",
  ]);
  assert.equal(names.at(-1), "message.completed");
  const { pending_action: action, tool_message: held } = events[2].data;
  const said = events.filter((e) => e.event === "delta").map((e) => e.data.content).join("");
  assert.match(said, /^Before I create the event "Planning" and invite 1 person/);
  assert.equal(events.at(-1)!.data.assistant_message.content, said);
  assert.equal(action.operation, "create_event");
  assert.equal(held.status, "pending");
  assert.ok(!(await standIn(cal.email)).events.some((e) => e.title === "Planning"));
  const done = parsed(ActionDecision, await decide(user, action.id, "confirm"), 200);
  assert.equal(done.action.status, "completed");
  const planning = (await standIn(cal.email)).events.filter((e) => e.title === "Planning");
  assert.equal(planning.length, 1);
  assert.deepEqual(planning[0].attendees.map((a) => a.email), ["sam.lee@example.com"]);
});

test("a confirmed action whose provider call fails is stored failed with the error", async () => {
  const { user } = await userWith("tools-confirm-fail", ["google", ["gmail"]]);
  const s = await newSession(user);
  const body = parsed(
    Exchange,
    await send(user, s.id, {
      content: toolDirective("send_draft", { id: `${crypto.randomUUID()}:nosuchdraft` }),
    }),
    201,
  );
  const [action] = body.pending_actions!;
  const res = parsed(ActionDecision, await decide(user, action.id, "confirm"), 200);
  assert.equal(res.action.status, "failed");
  assert.ok(res.action.error_code);
  assert.equal(res.message.status, "failed");
  assert.match(res.message.content, /"error"/);
});

test("two confirms at once: the draft is sent once; the other waits or answers the outcome", async () => {
  const { user, mail, action } = await heldSend("tools-confirm-race");
  const answers = await Promise.all([
    decide(user, action.id, "confirm"),
    decide(user, action.id, "confirm"),
  ]);
  const statuses = answers.map((r) => r.status).sort();
  assert.ok(
    JSON.stringify(statuses) === "[200,200]" || JSON.stringify(statuses) === "[200,409]",
    JSON.stringify(answers.map((r) => r.body)),
  );
  for (const r of answers.filter((r) => r.status === 409)) {
    assertError(r, 409, "action_in_progress");
  }
  assert.equal((await standIn(mail.email)).sent.length, 1);
});

test("an Idempotency-Key retry of a tool turn replays its tool messages and actions", async () => {
  const { user, accounts: [mail] } = await userWith("tools-replay", ["google", ["gmail"]]);
  const draft = await draftFor(user);
  const s = await newSession(user);
  const key = crypto.randomUUID();
  const content = toolDirective("send_draft", { id: draft.id });
  const first = parsed(
    Exchange,
    await send(user, s.id, { content }, { "Idempotency-Key": key }),
    201,
  );
  const again = await send(user, s.id, { content }, { "Idempotency-Key": key });
  assert.equal(again.headers.get("idempotent-replayed"), "true");
  assert.deepEqual(parsed(Exchange, again, 201), first);
  const { names } = await streamTurn(user, s.id, content, { "Idempotency-Key": key });
  assert.deepEqual(names, [
    "message.created",
    "confirmation_required",
    "delta",
    "message.completed",
  ]);
  assert.equal((await messagesOf(s.id)).length, 3, "nothing was asked or held twice");
  assert.deepEqual((await standIn(mail.email)).sent, []);
});
