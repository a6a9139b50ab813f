// SQL of the chat domain. Reads and the user's own message run as the caller
// (RLS decides what exists); the agent's reply and the Idempotency-Key record
// are the service's to write, in the same transaction after the user's part
// (see serviceTurn) or in a service transaction of their own.
import type postgres from "postgres";
import type { Tx } from "../db/client.ts";
import { idents, join, lit, sql, type SqlText } from "../db/literal.ts";
import type { Message } from "../sessions/schemas.ts";
import { MESSAGES } from "../sessions/store.ts";
import type { HistoryRow } from "./history.ts";
import { IDEMPOTENCY_SCOPE } from "./idempotency.ts";
import type { SendMessageInput, UpdateVoiceAvatarInput } from "./schemas.ts";

// A message is the sessions domain's row, selected as its schema declares it.
const COLUMNS = MESSAGES.columns;

// --- as the user ------------------------------------------------------------------

export type KeyRow = {
  request_hash: string;
  user_message_id: string;
  assistant_message_id: string;
};

export async function findIdempotencyKey(tx: Tx, key: string): Promise<KeyRow | undefined> {
  const [row] = await tx<KeyRow[]>`
    select request_hash, user_message_id, assistant_message_id
      from public.idempotency_keys
     where user_id = (select auth.uid()) and scope = ${IDEMPOTENCY_SCOPE} and key = ${key}
       and expires_at > now()`;
  return row;
}

// The session's latest messages worth sending, newest first: the user's words,
// system notes, and completed replies (a failed reply's fragment would mislead).
export async function recentHistory(tx: Tx, sessionId: string, limit: number) {
  if (limit === 0) return [] as HistoryRow[];
  return await tx<HistoryRow[]>`
    select role, content from public.messages
     where session_id = ${sessionId} and content <> ''
       and (role in ('user', 'system') or (role = 'assistant' and status = 'completed'))
     order by message_index desc
     limit ${limit}`;
}

export async function insertUserMessage(
  tx: Tx,
  id: string,
  sessionId: string,
  input: SendMessageInput,
): Promise<Message> {
  const [row] = await tx<Message[]>`
    insert into public.messages (id, session_id, role, content, content_type, parent_message_id, metadata)
    values (${id}, ${sessionId}, 'user', ${input.content}, ${input.content_type},
            ${input.parent_message_id ?? null}, ${
    tx.json((input.metadata ?? {}) as postgres.JSONValue)
  })
    returning ${tx(COLUMNS)}`;
  return row;
}

export async function getMessage(
  tx: Tx,
  sessionId: string,
  id: string,
): Promise<Message | undefined> {
  const [row] = await tx<Message[]>`
    select ${tx(COLUMNS)} from public.messages where id = ${id} and session_id = ${sessionId}`;
  return row;
}

export async function getMessagesById(tx: Tx, ids: string[]): Promise<Message[]> {
  return await tx<Message[]>`
    select ${tx(COLUMNS)} from public.messages where id = any(${ids}::uuid[])`;
}

// Voice and avatar data belong to the agent's replies. A URL or avatar session
// implies its flag; clearing a flag clears its value.
export async function updateVoiceAvatar(
  tx: Tx,
  sessionId: string,
  id: string,
  p: UpdateVoiceAvatarInput,
): Promise<{ message: Message; updated: boolean } | undefined> {
  const set: Record<string, boolean | string | null> = {};
  if (p.has_voice_response !== undefined) set.has_voice_response = p.has_voice_response;
  if (p.voice_response_url !== undefined) set.voice_response_url = p.voice_response_url;
  if (p.voice_response_url) set.has_voice_response = true;
  if (p.has_voice_response === false) set.voice_response_url = null;
  if (p.has_avatar_response !== undefined) set.has_avatar_response = p.has_avatar_response;
  if (p.avatar_session_id !== undefined) set.avatar_session_id = p.avatar_session_id;
  if (p.avatar_session_id) set.has_avatar_response = true;
  if (p.has_avatar_response === false) set.avatar_session_id = null;
  const [row] = await tx<Message[]>`
    update public.messages set ${tx(set, Object.keys(set))}
     where id = ${id} and session_id = ${sessionId} and role = 'assistant'
    returning ${tx(COLUMNS)}`;
  if (row) return { message: row, updated: true };
  const current = await getMessage(tx, sessionId, id);
  return current && { message: current, updated: false };
}

// --- the service's turn -------------------------------------------------------------

// Ends the user's part of a transaction: from here on it acts as service_role
// without the user's claims. Only after RLS has accepted what the user may do.
export async function serviceTurn(tx: Tx): Promise<void> {
  await tx`select set_config('role', 'service_role', true),
                  set_config('request.jwt.claims', ${
    JSON.stringify({ role: "service_role" })
  }, true)`;
}

// The agent's reply, created empty and 'processing' next to the user's message.
export async function insertPendingReply(
  tx: Tx,
  r: { id: string; sessionId: string; userId: string; parentId: string; model: string },
): Promise<Message> {
  const [row] = await tx<Message[]>`
    insert into public.messages (id, session_id, user_id, role, content, status, parent_message_id, agent_response_data)
    values (${r.id}, ${r.sessionId}, ${r.userId}, 'assistant', '', 'processing', ${r.parentId},
            ${tx.json({ requested_model: r.model })})
    returning ${tx(COLUMNS)}`;
  return row;
}

// Records the key, or takes over an expired one. False when a live key exists:
// a concurrent request with the same key got there first.
export async function recordIdempotencyKey(
  tx: Tx,
  k: {
    userId: string;
    key: string;
    hash: string;
    sessionId: string;
    userMessageId: string;
    assistantMessageId: string;
  },
): Promise<boolean> {
  const rows = await tx`
    insert into public.idempotency_keys as k
      (user_id, scope, key, request_hash, session_id, user_message_id, assistant_message_id)
    values (${k.userId}, ${IDEMPOTENCY_SCOPE}, ${k.key}, ${k.hash}, ${k.sessionId},
            ${k.userMessageId}, ${k.assistantMessageId})
    on conflict (user_id, scope, key) do update
       set request_hash = excluded.request_hash, session_id = excluded.session_id,
           user_message_id = excluded.user_message_id,
           assistant_message_id = excluded.assistant_message_id,
           created_at = now(), expires_at = now() + interval '24 hours'
     where k.expires_at <= now()
    returning 1`;
  return rows.length === 1;
}

// What settling writes: message fields, typed as the schema declares them
// (narrowed where a settled reply is narrower), written as given.
export type ReplyOutcome =
  & Pick<
    Message,
    | "content"
    | "error_code"
    | "error_message"
    | "prompt_tokens"
    | "completion_tokens"
    | "total_tokens"
    | "estimated_cost"
  >
  & {
    status: "completed" | "failed";
    processing_time_ms: number;
    agent_response_data: Record<string, unknown>;
  };

// Settles a reply that is still processing (the maintenance sweep may have
// settled it already: then nothing changes and the stored row is returned),
// and marks the session active: two statements sent as one message, one
// round trip, as the service. Usage reaches the session totals through the
// messages_after_usage trigger.
export function settleReply(id: string, sessionId: string, o: ReplyOutcome): SqlText[] {
  const set = join([
    sql`content = ${lit.text(o.content)}`,
    sql`status = ${lit.text(o.status)}`,
    sql`error_code = ${lit.text(o.error_code)}`,
    sql`error_message = ${lit.text(o.error_message)}`,
    sql`prompt_tokens = ${lit.int(o.prompt_tokens)}`,
    sql`completion_tokens = ${lit.int(o.completion_tokens)}`,
    sql`total_tokens = ${lit.int(o.total_tokens)}`,
    sql`estimated_cost = ${lit.numeric(o.estimated_cost)}`,
    sql`processing_time_ms = ${lit.int(o.processing_time_ms)}`,
    sql`agent_response_data = ${lit.jsonb(o.agent_response_data)}`,
  ], ", ");
  return [
    sql`with settled as (
          update public.messages set ${set}
           where id = ${lit.uuid(id)} and status = 'processing'
          returning ${idents(COLUMNS)}
        )
        select * from settled
        union all
        select ${idents(COLUMNS)} from public.messages
         where id = ${lit.uuid(id)} and not exists (select 1 from settled)`,
    sql`update public.chat_sessions set last_activity_at = now() where id = ${lit.uuid(sessionId)}`,
  ];
}
