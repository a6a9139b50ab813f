// The tool loop of one turn: ask the agent with the offered tools; while it
// answers with tool calls, run them with the user's rights, store them (one
// service round trip per round), give the results back as role "tool"
// messages and ask again. Bounded: at most maxRounds rounds, none started after
// timeBudgetMs (tools running when it ends are stopped); then the agent is
// asked once more with tool_choice "none" and must answer from what it has.
// All agent calls of the turn share OUTBOUND_BUDGET_MS, inside the platform's
// wall-clock limit (CHAT_TOOL_TIME_BUDGET_MS is capped at it too). A write that leaves the account ends the turn
// with a pending action instead of running.
import type { UserPrincipal } from "../auth/principal.ts";
import { queryAsService } from "../db/client.ts";
import { log } from "../core/log.ts";
import { OUTBOUND_BUDGET_MS } from "../platform.ts";
import type { Message } from "../sessions/schemas.ts";
import {
  type AgentMessage,
  type AgentReply,
  type AgentRequest,
  type AgentUsage,
  callAgent,
  MAX_REPLY_CHARS,
} from "./agent.ts";
import type { AgentConfig, ToolLoopConfig } from "./config.ts";
import type { OfferedTool, Toolbox, ToolCall } from "./tools/catalog.ts";
import { executeCall, type Executed } from "./tools/execute.ts";
import { awaitingConfirmation, TOOL_INSTRUCTIONS } from "./tools/results.ts";
import type { PendingAction } from "./tools/schemas.ts";
import { type ActionRow, type ToolMessageRow, toolRoundWrites } from "./tools/store.ts";

export type ToolTurn = {
  toolbox: Toolbox;
  offered: OfferedTool[];
  limits: ToolLoopConfig;
  // The user whose rights the tools run with.
  principal: UserPrincipal;
};

export type ToolEvents = {
  onToolStarted?: (call: ToolCall) => void | Promise<void>;
  onToolCompleted?: (message: Message) => void | Promise<void>;
  onConfirmationRequired?: (action: PendingAction, message: Message) => void | Promise<void>;
};

export type LoopContext = {
  agent: AgentConfig;
  turn: ToolTurn;
  ids: { sessionId: string; userId: string; replyId: string };
  messages: AgentMessage[];
  request: Omit<AgentRequest, "messages" | "tools" | "toolChoice">;
  requestId: string;
  events: ToolEvents;
};

export type StopReason = "answer" | "max_rounds" | "time_budget" | "confirmation";

export type LoopState = {
  rounds: number;
  usage: AgentUsage | null;
  toolMessages: Message[];
  actions: PendingAction[];
  stoppedBy: StopReason;
};

// The last reply and what the turn did; an AgentFailure thrown by a round
// carries `state` so the failed reply still records it.
export type LoopResult = LoopState & { reply: AgentReply };

export class LoopFailure extends Error {
  constructor(readonly failure: unknown, readonly state: LoopState) {
    super("the tool loop failed");
  }
}

export function withToolInstructions(messages: AgentMessage[]): AgentMessage[] {
  const [first, ...rest] = messages;
  if (first?.role === "system") {
    return [{ role: "system", content: `${first.content}\n\n${TOOL_INSTRUCTIONS}` }, ...rest];
  }
  return [{ role: "system", content: TOOL_INSTRUCTIONS }, ...messages];
}

function addUsage(total: AgentUsage | null, more: AgentUsage | null): AgentUsage | null {
  if (!more) return total;
  if (!total) return { ...more };
  return {
    prompt_tokens: total.prompt_tokens + more.prompt_tokens,
    completion_tokens: total.completion_tokens + more.completion_tokens,
    total_tokens: total.total_tokens + more.total_tokens,
  };
}

export async function runToolLoop(ctx: LoopContext): Promise<LoopResult> {
  const started = performance.now();
  const { limits, offered } = ctx.turn;
  const messages = withToolInstructions(ctx.messages);
  const tools = offered.map((t) => t.definition);
  const state: LoopState = {
    rounds: 0,
    usage: null,
    toolMessages: [],
    actions: [],
    stoppedBy: "answer",
  };
  let said = "";
  try {
    while (true) {
      const elapsed = performance.now() - started;
      const mayCall = state.rounds < limits.maxRounds && elapsed < limits.timeBudgetMs;
      if (!mayCall) {
        state.stoppedBy = state.rounds >= limits.maxRounds ? "max_rounds" : "time_budget";
      }
      // Every call of the turn shares the one outbound budget of the request.
      const reply = await callAgent(ctx.agent, {
        ...ctx.request,
        messages,
        tools,
        toolChoice: mayCall ? "auto" : "none",
        maxMs: OUTBOUND_BUDGET_MS - (performance.now() - started),
      });
      state.usage = addUsage(state.usage, reply.usage);
      // What the agent says beside its calls reached the client as deltas:
      // the reply keeps all of it, in order, within the reply's limit.
      said = (said + reply.content).slice(0, MAX_REPLY_CHARS);
      const spoken = { ...reply, content: said };
      // An answer without calls ends the turn; so do calls made when calling
      // was not allowed (tool_choice "none"): they are not run.
      if (!reply.toolCalls.length || !mayCall) return { ...state, reply: spoken };
      state.rounds++;
      messages.push({
        role: "assistant",
        content: reply.content || null,
        tool_calls: reply.toolCalls.map((c) => ({
          id: c.id,
          type: "function" as const,
          function: { name: c.name, arguments: c.arguments },
        })),
      });
      const budgetLeft = Math.max(1, limits.timeBudgetMs - (performance.now() - started));
      const stored = await runRound(ctx, reply.toolCalls, budgetLeft, {
        round: state.rounds,
        said: reply.content || null,
      });
      state.toolMessages.push(...stored.messages);
      state.actions.push(...stored.actions);
      for (const m of stored.messages) {
        const callId = stored.callIds.get(m.id) ?? m.tool_call_id!;
        messages.push({ role: "tool", tool_call_id: callId, content: m.content });
      }
      if (stored.actions.length) {
        state.stoppedBy = "confirmation";
        return { ...state, reply: spoken };
      }
    }
  } catch (err) {
    throw new LoopFailure(err, state);
  }
}

// One round: every call in order (the model may depend on their order), then
// one service round trip that stores them all, then the events.
async function runRound(
  ctx: LoopContext,
  calls: ToolCall[],
  budgetMs: number,
  round: { round: number; said: string | null },
): Promise<{ messages: Message[]; actions: PendingAction[]; callIds: Map<string, string> }> {
  const signal = AbortSignal.any([
    AbortSignal.timeout(budgetMs),
    ...(ctx.request.signal ? [ctx.request.signal] : []),
  ]);
  const caller = {
    userId: ctx.ids.userId,
    principal: ctx.turn.principal,
    requestId: ctx.requestId,
    signal,
  };
  const executed: Executed[] = [];
  for (const call of calls) {
    await ctx.events.onToolStarted?.(call);
    executed.push(
      await executeCall(
        { caller, offered: ctx.turn.offered, resultMaxChars: ctx.turn.limits.resultMaxChars },
        call,
      ),
    );
  }
  const rows: ToolMessageRow[] = [];
  const held: ActionRow[] = [];
  for (const [i, e] of executed.entries()) {
    const id = crypto.randomUUID();
    const base = {
      id,
      callId: e.call.id,
      name: e.call.name,
      args: e.args,
      round: round.round,
      roundContent: i === 0 ? round.said : null,
    };
    const o = e.outcome;
    if (o.kind === "held") {
      const action: ActionRow = {
        id: crypto.randomUUID(),
        messageId: id,
        operation: o.operation,
        input: o.input,
        expiresAt: new Date(Date.now() + ctx.turn.limits.actionTtlMs),
      };
      held.push(action);
      rows.push({
        ...base,
        content: awaitingConfirmation(action.id, action.expiresAt.toISOString()),
        status: "pending",
        errorCode: null,
        errorMessage: null,
        ms: null,
      });
    } else {
      rows.push({
        ...base,
        content: o.content,
        status: o.kind === "done" ? "completed" : "failed",
        errorCode: o.kind === "failed" ? o.error.code : null,
        errorMessage: o.kind === "failed" ? o.error.message : null,
        ms: o.ms,
      });
    }
  }
  const [messageRows, actionRows = []] = await queryAsService(
    ...toolRoundWrites(ctx.ids, rows, held),
  );
  const messages = (messageRows as Message[]).sort((a, b) => a.message_index - b.message_index);
  // The agent's own call ids go back to it (the stored one may be cleaned).
  const callIds = new Map(rows.map((r) => [r.id, r.callId]));
  const actions = actionRows as PendingAction[];
  for (const m of messages) {
    // What ran, never what it read or was given (mail and events stay out of logs).
    log("info", "chat tool call", {
      request_id: ctx.requestId,
      session_id: ctx.ids.sessionId,
      message_id: m.id,
      tool: m.tool_name,
      status: m.status,
      error_code: m.error_code,
      processing_time_ms: m.processing_time_ms,
    });
  }
  for (const m of messages) {
    const action = actions.find((a) => a.message_id === m.id);
    if (action) await ctx.events.onConfirmationRequired?.(action, m);
    else await ctx.events.onToolCompleted?.(m);
  }
  return { messages, actions, callIds };
}

// The reply's text when the turn ends waiting for the user and the agent said nothing.
export function confirmationText(actions: PendingAction[]): string {
  const what = actions.map((a) => {
    if (a.operation === "send_draft") return "send the draft";
    const attendees = (a.arguments.attendees as unknown[] | undefined)?.length ?? 0;
    const title = typeof a.arguments.title === "string" ? ` "${a.arguments.title}"` : "";
    return `create the event${title} and invite ${attendees} ${
      attendees === 1 ? "person" : "people"
    }`;
  });
  return `Before I ${what.join(" and ")}, I need your confirmation.`;
}
