// What the agent is sent: the system prompt, the session's recent messages
// (at most AGENT_HISTORY_MESSAGES, and at most AGENT_HISTORY_CHARS characters
// of them, newest kept first), then the new message, which is always sent whole.
import type { TextMessage } from "./agent.ts";
import type { AgentConfig } from "./config.ts";

// Earlier messages, newest first, as the store returns them.
export type HistoryRow = { role: "user" | "assistant" | "system"; content: string };

export type Prompt = { messages: TextMessage[]; historyMessages: number; historyChars: number };

export function buildPrompt(
  agent: Pick<AgentConfig, "systemPrompt" | "historyMessages" | "historyChars">,
  newestFirst: HistoryRow[],
  current: string,
): Prompt {
  const kept: TextMessage[] = [];
  let chars = 0;
  for (const row of newestFirst.slice(0, agent.historyMessages)) {
    if (chars + row.content.length > agent.historyChars) break;
    chars += row.content.length;
    kept.push({ role: row.role, content: row.content });
  }
  kept.reverse();
  const system: TextMessage[] = agent.systemPrompt
    ? [{ role: "system", content: agent.systemPrompt }]
    : [];
  return {
    messages: [...system, ...kept, { role: "user", content: current }],
    historyMessages: kept.length,
    historyChars: chars,
  };
}
