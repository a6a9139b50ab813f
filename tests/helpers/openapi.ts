// Reads a function's OpenAPI document into the list of operations the
// generated suites (auth matrix, scope matrix) walk over.
import { call } from "./stack.ts";

export type Operation = {
  fn: string;
  method: string;
  path: string; // as documented, e.g. /sessions/{id}
  scope?: string; // the API-key scope it needs; undefined when keys are refused
  secured: boolean;
  hasBody: boolean;
  // Declared with refuseAnonymous: anonymous sign-ins get 403 anonymous_not_allowed.
  refusesAnonymous: boolean;
  // Declared with allowService: the service key is accepted too.
  serviceAllowed: boolean;
  responses: Record<string, { description?: string }>;
};

type Doc = {
  paths: Record<
    string,
    Record<string, {
      security?: Record<string, string[]>[];
      requestBody?: unknown;
      responses?: Record<string, { description?: string }>;
      "x-anonymous-users"?: string;
      "x-service-key"?: string;
    }>
  >;
};

export async function operations(fn: string): Promise<Operation[]> {
  const res = await call("GET", `/${fn}/openapi.json`);
  if (res.status !== 200) throw new Error(`no openapi.json for ${fn}: ${res.status}`);
  const doc = res.body as Doc;
  return Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => {
      const security = op.security ?? [];
      return {
        fn,
        method: method.toUpperCase(),
        path,
        scope: security.find((s) => s.apiKey)?.apiKey[0],
        secured: security.length > 0,
        hasBody: op.requestBody !== undefined,
        refusesAnonymous: op["x-anonymous-users"] === "refused",
        serviceAllowed: op["x-service-key"] !== undefined,
        responses: op.responses ?? {},
      };
    })
  );
}

// Fills every {param} of a documented path.
export function fill(path: string, value: string): string {
  return path.replace(/\{[^}]+\}/g, value);
}
