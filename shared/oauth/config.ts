// The connect flow's configuration: the providers (shared/providers/config.ts)
// plus where POST /authorize may send the browser afterwards. Parsed once per
// isolate; any problem stops the function at start with the variable's name.
import { z } from "zod";
import { type ProvidersConfig, resolveProviders } from "../providers/config.ts";
import { redirectTarget } from "./redirect.ts";

export type OAuthConfig = ProvidersConfig & {
  // Where POST /authorize may send the browser afterwards (redirect_to).
  redirectAllowlist: URL[];
};

const csv = z.string().transform((s) => s.split(",").map((p) => p.trim()).filter(Boolean));

export function parseOAuthConfig(env: Record<string, string | undefined>): OAuthConfig {
  const { config, problems } = resolveProviders(env);
  const allowlist: URL[] = [];
  const entries = csv.default([]).safeParse(env.OAUTH_REDIRECT_ALLOWLIST);
  for (const entry of entries.data ?? []) {
    const u = redirectTarget(entry);
    if (u && !u.search && !u.hash) allowlist.push(u);
    else {
      problems.push(
        `OAUTH_REDIRECT_ALLOWLIST: "${entry}" is neither an http(s) URL nor an app's ` +
          "private-use scheme URL (com.example.app:/path), without query",
      );
    }
  }
  if (problems.length || !config) {
    throw new Error(`invalid OAuth configuration: ${problems.join("; ")}`);
  }
  return { ...config, redirectAllowlist: allowlist };
}

let cached: OAuthConfig | undefined;

export function oauthConfig(): OAuthConfig {
  return cached ??= parseOAuthConfig(Deno.env.toObject());
}
