// The tools' operations are the unified API's (shared/unified/operations.ts):
// the same code, rights and scope rules as the unified function's routes.
import { allowedOperations, operations } from "../../unified/operations.ts";
import type { Toolbox } from "./catalog.ts";

export const unifiedToolbox: Toolbox = {
  operations,
  allowed: (caller) => allowedOperations(caller),
};
