import { type ChatConfig, chatConfig } from "../../../shared/chat/config.ts";
import * as get from "../../../shared/chat/routes/get.ts";
import * as heygen from "../../../shared/chat/routes/heygen.ts";
import * as send from "../../../shared/chat/routes/send.ts";
import * as update from "../../../shared/chat/routes/update.ts";
import { createApp } from "../../../shared/http/app.ts";

// The configuration is a parameter so tests can build the app without an
// agent, without HeyGen, or with short timeouts.
export function buildChatApp(config: ChatConfig) {
  const app = createApp(
    "chat",
    "Chat with the agent: send messages (JSON or server-sent events), read them, record " +
      "voice/avatar data, and get HeyGen streaming-avatar tokens.",
  );
  // The static /heygen/token before the /{sessionId}/... routes.
  heygen.register(app, config);
  send.register(app, config);
  get.register(app);
  update.register(app);
  return app;
}

export default buildChatApp(chatConfig());
