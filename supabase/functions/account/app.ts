import * as activity from "../../../shared/account/routes/activity.ts";
import * as adminStats from "../../../shared/account/routes/admin-stats.ts";
import * as apiKeys from "../../../shared/account/routes/api-keys.ts";
import * as deleteMe from "../../../shared/account/routes/delete-me.ts";
import * as me from "../../../shared/account/routes/me.ts";
import { createApp } from "../../../shared/http/app.ts";

const app = createApp("account", "The caller's profile, activity, API keys, and account deletion.");

for (const route of [me, deleteMe, activity, apiKeys, adminStats]) route.register(app);

export default app;
