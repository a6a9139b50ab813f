// Opaque cursors for keyset pagination: base64url JSON of the last row's sort
// key. A cursor that does not decode is the client's error (400), not ours.
import { z } from "@hono/zod-openapi";
import { decodeBase64urlIgnorePadding, encodeBase64urlNoPadding } from "@oslojs/encoding";
import { AppError } from "../core/errors.ts";

export const pageQuery = {
  limit: z.coerce.number().int().min(1).max(100).default(20)
    .openapi({ description: "Page size, 1 to 100." }),
  cursor: z.string().max(512).optional()
    .openapi({ description: "next_cursor from the previous page." }),
};

export function encodeCursor(key: unknown[]): string {
  return encodeBase64urlNoPadding(new TextEncoder().encode(JSON.stringify(key)));
}

export function decodeCursor<T>(cursor: string, shape: z.ZodType<T>): T {
  try {
    const json = new TextDecoder().decode(decodeBase64urlIgnorePadding(cursor));
    return shape.parse(JSON.parse(json));
  } catch {
    throw new AppError("validation_failed", "the cursor is invalid", {
      issues: [{ path: "cursor", message: "not a cursor returned by this API" }],
    });
  }
}

// Fetch limit + 1 rows; the extra row only says whether another page exists.
export function page<T>(rows: T[], limit: number, keyOf: (row: T) => unknown[]) {
  const data = rows.slice(0, limit);
  const next = rows.length > limit ? encodeCursor(keyOf(data[data.length - 1])) : null;
  return { data, next_cursor: next };
}
