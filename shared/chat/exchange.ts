// One exchange with the agent, in three steps:
//   open:   one transaction stores the user's message (as the user, under RLS)
//           and the reply as 'processing' (as the service), with the
//           Idempotency-Key record if one was given;
//   run:    the agent call, outside any transaction;
//   settle: one service transaction stores the reply's text, usage, cost and
//           timing, or marks it failed with what arrived.
// The user's message is committed before the agent is called, so no agent
// failure can lose it.
import type { UserPrincipal } from "../auth/principal.ts";
import { queryAsService, queryAsUser, queryAsUserAfter, type Row } from "../db/client.ts";
import type { DeferredHit, RateState } from "../auth/rate-limit.ts";
import { AppError, notFound } from "../core/errors.ts";
import { log } from "../core/log.ts";
import type { Message, Session } from "../sessions/schemas.ts";
import { AgentFailure, type AgentReply, callAgent } from "./agent.ts";
import type { AgentConfig } from "./config.ts";
import { estimateCost } from "./cost.ts";
import { buildPrompt, type HistoryRow, type Prompt } from "./history.ts";
import {
  confirmationText,
  LoopFailure,
  type LoopResult,
  type LoopState,
  runToolLoop,
  type ToolEvents,
  type ToolTurn,
} from "./tool-loop.ts";
import { offeredTools, type Toolbox } from "./tools/catalog.ts";
import type { PendingAction } from "./tools/schemas.ts";
import { toolsOfReply } from "./tools/store.ts";
import { requestHash } from "./idempotency.ts";
import type { SendMessageInput } from "./schemas.ts";
import {
  type KeyRow,
  messagesById,
  type ReplyOutcome,
  sendReads,
  sendWrites,
  settleReply,
} from "./store.ts";

export type Opened = {
  kind: "opened";
  session: Session;
  userMessage: Message;
  reply: Message;
  prompt: Prompt;
  temperature?: number;
  // The tools this turn offers; absent when none is allowed or tools are off.
  tools?: ToolTurn;
};

// A retry with a known Idempotency-Key: the first request's messages.
export type Replayed = {
  kind: "replay";
  userMessage: Message;
  reply: Message;
  toolMessages: Message[];
  actions: PendingAction[];
};

export function agentRequired(agent: AgentConfig | null): AgentConfig {
  if (agent) return agent;
  throw new AppError(
    "agent_unavailable",
    "no agent is configured on this server (AGENT_URL is not set); nothing was stored",
    { reason: "not_configured" },
  );
}

// The rate-limit hit the route left to this exchange (sent first in its first
// round trip, counted once however many attempts follow), and where its
// state goes (the route's headers) before anything else can fail.
export type SendLimit = { hit: DeferredHit; onState: (state: RateState) => void };

export async function openExchange(
  user: UserPrincipal,
  agent: AgentConfig,
  sessionId: string,
  input: SendMessageInput,
  idempotencyKey?: string,
  limit?: SendLimit,
  toolbox?: Toolbox,
): Promise<Opened | Replayed> {
  const hash = idempotencyKey ? await requestHash({ session_id: sessionId, ...input }) : undefined;
  // A lost race on the key rolls the whole message back (the user message
  // too); the next attempt finds the winner's record and replays it.
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const once = attempt === 0 ? limit : undefined;
      return await openOnce(user, agent, sessionId, input, idempotencyKey, hash, once, toolbox);
    } catch (err) {
      if ((err as { code?: string })?.code === "IK409") continue;
      throw refine(err);
    }
  }
  throw new AppError(
    "idempotency_in_progress",
    "a request with this Idempotency-Key is still running; retry shortly",
    undefined,
    { "Retry-After": "1" },
  );
}

// Two round trips: what the send reads (as the user), then what it writes.
async function openOnce(
  user: UserPrincipal,
  agent: AgentConfig,
  sessionId: string,
  input: SendMessageInput,
  key: string | undefined,
  hash: string | undefined,
  limit: SendLimit | undefined,
  toolbox: Toolbox | undefined,
): Promise<Opened | Replayed> {
  // Which tools the user's connections allow: one more statement in the
  // first round trip, so a turn with tools on costs no extra round trip.
  const toolsRead = agent.tools ? toolbox?.allowedRead ?? null : null;
  const reads = sendReads(sessionId, agent.historyMessages, key);
  if (toolsRead) reads.push(toolsRead.statement);
  let results: Row[][];
  if (limit) {
    const [taken, ...rest] = await queryAsUserAfter(limit.hit.statement, user, ...reads);
    limit.onState(limit.hit.settle(taken[0]));
    results = rest;
  } else {
    results = await queryAsUser(user, ...reads);
  }
  const connections = toolsRead ? results.pop()! : [];
  const [[session], history, keys = []] = results as [Session[], HistoryRow[], KeyRow[]?];
  const [existing] = keys;
  if (!session) throw notFound("session");
  if (existing) {
    return await replay(existing, hash!, async (ids) => {
      const [rows, tools, actions] = await queryAsUser(
        user,
        messagesById(ids),
        ...toolsOfReply(existing.assistant_message_id),
      );
      return {
        rows: rows as Message[],
        toolMessages: tools as Message[],
        actions: actions as PendingAction[],
      };
    });
  }
  if (session.status === "archived" || session.status === "ended") {
    throw sessionClosed(session.status);
  }
  // Ids are chosen here so the later statements can name the earlier rows.
  const userMessageId = crypto.randomUUID();
  const replyId = crypto.randomUUID();
  const [[userMessage], , [reply]] = await queryAsUser(
    user,
    ...sendWrites({
      userMessageId,
      replyId,
      sessionId,
      userId: user.userId,
      model: agent.model,
      input,
      key: key === undefined ? undefined : { key, hash: hash! },
    }),
  ) as [Message[], unknown[], Message[]];
  const temperature = session.agent_config?.temperature;
  const offered = toolsRead ? offeredTools(toolbox!, toolsRead.allowed(connections)) : [];
  return {
    kind: "opened" as const,
    session,
    userMessage,
    reply,
    // Earlier turns' tool rounds go with the history only when this turn
    // offers tools too (history.ts).
    prompt: buildPrompt(
      agent,
      history,
      input.content,
      offered.length && agent.tools ? agent.tools.resultMaxChars : undefined,
    ),
    temperature: typeof temperature === "number" && temperature >= 0 && temperature <= 2
      ? temperature
      : undefined,
    tools: offered.length && agent.tools
      ? { toolbox: toolbox!, offered, limits: agent.tools, principal: user }
      : undefined,
  };
}

async function replay(
  key: KeyRow,
  hash: string,
  load: (
    ids: string[],
  ) => Promise<{ rows: Message[]; toolMessages: Message[]; actions: PendingAction[] }>,
): Promise<Replayed> {
  if (key.request_hash !== hash) {
    throw new AppError(
      "idempotency_mismatch",
      "this Idempotency-Key was already used with a different request; use a new key",
    );
  }
  const { rows, toolMessages, actions } = await load([
    key.user_message_id,
    key.assistant_message_id,
  ]);
  const userMessage = rows.find((r) => r.id === key.user_message_id);
  const reply = rows.find((r) => r.id === key.assistant_message_id);
  if (!userMessage || !reply) throw notFound("message");
  if (reply.status === "processing") {
    throw new AppError(
      "idempotency_in_progress",
      "a request with this Idempotency-Key is still running; retry shortly",
      { user_message_id: userMessage.id, assistant_message_id: reply.id },
      { "Retry-After": "1" },
    );
  }
  return { kind: "replay", userMessage, reply, toolMessages, actions };
}

function sessionClosed(status: string): AppError {
  return new AppError(
    "session_closed",
    status === "archived"
      ? "the session is archived; restore it before sending messages"
      : "the session has ended; start a new session or set it active again",
    { status },
  );
}

// Database errors the send can meet, in this route's words.
function refine(err: unknown): unknown {
  const e = err as { code?: string; constraint_name?: string };
  if (e?.code === "55000") return sessionClosed("archived or ended");
  if (e?.code === "23503") {
    if (e.constraint_name?.includes("parent")) {
      return new AppError("validation_failed", "the request is invalid", {
        issues: [{ path: "parent_message_id", message: "is not a message of this session" }],
      });
    }
    return notFound("session");
  }
  return err;
}

export type Settled = {
  message: Message;
  failure?: AgentFailure;
  toolMessages: Message[];
  actions: PendingAction[];
};

export type RunOptions = {
  signal?: AbortSignal;
  onDelta?: (text: string) => void | Promise<void>;
  requestId: string;
  events?: ToolEvents;
};

// What a turn with tools adds to the reply's record.
type ToolSummary = Pick<LoopState, "rounds" | "toolMessages" | "actions" | "stoppedBy">;

export async function runExchange(
  agent: AgentConfig,
  opened: Opened,
  o: RunOptions,
): Promise<Settled> {
  const started = performance.now();
  let reply: AgentReply | undefined;
  let failure: AgentFailure | undefined;
  let tools: ToolSummary | undefined;
  const request = {
    temperature: opened.temperature,
    signal: o.signal,
    onDelta: o.onDelta,
  };
  try {
    if (opened.tools) {
      const result: LoopResult = await runToolLoop({
        agent,
        turn: opened.tools,
        ids: {
          sessionId: opened.session.id,
          userId: opened.session.user_id,
          replyId: opened.reply.id,
        },
        messages: opened.prompt.messages,
        request,
        requestId: o.requestId,
        events: o.events ?? {},
      });
      tools = result;
      reply = { ...result.reply, usage: result.usage };
      if (result.stoppedBy === "confirmation") {
        // Whatever the agent said, the turn ends saying what waits for the
        // user (streamed like the rest of the reply).
        const ask = (reply.content.trim() ? "\n\n" : "") + confirmationText(result.actions);
        await o.onDelta?.(ask);
        reply.content += ask;
      }
    } else {
      reply = await callAgent(agent, { ...request, messages: opened.prompt.messages });
    }
  } catch (err) {
    const cause = err instanceof LoopFailure ? err.failure : err;
    if (err instanceof LoopFailure) tools = err.state;
    if (!(cause instanceof AgentFailure)) throw cause;
    failure = cause;
  }
  const ms = Math.round(performance.now() - started);
  const outcome = reply ? completed(agent, opened, reply, ms) : failed(agent, opened, failure!, ms);
  if (tools) outcome.agent_response_data.tools = toolRecord(tools);
  const [[settled]] = await queryAsService(
    ...settleReply(opened.reply.id, opened.session.id, outcome),
  );
  const message = settled as Message;
  log(failure ? "warn" : "info", "chat reply", {
    request_id: o.requestId,
    session_id: opened.session.id,
    message_id: message.id,
    status: message.status,
    error_code: message.error_code,
    model: reply?.model ?? failure?.partial.model ?? agent.model,
    usage_total: message.total_tokens,
    estimated_cost: message.estimated_cost,
    processing_time_ms: ms,
    tool_rounds: tools?.rounds,
  });
  return {
    message,
    failure,
    toolMessages: tools?.toolMessages ?? [],
    actions: tools?.actions ?? [],
  };
}

function toolRecord(t: ToolSummary) {
  return {
    rounds: t.rounds,
    stopped_by: t.stoppedBy,
    tool_message_ids: t.toolMessages.map((m) => m.id),
    pending_action_ids: t.actions.map((a) => a.id),
  };
}

function completed(agent: AgentConfig, opened: Opened, r: AgentReply, ms: number): ReplyOutcome {
  return {
    status: "completed",
    content: r.content,
    error_code: null,
    error_message: null,
    prompt_tokens: r.usage?.prompt_tokens ?? null,
    completion_tokens: r.usage?.completion_tokens ?? null,
    total_tokens: r.usage?.total_tokens ?? null,
    estimated_cost: estimateCost(agent.prices, [r.model, agent.model], r.usage),
    processing_time_ms: ms,
    agent_response_data: {
      model: r.model,
      requested_model: agent.model,
      response_id: r.responseId,
      finish_reason: r.finishReason,
      streamed: r.streamed,
      first_token_ms: r.firstTokenMs,
      usage_reported: r.usage !== null,
      truncated: r.truncated,
      history_messages: opened.prompt.historyMessages,
    },
  };
}

function failed(agent: AgentConfig, opened: Opened, f: AgentFailure, ms: number): ReplyOutcome {
  return {
    status: "failed",
    content: f.partial.content,
    error_code: f.kind === "cancelled" ? "client_disconnected" : `agent_${f.kind}`,
    error_message: f.message,
    prompt_tokens: null,
    completion_tokens: null,
    total_tokens: null,
    estimated_cost: null,
    processing_time_ms: ms,
    agent_response_data: {
      model: f.partial.model,
      requested_model: agent.model,
      response_id: f.partial.responseId,
      streamed: f.partial.streamed,
      first_token_ms: f.partial.firstTokenMs,
      upstream_status: f.detail.status ?? null,
      upstream_code: f.detail.upstreamCode ?? null,
      retry_after: f.detail.retryAfter ?? null,
      history_messages: opened.prompt.historyMessages,
    },
  };
}

// The envelope for a failed reply, from what is stored, so a first answer and
// an idempotent replay say the same thing. The details name both messages: the
// user's message is kept, and so is any partial text of the reply.
export function failedReplyError(userMessage: Message, reply: Message): AppError {
  const details = {
    reason: reply.error_code,
    user_message_id: userMessage.id,
    assistant_message_id: reply.id,
  };
  const saved = "your message was saved";
  switch (reply.error_code) {
    case "agent_timeout":
      return new AppError("agent_timeout", `the agent did not answer in time; ${saved}`, details);
    case "agent_rate_limited": {
      const after = Number(reply.agent_response_data?.retry_after) || 5;
      return new AppError(
        "agent_unavailable",
        `the agent is rate limited; retry in ${after} s; ${saved}`,
        details,
        { "Retry-After": String(after) },
      );
    }
    case "agent_unreachable":
      return new AppError(
        "agent_unavailable",
        `the agent could not be reached; ${saved}`,
        details,
        {
          "Retry-After": "5",
        },
      );
    default:
      return new AppError(
        "agent_error",
        `the agent failed (${
          reply.error_message ?? reply.error_code ?? "unknown error"
        }); ${saved}`,
        details,
      );
  }
}
