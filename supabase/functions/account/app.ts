import { accountConfig } from "../../../shared/account/config.ts";
import * as activity from "../../../shared/account/routes/activity.ts";
import * as adminStats from "../../../shared/account/routes/admin-stats.ts";
import * as keyReroll from "../../../shared/account/routes/api-key-reroll.ts";
import * as roleCreate from "../../../shared/account/routes/api-key-role-create.ts";
import * as roleDelete from "../../../shared/account/routes/api-key-role-delete.ts";
import * as roleList from "../../../shared/account/routes/api-key-role-list.ts";
import * as roleUpdate from "../../../shared/account/routes/api-key-role-update.ts";
import * as keyUpdate from "../../../shared/account/routes/api-key-update.ts";
import * as keyUsage from "../../../shared/account/routes/api-key-usage.ts";
import * as apiKeys from "../../../shared/account/routes/api-keys.ts";
import * as deleteMe from "../../../shared/account/routes/delete-me.ts";
import * as me from "../../../shared/account/routes/me.ts";
import { createApp } from "../../../shared/http/app.ts";

const app = createApp("account", "The caller's profile, activity, API keys, and account deletion.");

// Parsed here, at start: a malformed API_KEYS_MAX_LIVE stops the function with its name.
const config = accountConfig();

for (const route of [me, deleteMe, activity]) route.register(app);
apiKeys.register(app, config);
for (
  const route of [keyUpdate, keyReroll, keyUsage, roleList, roleCreate, roleUpdate, roleDelete]
) {
  route.register(app);
}
adminStats.register(app);

export default app;
