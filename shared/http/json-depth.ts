// How deeply JSON nests, counted without recursion. V8 parses JSON of any
// depth (its parser is iterative), but JSON.stringify, structured clones and
// most validators recurse, and so does Postgres's jsonb parser: a value nested
// some thousands of levels turned into 500s where it was written and wherever
// it was read later. Every JSON field a client sends is limited to
// MAX_JSON_DEPTH (json-field.ts), and the database checks the same number
// (private.jsonb_depth_within, migration 20261130000700_json_depth.sql).

// Levels of a client's JSON field: {} is 1, {"a":{}} is 2. Generous for
// settings and metadata, far below what any parser or serializer minds.
export const MAX_JSON_DEPTH = 32;

// Levels of a whole request body, counted before its schema looks at it
// (openapi.ts, depthGuarded): room for a JSON field inside a body's own
// objects, and a bound for every other field, which must not nest at all.
export const MAX_BODY_DEPTH = 2 * MAX_JSON_DEPTH;

export type JsonPath = (string | number)[];

type Frame = { value: object; level: number; key?: string | number; parent?: Frame };

// The path to the first container found deeper than `max` levels, or
// undefined when the value nests at most `max` levels. A scalar is 0 levels,
// [] and {} are 1, a container inside another one more. An explicit stack
// instead of recursion: a million levels cost time, never the call stack.
export function pathDeeperThan(value: unknown, max: number): JsonPath | undefined {
  if (value === null || typeof value !== "object") return undefined;
  const stack: Frame[] = [{ value, level: 1 }];
  while (stack.length > 0) {
    const frame = stack.pop()!;
    if (frame.level > max) return pathOf(frame);
    const entries = Array.isArray(frame.value)
      ? frame.value.map((child, i) => [i, child] as const)
      : Object.entries(frame.value);
    for (const [key, child] of entries) {
      if (child !== null && typeof child === "object") {
        stack.push({ value: child, level: frame.level + 1, key, parent: frame });
      }
    }
  }
  return undefined;
}

function pathOf(frame: Frame): JsonPath {
  const path: JsonPath = [];
  for (let f: Frame | undefined = frame; f?.key !== undefined; f = f.parent) path.push(f.key);
  return path.reverse();
}
