// The tools the agent may call: OpenAI function tools over the unified API's
// operations (shared/unified/operations.ts), described by the operations' own
// zod input schemas (z.toJSONSchema), offered only when the user's connections
// allow the operation. The operations reach this module through a Toolbox, so
// the loop is built and tested against whatever provides them.
import { z } from "zod";

// OpenAI's function tool: a name, what it does, and its parameters as JSON Schema.
export type ToolDefinition = {
  type: "function";
  function: { name: string; description: string; parameters: Record<string, unknown> };
};

// A function call the agent asked for, as OpenAI's tool_calls carry it: the
// arguments are the model's JSON text, parsed (and validated) by execute.ts.
export type ToolCall = { id: string; name: string; arguments: string };

export type OperationName =
  | "list_events"
  | "get_event"
  | "create_event"
  | "free_busy"
  | "search_mail"
  | "read_mail"
  | "create_draft"
  | "send_draft";

import type { UserPrincipal } from "../../auth/principal.ts";
import type { Row } from "../../db/client.ts";
import type { SqlText } from "../../db/literal.ts";

// Who acts: always the user whose turn it is, with their rights (the
// principal, when known, names an API key as the asker).
export type ToolCaller = {
  userId: string;
  requestId?: string;
  signal?: AbortSignal;
  principal?: UserPrincipal;
};

// What the loop needs of an operation (the unified API's Operation has it all).
export type ToolOperation = {
  name: OperationName;
  area: "calendar" | "mail";
  access: "read" | "write";
  input: z.ZodType;
  description: string;
  // deno-lint-ignore no-explicit-any
  run(caller: ToolCaller, input: any): Promise<unknown>;
};

// Which operations the user's connections allow, as a statement the chat
// sends (as the user) inside the turn's first round trip, and how its rows
// decide: offering tools costs a turn no round trip of its own.
export type AllowedRead = { statement: SqlText; allowed(rows: Row[]): OperationName[] };

export type Toolbox = {
  operations: { [K in OperationName]?: ToolOperation };
  allowedRead: AllowedRead | null;
};

// Tool name → the operation behind it. find_free_time is free/busy under the
// name a model understands; get_event is reachable through list_events.
export const TOOL_OPERATIONS = {
  list_events: "list_events",
  find_free_time: "free_busy",
  create_event: "create_event",
  search_mail: "search_mail",
  read_mail: "read_mail",
  create_draft: "create_draft",
  send_draft: "send_draft",
} as const satisfies Record<string, OperationName>;
export type ToolName = keyof typeof TOOL_OPERATIONS;

export const isToolName = (name: string): name is ToolName => Object.hasOwn(TOOL_OPERATIONS, name);

const EXTRA: Partial<Record<ToolName, string>> = {
  find_free_time: " Use it to find free time: every slot not listed as busy is free.",
  send_draft: " Sending always waits for the user's confirmation; say so and stop.",
  create_event: " An event with attendees invites other people, so it waits for the user's " +
    "confirmation; say so and stop.",
};

export type OfferedTool = { name: ToolName; operation: ToolOperation; definition: ToolDefinition };

const definitions = new WeakMap<ToolOperation, Record<string, unknown>>();

// A field with a `format` (date-time, uuid, email) also carries zod's long
// regex for it: the format says the same to a model in a few tokens, some
// providers' schema subsets refuse such patterns, and the operation validates
// the arguments with its own schema anyway.
function lean(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(lean);
  if (!value || typeof value !== "object") return value;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([k]) => k !== "$schema" && !(k === "pattern" && "format" in value));
  return Object.fromEntries(entries.map(([k, v]) => [k, lean(v)]));
}

// The operation's input as JSON Schema, as a client sends it (io: "input").
function parametersOf(op: ToolOperation): Record<string, unknown> {
  let schema = definitions.get(op);
  if (!schema) {
    schema = lean(z.toJSONSchema(op.input, { io: "input", unrepresentable: "any" })) as Record<
      string,
      unknown
    >;
    definitions.set(op, schema);
  }
  return schema;
}

// The tools to offer, in a stable order: those whose operation exists and is allowed.
export function offeredTools(box: Toolbox, allowed: readonly OperationName[]): OfferedTool[] {
  const permitted = new Set(allowed);
  return (Object.keys(TOOL_OPERATIONS) as ToolName[]).flatMap((name) => {
    const operation = box.operations[TOOL_OPERATIONS[name]];
    if (!operation || !permitted.has(operation.name)) return [];
    return [{
      name,
      operation,
      definition: {
        type: "function" as const,
        function: {
          name,
          description: operation.description + (EXTRA[name] ?? ""),
          parameters: parametersOf(operation),
        },
      },
    }];
  });
}

// Writes that leave the user's account never run on the agent's word: sending
// mail, and an event that invites anyone.
export function needsConfirmation(name: ToolName, input: unknown): boolean {
  if (name === "send_draft") return true;
  if (name === "create_event") {
    const attendees = (input as { attendees?: unknown } | null)?.attendees;
    return Array.isArray(attendees) && attendees.length > 0;
  }
  return false;
}

// No operations at all: tools are never offered and no action can run.
export const NO_TOOLS: Toolbox = { operations: {}, allowedRead: null };
