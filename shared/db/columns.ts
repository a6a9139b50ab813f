// One declaration per API object (DESIGN §10): the zod schema of a row is the
// source; its type is z.infer of the schema and the columns a store selects
// are the schema's keys. A field added to the schema is selected and returned
// with no other edit, and none can be left out of a hand-kept column list.
// tests/shared/columns.test.ts checks every declared table against the
// catalog: each key a column of a matching type, or computed with a reason.
import { z } from "zod";

export type Key<S extends z.ZodObject> = keyof S["shape"] & string;

// The schema's keys, for postgres.js's identifier helper: tx(columnsOf(S)).
export function columnsOf<S extends z.ZodObject>(schema: S): Key<S>[] {
  return Object.keys(schema.shape);
}

const TABLE = Symbol("table");

// A table whose rows a response schema declares. `computed` names the keys
// that are no column of the table (the store writes their SQL), each with the
// reason; `columns` is every other key.
export type Table<S extends z.ZodObject, C extends Key<S> = never> = {
  readonly name: string;
  readonly schema: S;
  readonly columns: readonly Exclude<Key<S>, C>[];
  readonly computed: Readonly<Record<C, string>>;
};

export function table<S extends z.ZodObject, C extends Key<S> = never>(
  name: string,
  schema: S,
  computed = {} as Record<C, string>,
): Table<S, C> {
  const columns = columnsOf(schema).filter((k): k is Exclude<Key<S>, C> => !(k in computed));
  return Object.freeze({ [TABLE]: true as const, name, schema, columns, computed });
}

// Any declared table, as the catalog test walks them.
export type AnyTable = {
  readonly name: string;
  readonly schema: z.ZodObject;
  readonly columns: readonly string[];
  readonly computed: Readonly<Record<string, string>>;
};

export function isTable(value: unknown): value is AnyTable {
  return typeof value === "object" && value !== null && TABLE in value;
}

// A timestamp as rows carry it: client.ts parses every date and timestamp
// column to Date#toISOString(), always UTC ("…Z") with milliseconds.
export const timestamp = () => z.iso.datetime();
