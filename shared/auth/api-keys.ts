// API keys: "opr_" + 160 random bits in base32. Only the SHA-256 of a key is
// stored; the key is shown once, at creation.
// The database holds the same shape (api_keys_prefix_shape: the prefix is
// "opr_" and 8 base32 characters; key_hash is 32 bytes), and only the API's
// role may insert keys, so every stored key came from generateApiKey.
import { sha256 } from "@oslojs/crypto/sha2";
import { encodeBase32LowerCaseNoPadding, encodeHexLowerCase } from "@oslojs/encoding";
import { db } from "../db/client.ts";
import type { Scope } from "./scopes.ts";

const KEY_PATTERN = /^opr_[a-z2-7]{32}$/;

export type NewApiKey = { key: string; prefix: string; hash: Uint8Array };

export function generateApiKey(): NewApiKey {
  const key = `opr_${encodeBase32LowerCaseNoPadding(crypto.getRandomValues(new Uint8Array(20)))}`;
  return { key, prefix: key.slice(0, 12), hash: hashApiKey(key) };
}

export function hashApiKey(key: string): Uint8Array {
  return sha256(new TextEncoder().encode(key));
}

export function looksLikeApiKey(value: string): boolean {
  return KEY_PATTERN.test(value);
}

export type ResolvedKey = { id: string; userId: string; scopes: Scope[]; email: string | null };

// One indexed lookup by hash through a SECURITY DEFINER function, which also
// coalesces last_used_at. Revoked and expired keys resolve to null. The hash
// goes in as a hex literal: a parameter would cost postgres.js a describe
// round trip first.
export async function resolveApiKey(key: string): Promise<ResolvedKey | null> {
  if (!looksLikeApiKey(key)) return null;
  const hash = encodeHexLowerCase(hashApiKey(key));
  const [row] = await db().unsafe<
    { id: string; user_id: string; scopes: Scope[]; email: string | null }[]
  >(`select id, user_id, scopes, email from private.resolve_api_key('\\x${hash}'::bytea)`);
  return row ? { id: row.id, userId: row.user_id, scopes: row.scopes, email: row.email } : null;
}
