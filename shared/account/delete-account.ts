// Deleting an account leaves no live grant behind. The order matters:
// 1. the profile is marked, committed, before anything else: from then on no
//    callback can park and no completion can store a connection for the user
//    (a completion already holding the profile's lock finishes first, and its
//    connection is then revoked below like any other);
// 2. grants parked for the user are revoked, then every connection;
// 3. the user and everything they own are deleted.
import type { z } from "@hono/zod-openapi";
import { asService } from "../db/client.ts";
import { disposeParkedOf } from "../oauth/grants.ts";
import { revokeAllForUser } from "../tokens/revoke.ts";
import type { RevokeResult } from "../tokens/schemas.ts";

export type Deletion = {
  deleted: boolean;
  revoked: z.infer<typeof RevokeResult>[];
  parked: number;
};

export async function deleteAccount(userId: string): Promise<Deletion> {
  await asService((tx) => tx`select private.begin_account_deletion(${userId})`);
  const parked = await disposeParkedOf(userId);
  // A provider that fails is recorded and the local tokens die regardless.
  const revoked = await revokeAllForUser(userId, "account_deleted");
  const deleted = await asService(async (tx) => {
    const [row] = await tx<{ deleted: boolean }[]>`
      select private.delete_user(${userId}) as deleted`;
    return row.deleted;
  });
  return { deleted, revoked, parked };
}
