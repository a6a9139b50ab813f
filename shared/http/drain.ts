// What an early answer left unread is read and thrown away before the answer
// goes out. Deno 2.1.4's server (the one hosted's edge runtime runs) closes a
// connection whose request body was not read to the end, and a client still
// sending that body then sees "broken pipe" or "connection closed before
// message completed" instead of our envelope: a 401, 403 or 413, a 400 for a
// bad path, any route that takes no body. Later Deno drains on its own; this
// makes every version behave the same. Bounded in bytes and time, so no client
// can hold a handler with an endless or a trickling upload.
import { MAX_BODY_BYTES } from "./limits.ts";

// A body a few times over the limit still gets its 413; a larger one (as
// declared or as it arrives), or one slower than the deadline, is left unread
// and its connection closes.
export const DRAIN_MAX_BYTES = 4 * MAX_BODY_BYTES;
export const DRAIN_MAX_MS = 5_000;

type Handler<A extends unknown[]> = (req: Request, ...rest: A) => Response | Promise<Response>;

export function drainingUnreadBody<A extends unknown[]>(handler: Handler<A>): Handler<A> {
  return async (req, ...rest) => {
    if (!req.body) return await handler(req, ...rest);
    // The app reads the body through a stream we feed, so we keep the reader
    // of the connection's body and know whether the app read it to the end.
    const source = req.body.getReader();
    let finished = false;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const next = await source.read();
        if (next.done) {
          finished = true;
          controller.close();
        } else {
          controller.enqueue(next.value);
        }
      },
    }, { highWaterMark: 0 });
    try {
      return await handler(new Request(req, { body }), ...rest);
    } finally {
      if (!finished) await discard(source, declaredLength(req));
    }
  };
}

function declaredLength(req: Request): number | null {
  const value = req.headers.get("content-length");
  return value && /^\d+$/.test(value) ? Number(value) : null;
}

async function discard(source: ReadableStreamDefaultReader<Uint8Array>, declared: number | null) {
  if (declared !== null && declared > DRAIN_MAX_BYTES) {
    await source.cancel().catch(() => {});
    return;
  }
  // Cancelling ends a pending read, so the deadline also frees a stalled one.
  const deadline = setTimeout(() => source.cancel().catch(() => {}), DRAIN_MAX_MS);
  try {
    let read = 0;
    while (read <= DRAIN_MAX_BYTES) {
      const next = await source.read();
      if (next.done) return;
      read += next.value.byteLength;
    }
    await source.cancel();
  } catch {
    // The client went away mid-body: nothing is left to read.
  } finally {
    clearTimeout(deadline);
  }
}
