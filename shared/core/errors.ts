// The one error type of the API and its wire format:
// {"error":{"code","message","details"?,"request_id"}}.
import type { ContentfulStatusCode } from "hono/utils/http-status";

export const errorStatus = {
  validation_failed: 400,
  unauthorized: 401,
  forbidden: 403,
  insufficient_scope: 403,
  anonymous_not_allowed: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  // An API key's credits are spent (shared/auth/key-check.ts): until its refill.
  usage_exceeded: 429,
  internal: 500,
  service_unavailable: 503,
  // oauth and tokens (shared/oauth, shared/tokens): the callback's state, the provider's answers
  invalid_state: 400,
  access_denied: 403,
  needs_reauth: 409,
  connection_exhausted: 409,
  provider_error: 502,
  provider_timeout: 504,
  // chat (shared/chat): closed sessions, Idempotency-Key, the agent and HeyGen
  session_closed: 409,
  idempotency_in_progress: 409,
  idempotency_mismatch: 422,
  agent_error: 502,
  heygen_error: 502,
  agent_unavailable: 503,
  agent_timeout: 504,
  // chat tool calling (shared/chat/actions.ts): deciding a pending action
  action_in_progress: 409,
  action_decided: 409,
  action_expired: 410,
  // account (shared/account): the cap on live API keys
  api_key_limit: 409,
  // unified (shared/unified): a connection's grant, the provider's quota, which connection
  insufficient_provider_scope: 403,
  provider_rate_limited: 429,
  connection_required: 400,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ErrorCode = keyof typeof errorStatus;

export class AppError extends Error {
  readonly status: ContentfulStatusCode;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = "AppError";
    this.status = errorStatus[code];
  }
}

export type ErrorBody = {
  error: { code: ErrorCode; message: string; details?: unknown; request_id: string };
};

export function errorBody(err: AppError, requestId: string): ErrorBody {
  const error: ErrorBody["error"] = { code: err.code, message: err.message, request_id: requestId };
  if (err.details !== undefined) error.details = err.details;
  return { error };
}

export const notFound = (what: string) => new AppError("not_found", `${what} not found`);

// postgres.js connection failures: the database is unreachable, not the request wrong.
const UNAVAILABLE = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now
  "53300", // too_many_connections
]);

// SQLSTATEs that only bad input can cause.
const BAD_INPUT: Record<string, string> = {
  // shared/db/literal.ts: a value that cannot be written as SQL (out of a
  // type's range, NUL, a lone surrogate): bad input, caught before Postgres.
  BAD_LITERAL: "a value is out of range or holds characters that cannot be stored",
  "22001": "a value is too long",
  "22003": "a number is out of range",
  "22007": "a date or time is malformed",
  "22021": "a text value has a character Postgres cannot store",
  "22P05": "a text value has a character Postgres cannot store (such as \\u0000)",
  "22P02": "a value has the wrong format",
  "23502": "a required value is missing",
  "23503": "a referenced record does not exist",
  "23514": "a value is not allowed",
  // Only a value nested too deeply for Postgres's parser gets here (our SQL is
  // not recursive); the API refuses such values before they reach SQL.
  "54001": "a value is nested too deeply",
};

export function isDatabaseUnavailable(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === "string" && UNAVAILABLE.has(code);
}

// Maps anything thrown below a route to the envelope's vocabulary. Unknown
// errors become "internal" and keep their text out of the response.
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const code = (err as { code?: unknown })?.code;
  if (typeof code === "string") {
    if (isDatabaseUnavailable(err)) {
      return new AppError(
        "service_unavailable",
        "the database is unavailable, retry shortly",
        undefined,
        {
          "Retry-After": "1",
        },
      );
    }
    // Never with the constraint, table, schema or column Postgres names: they
    // map our schema for anyone probing it and tell a client nothing it can
    // act on. A route that can say which field was wrong refines the error
    // itself (as chat's send does for parent_message_id).
    if (code in BAD_INPUT) return new AppError("validation_failed", BAD_INPUT[code]);
    if (code === "23505") return new AppError("conflict", "the record already exists");
    if (code === "55000") return new AppError("conflict", "the record's state does not allow this");
  }
  const status = (err as { status?: unknown })?.status;
  if (typeof status === "number" && status >= 400 && status < 500) {
    // Hono's HTTPException for malformed bodies and similar client faults.
    const byStatus = Object.entries(errorStatus).find(([, s]) => s === status)?.[0] as ErrorCode;
    return new AppError(byStatus ?? "validation_failed", (err as Error).message || "bad request");
  }
  return new AppError("internal", "internal error");
}
