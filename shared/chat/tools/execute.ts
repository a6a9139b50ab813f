// One tool call, from the agent's request to its outcome: the tool must be one
// that was offered, its arguments must parse and pass the operation's schema,
// a write that leaves the account is held for confirmation, and anything else
// runs with the user's rights. Every failure becomes a tool result the model
// reads (an error object), never a failed turn.
import { AppError } from "../../core/errors.ts";
import { log } from "../../core/log.ts";
import {
  isToolName,
  needsConfirmation,
  type OfferedTool,
  type ToolCall,
  type ToolCaller,
} from "./catalog.ts";
import { errorForModel, resultForModel, type ToolError } from "./results.ts";

export type CallOutcome =
  | { kind: "done"; content: string; ms: number }
  | { kind: "failed"; content: string; error: ToolError; ms: number }
  // Held: the validated input waits for the user (a pending action).
  | { kind: "held"; operation: "send_draft" | "create_event"; input: Record<string, unknown> };

export type Executed = {
  call: ToolCall;
  // The arguments as stored: the parsed object, or the raw text when it was not one.
  args: Record<string, unknown>;
  outcome: CallOutcome;
};

export type ExecuteContext = {
  caller: ToolCaller;
  offered: OfferedTool[];
  resultMaxChars: number;
};

const MAX_RAW_ARGS = 4000;

function argumentsOf(text: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(text.trim() || "{}");
    return value && typeof value === "object" && !Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

export async function executeCall(ctx: ExecuteContext, call: ToolCall): Promise<Executed> {
  const started = performance.now();
  const failed = (error: ToolError, args: Record<string, unknown>): Executed => ({
    call,
    args,
    outcome: {
      kind: "failed",
      content: errorForModel(error, ctx.resultMaxChars),
      error,
      ms: Math.round(performance.now() - started),
    },
  });
  const parsedArgs = argumentsOf(call.arguments);
  const args = parsedArgs ?? { unparsed: call.arguments.slice(0, MAX_RAW_ARGS) };
  const tool = ctx.offered.find((t) => t.name === call.name);
  if (!isToolName(call.name) || !tool) {
    return failed({
      code: "tool_not_available",
      message: `no tool named ${call.name} is available to you in this conversation`,
    }, args);
  }
  if (!parsedArgs) {
    return failed(
      { code: "invalid_arguments", message: "the arguments are not a JSON object" },
      args,
    );
  }
  const input = tool.operation.input.safeParse(parsedArgs);
  if (!input.success) {
    return failed({
      code: "invalid_arguments",
      message: "the arguments do not match the tool's parameters",
      details: {
        issues: input.error.issues.slice(0, 20).map((i) => ({
          path: i.path.join("."),
          message: i.message,
        })),
      },
    }, args);
  }
  if (needsConfirmation(tool.name, input.data)) {
    return {
      call,
      args,
      outcome: {
        kind: "held",
        operation: tool.name as "send_draft" | "create_event",
        input: input.data as Record<string, unknown>,
      },
    };
  }
  try {
    const output = await tool.operation.run(ctx.caller, input.data);
    return {
      call,
      args,
      outcome: {
        kind: "done",
        content: resultForModel(tool.operation, output, ctx.resultMaxChars),
        ms: Math.round(performance.now() - started),
      },
    };
  } catch (err) {
    return failed(toolError(err, ctx.caller, tool.name), args);
  }
}

// An operation's AppError as the model sees it (its code, message and
// details: which service to reconnect, when to retry); anything else is
// logged and named only as a failure.
export function toolError(err: unknown, caller: ToolCaller, tool: string): ToolError {
  if (err instanceof AppError) {
    return {
      code: err.code,
      message: err.message,
      ...(err.details !== undefined ? { details: err.details } : {}),
    };
  }
  if (caller.signal?.aborted) {
    return { code: "tool_timeout", message: "the tool did not finish within the turn's time" };
  }
  log("error", "chat tool failed", {
    request_id: caller.requestId,
    tool,
    error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
  });
  return { code: "tool_failed", message: "the tool failed unexpectedly" };
}
