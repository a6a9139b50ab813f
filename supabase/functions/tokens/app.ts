import { createApp } from "../../../shared/http/app.ts";
import { providersConfig } from "../../../shared/providers/config.ts";
import { tokensConfig } from "../../../shared/tokens/config.ts";
import * as accessToken from "../../../shared/tokens/routes/access-token.ts";
import * as cleanup from "../../../shared/tokens/routes/cleanup.ts";
import * as events from "../../../shared/tokens/routes/events.ts";
import * as get from "../../../shared/tokens/routes/get.ts";
import * as list from "../../../shared/tokens/routes/list.ts";
import * as refreshDue from "../../../shared/tokens/routes/refresh-due.ts";
import * as refresh from "../../../shared/tokens/routes/refresh.ts";
import * as revoke from "../../../shared/tokens/routes/revoke.ts";
import * as stats from "../../../shared/tokens/routes/stats.ts";

// Malformed configuration stops the function here, at start.
providersConfig();
tokensConfig();

const app = createApp(
  "tokens",
  "Connected provider accounts: list, statistics, refresh, revoke, and fresh access tokens " +
    "for the agent; the scheduled refresh and cleanup.",
);

// Static paths before /{id}, or /stats would be read as an id.
for (
  const route of [stats, events, refreshDue, cleanup, list, accessToken, get, refresh, revoke]
) {
  route.register(app);
}

export default app;
