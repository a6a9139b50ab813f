// A gateway of a test's own (other settings, or another database address),
// started and waited for until its health answers.
export async function startGateway(
  port: number,
  env: Record<string, string>,
): Promise<Deno.ChildProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "scripts/gateway.ts"],
    env: { GATEWAY_PORT: String(port), NET_WORKER: "off", ...env },
    stdout: "null",
    stderr: "null",
  }).spawn();
  for (let i = 0; i < 150; i++) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/health`);
      await res.body?.cancel();
      if (res.ok) break;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  return child;
}
