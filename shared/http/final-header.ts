// A header on the answer the route gave. Hono's c.header() on a finished
// answer copies the whole Response first (a new Response and all its headers,
// every call); middleware that runs after the route sets the answer's own
// headers in place instead, unless they are immutable (a Response passed
// through from fetch()), where the copy is what makes them writable.
import type { Context } from "hono";

export function setFinalHeader(c: Context, name: string, value: string): void {
  try {
    c.res.headers.set(name, value);
  } catch {
    c.header(name, value);
  }
}

export function appendFinalHeader(c: Context, name: string, value: string): void {
  try {
    c.res.headers.append(name, value);
  } catch {
    c.header(name, value, { append: true });
  }
}
