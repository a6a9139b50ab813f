// A client's free-form JSON object (agent_config, context_data, metadata,
// preferences), declared once so every such field is held to the same rules
// and the OpenAPI document states them: an object, at most MAX_JSON_DEPTH
// levels (also `x-max-depth`), at most `maxBytes` of UTF-8 JSON, no NUL
// (Postgres's jsonb cannot store it). The database checks the depth too.
import { z } from "@hono/zod-openapi";
import { MAX_JSON_DEPTH, pathDeeperThan } from "./json-depth.ts";

const kib = (bytes: number) => `${bytes / 1024} KiB`;

export function jsonObjectField(o: { maxBytes: number; description: string }) {
  return z.record(z.string(), z.unknown())
    .superRefine((value, ctx) => {
      // Depth first: the checks below serialize, which recurses.
      if (pathDeeperThan(value, MAX_JSON_DEPTH)) {
        ctx.addIssue({ code: "custom", message: `must nest at most ${MAX_JSON_DEPTH} levels` });
        return;
      }
      const text = JSON.stringify(value);
      if (new TextEncoder().encode(text).length > o.maxBytes) {
        ctx.addIssue({ code: "custom", message: `must serialize to at most ${kib(o.maxBytes)}` });
      }
      if (text.includes("\\u0000")) {
        ctx.addIssue({ code: "custom", message: "must not contain NUL characters" });
      }
    })
    .openapi({
      description: `${o.description} A JSON object of at most ${kib(o.maxBytes)}, nested at ` +
        `most ${MAX_JSON_DEPTH} levels ({} is one level).`,
      "x-max-depth": MAX_JSON_DEPTH,
    });
}
