// The random values of an authorization request. The state goes to the
// browser and comes back once; only its SHA-256 is stored. The PKCE verifier
// stays on the server (RFC 7636, S256).
import { sha256 } from "@oslojs/crypto/sha2";
import { encodeBase64urlNoPadding, encodeHexLowerCase } from "@oslojs/encoding";

const random = (bytes: number) =>
  encodeBase64urlNoPadding(crypto.getRandomValues(new Uint8Array(bytes)));

// 256 bits each; a 43-character verifier is the RFC 7636 minimum length.
export const newState = () => random(32);
export const newCodeVerifier = () => random(32);

export function hashState(state: string): string {
  return encodeHexLowerCase(sha256(new TextEncoder().encode(state)));
}

// What a state from the outside world may look like before we hash it.
export const STATE_PATTERN = /^[A-Za-z0-9_-]{20,128}$/;
