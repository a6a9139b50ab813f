import { type ChatConfig, chatConfig } from "../../../shared/chat/config.ts";
import * as action from "../../../shared/chat/routes/action.ts";
import * as confirm from "../../../shared/chat/routes/confirm.ts";
import * as get from "../../../shared/chat/routes/get.ts";
import * as heygen from "../../../shared/chat/routes/heygen.ts";
import * as reject from "../../../shared/chat/routes/reject.ts";
import * as send from "../../../shared/chat/routes/send.ts";
import * as update from "../../../shared/chat/routes/update.ts";
import { NO_TOOLS, type Toolbox } from "../../../shared/chat/tools/catalog.ts";
import { unifiedToolbox } from "../../../shared/chat/tools/unified.ts";
import { createApp } from "../../../shared/http/app.ts";

// The configuration and the tools' operations are parameters so tests can
// build the app without an agent, without HeyGen, with short timeouts or
// other tool limits.
export function buildChatApp(config: ChatConfig, toolbox: Toolbox = NO_TOOLS) {
  const app = createApp(
    "chat",
    "Chat with the agent: send messages (JSON or server-sent events; the agent may call tools " +
      "on the user's connected accounts), confirm or reject the writes it asks for, read " +
      "messages, record voice/avatar data, and get HeyGen streaming-avatar tokens.",
  );
  // The static /heygen/token and /actions/... before the /{sessionId}/... routes.
  heygen.register(app, config);
  action.register(app);
  confirm.register(app, toolbox);
  reject.register(app);
  send.register(app, config, toolbox);
  get.register(app);
  update.register(app);
  return app;
}

export default buildChatApp(chatConfig(), unifiedToolbox);
