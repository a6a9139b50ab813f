// SQL of tool calling. A round's tool messages and pending actions are the
// chat service's to write (one service message per round); deciding an action
// is the user's, under RLS, and its outcome the service's again.
import { table } from "../../db/columns.ts";
import { idents, join, lit, sql, type SqlText } from "../../db/literal.ts";
import type { Message } from "../../sessions/schemas.ts";
import { MESSAGES } from "../../sessions/store.ts";
import { PendingAction } from "./schemas.ts";

export const ACTIONS = table("public.chat_pending_actions", PendingAction);

// A call id as stored: the agent's own when it fits the column's pattern.
export function storableCallId(id: string): string {
  const clean = id.replace(/[^A-Za-z0-9_.:-]/g, "_").slice(0, 128);
  return clean || "call";
}

export type ToolMessageRow = {
  id: string;
  callId: string;
  name: string;
  args: Record<string, unknown>;
  content: string;
  status: Message["status"];
  errorCode: string | null;
  errorMessage: string | null;
  ms: number | null;
  // Which round of the turn, and what the agent said beside the round's calls
  // (given on the round's first row only): what the history rebuilds the
  // round's assistant message from (history.ts).
  round: number;
  roundContent: string | null;
};

export type ActionRow = {
  id: string;
  messageId: string;
  operation: PendingAction["operation"];
  input: Record<string, unknown>;
  expiresAt: Date;
};

// One round's tool messages (children of the turn's reply) and the actions
// held for confirmation. Results: [tool messages], [actions] (when any).
export function toolRoundWrites(
  w: { sessionId: string; userId: string; replyId: string },
  rows: ToolMessageRow[],
  actions: ActionRow[],
): SqlText[] {
  const values = rows.map((r) =>
    sql`(${lit.uuid(r.id)}, ${lit.uuid(w.sessionId)}, ${lit.uuid(w.userId)}, 'tool',
         ${lit.text(r.content)}, ${lit.text(r.status)}, ${lit.uuid(w.replyId)},
         ${lit.text(storableCallId(r.callId))}, ${lit.text(r.name)}, ${lit.jsonb(r.args)},
         ${lit.text(r.errorCode)}, ${lit.text(r.errorMessage?.slice(0, 2000) ?? null)},
         ${lit.int(r.ms)}, ${lit.int(r.round)}, ${lit.text(r.roundContent)})`
  );
  const statements = [
    sql`insert into public.messages (id, session_id, user_id, role, content, status,
          parent_message_id, tool_call_id, tool_name, tool_arguments, error_code, error_message,
          processing_time_ms, tool_round, tool_round_content)
        values ${join(values, ", ")}
        returning ${idents(MESSAGES.columns)}`,
  ];
  if (actions.length) {
    const held = actions.map((a) =>
      sql`(${lit.uuid(a.id)}, ${lit.uuid(w.userId)}, ${lit.uuid(w.sessionId)},
           ${lit.uuid(a.messageId)}, ${lit.text(a.operation)}, ${lit.jsonb(a.input)},
           ${lit.timestamptz(a.expiresAt)})`
    );
    statements.push(sql`
      insert into public.chat_pending_actions
        (id, user_id, session_id, message_id, operation, arguments, expires_at)
      values ${join(held, ", ")}
      returning ${idents(ACTIONS.columns)}`);
  }
  return statements;
}

// A turn's tool messages (children of its reply) and their actions, as the
// user: what an idempotent replay answers beside the two messages.
export function toolsOfReply(replyId: string): SqlText[] {
  return [
    sql`select ${idents(MESSAGES.columns)} from public.messages
         where parent_message_id = ${lit.uuid(replyId)} and role = 'tool'
         order by message_index`,
    sql`select ${idents(ACTIONS.columns)} from public.chat_pending_actions
         where message_id in (select id from public.messages
                               where parent_message_id = ${lit.uuid(replyId)} and role = 'tool')
         order by created_at, id`,
  ];
}

// --- deciding, as the user (RLS: another user's action is not there) -------------

// Each statement of a message sees what the ones before it committed (READ
// COMMITTED takes a snapshot per statement), so the reads after the decision
// show the row as it is now, even when a concurrent request decided it first.
// Results: [the action, if this request decided it], [the action now], [its message].
function decide(id: string, set: SqlText, when: SqlText): SqlText[] {
  return [
    sql`update public.chat_pending_actions set ${set}
         where id = ${lit.uuid(id)} and status = 'pending' and ${when}
        returning ${idents(ACTIONS.columns)}`,
    ...current(id),
  ];
}

// The action and its tool message as they are now. Results: [action], [message].
export function current(id: string): SqlText[] {
  return [
    sql`select ${idents(ACTIONS.columns)} from public.chat_pending_actions
         where id = ${lit.uuid(id)}`,
    sql`select ${idents(MESSAGES.columns)} from public.messages
         where id = (select message_id from public.chat_pending_actions where id = ${
      lit.uuid(id)
    })`,
  ];
}

// Confirm: pending and unexpired becomes running; this request then runs it.
export function claimAction(id: string): SqlText[] {
  return decide(id, sql`status = 'running', decided_at = now()`, sql`expires_at > now()`);
}

// Reject: pending becomes rejected, expired or not (rejecting runs nothing).
export function rejectAction(id: string): SqlText[] {
  return decide(id, sql`status = 'rejected', decided_at = now()`, sql`true`);
}

// --- the outcome, as the service -----------------------------------------------------

export type ActionOutcome = {
  status: "completed" | "failed" | "rejected" | "expired";
  result: unknown;
  errorCode: string | null;
  errorMessage: string | null;
  // What the tool message says from now on (the result or the reason).
  content: string;
};

// Records the outcome on the action, only from the states given (a request
// never overwrites another's outcome), and settles its message once the action
// has that outcome (the message leaves 'pending' once). Results: [the action,
// if changed], [the message, if changed], [], [the action now], [its message now].
export function settleAction(
  id: string,
  o: ActionOutcome,
  from: PendingAction["status"][],
): SqlText[] {
  const finished = o.status === "completed" || o.status === "failed";
  const messageStatus = o.status === "completed" ? "completed" : "failed";
  const action = sql`(select message_id from public.chat_pending_actions where id = ${
    lit.uuid(id)
  } and status = ${lit.text(o.status)})`;
  return [
    sql`update public.chat_pending_actions
           set ${
      join([
        sql`status = ${lit.text(o.status)}`,
        sql`result = ${lit.jsonb(o.result ?? null)}`,
        sql`error_code = ${lit.text(o.errorCode)}`,
        sql`error_message = ${lit.text(o.errorMessage?.slice(0, 2000) ?? null)}`,
        sql`decided_at = coalesce(decided_at, now())`,
        finished ? sql`completed_at = now()` : sql`completed_at = null`,
      ], ", ")
    }
         where id = ${lit.uuid(id)} and status = any(${lit.textArray(from)})
        returning ${idents(ACTIONS.columns)}`,
    sql`update public.messages
           set status = ${lit.text(messageStatus)}, content = ${lit.text(o.content)},
               error_code = ${lit.text(o.errorCode)},
               error_message = ${lit.text(o.errorMessage?.slice(0, 2000) ?? null)}
         where id = ${action} and status = 'pending'
        returning ${idents(MESSAGES.columns)}`,
    sql`update public.chat_sessions set last_activity_at = now()
         where id = (select session_id from public.chat_pending_actions where id = ${
      lit.uuid(id)
    })`,
    ...current(id),
  ];
}
