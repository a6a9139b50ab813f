// The http(s) URLs clients store (profiles.avatar_url,
// messages.voice_response_url). The database checks the same scheme rule
// (`~* '^https?://'`, migration 20261130000600_api_write_role), so whatever
// passes here is stored: z.url() trims the value and accepts "http:x" without
// slashes unless told otherwise, hence the explicit pattern on its output.
import { z } from "@hono/zod-openapi";

export const HTTP_URL_SCHEME = /^https?:\/\//i;

export function httpUrl() {
  return z.url({ protocol: /^https?$/ })
    .regex(HTTP_URL_SCHEME, "must start with http:// or https://")
    .max(2048);
}
