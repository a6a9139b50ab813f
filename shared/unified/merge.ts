// Lists across connections: one provider page from each, merged in order, the
// first `limit` answered. The cursor remembers, per connection, the provider
// page it is in (its page token) and how far into that page it got, so the
// next request re-reads those pages and goes on exactly where this one
// stopped; nothing is skipped or repeated while the provider's data stands
// still. The cursor also holds the page size the provider is asked for and a
// hash of the query, so a cursor only continues the list it came from.
import { z } from "@hono/zod-openapi";
import { encodeHexLowerCase } from "@oslojs/encoding";
import { sha256 } from "@oslojs/crypto/sha2";
import { AppError } from "../core/errors.ts";
import { decodeCursor, encodeCursor } from "../http/pagination.ts";
import type { Connection } from "./connections.ts";
import type { Page } from "./providers/api.ts";

const State = z.tuple([
  z.literal(1),
  z.string().length(16), // query hash
  z.number().int().min(1).max(50), // provider page size
  z.array(z.tuple([z.uuid(), z.string().max(2000).nullable(), z.number().int().min(0).max(5000)]))
    .min(1).max(100),
]);

const hashOf = (key: unknown) =>
  encodeHexLowerCase(sha256(new TextEncoder().encode(JSON.stringify(key)))).slice(0, 16);

export type MergeRequest<T> = {
  connections: Connection[];
  cursor?: string;
  // Everything that defines the list (not the cursor, not the limit).
  query: unknown;
  limit: number;
  fetch: (c: Connection, token: string | null, size: number) => Promise<Page<T>>;
  // The list's order: negative when a comes first.
  order: (a: T, b: T) => number;
};

export async function mergedPage<T>(
  r: MergeRequest<T>,
): Promise<{ data: T[]; next_cursor: string | null }> {
  const hash = hashOf(r.query);
  let size = r.limit;
  let positions: [string, string | null, number][] = r.connections.map((c) => [c.id, null, 0]);
  if (r.cursor) {
    const [, h, n, saved] = decodeCursor(r.cursor, State);
    if (h !== hash) {
      throw new AppError("validation_failed", "the cursor belongs to another query", {
        issues: [{ path: "cursor", message: "use it with the query that returned it" }],
      });
    }
    size = n;
    // A connection gone since the first page is left out.
    positions = saved.filter(([id]) => r.connections.some((c) => c.id === id));
  }
  const byId = new Map(r.connections.map((c) => [c.id, c]));
  const pages = await Promise.all(
    positions.map(([id, token]) => r.fetch(byId.get(id)!, token, size)),
  );

  type Candidate = { item: T; index: number; from: number };
  const candidates: Candidate[] = pages.flatMap((page, from) =>
    page.items.filter((x) => x.index >= positions[from][2]).map((x) => ({ ...x, from }))
  );
  candidates.sort((a, b) => r.order(a.item, b.item) || a.from - b.from || a.index - b.index);
  const taken = candidates.slice(0, r.limit);

  const next: [string, string | null, number][] = [];
  positions.forEach(([id, token, skip], from) => {
    const mine = taken.filter((t) => t.from === from);
    const left = candidates.filter((t) => t.from === from).length - mine.length;
    if (left > 0) {
      // Still inside this page: after the last item taken from it.
      const last = mine.length ? Math.max(...mine.map((t) => t.index)) + 1 : skip;
      next.push([id, token, last]);
    } else if (pages[from].next) {
      next.push([id, pages[from].next, 0]);
    }
  });
  return {
    data: taken.map((t) => t.item),
    next_cursor: next.length ? encodeCursor([1, hash, size, next]) : null,
  };
}
