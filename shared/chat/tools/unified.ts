// The tools' operations are the unified API's (shared/unified/operations.ts):
// the same code, rights and scope rules as the unified function's routes.
// Which are allowed is the unified API's own rule (allowedBy: live
// connections, its scope table) over the same connections read, sent inside
// the chat turn's first round trip instead of on its own.
import type { Row } from "../../db/client.ts";
import type { TokenRow } from "../../tokens/store.ts";
import { allowedBy, connectionsRead, toConnections } from "../../unified/connections.ts";
import { operations } from "../../unified/operations.ts";
import type { Toolbox } from "./catalog.ts";

export const unifiedToolbox: Toolbox = {
  operations,
  allowedRead: {
    statement: connectionsRead(),
    allowed: (rows: Row[]) => allowedBy(toConnections(rows as unknown as TokenRow[])),
  },
};
