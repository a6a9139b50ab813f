// What the agent is sent: the system prompt, the session's recent messages
// (at most AGENT_HISTORY_MESSAGES, and at most AGENT_HISTORY_CHARS characters
// of them, newest kept first), then the new message, which is always sent whole.
//
// When the turn offers tools, earlier turns' tool rounds are part of that
// history, in OpenAI's order: the assistant message carrying a round's
// tool_calls, one role "tool" message per call (same tool_call_id), the next
// round, ..., then the turn's answer. A round is rebuilt from its stored tool
// messages (call id, name, arguments, result; tool_round says which calls were
// asked together, tool_round_content what the agent said beside them) and is
// kept or cut whole: OpenAI rejects a tool message without its assistant
// tool_calls message, and a tool_calls message without all of its results.
import type { AgentMessage } from "./agent.ts";
import type { AgentConfig } from "./config.ts";
import type { Message } from "../sessions/schemas.ts";
import { storedResultForModel } from "./tools/results.ts";

// The columns the history reads (store.ts selects exactly these).
export const HISTORY_COLUMNS = [
  "id",
  "role",
  "content",
  "parent_message_id",
  "tool_call_id",
  "tool_name",
  "tool_arguments",
  "tool_round",
  "tool_round_content",
] as const satisfies readonly (keyof Message)[];

// Earlier messages as the store returns them: newest first, each turn's tool
// messages right after (older than) its answer, newest round first.
export type HistoryRow = Pick<Message, (typeof HISTORY_COLUMNS)[number]>;

export type Prompt = { messages: AgentMessage[]; historyMessages: number; historyChars: number };

// A piece of history kept or cut whole: one message, or one tool round.
type Unit = { messages: AgentMessage[]; chars: number };

// The units of the history, newest first. `resultMaxChars` undefined: the
// turn offers no tools, so the rounds are left out (an agent not given tools
// may refuse tool messages); the answers stay.
function unitsOf(newestFirst: HistoryRow[], resultMaxChars: number | undefined): Unit[] {
  const units: Unit[] = [];
  for (let i = 0; i < newestFirst.length;) {
    const row = newestFirst[i];
    if (row.role !== "tool") {
      i++;
      const content = resultMaxChars === undefined
        ? row.content
        : answerAfterRounds(row, newestFirst.slice(i));
      // An answer with no text (the turn's rounds said it all) is no message.
      if (content) units.push({ messages: [{ role: row.role, content }], chars: content.length });
      continue;
    }
    // The round: the tool rows of the same reply and round that follow.
    const calls: HistoryRow[] = [];
    while (
      i < newestFirst.length && newestFirst[i].role === "tool" &&
      newestFirst[i].parent_message_id === row.parent_message_id &&
      (newestFirst[i].tool_round ?? 0) === (row.tool_round ?? 0)
    ) calls.push(newestFirst[i++]);
    if (resultMaxChars !== undefined) units.push(roundOf(calls.reverse(), resultMaxChars));
  }
  return units;
}

// A stored answer holds everything the agent said in its turn, the text
// beside each round's calls first; with the rounds in the history, that text
// is theirs, and the answer is what follows it.
function answerAfterRounds(answer: HistoryRow, older: HistoryRow[]): string {
  if (answer.role !== "assistant") return answer.content;
  const beside = older.filter((r) => r.role === "tool" && r.parent_message_id === answer.id)
    .reverse().map((r) => r.tool_round_content ?? "").join("");
  return beside && answer.content.startsWith(beside)
    ? answer.content.slice(beside.length)
    : answer.content;
}

// One round, its calls oldest first: the assistant message, then the results.
function roundOf(calls: HistoryRow[], resultMaxChars: number): Unit {
  const said = calls.find((c) => c.tool_round_content)?.tool_round_content ?? null;
  const toolCalls = calls.map((c) => ({
    id: c.tool_call_id!,
    type: "function" as const,
    function: { name: c.tool_name!, arguments: JSON.stringify(c.tool_arguments ?? {}) },
  }));
  const results = calls.map((c) => ({
    role: "tool" as const,
    tool_call_id: c.tool_call_id!,
    content: storedResultForModel(c.content, resultMaxChars),
  }));
  const chars = (said?.length ?? 0) +
    toolCalls.reduce((n, c) => n + c.function.arguments.length, 0) +
    results.reduce((n, r) => n + r.content.length, 0);
  return {
    messages: [{ role: "assistant", content: said, tool_calls: toolCalls }, ...results],
    chars,
  };
}

export function buildPrompt(
  agent: Pick<AgentConfig, "systemPrompt" | "historyMessages" | "historyChars">,
  newestFirst: HistoryRow[],
  current: string,
  resultMaxChars?: number,
): Prompt {
  const kept: AgentMessage[][] = [];
  let count = 0;
  let chars = 0;
  // The first unit that does not fit ends the history: what is sent is always
  // the newest part of the conversation, without gaps.
  for (const unit of unitsOf(newestFirst, resultMaxChars)) {
    if (count + unit.messages.length > agent.historyMessages) break;
    if (chars + unit.chars > agent.historyChars) break;
    count += unit.messages.length;
    chars += unit.chars;
    kept.push(unit.messages);
  }
  kept.reverse();
  const system: AgentMessage[] = agent.systemPrompt
    ? [{ role: "system", content: agent.systemPrompt }]
    : [];
  return {
    messages: [...system, ...kept.flat(), { role: "user", content: current }],
    historyMessages: count,
    historyChars: chars,
  };
}
