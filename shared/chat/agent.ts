// The agent client: one call to any OpenAI-compatible chat-completions
// endpoint (OpenAI, Gemini's compatible endpoint, vLLM, Ollama, the local
// development agent), streaming or not. A failure is always an AgentFailure
// that says what went wrong and carries the text that had arrived; the key is
// sent in the Authorization header and nowhere else.
import type { AgentConfig } from "./config.ts";
import { EventStreamParser } from "./event-stream.ts";
import { OUTBOUND_BUDGET_MS } from "../platform.ts";

import type { ToolCall, ToolDefinition } from "./tools/catalog.ts";
export type { ToolCall, ToolDefinition };

// A message of the conversation as stored: plain text.
export type TextMessage = { role: "system" | "user" | "assistant"; content: string };

export type AgentMessage =
  | TextMessage
  | {
    role: "assistant";
    content: string | null;
    tool_calls?: { id: string; type: "function"; function: { name: string; arguments: string } }[];
  }
  | { role: "tool"; tool_call_id: string; content: string };
export type AgentUsage = { prompt_tokens: number; completion_tokens: number; total_tokens: number };

export type AgentRequest = {
  messages: AgentMessage[];
  temperature?: number;
  // Tools the agent may call; "none" keeps them described but forbids calling
  // (the last answer of a bounded tool loop).
  tools?: ToolDefinition[];
  toolChoice?: "auto" | "none";
  // A tighter ceiling than MAX_CALL_MS: what is left of the turn's budget (a
  // tool loop makes several calls inside one platform limit).
  maxMs?: number;
  // Aborting it stops the call (the client went away).
  signal?: AbortSignal;
  // Each piece of text as it arrives; awaited, so a slow reader slows the stream.
  onDelta?: (text: string) => void | Promise<void>;
};

export type AgentReply = {
  content: string;
  model: string | null;
  responseId: string | null;
  finishReason: string | null;
  usage: AgentUsage | null;
  streamed: boolean;
  firstTokenMs: number | null;
  truncated: boolean;
  // The functions the agent asked to call (finish_reason "tool_calls"), in order.
  toolCalls: ToolCall[];
};

// Bounds on what an answer may ask for: calls per answer and argument text per call.
export const MAX_TOOL_CALLS = 16;
export const MAX_TOOL_ARGUMENT_CHARS = 64 * 1024;

export type FailureKind =
  | "timeout" // silent for longer than AGENT_TIMEOUT_MS
  | "rate_limited" // HTTP 429
  | "unreachable" // no HTTP response at all
  | "http_error" // any other non-2xx status
  | "stream_interrupted" // the connection broke, or the stream ended unfinished
  | "stream_error" // the stream carried an error object
  | "invalid_response" // not the shape of a chat completion
  | "cancelled"; // the caller aborted (client disconnected)

export type FailureDetail = { status?: number; retryAfter?: number; upstreamCode?: string };

export class AgentFailure extends Error {
  constructor(
    readonly kind: FailureKind,
    message: string,
    readonly partial: AgentReply,
    readonly detail: FailureDetail = {},
  ) {
    super(message);
    this.name = "AgentFailure";
  }
}

// The messages table holds at most 100 000 characters; longer replies are cut
// there and stored with finish_reason "length" and truncated: true.
export const MAX_REPLY_CHARS = 100_000;
// A hard ceiling on one call even while the agent keeps talking: inside the
// platform's wall-clock limit, so our answer (JSON or the stream's end) is
// ours, not the platform cutting the request off.
export const MAX_CALL_MS = OUTBOUND_BUDGET_MS;
const MAX_JSON_BYTES = 8 * 1024 * 1024;
const MAX_ERROR_BYTES = 64 * 1024;

export async function callAgent(agent: AgentConfig, request: AgentRequest): Promise<AgentReply> {
  const started = performance.now();
  const state: AgentReply = {
    content: "",
    model: null,
    responseId: null,
    finishReason: null,
    usage: null,
    streamed: agent.stream,
    firstTokenMs: null,
    truncated: false,
    toolCalls: [],
  };
  const fail = (kind: FailureKind, message: string, detail?: FailureDetail) =>
    new AgentFailure(kind, message, { ...state, toolCalls: [...state.toolCalls] }, detail);

  // One controller for the fetch and its body. The idle timer runs only while
  // we wait for the agent, never while we wait for our own client.
  const controller = new AbortController();
  let stopped: "timeout" | "cancelled" | undefined;
  const stop = (why: "timeout" | "cancelled") => {
    stopped ??= why;
    controller.abort();
  };
  let idle: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    clearTimeout(idle);
    idle = setTimeout(() => stop("timeout"), agent.timeoutMs);
  };
  const pause = () => clearTimeout(idle);
  const calls: ToolCall[] = [];
  const deadline = setTimeout(
    () => stop("timeout"),
    Math.max(1, Math.min(MAX_CALL_MS, request.maxMs ?? MAX_CALL_MS)),
  );
  const onCancel = () => stop("cancelled");
  request.signal?.addEventListener("abort", onCancel, { once: true });
  if (request.signal?.aborted) onCancel();

  // An abort or network error, named for what caused it.
  const broken = (phase: "connect" | "body") => {
    if (stopped === "cancelled") return fail("cancelled", "the client went away");
    if (stopped === "timeout") {
      return fail("timeout", `the agent was silent for more than ${agent.timeoutMs} ms`);
    }
    return phase === "connect"
      ? fail("unreachable", "the agent could not be reached")
      : fail("stream_interrupted", "the connection to the agent broke off mid-answer");
  };

  const append = async (piece: string): Promise<boolean> => {
    if (!piece) return true;
    state.firstTokenMs ??= Math.round(performance.now() - started);
    const room = MAX_REPLY_CHARS - state.content.length;
    const kept = piece.length > room ? piece.slice(0, room) : piece;
    state.content += kept;
    if (kept) await request.onDelta?.(kept);
    if (kept.length < piece.length) {
      state.truncated = true;
      state.finishReason = "length";
      return false;
    }
    return true;
  };

  // Reads a body, re-arming the idle timer on every chunk, up to a limit.
  async function* chunks(res: Response) {
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    try {
      while (true) {
        arm();
        let next: ReadableStreamReadResult<string>;
        try {
          next = await reader.read();
        } catch {
          throw broken("body");
        } finally {
          pause();
        }
        if (next.done) return;
        yield next.value;
      }
    } finally {
      reader.cancel().catch(() => {});
    }
  }

  async function readText(res: Response, limit: number): Promise<string> {
    let text = "";
    for await (const chunk of chunks(res)) {
      text += chunk;
      if (text.length > limit) throw fail("invalid_response", "the agent's answer is too large");
    }
    return text;
  }

  try {
    const headers = new Headers({
      "Content-Type": "application/json",
      Accept: agent.stream ? "text/event-stream" : "application/json",
    });
    if (agent.apiKey) headers.set("Authorization", `Bearer ${agent.apiKey.reveal()}`);
    const payload: Record<string, unknown> = {
      model: agent.model,
      messages: request.messages,
      stream: agent.stream,
    };
    if (agent.stream) payload.stream_options = { include_usage: true };
    if (request.temperature !== undefined) payload.temperature = request.temperature;
    if (request.tools?.length) {
      payload.tools = request.tools;
      payload.tool_choice = request.toolChoice ?? "auto";
    }

    arm();
    let res: Response;
    try {
      res = await fetch(agent.endpoint, {
        method: "POST",
        headers,
        body: JSON.stringify(payload),
        signal: controller.signal,
      });
    } catch {
      throw broken("connect");
    } finally {
      pause();
    }

    if (!res.ok) {
      const text = await readText(res, MAX_ERROR_BYTES).catch(() => "");
      const upstreamCode = errorCode(text);
      if (res.status === 429) {
        throw fail("rate_limited", "the agent is rate limited (HTTP 429)", {
          status: 429,
          retryAfter: retryAfterSeconds(res.headers.get("Retry-After")),
          upstreamCode,
        });
      }
      throw fail("http_error", `the agent answered HTTP ${res.status}`, {
        status: res.status,
        upstreamCode,
      });
    }

    const type = res.headers.get("Content-Type") ?? "";
    if (type.includes("text/event-stream")) {
      state.streamed = true;
      await readEventStream(res);
    } else {
      state.streamed = false;
      const completion = parseJson(await readText(res, MAX_JSON_BYTES));
      const choice = first(completion?.choices);
      const content = choice?.message?.content;
      if (!completion || (typeof content !== "string" && content !== null)) {
        throw fail("invalid_response", "the agent's answer is not a chat completion");
      }
      state.model = stringOr(completion.model);
      state.responseId = stringOr(completion.id);
      state.finishReason = stringOr(choice?.finish_reason);
      state.usage = usageOf(completion.usage);
      const calls = choice?.message?.tool_calls;
      if (calls !== undefined && calls !== null) {
        if (!Array.isArray(calls)) {
          throw fail("invalid_response", "the agent's tool_calls are not a list");
        }
        calls.forEach((call: Json, index: number) => addToolCallDelta({ ...call, index }));
      }
      await append(content ?? "");
    }
    state.toolCalls = finishToolCalls();
    return { ...state };
  } finally {
    clearTimeout(idle);
    clearTimeout(deadline);
    request.signal?.removeEventListener("abort", onCancel);
  }

  // Tool calls arrive whole (JSON) or as deltas keyed by index (SSE): the
  // first delta of a call carries its id and name, later ones append to the
  // arguments' text. Both go through here.
  function addToolCallDelta(delta: Json) {
    const index = delta?.index;
    if (!count(index) || index >= MAX_TOOL_CALLS) {
      throw fail("invalid_response", `the agent asked for more than ${MAX_TOOL_CALLS} tool calls`);
    }
    const call = (calls[index] ??= { id: "", name: "", arguments: "" });
    if (typeof delta.id === "string" && delta.id) call.id = delta.id.slice(0, 128);
    const fn = delta.function;
    if (typeof fn?.name === "string" && fn.name) call.name = fn.name.slice(0, 64);
    if (typeof fn?.arguments === "string") {
      call.arguments += fn.arguments;
      if (call.arguments.length > MAX_TOOL_ARGUMENT_CHARS) {
        throw fail("invalid_response", "the agent's tool arguments are too large");
      }
    }
  }

  function finishToolCalls(): ToolCall[] {
    const done = calls.filter((c) => c !== undefined);
    if (done.some((c) => !c.id || !c.name)) {
      throw fail("invalid_response", "the agent asked for a tool call without an id or a name");
    }
    return done;
  }

  async function readEventStream(res: Response) {
    const parser = new EventStreamParser();
    let done = false;
    const handle = async (data: string): Promise<boolean> => {
      if (data === "[DONE]") return false;
      const event = parseJson(data);
      if (!event) throw fail("invalid_response", "the agent sent an event that is not JSON");
      if (event.error) {
        throw fail("stream_error", "the agent reported an error mid-stream", {
          upstreamCode: errorCode(JSON.stringify(event)),
        });
      }
      state.model ??= stringOr(event.model);
      state.responseId ??= stringOr(event.id);
      state.usage = usageOf(event.usage) ?? state.usage;
      const choice = first(event.choices);
      if (choice?.finish_reason) state.finishReason = stringOr(choice.finish_reason);
      const calls = choice?.delta?.tool_calls;
      if (Array.isArray(calls)) calls.forEach(addToolCallDelta);
      const piece = choice?.delta?.content;
      return typeof piece === "string" ? await append(piece) : true;
    };
    outer: for await (const text of chunks(res)) {
      for (const data of parser.push(text)) {
        if (!(await handle(data))) {
          done = true;
          break outer;
        }
      }
    }
    if (!done) {
      for (const data of parser.end()) {
        if (!(await handle(data))) {
          done = true;
          break;
        }
      }
    }
    // Some servers close without [DONE] after the finish chunk: that is complete.
    if (!done && !state.finishReason) {
      throw fail("stream_interrupted", "the agent's stream ended before the answer was finished");
    }
  }
}

// --- response shapes ---------------------------------------------------------------

// deno-lint-ignore no-explicit-any
type Json = any;

function parseJson(text: string): Json | undefined {
  try {
    const value = JSON.parse(text);
    return value !== null && typeof value === "object" ? value : undefined;
  } catch {
    return undefined;
  }
}

const first = (v: unknown): Json => (Array.isArray(v) ? v[0] : undefined);
const stringOr = (v: unknown): string | null => (typeof v === "string" ? v.slice(0, 200) : null);

const count = (v: unknown): v is number =>
  typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 1_000_000_000;

// Usage as OpenAI reports it; anything else is "not reported" (null), never zero.
function usageOf(u: Json): AgentUsage | null {
  if (!u || typeof u !== "object") return null;
  const { prompt_tokens: p, completion_tokens: c, total_tokens: t } = u;
  if (!count(p) || !count(c)) return null;
  return { prompt_tokens: p, completion_tokens: c, total_tokens: count(t) ? t : p + c };
}

// A short machine code from an error body (OpenAI: error.code or error.type;
// Gemini: [{error: {status}}]). Free text is never kept: it may echo secrets.
function errorCode(text: string): string | undefined {
  const body = parseJson(text);
  const error = Array.isArray(body) ? body[0]?.error : body?.error;
  for (const candidate of [error?.code, error?.type, error?.status]) {
    const value = typeof candidate === "number" ? String(candidate) : candidate;
    if (typeof value === "string" && /^[A-Za-z0-9_.-]{1,64}$/.test(value)) return value;
  }
  return undefined;
}

export function retryAfterSeconds(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = /^\d+$/.test(header.trim())
    ? Number(header.trim())
    : Math.ceil((Date.parse(header) - Date.now()) / 1000);
  return Number.isFinite(seconds) ? Math.min(Math.max(seconds, 1), 3600) : undefined;
}
