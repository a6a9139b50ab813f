// One provider client per enabled provider, built from the parsed config.
import { AppError } from "../core/errors.ts";
import { createProviderClient, type ProviderClient } from "./client.ts";
import { providersConfig, redirectUri } from "./config.ts";
import { PROVIDER_IDS, type ProviderId } from "./definitions.ts";

const clients = new Map<ProviderId, ProviderClient>();

export function providerClient(id: ProviderId): ProviderClient | undefined {
  let client = clients.get(id);
  if (!client) {
    const config = providersConfig();
    const provider = config.providers.get(id);
    if (!provider) return undefined;
    client = createProviderClient(provider, redirectUri(config, id), config.httpTimeoutMs);
    clients.set(id, client);
  }
  return client;
}

// For routes: an unknown or disabled provider is the caller's mistake.
export function enabledProvider(id: string): ProviderClient {
  const client = isProviderId(id) ? providerClient(id) : undefined;
  if (!client) {
    throw new AppError("validation_failed", `provider "${id}" is not enabled`, {
      issues: [{ path: "provider", message: "not an enabled provider (see GET /oauth/providers)" }],
    });
  }
  return client;
}

export function isProviderId(id: string): id is ProviderId {
  return (PROVIDER_IDS as readonly string[]).includes(id);
}
