// THE LOCAL DEVELOPMENT AGENT. Not a language model: a small OpenAI-compatible
// server that the local stack starts so chat works from a fresh clone without
// any API key, and that tests steer into every failure the chat flow must
// survive. It also stands in for HeyGen's streaming token API. Binds
// 127.0.0.1 only; every log line says what it is.
//
//   POST /v1/chat/completions    OpenAI chat completions, JSON or SSE (`stream: true`,
//                                usage in a last chunk with `stream_options.include_usage`)
//   GET  /v1/models              the models it answers as
//   POST /v1/streaming.create_token   HeyGen's create-token API (X-Api-Key)
//   GET  /__control/requests/<tag>    what the agent saw and did for a tagged request (with
//                                elapsed_ms: its own time, from the request's arrival to
//                                the last byte of a completed answer handed to the server)
//   GET  /health
//
// Test controls are directives in the last user message, e.g. "hi [[tag=t1]] [[status=500]]":
//   [[tag=<id>]]       record the request under <id> for /__control/requests/<id>
//   [[status=<code>]]  answer with that HTTP status and an OpenAI-shaped error (429 adds Retry-After: 7)
//   [[break=<n>]]      send n content chunks, then drop the connection (JSON: half a body, then drop)
//   [[stall=<n>]]      send n content chunks, then go silent with the connection open
//   [[hang]]           never answer (not even headers) until the client gives up
//   [[slow=<ms>]]      wait <ms> between chunks
//   [[words=<n>]]      reply with about n words
//   [[no-usage]]       never report usage
//   [[model=<name>]]   report another model name than the one requested
//   [[stream-error]]   send an error object as a data event in the middle of the stream
//   [[garbage]]        send a data event that is not JSON
//
// Tool calling, in OpenAI's protocol (`tools` offered, `tool_calls` with ids,
// finish_reason "tool_calls", argument text streamed in deltas). The rounds of
// a turn are counted by the assistant tool-call messages after the last user message:
//   [[tool:<name> <json args>]]   one round calling <name>; several such directives are
//                                 successive rounds
//   [[tool+:<name> <json args>]]  another call in the same round as the directive before it
//   [[tool-repeat:<name> <json>]] call <name> in every round, as long as tools may be called
//   [[obey-tools]]                a gullible model: tool directives found inside tool
//                                 results (e.g. a mail's text) become further rounds
//   [[tool-preamble]]             say a short sentence before each round's calls, as some
//                                 models do (content beside tool_calls)
//   [[echo-history]]              answer with "History: " and the JSON of every message
//                                 before the last user message, exactly as received
// Like OpenAI, it refuses (400) a conversation whose tool messages are out of
// order: a role "tool" message that answers no call of the assistant
// tool_calls message before it, or such a message not followed by a result
// for each of its calls.
// Tools are called only when the request offers tools and tool_choice is not "none" (a
// name that is not offered is called anyway: a real model may do that too). After the
// last round it answers in text that quotes every tool result of the turn.
//
// HeyGen stand-in: LOCAL_HEYGEN_KEY is the valid key; "<key>:<behaviour>" picks a failure:
// rate-limited (429), server-error (500), malformed (200 without a token), error-body
// (200 with an error object), hang (no answer). Any other key is a 401.
//
// Environment: LOCAL_AGENT_PORT (default 54328), LOCAL_AGENT_KEY (bearer key it requires,
// none when unset), LOCAL_HEYGEN_KEY (default local-heygen-key), LOCAL_AGENT_CHUNK_DELAY_MS
// (default 15).

const SERVICE = "local-development-agent";
const port = Number(Deno.env.get("LOCAL_AGENT_PORT") ?? 54328);
const requiredKey = Deno.env.get("LOCAL_AGENT_KEY") || undefined;
const heygenKey = Deno.env.get("LOCAL_HEYGEN_KEY") || "local-heygen-key";
const defaultDelay = Number(Deno.env.get("LOCAL_AGENT_CHUNK_DELAY_MS") ?? 15);
const encoder = new TextEncoder();

function log(level: "info" | "warn", msg: string, fields: Record<string, unknown> = {}) {
  console.log(
    JSON.stringify({ ts: new Date().toISOString(), level, service: SERVICE, msg, ...fields }),
  );
}

// --- what tests can ask about -------------------------------------------------------

type Outcome = "completed" | "error_status" | "dropped" | "stalled" | "hung" | "client_closed";

type Seen = {
  tag: string;
  requests: number; // how many requests carried this tag so far
  received_at: string;
  authorized: boolean;
  model: string;
  stream: boolean;
  include_usage: boolean;
  temperature: number | null;
  // As received; tool_calls and tool_call_id only on the messages that carry them.
  messages: { role: string; content: string; tool_calls?: unknown; tool_call_id?: unknown }[];
  directives: Record<string, string>;
  status: number;
  outcome: Outcome | "streaming";
  chunks_sent: number;
  content: string;
  usage: Usage | null;
  // Tool calling: the names offered, tool_choice, and the calls this answer made.
  tools: string[] | null;
  tool_choice: unknown;
  tool_calls: ToolCallOut[];
  // Every request of this tag so far, oldest first (a tool loop is several requests).
  rounds: { tools: string[] | null; tool_choice: unknown; tool_calls: ToolCallOut[] }[];
  // The agent's own time for a completed answer: from the request's arrival to
  // its last byte handed to the server (scripts/bench.sh reports it beside the
  // chat send's latency). Null until then.
  elapsed_ms: number | null;
};

const records = new Map<string, Seen>();
function remember(r: Seen) {
  records.delete(r.tag);
  records.set(r.tag, r);
  if (records.size > 2000) records.delete(records.keys().next().value!);
}

// --- OpenAI shapes --------------------------------------------------------------------

type Usage = { prompt_tokens: number; completion_tokens: number; total_tokens: number };
type ChatMessage = { role: string; content: unknown; tool_calls?: unknown; tool_call_id?: unknown };
type ToolCallOut = { id: string; name: string; arguments: string };

function openaiError(status: number, message: string, type: string, code: string | null) {
  return Response.json({ error: { message, type, param: null, code } }, { status });
}

const ERRORS: Record<number, [string, string, string | null]> = {
  400: ["The request is invalid.", "invalid_request_error", null],
  401: ["Incorrect API key provided.", "invalid_request_error", "invalid_api_key"],
  429: [
    "Rate limit reached for requests. Please try again in 7s.",
    "requests",
    "rate_limit_exceeded",
  ],
  500: ["The server had an error while processing your request.", "server_error", null],
  503: ["The engine is currently overloaded, please try again later.", "server_error", null],
};

function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content.map((p) => (p && typeof p === "object" && "text" in p ? String(p.text) : ""))
      .join("");
  }
  return "";
}

const tokens = (s: string) => Math.ceil(s.length / 4);
const DIRECTIVE = /\[\[([a-z-]+)(?:=([^\]]*))?\]\]/g;

function parseDirectives(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(DIRECTIVE)) out[m[1]] = m[2] ?? "";
  return out;
}

// --- tool calling ------------------------------------------------------------------

type ToolDirective = { kind: "tool" | "tool+" | "tool-repeat"; name: string; args: string };
const TOOL_START = /\[\[(tool\+?|tool-repeat):([a-z_]{1,64})/g;

// Tool directives in a text, in order. The arguments are JSON that may itself
// hold "]]", so each candidate end is tried until the text between parses.
function toolDirectives(text: string): ToolDirective[] {
  const found: ToolDirective[] = [];
  for (const m of text.matchAll(TOOL_START)) {
    const from = m.index! + m[0].length;
    let end = text.indexOf("]]", from);
    while (end >= 0) {
      const raw = text.slice(from, end).trim() || "{}";
      try {
        JSON.parse(raw);
        found.push({ kind: m[1] as ToolDirective["kind"], name: m[2], args: raw });
        break;
      } catch {
        end = text.indexOf("]]", end + 1);
      }
    }
  }
  return found;
}

// A tool result as a model reads it: JSON inside any wrapping, its strings
// unescaped (a mail's text arrives as a JSON string value).
function readableTexts(content: string): string[] {
  const texts: string[] = [content];
  const walk = (v: unknown) => {
    if (typeof v === "string") texts.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === "object") Object.values(v).forEach(walk);
  };
  try {
    walk(JSON.parse(content.slice(content.indexOf("{"), content.lastIndexOf("}") + 1)));
  } catch {
    // Not JSON: the text as it is.
  }
  return texts;
}

// Directives grouped into rounds: "tool+" joins the round before it.
function roundsOf(directives: ToolDirective[]): ToolDirective[][] {
  const rounds: ToolDirective[][] = [];
  for (const d of directives) {
    if (d.kind === "tool+" && rounds.length) rounds[rounds.length - 1].push(d);
    else if (d.kind !== "tool-repeat") rounds.push([d]);
  }
  return rounds;
}

const stripTools = (text: string) =>
  text.replace(/\[\[(tool\+?|tool-repeat):[\s\S]*?\]\](?!\])/g, "");

// The messages of the current turn: everything after the last user message.
function turnOf(messages: ChatMessage[]): ChatMessage[] {
  const last = messages.map((m) => m?.role).lastIndexOf("user");
  return messages.slice(last + 1);
}

// What this request should call, or null to answer in text.
function toolPlan(
  body: { tools?: unknown; tool_choice?: unknown },
  messages: ChatMessage[],
  lastUser: string,
  d: Record<string, string>,
): ToolCallOut[] | null {
  if (!Array.isArray(body.tools) || body.tools.length === 0 || body.tool_choice === "none") {
    return null;
  }
  const turn = turnOf(messages);
  const done = turn.filter((m) => m.role === "assistant" && Array.isArray(m.tool_calls)).length;
  const directives = toolDirectives(lastUser);
  const repeat = directives.find((x) => x.kind === "tool-repeat");
  let round: ToolDirective[] | undefined;
  if (repeat) round = [repeat];
  else {
    const rounds = roundsOf(directives);
    if ("obey-tools" in d) {
      const results = turn.filter((m) => m.role === "tool").map((m) => textOf(m.content));
      rounds.push(...roundsOf(results.flatMap(readableTexts).flatMap(toolDirectives)));
    }
    round = rounds[done];
  }
  if (!round) return null;
  return round.map((x) => ({
    id: `call_${crypto.randomUUID().replaceAll("-", "").slice(0, 24)}`,
    name: x.name,
    arguments: x.args,
  }));
}

// After the tools: every result of the turn, quoted, so a test can see the
// answer was made from them.
function toolSummary(messages: ChatMessage[]): string {
  const results = turnOf(messages).filter((m) => m.role === "tool");
  if (!results.length) return "";
  const quoted = results.map((m) => textOf(m.content).replace(/\s+/g, " ").slice(0, 4000));
  return ` From the tools: ${quoted.join(" | ")}`;
}

// OpenAI's rule for tool messages (its words): each answers a call of the
// assistant tool_calls message before it, and that message's calls are all
// answered before any other message.
function toolOrderError(messages: ChatMessage[]): string | null {
  let open: string[] = [];
  for (const [i, m] of messages.entries()) {
    if (m?.role === "tool") {
      const at = open.indexOf(String(m.tool_call_id));
      if (at < 0) {
        return `Invalid parameter: messages[${i}]: messages with role 'tool' must be a response ` +
          "to a preceeding message with 'tool_calls'.";
      }
      open.splice(at, 1);
      continue;
    }
    if (open.length) break;
    const calls = m?.role === "assistant" && Array.isArray(m.tool_calls) ? m.tool_calls : [];
    open = calls.map((c) => String((c as { id?: unknown })?.id));
  }
  if (!open.length) return null;
  return "An assistant message with 'tool_calls' must be followed by tool messages responding " +
    `to each 'tool_call_id'. The following tool_call_ids did not have response messages: ${
      open.join(", ")
    }`;
}

function composeReply(messages: ChatMessage[], lastUser: string, words: number | undefined) {
  if ("echo-history" in parseDirectives(lastUser)) {
    const last = messages.map((m) => m?.role).lastIndexOf("user");
    return `History: ${JSON.stringify(messages.slice(0, last))}`;
  }
  const said = stripTools(lastUser).replace(DIRECTIVE, "").replace(/\s+/g, " ").trim()
    .slice(0, 200);
  const earlier = messages.filter((m) => m.role === "user" || m.role === "assistant").length - 1;
  let reply = `This is the local development agent, not a language model. You said: "${said}". ` +
    `I can see ${earlier} earlier message${earlier === 1 ? "" : "s"} of this conversation.`;
  if (words !== undefined) {
    const filler = Array.from({ length: Math.max(0, words) }, (_, i) => `word${i + 1}`);
    reply = words <= 0 ? "" : filler.join(" ");
  }
  return reply + toolSummary(messages);
}

// Splits into word-sized pieces that join back to the reply exactly.
function pieces(reply: string): string[] {
  return reply.match(/\S+\s*/g) ?? (reply ? [reply] : []);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Breaks a body off. Deno 2.1.4's server drops what it has not yet written
// when a body errors, headers included: a JSON body cut right after its first
// half closed the connection before any answer, which a client rightly sees as
// an unreachable agent, not as an answer broken off. A timer turn first lets
// the server put the headers and the text so far on the wire.
const DROP_AFTER_MS = 10;

async function drop(controller: ReadableStreamDefaultController<Uint8Array>, why: string) {
  await sleep(DROP_AFTER_MS);
  controller.error(new Error(why));
}

const HANG_LIMIT_MS = 5 * 60_000;

async function chatCompletions(req: Request): Promise<Response> {
  const arrived = performance.now();
  const elapsed = () => Math.round((performance.now() - arrived) * 1000) / 1000;
  const authorized = !requiredKey || req.headers.get("authorization") === `Bearer ${requiredKey}`;
  let body: {
    model?: unknown;
    messages?: unknown;
    stream?: unknown;
    stream_options?: { include_usage?: unknown };
    temperature?: unknown;
    tools?: unknown;
    tool_choice?: unknown;
  };
  try {
    body = await req.json();
  } catch {
    return openaiError(
      400,
      "We could not parse the JSON body of your request.",
      "invalid_request_error",
      null,
    );
  }
  if (typeof body.model !== "string" || !body.model) {
    return openaiError(400, "you must provide a model parameter", "invalid_request_error", null);
  }
  if (!Array.isArray(body.messages) || body.messages.length === 0) {
    return openaiError(400, "messages must be a non-empty array", "invalid_request_error", null);
  }
  const messages = body.messages as ChatMessage[];
  const lastUser = textOf([...messages].reverse().find((m) => m?.role === "user")?.content);
  const d = parseDirectives(lastUser);
  const stream = body.stream === true;
  const includeUsage = stream ? body.stream_options?.include_usage === true : true;
  const model = d.model || body.model;
  const tag = d.tag || crypto.randomUUID();
  const offered = Array.isArray(body.tools)
    ? body.tools.map((t) => String((t as { function?: { name?: unknown } })?.function?.name))
    : null;
  const record: Seen = {
    tag,
    requests: (records.get(tag)?.requests ?? 0) + 1,
    received_at: new Date().toISOString(),
    authorized,
    model: body.model,
    stream,
    include_usage: includeUsage,
    temperature: typeof body.temperature === "number" ? body.temperature : null,
    messages: messages.map((m) => ({
      role: String(m.role),
      content: textOf(m.content),
      ...(m.tool_calls === undefined ? {} : { tool_calls: m.tool_calls }),
      ...(m.tool_call_id === undefined ? {} : { tool_call_id: m.tool_call_id }),
    })),
    directives: d,
    status: 200,
    outcome: "streaming",
    chunks_sent: 0,
    content: "",
    usage: null,
    tools: offered,
    tool_choice: body.tool_choice ?? null,
    tool_calls: [],
    rounds: [...(records.get(tag)?.rounds ?? [])],
    elapsed_ms: null,
  };
  record.rounds.push({ tools: offered, tool_choice: record.tool_choice, tool_calls: [] });
  remember(record);
  if (!authorized) {
    record.status = 401;
    record.outcome = "error_status";
    log("warn", "refused a request with a wrong or missing API key", { tag: d.tag });
    return openaiError(401, ...ERRORS[401]);
  }
  const disorder = toolOrderError(messages);
  if (disorder) {
    record.status = 400;
    record.outcome = "error_status";
    log("warn", "refused a conversation with tool messages out of order", { tag: d.tag });
    return openaiError(400, disorder, "invalid_request_error", null);
  }
  const summary = {
    tag: d.tag,
    model: body.model,
    stream,
    messages: messages.length,
    directives: Object.keys(d),
  };

  if ("hang" in d) {
    record.outcome = "hung";
    log("info", "hanging on purpose ([[hang]])", summary);
    // Deno's server does not always notice a client that hangs up while it
    // sends nothing, so the wait is bounded too.
    const gone = await Promise.race([
      new Promise<boolean>((resolve) => req.signal.addEventListener("abort", () => resolve(true))),
      sleep(HANG_LIMIT_MS).then(() => false),
    ]);
    if (gone) record.outcome = "client_closed";
    return new Response(null, { status: 499 });
  }
  if (d.status) {
    const status = Number(d.status);
    const [message, type, code] = ERRORS[status] ?? [`Error ${status}.`, "server_error", null];
    record.status = status;
    record.outcome = "error_status";
    log("info", `answering HTTP ${status} on purpose`, summary);
    const res = openaiError(status, message, type, code);
    if (status === 429) res.headers.set("Retry-After", "7");
    return res;
  }

  const calls = toolPlan(body, messages, lastUser, d);
  // Beside tool calls, only the preamble (if asked for); otherwise the answer.
  const round = turnOf(messages).filter((m) => Array.isArray(m.tool_calls)).length + 1;
  const preamble = calls && "tool-preamble" in d ? `Let me check (round ${round}). ` : "";
  const reply = calls ? preamble : composeReply(
    messages,
    lastUser,
    d.words === undefined ? undefined : Number(d.words),
  );
  if (calls) {
    record.tool_calls = calls;
    record.rounds[record.rounds.length - 1].tool_calls = calls;
  }
  const usage: Usage | null = "no-usage" in d ? null : {
    prompt_tokens: messages.reduce((n, m) => n + tokens(textOf(m.content)) + 3, 0),
    completion_tokens: tokens(reply || JSON.stringify(calls ?? [])),
    total_tokens: 0,
  };
  if (usage) usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
  const id = `chatcmpl-local-${crypto.randomUUID()}`;
  const created = Math.floor(Date.now() / 1000);
  const delay = d.slow ? Number(d.slow) : defaultDelay;
  const breakAfter = d.break === undefined ? undefined : Number(d.break || 3);
  const stallAfter = d.stall === undefined ? undefined : Number(d.stall || 3);
  log("info", "answering", summary);

  if (!stream) {
    const completion = JSON.stringify({
      id,
      object: "chat.completion",
      created,
      model,
      system_fingerprint: "oprina-local-development-agent",
      choices: [{
        index: 0,
        message: calls
          ? {
            role: "assistant",
            content: reply || null,
            tool_calls: calls.map((c) => ({
              id: c.id,
              type: "function",
              function: { name: c.name, arguments: c.arguments },
            })),
            refusal: null,
          }
          : { role: "assistant", content: reply, refusal: null },
        logprobs: null,
        finish_reason: calls ? "tool_calls" : "stop",
      }],
      ...(usage ? { usage } : {}),
    });
    if (breakAfter === undefined && stallAfter === undefined) {
      record.outcome = "completed";
      record.content = reply;
      record.usage = usage;
      record.elapsed_ms = elapsed();
      return new Response(completion, { headers: { "Content-Type": "application/json" } });
    }
    // Half a body, then drop the connection (or go silent).
    const half = completion.slice(0, Math.floor(completion.length / 2));
    let sent = false;
    return new Response(
      new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (!sent) {
            sent = true;
            controller.enqueue(encoder.encode(half));
            return;
          }
          if (stallAfter !== undefined) {
            record.outcome = "stalled";
            await new Promise<void>((resolve) =>
              req.signal.addEventListener("abort", () => resolve())
            );
            return;
          }
          record.outcome = "dropped";
          await drop(controller, "dropped on purpose ([[break]])");
        },
        cancel() {
          record.outcome = "client_closed";
        },
      }),
      { headers: { "Content-Type": "application/json" } },
    );
  }

  // Streaming: role chunk, content chunks, finish chunk, usage chunk, [DONE].
  const base = {
    id,
    object: "chat.completion.chunk",
    created,
    model,
    system_fingerprint: "oprina-local-development-agent",
  };
  const chunk = (delta: Record<string, unknown>, finish: string | null) =>
    JSON.stringify({
      ...base,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      ...(includeUsage ? { usage: null } : {}),
    });
  const parts = pieces(reply);
  const events: string[] = calls ? toolCallEvents(calls, chunk, parts) : [
    chunk({ role: "assistant", content: "" }, null),
    ...parts.map((p) => chunk({ content: p }, null)),
  ];
  // Faults go after the second content chunk, so some text arrives first.
  const faultAt = 1 + Math.min(2, parts.length);
  if ("stream-error" in d) {
    const error = { message: "The model stopped unexpectedly.", type: "server_error", code: null };
    events.splice(faultAt, 0, JSON.stringify({ error }));
  }
  if ("garbage" in d) events.splice(faultAt, 0, "{not json");
  events.push(chunk({}, calls ? "tool_calls" : "stop"));
  if (includeUsage && usage) events.push(JSON.stringify({ ...base, choices: [], usage }));
  events.push("[DONE]");

  let i = 0;
  let contentSent = 0;
  return new Response(
    new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (i > 0 && delay > 0) await sleep(delay);
        if (breakAfter !== undefined && contentSent >= breakAfter) {
          record.outcome = "dropped";
          log("info", "dropping the connection mid-stream on purpose ([[break]])", { tag: d.tag });
          await drop(controller, "dropped on purpose");
          return;
        }
        if (stallAfter !== undefined && contentSent >= stallAfter) {
          record.outcome = "stalled";
          log("info", "going silent mid-stream on purpose ([[stall]])", { tag: d.tag });
          await new Promise<void>((resolve) =>
            req.signal.addEventListener("abort", () => resolve())
          );
          return;
        }
        if (i >= events.length) {
          controller.close();
          return;
        }
        const event = events[i++];
        // Settled as it is sent: a client may hang up right after [DONE].
        if (event === "[DONE]") {
          record.outcome = "completed";
          record.usage = usage;
          record.elapsed_ms = elapsed();
        }
        if (event.includes('"delta":{"content"')) {
          contentSent++;
          record.content += JSON.parse(event).choices[0].delta.content;
        }
        record.chunks_sent = contentSent;
        controller.enqueue(encoder.encode(`data: ${event}\n\n`));
      },
      cancel() {
        if (record.outcome === "streaming" || record.outcome === "stalled") {
          record.outcome = "client_closed";
          log("info", "the client closed the stream", { tag: d.tag, chunks_sent: contentSent });
        }
      },
    }),
    { headers: { "Content-Type": "text/event-stream", "Cache-Control": "no-cache" } },
  );
}

// As OpenAI streams tool calls: any text first, then the first delta of each
// call with its index, id, type and name and empty arguments; the arguments
// follow in pieces.
function toolCallEvents(
  calls: ToolCallOut[],
  chunk: (delta: Record<string, unknown>, finish: string | null) => string,
  preamble: string[],
): string[] {
  const events = [
    chunk({ role: "assistant", content: preamble.length ? "" : null }, null),
    ...preamble.map((p) => chunk({ content: p }, null)),
  ];
  calls.forEach((c, index) => {
    events.push(chunk({
      tool_calls: [{
        index,
        id: c.id,
        type: "function",
        function: { name: c.name, arguments: "" },
      }],
    }, null));
    for (let at = 0; at < c.arguments.length; at += 8) {
      events.push(chunk({
        tool_calls: [{ index, function: { arguments: c.arguments.slice(at, at + 8) } }],
      }, null));
    }
  });
  return events;
}

// --- HeyGen stand-in -----------------------------------------------------------------

async function heygenCreateToken(req: Request): Promise<Response> {
  const given = req.headers.get("x-api-key");
  await req.body?.cancel();
  if (!given) {
    // HeyGen's v1 error shape.
    return Response.json({ code: 400112, message: "Unauthorized" }, { status: 401 });
  }
  const [key, behaviour] = given.split(":", 2);
  if (key !== heygenKey) {
    return Response.json({
      error: {
        code: "unauthorized",
        message: "The API key provided is invalid, expired, or missing.",
        doc_url: "https://developers.heygen.com/docs/error-codes#unauthorized",
      },
    }, { status: 401 });
  }
  log("info", "HeyGen stand-in: create_token", { behaviour: behaviour ?? "ok" });
  switch (behaviour) {
    case undefined:
      return Response.json({
        error: null,
        data: { token: `local-heygen-session-${crypto.randomUUID()}` },
      });
    case "rate-limited":
      return Response.json({
        error: {
          code: "rate_limit_exceeded",
          message: "Too many requests hit the API too quickly.",
          doc_url: "https://developers.heygen.com/docs/error-codes#rate-limit-exceeded",
        },
      }, { status: 429, headers: { "Retry-After": "30" } });
    case "server-error":
      return Response.json({
        error: { code: "internal_error", message: "Something went wrong on HeyGen's end." },
      }, { status: 500 });
    case "malformed":
      return Response.json({ error: null, data: {} });
    case "error-body":
      return Response.json({
        error: { code: 10001, message: "Session limit reached" },
        data: null,
      });
    case "hang":
      await new Promise<void>((resolve) => req.signal.addEventListener("abort", () => resolve()));
      return new Response(null, { status: 499 });
    default:
      return Response.json({ code: 400112, message: "Unauthorized" }, { status: 401 });
  }
}

// --- routing ------------------------------------------------------------------------

async function route(req: Request): Promise<Response> {
  const url = new URL(req.url);
  const path = url.pathname.replace(/\/+$/, "");
  if (req.method === "GET" && path === "/health") {
    return Response.json({ status: "ok", service: SERVICE, note: "not a real model" });
  }
  if (req.method === "GET" && path === "/v1/models") {
    return Response.json({
      object: "list",
      data: [{ id: "oprina-local-dev", object: "model", created: 0, owned_by: SERVICE }],
    });
  }
  if (req.method === "POST" && path === "/v1/chat/completions") return await chatCompletions(req);
  if (req.method === "POST" && path === "/v1/streaming.create_token") {
    return await heygenCreateToken(req);
  }
  const control = path.match(/^\/__control\/requests\/([^/]+)$/);
  if (req.method === "GET" && control) {
    const record = records.get(decodeURIComponent(control[1]));
    return record
      ? Response.json(record)
      : Response.json({ error: "no such tag" }, { status: 404 });
  }
  return openaiError(
    404,
    `Unknown request URL: ${req.method} ${path}`,
    "invalid_request_error",
    null,
  );
}

Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, route);
log(
  "info",
  "LOCAL DEVELOPMENT AGENT listening: an OpenAI-compatible stand-in, not a real model; " +
    "for development and tests only",
  {
    url: `http://127.0.0.1:${port}/v1`,
    requires_key: Boolean(requiredKey),
    heygen_stand_in: `http://127.0.0.1:${port}/v1/streaming.create_token`,
  },
);
