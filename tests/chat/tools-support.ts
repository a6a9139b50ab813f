// What the tool-calling tests share: a pending action held the way the chat
// service holds one (a tool message of the turn's reply and its action row,
// written as service_role) for suites that need one to exist, reading the
// SSE events of a tool turn, and the local agent's tool directives.
import assert from "node:assert/strict";
import { call, createUser, sql, type TestUser } from "../helpers/stack.ts";
import { connect, PROVIDER_URL } from "../oauth/flow.ts";
import { readEvents, sendStream } from "./support.ts";

// The directive that makes the local agent call a tool in its next round.
export const toolDirective = (name: string, args: Record<string, unknown> = {}) =>
  `[[tool:${name} ${JSON.stringify(args)}]]`;

// A send_draft held for confirmation in the user's session, as
// shared/chat/tools/store.ts writes it (same statements' shape, as the
// service): the tool message under the reply, then the action.
export async function heldAction(
  user: TestUser,
  sessionId: string,
  o: { expiresInMs?: number; draftId?: string } = {},
): Promise<{ actionId: string; messageId: string }> {
  const messageId = crypto.randomUUID();
  const actionId = crypto.randomUUID();
  const expires = new Date(Date.now() + (o.expiresInMs ?? 15 * 60_000));
  const created = new Date(Math.min(Date.now(), expires.getTime() - 60_000));
  const args = { id: o.draftId ?? "draft-fixture" };
  await sql.begin(async (tx) => {
    await tx`select set_config('role', 'service_role', true)`;
    await tx`insert into public.messages (id, session_id, user_id, role, content, status,
                tool_call_id, tool_name, tool_arguments)
              values (${messageId}, ${sessionId}, ${user.id}, 'tool',
                      '{"status":"awaiting_user_confirmation"}', 'pending',
                      ${`call_${actionId.slice(0, 8)}`}, 'send_draft', ${tx.json(args)})`;
    await tx`insert into public.chat_pending_actions
                (id, user_id, session_id, message_id, operation, arguments, created_at, expires_at)
              values (${actionId}, ${user.id}, ${sessionId}, ${messageId}, 'send_draft',
                      ${tx.json(args)}, ${created}, ${expires})`;
  });
  return { actionId, messageId };
}

// --- users with connected accounts at the provider API stand-ins -------------------------

export type Provider = "google" | "microsoft";

// A user with one connection per entry: provider and services (Google:
// calendar, gmail; Microsoft: calendar, outlook), each its own account.
export async function userWith(label: string, ...connections: [Provider, string[]][]) {
  const user = await createUser(label);
  const accounts: { id: string; email: string; provider: Provider }[] = [];
  for (const [provider, services] of connections) {
    const c = await connect(user, { provider, services });
    accounts.push({ id: c.token.id, email: c.email, provider });
  }
  return { user, accounts };
}

export const MAIL = (p: Provider) => (p === "google" ? "gmail" : "outlook");

// The stand-in's own record of an account: its data, the calls its tokens
// made, what it sent.
export type StandIn = {
  events: { title: string; attendees: { email: string }[] }[];
  messages: { subject: string }[];
  drafts: { id: string }[];
  calls: { endpoint: string; status: number }[];
  sent: { messageId: string; to: string[]; subject: string }[];
};

export async function standIn(email: string): Promise<StandIn> {
  const res = await fetch(`${PROVIDER_URL}/_control/apis/accounts/${encodeURIComponent(email)}`);
  assert.equal(res.status, 200);
  return await res.json();
}

export async function seedMail(email: string, messages: Record<string, unknown>[]) {
  const res = await fetch(
    `${PROVIDER_URL}/_control/apis/accounts/${encodeURIComponent(email)}/seed`,
    {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ messages, append: true }),
    },
  );
  assert.equal(res.status, 200, await res.clone().text());
  return await res.json();
}

export async function armFault(account: string, endpoint: string, mode: string, extra = {}) {
  const res = await fetch(`${PROVIDER_URL}/_control/apis/faults`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ account, endpoint, mode, ...extra }),
  });
  assert.equal(res.status, 200, await res.text());
}

// A draft made through the unified API, as a client (or an earlier turn) would.
export async function draftFor(user: TestUser, to = "friend@example.com") {
  const res = await call("POST", "/unified/mail/drafts", {
    token: user.token,
    body: { to: [to], subject: "Hello", body_text: "See you soon." },
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body as { id: string };
}

// The unified id of the newest mail whose subject has these words.
export async function mailId(user: TestUser, query: string): Promise<string> {
  const res = await call("GET", `/unified/mail/messages?query=${encodeURIComponent(query)}`, {
    token: user.token,
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.ok(res.body.data.length > 0, `no mail matches ${query}`);
  return res.body.data[0].id;
}

// Tomorrow, midnight to midnight UTC: the stand-ins seed "Design review" and
// "Lunch with Sam" there.
export function tomorrow() {
  const day = 86_400_000;
  const start = Math.floor(Date.now() / day) * day + day;
  const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
  return { time_min: iso(start), time_max: iso(start + day) };
}

// A turn sent as SSE and read to its end: the events and their names.
export async function streamTurn(
  user: TestUser,
  sessionId: string,
  content: string,
  headers: Record<string, string> = {},
) {
  const res = await sendStream(user, sessionId, { content }, headers);
  assert.equal(res.status, 200);
  const events = await readEvents(res);
  return { events, names: events.map((e) => e.event) };
}
