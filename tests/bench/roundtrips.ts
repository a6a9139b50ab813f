// Counts client/server round trips on a TCP connection: a loopback relay that
// forwards LISTEN_PORT to TARGET_PORT and counts, per connection, each burst
// of client bytes that follows bytes from the server (a "turn": the client
// waited for an answer before sending again). scripts/bench.sh puts it between
// a second gateway (or pgbench) and Postgres to measure round trips per request.
//   deno run --allow-net tests/bench/roundtrips.ts TARGET_PORT [LISTEN_PORT] [STATS_PORT]
// Ports left out (or 0) are chosen by the system. Once listening it prints
// {"relay": port, "stats": port}; GET http://127.0.0.1:<stats>/ then answers
// {"turns": n, "connections": n}.
const [targetPort, listenPort = 0, statsPort = 0] = Deno.args.map(Number);
if (!targetPort) {
  console.error("usage: roundtrips.ts TARGET_PORT [LISTEN_PORT] [STATS_PORT]");
  Deno.exit(2);
}

let turns = 0;
let connections = 0;

async function relay(client: Deno.Conn) {
  connections++;
  let server: Deno.Conn;
  try {
    server = await Deno.connect({ hostname: "127.0.0.1", port: targetPort });
  } catch {
    client.close();
    return;
  }
  // "server" when the last bytes on this connection came from the server.
  let last: "client" | "server" = "server";
  const pump = async (from: Deno.Conn, to: Deno.Conn, side: "client" | "server") => {
    const buf = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await from.read(buf);
        if (n === null) break;
        if (side === "client" && last === "server") turns++;
        last = side;
        let off = 0;
        while (off < n) off += await to.write(buf.subarray(off, n));
      }
    } catch {
      // A reset on either side ends the relay.
    } finally {
      try {
        to.close();
      } catch {
        // already closed
      }
    }
  };
  await Promise.all([pump(client, server, "client"), pump(server, client, "server")]);
}

const listener = Deno.listen({ hostname: "127.0.0.1", port: listenPort });
const stats = Deno.serve(
  { hostname: "127.0.0.1", port: statsPort, onListen: () => {} },
  () => Response.json({ turns, connections }),
);
console.log(JSON.stringify({ relay: listener.addr.port, stats: stats.addr.port }));
for await (const conn of listener) relay(conn);
