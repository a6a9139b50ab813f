// Estimated cost of one reply in USD from the configured price table (USD per
// million tokens). A model without a price, or a reply without usage, costs
// null ("unknown"), never 0.
import type { AgentUsage } from "./agent.ts";
import type { PriceTable } from "./config.ts";

// Candidates in order: the model the agent says answered, then the one we asked for.
export function estimateCost(
  prices: PriceTable,
  models: Array<string | null | undefined>,
  usage: AgentUsage | null,
): number | null {
  if (!usage) return null;
  const model = models.find((m): m is string => !!m && Object.hasOwn(prices, m));
  if (!model) return null;
  const { prompt, completion } = prices[model];
  const usd = (usage.prompt_tokens * prompt + usage.completion_tokens * completion) / 1_000_000;
  // numeric(14, 6) in the database.
  return Math.round(usd * 1_000_000) / 1_000_000;
}
