import { createApp } from "../../../shared/http/app.ts";
import * as archive from "../../../shared/sessions/routes/archive.ts";
import * as create from "../../../shared/sessions/routes/create.ts";
import * as del from "../../../shared/sessions/routes/delete.ts";
import * as get from "../../../shared/sessions/routes/get.ts";
import * as list from "../../../shared/sessions/routes/list.ts";
import * as messages from "../../../shared/sessions/routes/messages.ts";
import * as stats from "../../../shared/sessions/routes/stats.ts";
import * as update from "../../../shared/sessions/routes/update.ts";

const app = createApp(
  "sessions",
  "Chat sessions: create, list, update, archive, and read messages.",
);

// Static paths before /{id}, or /stats would be read as an id.
for (const route of [stats, list, create, get, update, del, archive, messages]) {
  route.register(app);
}

export default app;
