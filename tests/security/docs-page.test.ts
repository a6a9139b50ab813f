// The docs page of every function loads only pinned assets that the browser
// checks (Subresource Integrity) or assets of its own origin: a CDN that
// serves another file, or "latest" moving on, cannot run script on our page.
import assert from "node:assert/strict";
import { API_URL, FUNCTIONS_URL, test } from "../helpers/stack.ts";

const { functions } = await (await fetch(`${API_URL}/health`)).json() as { functions: string[] };

const attribute = (tag: string, name: string) =>
  tag.match(new RegExp(`\\s${name}\\s*=\\s*"([^"]*)"`, "i"))?.[1];

// What is wrong with one <script> or <link> tag; undefined when it is fine.
function problemOf(tag: string): string | undefined {
  const url = attribute(tag, "src") ?? attribute(tag, "href");
  if (url === undefined) return /^<script/i.test(tag) ? undefined : "a link without href";
  if (!/^https?:\/\//i.test(url) && !url.startsWith("//")) return undefined; // same origin
  if (!/@\d+\.\d+\.\d+\//.test(url)) return `not pinned to an exact version: ${url}`;
  const integrity = attribute(tag, "integrity") ?? "";
  const digest = integrity.match(/^sha(384|512)-([A-Za-z0-9+/]+={0,2})$/);
  if (!digest) return `no sha384/sha512 integrity: ${url}`;
  const bytes = atob(digest[2]).length;
  if (bytes !== Number(digest[1]) / 8) return `integrity of ${bytes} bytes: ${url}`;
  if (attribute(tag, "crossorigin") !== "anonymous") return `no crossorigin=anonymous: ${url}`;
  return undefined;
}

test("every docs page loads only pinned assets with integrity, or its own", async () => {
  const problems: string[] = [];
  let external = 0;
  for (const fn of functions) {
    const res = await fetch(`${FUNCTIONS_URL}/${fn}/docs`);
    const html = await res.text();
    assert.equal(res.status, 200, `${fn}: ${html.slice(0, 200)}`);
    assert.match(html, /openapi\.json/);
    const tags = html.match(/<(script|link)\b[^>]*>/gi) ?? [];
    assert.ok(tags.length >= 3, `${fn}: ${tags.length} tags`);
    for (const tag of tags) {
      if (/^(https?:)?\/\//i.test(attribute(tag, "src") ?? attribute(tag, "href") ?? "")) {
        external++;
      }
      const problem = problemOf(tag);
      if (problem) problems.push(`${fn}: ${problem}`);
    }
  }
  assert.deepEqual(problems, []);
  assert.ok(external >= functions.length * 2, "the script and the stylesheet are checked");
});
