// SQL of the chat domain. Reads and the user's own message run as the caller
// (RLS decides what exists); the agent's reply and the Idempotency-Key record
// are the service's to write: in the same message after the user's part
// (sendWrites switches the role), or in a service message of their own.
import { ident, idents, join, lit, sql, type SqlText } from "../db/literal.ts";
import type { Message } from "../sessions/schemas.ts";
import { MESSAGES, SESSIONS } from "../sessions/store.ts";
import { HISTORY_COLUMNS } from "./history.ts";
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

// One message of a session, as the user (RLS): a statement for queryAsUser.
export function messageById(sessionId: string, id: string): SqlText {
  return sql`select ${idents(COLUMNS)} from public.messages
              where id = ${lit.uuid(id)} and session_id = ${lit.uuid(sessionId)}`;
}

// Voice and avatar data belong to the agent's replies. A URL or avatar session
// implies its flag; clearing a flag clears its value. Two statements for one
// message (queryAsUser): the update, then the message as it now is, which
// tells a message that is not the agent's (no update, a row) from none.
export function updateVoiceAvatar(
  sessionId: string,
  id: string,
  p: UpdateVoiceAvatarInput,
): SqlText[] {
  const set: Record<string, SqlText> = {};
  if (p.has_voice_response !== undefined) set.has_voice_response = lit.bool(p.has_voice_response);
  if (p.voice_response_url !== undefined) set.voice_response_url = lit.text(p.voice_response_url);
  if (p.voice_response_url) set.has_voice_response = lit.bool(true);
  if (p.has_voice_response === false) set.voice_response_url = lit.text(null);
  if (p.has_avatar_response !== undefined) {
    set.has_avatar_response = lit.bool(p.has_avatar_response);
  }
  if (p.avatar_session_id !== undefined) set.avatar_session_id = lit.text(p.avatar_session_id);
  if (p.avatar_session_id) set.has_avatar_response = lit.bool(true);
  if (p.has_avatar_response === false) set.avatar_session_id = lit.text(null);
  const assignments = join(
    Object.entries(set).map(([column, value]) => sql`${ident(column)} = ${value}`),
    ", ",
  );
  return [
    sql`update public.messages set ${assignments}
         where id = ${lit.uuid(id)} and session_id = ${lit.uuid(sessionId)} and role = 'assistant'
        returning ${idents(COLUMNS)}`,
    messageById(sessionId, id),
  ];
}

// --- one round trip each: what a send reads, then what it writes -------------------

// The newest `limit` messages the agent may be given, newest first
// (history.ts): user and system text, the completed answers, and the tool
// messages of completed turns. The window is the newest rows by
// message_index; a tool message is kept only when its turn's answer is in the
// window too. An answer is stored before its tool messages (a higher
// message_index), so a turn whose answer is in the window has all its tool
// messages there: every round arrives whole. Each turn's tool messages are
// ordered right after (older than) its answer, newest first.
function history(sessionId: string, limit: number): SqlText {
  const columns = idents(HISTORY_COLUMNS.map((c) => `r.${c}`));
  return sql`
    with recent as (
      select m.message_index, ${idents(HISTORY_COLUMNS.map((c) => `m.${c}`))}
        from public.messages m
       where m.session_id = ${lit.uuid(sessionId)}
         and ((m.role in ('user', 'system') and m.content <> '')
              or (m.role = 'assistant' and m.status = 'completed')
              or (m.role = 'tool' and exists (
                    select 1 from public.messages p
                     where p.id = m.parent_message_id and p.role = 'assistant'
                       and p.status = 'completed')))
       order by m.message_index desc
       limit ${lit.int(limit)}
    )
    select ${columns} from recent r
      left join recent answer on r.role = 'tool' and answer.id = r.parent_message_id
     where r.role <> 'tool' or answer.id is not null
     order by coalesce(answer.message_index, r.message_index) desc, r.role = 'tool',
              r.message_index desc`;
}

// The session, the Idempotency-Key's record (when a key is given) and the
// history, as the user: one message. Results in that order.
export function sendReads(sessionId: string, limit: number, key?: string): SqlText[] {
  const reads = [
    sql`select ${idents(SESSIONS.columns)} from public.chat_sessions
         where id = ${lit.uuid(sessionId)}`,
    history(sessionId, limit),
  ];
  if (key !== undefined) {
    reads.push(sql`select request_hash, user_message_id, assistant_message_id
                     from public.idempotency_keys
                    where user_id = (select auth.uid()) and scope = ${lit.text(IDEMPOTENCY_SCOPE)}
                      and key = ${lit.text(key)} and expires_at > now()`);
  }
  return reads;
}

export type SendWrite = {
  userMessageId: string;
  replyId: string;
  sessionId: string;
  userId: string;
  model: string;
  input: SendMessageInput;
  key?: { key: string; hash: string };
};

// The user's message (as the user, under RLS), then the service's turn: the
// pending reply and the key's record. One message, one implicit transaction:
// a key another request holds raises IK409 and nothing is kept. Results:
// [user message], [], [reply], [key record].
export function sendWrites(w: SendWrite): SqlText[] {
  const writes = [
    sql`insert into public.messages
          (id, session_id, role, content, content_type, parent_message_id, metadata)
        values (${lit.uuid(w.userMessageId)}, ${lit.uuid(w.sessionId)}, 'user',
                ${lit.text(w.input.content)}, ${lit.text(w.input.content_type)},
                ${lit.uuid(w.input.parent_message_id ?? null)}, ${
      lit.jsonb(w.input.metadata ?? {})
    })
        returning ${idents(COLUMNS)}`,
    sql`select set_config('role', 'service_role', true),
               set_config('request.jwt.claims', '{"role":"service_role"}', true)`,
    sql`insert into public.messages (id, session_id, user_id, role, content, status,
                                     parent_message_id, agent_response_data)
        values (${lit.uuid(w.replyId)}, ${lit.uuid(w.sessionId)}, ${lit.uuid(w.userId)},
                'assistant', '', 'processing', ${lit.uuid(w.userMessageId)},
                ${lit.jsonb({ requested_model: w.model })})
        returning ${idents(COLUMNS)}`,
  ];
  if (w.key) {
    writes.push(sql`
      with recorded as (
        insert into public.idempotency_keys as k
          (user_id, scope, key, request_hash, session_id, user_message_id, assistant_message_id)
        values (${lit.uuid(w.userId)}, ${lit.text(IDEMPOTENCY_SCOPE)}, ${lit.text(w.key.key)},
                ${lit.text(w.key.hash)}, ${lit.uuid(w.sessionId)}, ${lit.uuid(w.userMessageId)},
                ${lit.uuid(w.replyId)})
        on conflict (user_id, scope, key) do update
           set request_hash = excluded.request_hash, session_id = excluded.session_id,
               user_message_id = excluded.user_message_id,
               assistant_message_id = excluded.assistant_message_id,
               created_at = now(), expires_at = now() + interval '24 hours'
         where k.expires_at <= now()
        returning 1
      )
      select case when exists (select 1 from recorded) then 1
                  else private.idempotency_key_taken() end as recorded`);
  }
  return writes;
}

export function messagesById(ids: string[]): SqlText {
  return sql`select ${idents(COLUMNS)} from public.messages where id = any(${lit.uuidArray(ids)})`;
}

// --- the service's turn -------------------------------------------------------------

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
