// The chat domain's environment, parsed once per isolate. An absent agent or
// HeyGen key is a supported state (the routes answer 503); a malformed value
// stops the function at start with the variable's name. Keys are wrapped in
// Secret, so printing or serializing the config never shows them.
import { z } from "zod";
import { OUTBOUND_BUDGET_MS } from "../platform.ts";

export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return "[redacted]";
  }
  toJSON(): string {
    return "[redacted]";
  }
  [Symbol.for("Deno.customInspect")](): string {
    return "[redacted]";
  }
}

export const DEFAULT_SYSTEM_PROMPT = "You are Oprina, a helpful voice and avatar assistant. " +
  "Answer clearly and briefly; your replies may be spoken aloud.";

// USD per million tokens, per model name as the agent reports it (or as configured).
const Price = z.strictObject({
  prompt: z.number().min(0).max(10_000),
  completion: z.number().min(0).max(10_000),
});
export type PriceTable = Record<string, z.infer<typeof Price>>;

const priceTable = z.string().transform((text, ctx) => {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    ctx.addIssue({ code: "custom", message: "must be JSON" });
    return z.NEVER;
  }
}).pipe(z.record(z.string().min(1), Price));

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const httpUrl = z.url({ protocol: /^https?$/ });

const schema = z.object({
  // Any OpenAI-compatible base URL (…/v1), or the full …/chat/completions URL.
  AGENT_URL: httpUrl.optional(),
  AGENT_API_KEY: z.string().max(4096).optional(),
  AGENT_MODEL: z.string().min(1).max(200).optional(),
  AGENT_SYSTEM_PROMPT: z.string().max(20_000).default(DEFAULT_SYSTEM_PROMPT),
  // The longest silence from the agent: before it answers, and between two chunks of a stream.
  // Capped by the platform's wall-clock limit (shared/platform.ts).
  AGENT_TIMEOUT_MS: int(100, OUTBOUND_BUDGET_MS).default(60_000),
  AGENT_HISTORY_MESSAGES: int(0, 200).default(20),
  AGENT_HISTORY_CHARS: int(0, 1_000_000).default(24_000),
  AGENT_PRICES: priceTable.default({}),
  // Ask the agent to stream (and for usage in the last chunk). Off for endpoints that cannot.
  AGENT_STREAM: z.enum(["true", "false"]).default("true"),
  // Tool calling (shared/chat/tools): offered when the user's connections allow
  // any tool. A turn runs at most CHAT_TOOL_MAX_ROUNDS rounds of calls and starts
  // none after CHAT_TOOL_TIME_BUDGET_MS; then the agent answers without tools.
  CHAT_TOOLS: z.enum(["true", "false"]).default("true"),
  CHAT_TOOL_MAX_ROUNDS: int(1, 20).default(5),
  // At most half the outbound budget, so the last answer always has the other half.
  CHAT_TOOL_TIME_BUDGET_MS: int(1_000, Math.floor(OUTBOUND_BUDGET_MS / 2)).default(60_000),
  // What one tool result may give the model, in characters (longer ones are cut).
  CHAT_TOOL_RESULT_MAX_CHARS: int(500, 100_000).default(12_000),
  // How long a write that waits for the user's confirmation stays confirmable.
  CHAT_ACTION_TTL_MS: int(60_000, 7 * 86_400_000).default(15 * 60_000),
  HEYGEN_API_KEY: z.string().max(4096).optional(),
  HEYGEN_BASE_URL: httpUrl.default("https://api.heygen.com"),
  HEYGEN_TIMEOUT_MS: int(100, OUTBOUND_BUDGET_MS).default(10_000),
}).superRefine((env, ctx) => {
  if (env.AGENT_URL && !env.AGENT_MODEL) {
    ctx.addIssue({ code: "custom", path: ["AGENT_MODEL"], message: "is required with AGENT_URL" });
  }
});

export type AgentConfig = {
  endpoint: URL;
  apiKey: Secret | null;
  model: string;
  systemPrompt: string;
  timeoutMs: number;
  historyMessages: number;
  historyChars: number;
  prices: PriceTable;
  stream: boolean;
  // null: tool calling is off (CHAT_TOOLS=false).
  tools: ToolLoopConfig | null;
};

export type ToolLoopConfig = {
  maxRounds: number;
  timeBudgetMs: number;
  resultMaxChars: number;
  actionTtlMs: number;
};

export type HeygenConfig = { apiKey: Secret; baseUrl: URL; timeoutMs: number };

// agent / heygen are null when not configured: those routes answer 503.
export type ChatConfig = { agent: AgentConfig | null; heygen: HeygenConfig | null };

// "" is unset, as in most .env files.
function present(env: Record<string, string | undefined>) {
  return Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
}

function completionsUrl(base: string): URL {
  const url = new URL(base);
  if (!/\/chat\/completions\/?$/.test(url.pathname)) {
    url.pathname = url.pathname.replace(/\/*$/, "/") + "chat/completions";
  }
  return url;
}

export function parseChatConfig(env: Record<string, string | undefined>): ChatConfig {
  const parsed = schema.safeParse(present(env));
  if (!parsed.success) {
    // Names and reasons only: a value (possibly a key) never reaches the message.
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    throw new Error(`invalid chat configuration: ${problems.join("; ")}`);
  }
  const c = parsed.data;
  return {
    agent: c.AGENT_URL
      ? {
        endpoint: completionsUrl(c.AGENT_URL),
        apiKey: c.AGENT_API_KEY ? new Secret(c.AGENT_API_KEY) : null,
        model: c.AGENT_MODEL!,
        systemPrompt: c.AGENT_SYSTEM_PROMPT,
        timeoutMs: c.AGENT_TIMEOUT_MS,
        historyMessages: c.AGENT_HISTORY_MESSAGES,
        historyChars: c.AGENT_HISTORY_CHARS,
        prices: c.AGENT_PRICES,
        stream: c.AGENT_STREAM === "true",
        tools: c.CHAT_TOOLS === "true"
          ? {
            maxRounds: c.CHAT_TOOL_MAX_ROUNDS,
            timeBudgetMs: c.CHAT_TOOL_TIME_BUDGET_MS,
            resultMaxChars: c.CHAT_TOOL_RESULT_MAX_CHARS,
            actionTtlMs: c.CHAT_ACTION_TTL_MS,
          }
          : null,
      }
      : null,
    heygen: c.HEYGEN_API_KEY
      ? {
        apiKey: new Secret(c.HEYGEN_API_KEY),
        baseUrl: new URL(c.HEYGEN_BASE_URL),
        timeoutMs: c.HEYGEN_TIMEOUT_MS,
      }
      : null,
  };
}

let cached: ChatConfig | undefined;

export function chatConfig(): ChatConfig {
  return cached ??= parseChatConfig(Deno.env.toObject());
}
