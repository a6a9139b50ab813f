// The small interface the rest of the code uses to talk to a provider:
// authorization URL, code exchange, refresh, revocation and the account's
// identity. Arctic's generic OAuth2Client does the protocol work with the
// endpoints from our provider data, so a provider can point at the local
// server and Arctic can be replaced without touching a route.
//
// Every failure becomes a ProviderError whose message never carries a token,
// a code or a client secret.
import {
  ArcticFetchError,
  CodeChallengeMethod,
  decodeIdToken,
  OAuth2Client,
  OAuth2RequestError,
  type OAuth2Tokens,
  UnexpectedErrorResponseBodyError,
  UnexpectedResponseError,
} from "arctic";
import type { ResolvedProvider } from "./config.ts";

export type TokenSet = {
  accessToken: string;
  refreshToken: string | null;
  expiresAt: Date;
  // As the provider reported them; null when the response had no scope.
  scopes: string[] | null;
  idToken: string | null;
};

export type ProviderAccount = { id: string; email: string | null };

export type ProviderErrorKind =
  | "invalid_grant" // the grant is dead: the user must reconnect
  | "rejected" // another OAuth error answer (invalid_client, invalid_scope, ...)
  | "unavailable" // 5xx, connection refused or closed
  | "timeout"
  | "malformed"; // an answer we cannot read

export class ProviderError extends Error {
  constructor(
    readonly kind: ProviderErrorKind,
    message: string,
    readonly oauthError?: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = "ProviderError";
  }
}

export type RevocationResult = "revoked" | "not_supported";

export interface ProviderClient {
  readonly provider: ResolvedProvider;
  authorizationUrl(state: string, codeVerifier: string, scopes: string[]): URL;
  exchange(code: string, codeVerifier: string): Promise<TokenSet>;
  refresh(refreshToken: string, scopes: string[]): Promise<TokenSet>;
  revoke(token: string): Promise<RevocationResult>;
  account(tokens: TokenSet): Promise<ProviderAccount>;
}

// Providers that omit expires_in get the common one-hour lifetime.
const DEFAULT_LIFETIME_S = 3600;

export function createProviderClient(
  provider: ResolvedProvider,
  redirectUri: string,
  timeoutMs: number,
): ProviderClient {
  const arctic = new OAuth2Client(provider.clientId, provider.clientSecret, redirectUri);
  const { endpoints } = provider;

  return {
    provider,

    authorizationUrl(state, codeVerifier, scopes) {
      const url = arctic.createAuthorizationURLWithPKCE(
        endpoints.authorization,
        state,
        CodeChallengeMethod.S256,
        codeVerifier,
        scopes,
      );
      for (const [k, v] of Object.entries(provider.authorizeParams)) url.searchParams.set(k, v);
      return url;
    },

    async exchange(code, codeVerifier) {
      const tokens = await guarded(
        "code exchange",
        timeoutMs,
        () => arctic.validateAuthorizationCode(endpoints.token, code, codeVerifier),
      );
      return tokenSet(tokens);
    },

    async refresh(refreshToken, scopes) {
      const tokens = await guarded(
        "refresh",
        timeoutMs,
        () =>
          arctic.refreshAccessToken(
            endpoints.token,
            refreshToken,
            provider.refreshWithScopes ? scopes : [],
          ),
      );
      return tokenSet(tokens);
    },

    async revoke(token) {
      if (!endpoints.revocation) return "not_supported";
      await guarded(
        "revocation",
        timeoutMs,
        () => arctic.revokeToken(endpoints.revocation!, token),
      );
      return "revoked";
    },

    async account(tokens) {
      let res: Response;
      try {
        res = await fetch(endpoints.userinfo, {
          headers: { Authorization: `Bearer ${tokens.accessToken}`, Accept: "application/json" },
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (err) {
        const timedOut = (err as Error)?.name === "TimeoutError";
        throw new ProviderError(
          timedOut ? "timeout" : "unavailable",
          `userinfo ${timedOut ? "timed out" : "failed"}`,
        );
      }
      if (!res.ok) {
        await res.body?.cancel();
        throw new ProviderError(
          res.status >= 500 ? "unavailable" : "rejected",
          `userinfo answered ${res.status}`,
          undefined,
          res.status,
        );
      }
      let info: Record<string, unknown>;
      try {
        info = await res.json();
      } catch {
        throw new ProviderError("malformed", "userinfo answer is not JSON");
      }
      // A missing e-mail in userinfo (Microsoft accounts without a mailbox
      // claim) falls back to the ID token that came straight from the token
      // endpoint over TLS (OIDC Core 3.1.3.7).
      let claims: Record<string, unknown> = {};
      if (tokens.idToken) {
        try {
          claims = decodeIdToken(tokens.idToken) as Record<string, unknown>;
        } catch {
          claims = {};
        }
      }
      const id = info.sub;
      if (typeof id !== "string" || id.length < 1 || id.length > 255) {
        throw new ProviderError("malformed", "userinfo has no subject");
      }
      const email = [info.email, claims.email, claims.preferred_username]
        .find((e): e is string => typeof e === "string" && e.includes("@") && e.length <= 320);
      return { id, email: email ?? null };
    },
  };
}

function tokenSet(tokens: OAuth2Tokens): TokenSet {
  let accessToken: string;
  try {
    accessToken = tokens.accessToken();
  } catch {
    throw new ProviderError("malformed", "the token answer has no access_token");
  }
  const data = tokens.data as Record<string, unknown>;
  const lifetime = typeof data.expires_in === "number" && data.expires_in > 0
    ? data.expires_in
    : typeof data.expires_in === "string" && /^\d+$/.test(data.expires_in)
    ? Number(data.expires_in)
    : DEFAULT_LIFETIME_S;
  return {
    accessToken,
    refreshToken: tokens.hasRefreshToken() ? tokens.refreshToken() : null,
    expiresAt: new Date(Date.now() + lifetime * 1000),
    scopes: tokens.hasScopes() ? tokens.scopes().filter(Boolean) : null,
    idToken: typeof data.id_token === "string" ? data.id_token : null,
  };
}

// Runs one Arctic call under a deadline and maps its errors. Arctic's fetch
// cannot be aborted, so on timeout we stop waiting and let it settle unseen.
async function guarded<T>(what: string, timeoutMs: number, call: () => Promise<T>): Promise<T> {
  const pending = call();
  pending.catch(() => {}); // a late failure after a timeout must not go unhandled
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new ProviderError("timeout", `${what} timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([pending, deadline]);
  } catch (err) {
    throw toProviderError(what, err);
  } finally {
    clearTimeout(timer);
  }
}

function toProviderError(what: string, err: unknown): ProviderError {
  if (err instanceof ProviderError) return err;
  if (err instanceof OAuth2RequestError) {
    const code = /^[a-z_]{1,64}$/.test(err.code) ? err.code : "unknown_error";
    return new ProviderError(
      code === "invalid_grant" ? "invalid_grant" : "rejected",
      `${what} refused: ${code}`,
      code,
    );
  }
  if (err instanceof UnexpectedResponseError) {
    // 200 whose body did not parse (or was cut off) is malformed; 5xx is an outage.
    return err.status >= 500
      ? new ProviderError("unavailable", `${what} answered ${err.status}`, undefined, err.status)
      : err.status === 200
      ? new ProviderError("malformed", `${what} answer could not be read`, undefined, 200)
      : new ProviderError("rejected", `${what} answered ${err.status}`, undefined, err.status);
  }
  if (err instanceof UnexpectedErrorResponseBodyError) {
    return new ProviderError("rejected", `${what} answered ${err.status}`, undefined, err.status);
  }
  if (err instanceof ArcticFetchError) {
    return new ProviderError("unavailable", `${what} could not reach the provider`);
  }
  return new ProviderError("malformed", `${what} failed unexpectedly`);
}
