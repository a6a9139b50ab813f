// Wire shapes of tool calling: a pending action (a write waiting for the
// user's confirmation) and the answers of its routes. The schema is also the
// row's type and column list (store.ts).
import { z } from "@hono/zod-openapi";
import { timestamp } from "../../db/columns.ts";
import { Message } from "../../sessions/schemas.ts";

const jsonObject = z.record(z.string(), z.unknown());

export const PendingActionStatus = z.enum([
  "pending",
  "running",
  "completed",
  "failed",
  "rejected",
  "expired",
]).openapi({
  description: "pending: waiting for the user; running: confirmed, being done; completed / " +
    "failed: done, with its result or error; rejected: the user said no; expired: nobody " +
    "decided before expires_at. Only pending can be decided.",
});

export const PendingAction = z.object({
  id: z.uuid(),
  user_id: z.uuid(),
  session_id: z.uuid(),
  message_id: z.uuid().openapi({ description: "The tool message that records the call." }),
  operation: z.enum(["send_draft", "create_event"]),
  arguments: jsonObject.openapi({ description: "The input the operation will run with." }),
  status: PendingActionStatus,
  result: z.unknown().nullable().openapi({ description: "The operation's result when completed." }),
  error_code: z.string().nullable(),
  error_message: z.string().nullable(),
  expires_at: timestamp(),
  decided_at: timestamp().nullable(),
  completed_at: timestamp().nullable(),
  created_at: timestamp(),
  updated_at: timestamp(),
}).openapi("PendingAction");
export type PendingAction = z.infer<typeof PendingAction>;

export const ActionParam = z.object({
  id: z.uuid().openapi({ param: { name: "id", in: "path" }, description: "Pending action id" }),
});

export const ActionDecision = z.object({
  action: PendingAction,
  message: Message.openapi({ description: "The tool message, settled with the outcome." }),
}).openapi("PendingActionDecision");
