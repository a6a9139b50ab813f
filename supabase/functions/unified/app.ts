import { createApp } from "../../../shared/http/app.ts";
import { oauthConfig } from "../../../shared/oauth/config.ts";
import { tokensConfig } from "../../../shared/tokens/config.ts";
import { unifiedConfig } from "../../../shared/unified/config.ts";
import * as draftsCreate from "../../../shared/unified/routes/drafts-create.ts";
import * as draftsSend from "../../../shared/unified/routes/drafts-send.ts";
import * as eventsCreate from "../../../shared/unified/routes/events-create.ts";
import * as eventsGet from "../../../shared/unified/routes/events-get.ts";
import * as eventsList from "../../../shared/unified/routes/events-list.ts";
import * as freeBusy from "../../../shared/unified/routes/free-busy.ts";
import * as messagesGet from "../../../shared/unified/routes/messages-get.ts";
import * as messagesSearch from "../../../shared/unified/routes/messages-search.ts";

// Malformed configuration stops the function here, at start.
oauthConfig();
tokensConfig();
unifiedConfig();

const app = createApp(
  "unified",
  "One calendar and mail API over the user's Google and Microsoft connections: events, " +
    "free/busy, mail search, reading, drafts and sending, in the same shapes for both.",
);

// Static paths before /{id}: /calendar/free-busy is not an event.
for (
  const route of [
    eventsList,
    freeBusy,
    eventsCreate,
    eventsGet,
    messagesSearch,
    messagesGet,
    draftsCreate,
    draftsSend,
  ]
) {
  route.register(app);
}

export default app;
