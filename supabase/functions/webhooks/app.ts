import { createApp } from "../../../shared/http/app.ts";
import { webhooksConfig } from "../../../shared/webhooks/config.ts";
import * as deliver from "../../../shared/webhooks/routes/deliver.ts";
import * as create from "../../../shared/webhooks/routes/endpoints-create.ts";
import * as remove from "../../../shared/webhooks/routes/endpoints-delete.ts";
import * as deliveries from "../../../shared/webhooks/routes/endpoints-deliveries.ts";
import * as get from "../../../shared/webhooks/routes/endpoints-get.ts";
import * as list from "../../../shared/webhooks/routes/endpoints-list.ts";
import * as rotate from "../../../shared/webhooks/routes/endpoints-rotate-secret.ts";
import * as test from "../../../shared/webhooks/routes/endpoints-test.ts";
import * as update from "../../../shared/webhooks/routes/endpoints-update.ts";

// Malformed configuration stops the function here, at start.
const config = webhooksConfig();

const app = createApp(
  "webhooks",
  "Signed webhooks (Standard Webhooks) of connection events: the caller's endpoints, their " +
    "secrets and deliveries, a test delivery, and the scheduled delivery worker.",
);

deliver.register(app);
list.register(app);
create.register(app, config);
get.register(app);
update.register(app);
remove.register(app);
rotate.register(app, config);
test.register(app, config);
deliveries.register(app);

export default app;
