// The tools' operations are the unified API's (shared/unified/operations.ts):
// the same code, rights and scope rules as the unified function's routes.
// Which are allowed is allowedOperations' rule (active connections, the
// unified API's scope table) over the same connections read, sent inside the
// chat turn's first round trip instead of on its own.
import type { Row } from "../../db/client.ts";
import { type TokenRow, tokensPage } from "../../tokens/store.ts";
import { operations } from "../../unified/operations.ts";
import { allows, isUnifiedProvider, OPERATION_NAMES } from "../../unified/scopes.ts";
import type { Toolbox } from "./catalog.ts";

const MAX_CONNECTIONS = 100;

export const unifiedToolbox: Toolbox = {
  operations,
  allowedRead: {
    statement: tokensPage({ status: "active", includeRevoked: false, limit: MAX_CONNECTIONS }),
    allowed(rows: Row[]) {
      const active = (rows as unknown as TokenRow[]).filter((r) => isUnifiedProvider(r.provider));
      return OPERATION_NAMES.filter((op) =>
        active.some((c) => allows(c.provider as "google" | "microsoft", op, c.granted_scopes))
      );
    },
  },
};
