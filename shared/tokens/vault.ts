// The token encryption key lives in Supabase Vault. Without it nothing can be
// stored or read, and nothing here ever makes one up: functions check it at
// start (index.ts) and token routes refuse to run without it.
import { createMiddleware } from "hono/factory";
import { asService } from "../db/client.ts";
import type { AppEnv } from "../auth/context.ts";
import { AppError } from "../core/errors.ts";
import { log } from "../core/log.ts";
import { encryptionKeyVersion } from "./store.ts";

// SQLSTATE raised by private.token_key* when Vault has no usable key.
export const NO_KEY = "TK001";

export function isMissingKey(err: unknown): boolean {
  return (err as { code?: unknown })?.code === NO_KEY;
}

export function missingKeyError(): AppError {
  return new AppError(
    "service_unavailable",
    "the token encryption key is not configured; tokens cannot be stored or read",
  );
}

let verified = false;

// Throws a clear error when Vault holds no usable key. Memoized once it passes:
// a key, once present, is never removed (old versions must keep decrypting).
export async function assertEncryptionKey(): Promise<void> {
  if (verified) return;
  try {
    await asService(encryptionKeyVersion);
    verified = true;
  } catch (err) {
    if (isMissingKey(err)) {
      log("error", "token encryption key missing", {
        hint: "create token_encryption_key in Vault",
      });
      throw missingKeyError();
    }
    throw err;
  }
}

// Route middleware for every route that stores or reads token secrets.
export const requireEncryptionKey = createMiddleware<AppEnv>(async (_c, next) => {
  await assertEncryptionKey();
  await next();
});

// For index.ts: refuse to start without the key. It throws: inside an edge
// worker Deno.exit does nothing, while a module that fails to evaluate is a
// worker that never boots (every request gets the platform's boot error), and
// under the Deno CLI the process exits 1. A database that is merely
// unreachable at boot is not a verdict on the key; the middleware checks again.
export async function refuseToStartWithoutKey(fn: string): Promise<void> {
  try {
    const version = await asService(encryptionKeyVersion);
    verified = true;
    log("info", "token encryption key present", { fn, key_version: version });
  } catch (err) {
    if (isMissingKey(err)) {
      log("error", "refusing to start: no token encryption key in Vault", { fn });
      throw new Error(
        `${fn}: refusing to start: Vault holds no token_encryption_key (see the README)`,
      );
    }
    log("warn", "could not check the token encryption key at start", { fn });
  }
}
