// What the tool-calling tests share: a pending action held the way the chat
// service holds one (a tool message of the turn's reply and its action row,
// written as service_role) for suites that need one to exist, reading the
// SSE events of a tool turn, and the local agent's tool directives.
import { sql, type TestUser } from "../helpers/stack.ts";

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
