// Wire shapes of the sessions domain. The same schemas validate requests and
// generate the OpenAPI document; a response schema is also its rows' type and
// column list (store.ts).
import { z } from "@hono/zod-openapi";
import { timestamp } from "../db/columns.ts";
import { jsonObjectField } from "../http/json-field.ts";
import { pageQuery } from "../http/pagination.ts";

const jsonObject = z.record(z.string(), z.unknown());

export const SessionStatus = z.enum(["active", "paused", "ended", "archived"])
  .openapi({
    description: "archived sessions are hidden from default lists and read-only for chat",
  });

export const SessionId = z.object({
  id: z.uuid().openapi({ param: { name: "id", in: "path" }, description: "Session id" }),
});

export const Session = z.object({
  id: z.uuid(),
  user_id: z.uuid(),
  title: z.string(),
  status: SessionStatus,
  is_archived: z.boolean(),
  archived_at: timestamp().nullable(),
  agent_type: z.string(),
  agent_config: jsonObject,
  context_data: jsonObject,
  message_count: z.number().int(),
  total_tokens_used: z.number().int(),
  estimated_cost: z.number(),
  last_activity_at: timestamp(),
  created_at: timestamp(),
  updated_at: timestamp(),
}).openapi("Session");
export type Session = z.infer<typeof Session>;

const title = z.string().trim().min(1).max(200);
const agentType = z.string().regex(/^[a-z0-9_-]{1,50}$/, "lowercase letters, digits, _ and -");
const agentConfig = jsonObjectField({
  maxBytes: 64 * 1024,
  description: "Settings for the agent; `temperature` (0 to 2) is passed to it.",
});
const contextData = jsonObjectField({
  maxBytes: 64 * 1024,
  description: "Context the client keeps with the session.",
});

export const CreateSession = z.strictObject({
  title: title.optional(),
  agent_type: agentType.optional(),
  agent_config: agentConfig.optional(),
  context_data: contextData.optional(),
}).openapi("CreateSession");

export const UpdateSession = z.strictObject({
  title: title.optional(),
  status: z.enum(["active", "paused", "ended"]).optional()
    .openapi({ description: "Archive and restore have their own routes." }),
  agent_type: agentType.optional(),
  agent_config: agentConfig.optional(),
  context_data: contextData.optional(),
}).refine((b) => Object.keys(b).length > 0, { message: "give at least one field to change" })
  .openapi("UpdateSession");

export const ListSessionsQuery = z.object({
  status: SessionStatus.optional().openapi({ description: "Only sessions in this status." }),
  include_archived: z.enum(["true", "false"]).default("false")
    .openapi({ description: "Include archived sessions when no status is given." }),
  ...pageQuery,
});

export const SessionPage = z.object({
  data: z.array(Session),
  next_cursor: z.string().nullable(),
}).openapi("SessionPage");

export const Message = z.object({
  id: z.uuid(),
  session_id: z.uuid(),
  message_index: z.number().int(),
  role: z.enum(["user", "assistant", "system", "tool"]),
  content: z.string(),
  content_type: z.string(),
  parent_message_id: z.uuid().nullable(),
  status: z.enum(["pending", "processing", "completed", "failed"]),
  error_code: z.string().nullable(),
  error_message: z.string().nullable(),
  agent_response_data: jsonObject.nullable(),
  processing_time_ms: z.number().int().nullable(),
  prompt_tokens: z.number().int().nullable(),
  completion_tokens: z.number().int().nullable(),
  total_tokens: z.number().int().nullable(),
  estimated_cost: z.number().nullable(),
  has_voice_response: z.boolean(),
  voice_response_url: z.string().nullable(),
  has_avatar_response: z.boolean(),
  avatar_session_id: z.string().nullable(),
  metadata: jsonObject.openapi({ description: "The client's metadata, as sent with the message." }),
  tool_call_id: z.string().nullable().openapi({
    description: "role tool: the id the agent gave the call; its content is the result the " +
      "agent was given. status pending: waiting for the user's confirmation.",
  }),
  tool_name: z.string().nullable().openapi({ description: "role tool: the tool called." }),
  tool_arguments: jsonObject.nullable().openapi({
    description: "role tool: the arguments the agent gave.",
  }),
  tool_round: z.number().int().nullable().openapi({
    description: "role tool: the round of its turn the call was made in (1 first); the calls " +
      "of a round were asked for together. Null for tool messages stored before rounds were " +
      "numbered.",
  }),
  tool_round_content: z.string().nullable().openapi({
    description: "role tool: what the agent said beside the round's calls, on the round's " +
      "first tool message; null otherwise.",
  }),
  created_at: timestamp(),
  updated_at: timestamp(),
}).openapi("Message");
export type Message = z.infer<typeof Message>;

export const ListMessagesQuery = z.object({
  order: z.enum(["asc", "desc"]).default("asc")
    .openapi({ description: "asc: oldest first (reading a conversation); desc: newest first." }),
  ...pageQuery,
});

export const MessagePage = z.object({
  data: z.array(Message),
  next_cursor: z.string().nullable(),
}).openapi("MessagePage");

export const SessionStats = z.object({
  total: z.number().int(),
  by_status: z.object({
    active: z.number().int(),
    paused: z.number().int(),
    ended: z.number().int(),
    archived: z.number().int(),
  }),
  messages: z.number().int(),
  tokens: z.number().int(),
  estimated_cost: z.number(),
  last_activity_at: timestamp().nullable(),
}).openapi("SessionStats");
export type SessionStats = z.infer<typeof SessionStats>;

export type CreateSessionInput = z.infer<typeof CreateSession>;
export type UpdateSessionInput = z.infer<typeof UpdateSession>;
