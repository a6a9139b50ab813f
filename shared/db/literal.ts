// SQL text with the values written in as literals, so a request's whole
// transaction can leave in one simple-protocol message (one network round
// trip, and no prepared statements, which Supavisor's transaction mode cannot
// keep). With that, how values are written is the whole of our injection
// safety, so there is exactly one way in: a value enters SQL text only through
// an encoder below, each for one Postgres type, each checking its input, and
// the `sql` tag refuses anything that is not an encoded value or a fragment
// built the same way. Identifiers come from code (`ident`), never from input.
//
// Every literal is a standard string constant ('…', quotes doubled; valid
// because standard_conforming_strings is on in every supported Postgres, and
// checked at run time by shared/db/client.ts) followed by an explicit cast, so
// its type never depends on the statement around it.

const LITERAL = Symbol("sql literal");

// A piece of SQL text that is safe to splice: an encoded value, an
// identifier, or a statement built with `sql`.
export type SqlText = { readonly [LITERAL]: string };

const fragment = (text: string): SqlText => Object.freeze({ [LITERAL]: text });

export function isSql(value: unknown): value is SqlText {
  return typeof value === "object" && value !== null && LITERAL in value;
}

export function textOf(s: SqlText): string {
  return s[LITERAL];
}

// A value that cannot be written as SQL: bad input (the error envelope maps
// its code to 400), never a reason to build the text some other way.
class LiteralError extends TypeError {
  readonly code = "BAD_LITERAL";
  constructor(type: string, why: string) {
    super(`cannot encode a ${type} literal: ${why}`);
    this.name = "LiteralError";
  }
}

const INT8_MIN = -(2n ** 63n);
const INT8_MAX = 2n ** 63n - 1n;

// A quoted string constant. NUL cannot be stored in Postgres text at all.
function quoted(value: string, type: string): string {
  if (typeof value !== "string") throw new LiteralError(type, "not a string");
  if (value.includes("\u0000")) throw new LiteralError(type, "it contains NUL");
  if (!value.isWellFormed()) throw new LiteralError(type, "it has a lone surrogate");
  return `'${value.replaceAll("'", "''")}'`;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// Encoders, one per type we send. `null` is SQL NULL of that type.
export const lit = {
  text: (v: string | null): SqlText =>
    fragment(v === null ? "null::text" : `${quoted(v, "text")}::text`),
  uuid: (v: string | null): SqlText => {
    if (v === null) return fragment("null::uuid");
    if (typeof v !== "string" || !UUID.test(v)) throw new LiteralError("uuid", "not a UUID");
    return fragment(`'${v.toLowerCase()}'::uuid`);
  },
  // A number must be a safe integer; a bigint may use int8's whole range.
  int: (v: number | bigint | null): SqlText => {
    if (v === null) return fragment("null::bigint");
    if (typeof v === "bigint") {
      if (v < INT8_MIN || v > INT8_MAX) throw new LiteralError("integer", "out of int8's range");
    } else if (!Number.isSafeInteger(v)) {
      throw new LiteralError("integer", `${v} is not a safe integer`);
    }
    return fragment(`(${v})::bigint`);
  },
  numeric: (v: number | null): SqlText => {
    if (v === null) return fragment("null::numeric");
    if (typeof v !== "number" || !Number.isFinite(v)) {
      throw new LiteralError("numeric", `${v} is not a finite number`);
    }
    return fragment(`'${String(v)}'::numeric`);
  },
  bool: (v: boolean | null): SqlText => {
    if (v === null) return fragment("null::boolean");
    if (typeof v !== "boolean") throw new LiteralError("boolean", "not a boolean");
    return fragment(v ? "true" : "false");
  },
  timestamptz: (v: Date | string | null): SqlText => {
    if (v === null) return fragment("null::timestamptz");
    const ms = v instanceof Date ? v.getTime() : typeof v === "string" ? Date.parse(v) : NaN;
    if (!Number.isFinite(ms)) throw new LiteralError("timestamptz", "not a valid time");
    const iso = new Date(ms).toISOString();
    // Years 0001-9999 only: beyond, toISOString writes ±YYYYYY, which Postgres reads otherwise.
    if (!/^\d{4}-/.test(iso) || iso.startsWith("0000")) {
      throw new LiteralError("timestamptz", "the year is outside 1-9999");
    }
    return fragment(`'${iso}'::timestamptz`);
  },
  jsonb: (v: unknown): SqlText => {
    if (v === undefined) throw new LiteralError("jsonb", "undefined is not JSON");
    const text = JSON.stringify(v);
    if (text === undefined) throw new LiteralError("jsonb", "not serializable");
    return fragment(`${quoted(text, "jsonb")}::jsonb`);
  },
  // Hex input ('\x…'): read literally, as standard_conforming_strings is on.
  bytea: (v: Uint8Array | null): SqlText => {
    if (v === null) return fragment("null::bytea");
    if (!(v instanceof Uint8Array)) throw new LiteralError("bytea", "not bytes");
    const hex = Array.from(v, (b) => b.toString(16).padStart(2, "0")).join("");
    return fragment(`'\\x${hex}'::bytea`);
  },
  textArray: (v: readonly string[] | null): SqlText => {
    if (v === null) return fragment("null::text[]");
    if (!Array.isArray(v)) throw new LiteralError("text[]", "not an array");
    return fragment(`array[${v.map((s) => quoted(s, "text[] element")).join(", ")}]::text[]`);
  },
  uuidArray: (v: readonly string[] | null): SqlText => {
    if (v === null) return fragment("null::uuid[]");
    if (!Array.isArray(v)) throw new LiteralError("uuid[]", "not an array");
    return fragment(`array[${v.map((s) => textOf(lit.uuid(s))).join(", ")}]::uuid[]`);
  },
} as const;

const IDENT = /^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$/;

// A table or column name from our own code (lowercase, optionally qualified).
export function ident(name: string): SqlText {
  if (!IDENT.test(name)) throw new LiteralError("identifier", `"${name}" is not a plain name`);
  return fragment(name);
}

// Comma-separated identifiers, e.g. the columns a schema derives.
export function idents(names: readonly string[]): SqlText {
  if (names.length === 0) throw new LiteralError("identifier list", "it is empty");
  return fragment(names.map((n) => textOf(ident(n))).join(", "));
}

// A statement or fragment. Every interpolation must itself be SqlText: a raw
// string, number or object is refused, so nothing reaches the text unencoded.
export function sql(strings: TemplateStringsArray, ...values: SqlText[]): SqlText {
  let text = strings[0];
  values.forEach((value, i) => {
    if (!isSql(value)) {
      throw new TypeError(`sql: interpolation ${i + 1} is not an encoded value (use lit.*)`);
    }
    text += textOf(value) + strings[i + 1];
  });
  return fragment(text);
}

// Fragments joined by a separator (e.g. optional where clauses with " and ").
export function join(parts: readonly SqlText[], separator: string): SqlText {
  if (!/^[\s,a-z]*$/i.test(separator)) throw new TypeError("join: the separator is not plain");
  return fragment(parts.map(textOf).join(separator));
}
