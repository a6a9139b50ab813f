import { createRoute } from "@hono/zod-openapi";
import type { App } from "../../http/app.ts";
import { AppError } from "../../core/errors.ts";
import { log } from "../../core/log.ts";
import {
  errorResponsesWith,
  jsonResponse,
  REFUSES_ANONYMOUS,
  userAccess,
} from "../../http/openapi.ts";
import type { ChatConfig } from "../config.ts";
import { createStreamingToken, HeygenFailure } from "../heygen.ts";
import { chatErrors, HeygenToken } from "../schemas.ts";

export const route = createRoute({
  method: "post",
  path: "/heygen/token",
  summary: "Get a short-lived HeyGen streaming-avatar token",
  description: "Asks HeyGen for a streaming session token with the server's API key and returns " +
    "the token only; the API key never leaves the server.",
  tags: ["chat"],
  // A paid token: not for anonymous users (docs/decisions.md).
  ...userAccess("chat:write", "heygen", { refuseAnonymous: true }),
  responses: {
    200: jsonResponse("A token for HeyGen's streaming avatar SDK", HeygenToken),
    ...chatErrors(401, 429, 502, 503),
    ...errorResponsesWith(REFUSES_ANONYMOUS)(403),
  },
});

function toEnvelope(f: HeygenFailure): AppError {
  const details = { reason: f.kind, upstream_status: f.detail.status ?? null };
  switch (f.kind) {
    case "rate_limited": {
      const after = String(f.detail.retryAfter ?? 30);
      return new AppError(
        "service_unavailable",
        `HeyGen is rate limiting token requests; retry in ${after} s`,
        details,
        { "Retry-After": after },
      );
    }
    case "unreachable":
      return new AppError("service_unavailable", "HeyGen could not be reached", details, {
        "Retry-After": "5",
      });
    case "unauthorized":
      return new AppError("heygen_error", "HeyGen refused this server's credentials", details);
    case "timeout":
      return new AppError("heygen_error", "HeyGen did not answer in time", details);
    default:
      return new AppError("heygen_error", "HeyGen could not issue a token", details);
  }
}

export function register(app: App, config: ChatConfig) {
  app.openapi(route, async (c) => {
    if (!config.heygen) {
      throw new AppError(
        "service_unavailable",
        "HeyGen streaming avatars are not configured on this server (HEYGEN_API_KEY is not set)",
        { reason: "not_configured" },
      );
    }
    try {
      const token = await createStreamingToken(config.heygen);
      c.header("Cache-Control", "no-store");
      return c.json({ token }, 200);
    } catch (err) {
      if (!(err instanceof HeygenFailure)) throw err;
      log(f_level(err), "heygen token failed", {
        request_id: c.get("requestId"),
        reason: err.kind,
        upstream_status: err.detail.status,
        upstream_code: err.detail.upstreamCode,
      });
      throw toEnvelope(err);
    }
  });
}

// A refused key needs an operator; everything else is HeyGen's weather.
const f_level = (f: HeygenFailure) => (f.kind === "unauthorized" ? "error" : "warn");
