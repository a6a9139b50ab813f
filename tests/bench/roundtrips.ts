// Counts client/server round trips on a TCP connection: a loopback relay that
// forwards LISTEN_PORT to TARGET_PORT and counts, per connection, each burst
// of client bytes that follows bytes from the server (a "turn": the client
// waited for an answer before sending again). scripts/bench.sh puts it between
// a second gateway (or pgbench) and Postgres to measure round trips per request.
//
// With --delay-ms=D it also injects latency: every chunk read from either side
// is held D ms (from the moment it was read) before it is written on, so a
// round trip costs 2 x D more, as if the client and Postgres were on separate
// machines. Each direction keeps one queue written strictly in order: bytes are
// never reordered, merged with later bytes or split differently than read; a
// chunk read while an earlier one is held waits for its own deadline, not for
// the earlier one's plus its own (pipelined bytes stay pipelined).
//   deno run --allow-net tests/bench/roundtrips.ts TARGET_PORT [LISTEN_PORT] [STATS_PORT] [--delay-ms=D]
// Ports left out (or 0) are chosen by the system. Once listening it prints
// {"relay": port, "stats": port}; GET http://127.0.0.1:<stats>/ then answers
// {"turns": n, "connections": n, "delay_ms": D, "held": {...}}, where "held"
// (with a delay) says how long chunks were really held: count, p50_ms, p90_ms
// and mean_ms over the last 10,000 chunks, against the requested D; and
// GET /turns?after=N lists the turns numbered above N (the last 5,000 kept),
// each as what the client sent in it: Postgres message types ("Q" query,
// "P" parse, "B" bind, "D" describe, "E" execute, "S" sync, ...) and the
// statements' text, shortened, so a report can say what each round trip is.
const flags = Deno.args.filter((a) => a.startsWith("--"));
const positional = Deno.args.filter((a) => !a.startsWith("--"));
const [targetPort, listenPort = 0, statsPort = 0] = positional.map(Number);
const delayFlag = flags.find((f) => f.startsWith("--delay-ms="));
const delayMs = delayFlag ? Number(delayFlag.slice("--delay-ms=".length)) : 0;
const unknown = flags.filter((f) => !f.startsWith("--delay-ms="));
if (!targetPort || !(delayMs >= 0 && delayMs <= 10_000) || unknown.length) {
  console.error(
    "usage: roundtrips.ts TARGET_PORT [LISTEN_PORT] [STATS_PORT] [--delay-ms=D (0 to 10000)]",
  );
  Deno.exit(2);
}

let turns = 0;
let connections = 0;

// --- what each turn carried ---------------------------------------------------------
type Turn = { seq: number; conn: number; messages: string[]; sql: string[] };
const TURNS_KEPT = 5000;
const turnLog: Turn[] = [];
function newTurn(conn: number): Turn {
  const turn: Turn = { seq: ++turns, conn, messages: [], sql: [] };
  turnLog.push(turn);
  if (turnLog.length > TURNS_KEPT) turnLog.shift();
  return turn;
}

// Splits the client's side of a Postgres connection (frontend protocol 3.0)
// into messages, keeping only each message's type and the first bytes of its
// body: the untyped startup packet first, then "type, int32 length, body".
// Anything it cannot follow (TLS, a corrupt length) ends the parsing, never
// the relaying.
const HEAD_BYTES = 400;
class FrontendParser {
  #started = false;
  #broken = false;
  #header = new Uint8Array(5);
  #headerLen = 0;
  #type = "";
  #left = -1; // body bytes still to come; -1 while reading a header
  #head: number[] = [];
  constructor(private emit: (type: string, head: Uint8Array) => void) {}

  feed(bytes: Uint8Array) {
    let i = 0;
    while (i < bytes.length && !this.#broken) {
      if (this.#left < 0) {
        const size = this.#started ? 5 : 4;
        while (this.#headerLen < size && i < bytes.length) {
          this.#header[this.#headerLen++] = bytes[i++];
        }
        if (this.#headerLen < size) return;
        const view = new DataView(this.#header.buffer);
        const length = view.getInt32(this.#started ? 1 : 0);
        this.#type = this.#started ? String.fromCharCode(this.#header[0]) : "";
        this.#headerLen = 0;
        this.#head = [];
        if (length < 4 || length > 1 << 30) {
          this.#broken = true;
          return;
        }
        this.#left = length - 4;
      }
      const take = Math.min(this.#left, bytes.length - i);
      for (let k = 0; k < take && this.#head.length < HEAD_BYTES; k++) {
        this.#head.push(bytes[i + k]);
      }
      i += take;
      this.#left -= take;
      if (this.#left === 0) this.#message();
    }
  }

  #message() {
    this.#left = -1;
    const head = Uint8Array.from(this.#head);
    if (this.#started) return this.emit(this.#type, head);
    // The startup packet: protocol 3.0 starts the typed messages; an SSL or
    // GSS request is answered with one byte, and TLS would be unreadable.
    const code = head.length >= 4 ? new DataView(head.buffer).getInt32(0) : 0;
    if (code === 196608) {
      this.#started = true;
      this.emit("startup", head);
    } else if (code === 80877102) {
      this.emit("cancel", head);
    } else {
      this.emit("ssl/gss request", head);
      this.#broken = true;
    }
  }
}

const decoder = new TextDecoder();
// A statement's text from a Query ("Q": text) or Parse ("P": name, text) body.
function statementText(type: string, head: Uint8Array): string {
  let from = 0;
  if (type === "P") from = head.indexOf(0) + 1;
  let to = head.indexOf(0, from);
  if (to < 0) to = head.length;
  const text = decoder.decode(head.subarray(from, to)).replace(/\s+/g, " ").trim();
  return text.length > 100 ? `${text.slice(0, 99)}…` : text;
}

// --- precise holding ----------------------------------------------------------------
// Deno's setTimeout counts whole milliseconds and fires about 1.2 ms late (a
// 5 ms timer takes ~6.3 ms here), which would add a quarter to a 10 ms RTT. So
// a timer sleeps until shortly before the deadline and the last stretch is
// covered by yielding to the event loop through a MessageChannel (microseconds
// per turn, and the relay's other sockets keep being served meanwhile).
const channel = new MessageChannel();
let yielded: Array<() => void> = [];
channel.port1.onmessage = () => {
  const wake = yielded;
  yielded = [];
  for (const resolve of wake) resolve();
};
const yieldOnce = () =>
  new Promise<void>((resolve) => {
    if (yielded.push(resolve) === 1) channel.port2.postMessage(0);
  });
const TIMER_LATE_MS = 1.3;

async function until(deadline: number): Promise<void> {
  const left = deadline - performance.now();
  if (left > TIMER_LATE_MS) {
    await new Promise((resolve) => setTimeout(resolve, Math.floor(left - TIMER_LATE_MS)));
  }
  // Bounded: a deadline is at most 10 s away, and each turn takes some time.
  while (performance.now() < deadline) await yieldOnce();
}

// How long chunks were really held: the last HELD_KEPT, for the stats.
const HELD_KEPT = 10_000;
const held: number[] = [];
let heldCount = 0;
function recordHeld(ms: number) {
  held[heldCount++ % HELD_KEPT] = ms;
}
function heldStats() {
  if (!heldCount) return { count: 0 };
  const xs = held.slice(0, Math.min(heldCount, HELD_KEPT)).sort((a, b) => a - b);
  const at = (p: number) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))];
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    count: heldCount,
    p50_ms: round(at(0.5)),
    p90_ms: round(at(0.9)),
    mean_ms: round(xs.reduce((a, b) => a + b, 0) / xs.length),
  };
}

// Past this much unwritten data a side stops reading until its queue drains.
const MAX_QUEUED_BYTES = 16 * 1024 * 1024;

async function writeAll(to: Deno.Conn, bytes: Uint8Array) {
  let off = 0;
  while (off < bytes.length) off += await to.write(bytes.subarray(off));
}

async function relay(client: Deno.TcpConn) {
  const conn = ++connections;
  let server: Deno.TcpConn;
  try {
    server = await Deno.connect({ hostname: "127.0.0.1", port: targetPort });
  } catch {
    client.close();
    return;
  }
  // Nagle's algorithm off, as Postgres has it on its own sockets: otherwise a
  // chunk written while the previous one awaits its ACK waits for the peer's
  // delayed ACK (up to 40 ms on Linux), a stall the relay itself would add.
  // With the delay it turned a 3-round-trip transaction into 7 RTTs' worth.
  client.setNoDelay(true);
  server.setNoDelay(true);
  // "server" when the last bytes on this connection came from the server.
  let last: "client" | "server" = "server";
  let turn: Turn | undefined;
  const parser = new FrontendParser((type, head) => {
    if (!turn) return;
    if (turn.messages.length < 60) turn.messages.push(type);
    if ((type === "Q" || type === "P") && turn.sql.length < 12) {
      turn.sql.push(statementText(type, head));
    }
  });
  // Every chunk read, at the moment it is read: a client chunk that follows
  // the server's bytes opens a new turn.
  const seen = (side: "client" | "server", bytes: Uint8Array) => {
    if (side === "client") {
      if (last === "server") turn = newTurn(conn);
      parser.feed(bytes);
    }
    last = side;
  };
  const closeQuietly = (conn: Deno.Conn) => {
    try {
      conn.close();
    } catch {
      // already closed
    }
  };

  const pump = async (from: Deno.Conn, to: Deno.Conn, side: "client" | "server") => {
    const buf = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await from.read(buf);
        if (n === null) break;
        seen(side, buf.subarray(0, n));
        await writeAll(to, buf.subarray(0, n));
      }
    } catch {
      // A reset on either side ends the relay.
    } finally {
      closeQuietly(to);
    }
  };

  // The same, with each chunk held delayMs from when it was read. The reader
  // keeps reading while chunks wait; the writer forwards them in read order.
  const delayedPump = async (from: Deno.Conn, to: Deno.Conn, side: "client" | "server") => {
    const queue: Array<{ bytes: Uint8Array; readAt: number } | null> = [];
    let queued = 0;
    let wakeWriter: (() => void) | undefined;
    let wakeReader: (() => void) | undefined;
    let writerDone = false;
    const writer = (async () => {
      try {
        while (true) {
          if (!queue.length) await new Promise<void>((resolve) => wakeWriter = resolve);
          const item = queue.shift()!;
          if (item === null) break;
          await until(item.readAt + delayMs);
          recordHeld(performance.now() - item.readAt);
          await writeAll(to, item.bytes);
          queued -= item.bytes.length;
          wakeReader?.();
        }
      } catch {
        // A reset on either side ends the relay.
      } finally {
        writerDone = true;
        wakeReader?.();
        closeQuietly(to);
      }
    })();
    const push = (item: { bytes: Uint8Array; readAt: number } | null) => {
      queue.push(item);
      const wake = wakeWriter;
      wakeWriter = undefined;
      wake?.();
    };
    const buf = new Uint8Array(64 * 1024);
    try {
      while (!writerDone) {
        while (queued > MAX_QUEUED_BYTES && !writerDone) {
          await new Promise<void>((resolve) => wakeReader = resolve);
          wakeReader = undefined;
        }
        const n = await from.read(buf);
        if (n === null) break;
        const readAt = performance.now();
        seen(side, buf.subarray(0, n));
        queued += n;
        push({ bytes: buf.slice(0, n), readAt });
      }
    } catch {
      // A reset on either side ends the relay (after what was read is sent).
    } finally {
      push(null);
      await writer;
    }
  };

  const run = delayMs > 0 ? delayedPump : pump;
  await Promise.all([run(client, server, "client"), run(server, client, "server")]);
}

const listener = Deno.listen({ hostname: "127.0.0.1", port: listenPort });
const stats = Deno.serve(
  { hostname: "127.0.0.1", port: statsPort, onListen: () => {} },
  (req) => {
    const url = new URL(req.url);
    if (url.pathname === "/turns") {
      const after = Number(url.searchParams.get("after") ?? 0);
      return Response.json({
        turns: turnLog.filter((t) => t.seq > after).map((t) => ({
          ...t,
          messages: t.messages.join(" "),
        })),
      });
    }
    return Response.json({
      turns,
      connections,
      delay_ms: delayMs,
      ...(delayMs > 0 ? { held: heldStats() } : {}),
    });
  },
);
console.log(JSON.stringify({ relay: listener.addr.port, stats: stats.addr.port }));
for await (const conn of listener) relay(conn);
