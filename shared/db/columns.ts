// Column lists derived from the zod schema of an API object, for postgres.js's
// identifier helper: `select ${tx(columnsOf(Schema))} from …`. The schema is
// the one declaration, so a field added to it is selected with no other edit,
// and a field that no column holds fails the statement instead of vanishing
// from responses.
import type { z } from "zod";

export function columnsOf<Shape extends z.core.$ZodShape>(
  schema: z.ZodObject<Shape, z.core.$ZodObjectConfig>,
): (keyof Shape & string)[] {
  return Object.keys(schema.shape) as (keyof Shape & string)[];
}
