// Wire shapes of the chat domain. The same schemas validate requests and
// generate the OpenAPI document.
import { z } from "@hono/zod-openapi";
import { jsonObjectField } from "../http/json-field.ts";
import { errorResponsesWith } from "../http/openapi.ts";
import { httpUrl } from "../http/url.ts";
import { Message } from "../sessions/schemas.ts";
import { IDEMPOTENCY_KEY } from "./idempotency.ts";
import { PendingAction } from "./tools/schemas.ts";

export const MAX_CONTENT_CHARS = 32_000;
const MAX_METADATA_BYTES = 16 * 1024;

// Postgres text and jsonb cannot hold NUL; refuse it as input instead of failing in SQL.
const noNul = (s: string) => !s.includes("\u0000");

// The database checks that a json message parses (messages_json_content_is_json);
// its parser gives up near 12000 levels of nesting, JSON.parse does not. A
// limit well below keeps every message the API accepts storable.
export const MAX_JSON_DEPTH = 1000;

// How deeply valid JSON text nests arrays and objects.
export function jsonDepth(json: string): number {
  let depth = 0, max = 0, inString = false;
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "[" || c === "{") max = Math.max(max, ++depth);
    else if (c === "]" || c === "}") depth--;
  }
  return max;
}

// A chat message is a session's message, metadata included.
export const ChatMessage = Message;

export const SessionParam = z.object({
  sessionId: z.uuid().openapi({
    param: { name: "sessionId", in: "path" },
    description: "Session id",
  }),
});

export const MessageParams = z.object({
  sessionId: z.uuid().openapi({
    param: { name: "sessionId", in: "path" },
    description: "Session id",
  }),
  id: z.uuid().openapi({ param: { name: "id", in: "path" }, description: "Message id" }),
});

export const SendHeaders = z.object({
  "idempotency-key": z.string()
    .regex(IDEMPOTENCY_KEY, "1 to 255 printable ASCII characters without spaces")
    .optional()
    .openapi({
      param: { in: "header" },
      description: "Makes retries safe for 24 h: the same key and body return the first " +
        "result (409 while it is still running); the same key with another body is 422.",
      example: "3f0c8d0e-5b1a-4a8e-9f59-2d1c6c3a7b10",
    }),
});

export const SendMessage = z.strictObject({
  content: z.string().max(MAX_CONTENT_CHARS)
    .refine((s) => s.trim().length > 0, "must not be blank")
    .refine(noNul, "must not contain NUL characters")
    .openapi({ description: `What the user says, at most ${MAX_CONTENT_CHARS} characters.` }),
  content_type: z.enum(["text", "markdown", "json", "voice"]).default("text")
    .openapi({
      description: "voice: content is the transcript; json: content must parse as JSON " +
        `(nested at most ${MAX_JSON_DEPTH} levels).`,
    }),
  parent_message_id: z.uuid().optional()
    .openapi({ description: "A message of the same session this one answers." }),
  metadata: jsonObjectField({
    maxBytes: MAX_METADATA_BYTES,
    description: "Client data kept with the message; never sent to the agent.",
  }).optional(),
}).superRefine((body, ctx) => {
  if (body.content_type !== "json") return;
  try {
    JSON.parse(body.content);
  } catch {
    ctx.addIssue({
      code: "custom",
      path: ["content"],
      message: "is not valid JSON (content_type json)",
    });
    return;
  }
  if (jsonDepth(body.content) > MAX_JSON_DEPTH) {
    ctx.addIssue({
      code: "custom",
      path: ["content"],
      message: `nests JSON deeper than ${MAX_JSON_DEPTH} levels`,
    });
  }
}).openapi("SendMessage");

export const Exchange = z.object({
  user_message: ChatMessage,
  assistant_message: ChatMessage,
  tool_messages: z.array(ChatMessage).optional().openapi({
    description: "The tool calls of this turn and their results (role tool), in order; " +
      "present when the agent called tools.",
  }),
  pending_actions: z.array(PendingAction).optional().openapi({
    description: "Writes that wait for the user's confirmation (POST /chat/actions/{id}/confirm " +
      "or /reject); present when the turn ended asking for one.",
  }),
}).openapi("ChatExchange");

const avatarSessionId = z.string().regex(
  /^[A-Za-z0-9._:-]{1,200}$/,
  "1 to 200 letters, digits, '.', '_', ':' or '-'",
);

export const UpdateVoiceAvatar = z.strictObject({
  has_voice_response: z.boolean().optional(),
  voice_response_url: httpUrl().refine(noNul).nullable().optional()
    .openapi({
      description: "http(s) URL of the spoken reply; setting one implies has_voice_response.",
    }),
  has_avatar_response: z.boolean().optional(),
  avatar_session_id: avatarSessionId.nullable().optional()
    .openapi({
      description: "The streaming avatar's session id; setting one implies has_avatar_response.",
    }),
})
  .refine((b) => Object.keys(b).length > 0, { message: "give at least one field to change" })
  .refine((b) => !(b.has_voice_response === false && b.voice_response_url), {
    path: ["voice_response_url"],
    message: "cannot be set while has_voice_response is false",
  })
  .refine((b) => !(b.has_avatar_response === false && b.avatar_session_id), {
    path: ["avatar_session_id"],
    message: "cannot be set while has_avatar_response is false",
  })
  .openapi("UpdateVoiceAvatar");

export const HeygenToken = z.object({
  token: z.string().openapi({
    description: "A short-lived HeyGen streaming-avatar session token.",
  }),
}).openapi("HeygenToken");

export type SendMessageInput = z.infer<typeof SendMessage>;
export type UpdateVoiceAvatarInput = z.infer<typeof UpdateVoiceAvatar>;

// Error responses this domain documents, with the codes each status carries.
const ERRORS: Record<number, string> = {
  400: "Invalid input (validation_failed)",
  401: "Missing, invalid or expired token (unauthorized)",
  404: "No such session or message for this caller (not_found)",
  403: "The API key lacks the route's scope (insufficient_scope)",
  409: "The session is archived or ended (session_closed); a request with this Idempotency-Key " +
    "is still running (idempotency_in_progress); the message is not the agent's (conflict); " +
    "the action was already decided (action_decided) or is running (action_in_progress)",
  410: "The action expired before it was confirmed; nothing was done (action_expired)",
  413: "Body over 1 MiB (payload_too_large)",
  422: "The Idempotency-Key was used with another request (idempotency_mismatch)",
  429: "Too many requests (rate_limited)",
  502: "The agent failed or broke off (agent_error); HeyGen failed (heygen_error). " +
    "Your message and any partial reply are stored; details name them.",
  503: "No agent configured, or the agent is rate limited or unreachable (agent_unavailable); " +
    "HeyGen is not configured or unavailable (service_unavailable)",
  504: "The agent did not answer in time (agent_timeout)",
};

export const chatErrors = errorResponsesWith(ERRORS);
