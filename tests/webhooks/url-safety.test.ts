// Outbound webhook URLs: each class of address that must be refused, by
// literal and by a name that resolves to it (a fake resolver stands in for
// DNS), the loopback allowance of the local stack, and the address parsers.
import assert from "node:assert/strict";
import {
  checkOutboundUrl,
  classify,
  parseIPv4,
  parseIPv6,
  type Resolver,
} from "../../shared/webhooks/url-safety.ts";

const dns: Record<string, string[]> = {
  "hooks.example.com": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
  "intranet.example.com": ["10.1.2.3"],
  "office.example.com": ["172.20.0.5"],
  "home.example.com": ["192.168.1.10"],
  "metadata.example.com": ["169.254.169.254"],
  "ula.example.com": ["fd12:3456:789a::1"],
  "linklocal6.example.com": ["fe80::1"],
  "zero.example.com": ["0.0.0.0"],
  "loop.example.com": ["127.0.0.1"],
  "mixed.example.com": ["93.184.216.34", "10.0.0.1"],
  "mapped.example.com": ["::ffff:192.168.0.1"],
  "cgnat.example.com": ["100.64.0.1"],
};
const resolve: Resolver = (host) => Promise.resolve(dns[host] ?? []);
const strict = { allowLoopback: false, resolve };
const local = { allowLoopback: true, resolve };

async function refused(url: string, policy = strict): Promise<string> {
  const verdict = await checkOutboundUrl(url, policy);
  assert.equal(verdict.ok, false, `${url} was accepted`);
  return (verdict as { reason: string }).reason;
}

async function accepted(url: string, policy = strict): Promise<string[]> {
  const verdict = await checkOutboundUrl(url, policy);
  assert.ok(verdict.ok, `${url} was refused: ${JSON.stringify(verdict)}`);
  return verdict.addresses;
}

Deno.test("a public https URL is accepted, with every address it resolves to", async () => {
  assert.deepEqual(await accepted("https://hooks.example.com/oprina"), dns["hooks.example.com"]);
  assert.deepEqual(await accepted("https://93.184.216.34:8443/x"), ["93.184.216.34"]);
  assert.deepEqual(await accepted("https://[2606:2800:220:1::1]/x"), ["2606:2800:220:1::1"]);
});

Deno.test("http is refused outside loopback, and other schemes always", async () => {
  assert.match(await refused("http://hooks.example.com/x"), /https is required/);
  assert.match(await refused("http://hooks.example.com/x", local), /https is required/);
  assert.match(await refused("ftp://hooks.example.com/x"), /https is required/);
  assert.match(await refused("javascript:alert(1)"), /https is required/);
  assert.match(await refused("not a url"), /not a URL/);
  assert.match(await refused("https://user:pass@hooks.example.com/x"), /credentials/);
});

Deno.test("private addresses are refused: 10/8, 172.16/12, 192.168/16, fc00::/7, 100.64/10", async () => {
  for (
    const url of [
      "https://10.0.0.1/",
      "https://172.16.0.1/",
      "https://172.31.255.255/",
      "https://192.168.0.1/",
      "https://[fc00::1]/",
      "https://[fdff::1]/",
      "https://100.64.0.1/",
    ]
  ) {
    assert.match(await refused(url), /private/, url);
    assert.match(await refused(url, local), /private/, url);
  }
  for (const name of ["intranet", "office", "home", "ula", "cgnat", "mapped"]) {
    assert.match(await refused(`https://${name}.example.com/`), /private/, name);
  }
  // 172.32/12 is outside 172.16/12.
  await accepted("https://172.32.0.1/");
});

Deno.test("link-local addresses are refused: 169.254/16 (cloud metadata), fe80::/10", async () => {
  for (const url of ["https://169.254.169.254/latest/meta-data", "https://[fe80::1]/"]) {
    assert.match(await refused(url, local), /link-local/, url);
  }
  assert.match(await refused("https://metadata.example.com/"), /link-local/);
  assert.match(await refused("https://linklocal6.example.com/"), /link-local/);
});

Deno.test("unspecified addresses are refused: 0.0.0.0, ::", async () => {
  assert.match(await refused("https://0.0.0.0/"), /unspecified/);
  assert.match(await refused("https://[::]/"), /unspecified/);
  assert.match(await refused("https://zero.example.com/"), /unspecified/);
});

Deno.test("loopback is refused by default and allowed only with the local stack's flag", async () => {
  for (
    const url of [
      "https://127.0.0.1/",
      "http://127.0.0.1:8080/x",
      "https://localhost/",
      "http://localhost:9/",
      "https://[::1]/",
      "https://127.8.9.10/",
      "https://app.localhost/",
      "https://loop.example.com/",
      "https://[::ffff:127.0.0.1]/",
      "https://2130706433/",
      "https://0x7f.1/",
    ]
  ) {
    assert.match(await refused(url), /loopback|https is required/, url);
  }
  assert.deepEqual(await accepted("http://127.0.0.1:24331/hooks/a", local), ["127.0.0.1"]);
  assert.deepEqual(await accepted("http://localhost:24331/hooks/a", local), ["127.0.0.1", "::1"]);
  assert.deepEqual(await accepted("http://[::1]:24331/hooks/a", local), ["::1"]);
  // http with the flag still only to the loopback hosts themselves.
  assert.match(await refused("http://loop.example.com/", local), /https is required/);
});

Deno.test("one bad address among several refuses the URL; a name that resolves nowhere too", async () => {
  assert.match(await refused("https://mixed.example.com/"), /private/);
  assert.match(await refused("https://nowhere.example.com/"), /does not resolve/);
  const failing: Resolver = () => Promise.reject(new Error("SERVFAIL"));
  assert.match(
    await refused("https://hooks.example.com/", { allowLoopback: false, resolve: failing }),
    /does not resolve/,
  );
});

Deno.test("multicast, documentation and other special ranges are refused", () => {
  for (
    const address of [
      "224.0.0.1",
      "239.1.1.1",
      "255.255.255.255",
      "192.0.2.1",
      "198.51.100.7",
      "203.0.113.9",
      "198.18.0.1",
      "ff02::1",
      "2001:db8::1",
      "100::1",
      "2002:a00:1::1",
      "2001::1",
      "::2",
      "64:ff9b::a00:1",
    ]
  ) {
    assert.notEqual(classify(address), "public", address);
  }
  assert.equal(classify("64:ff9b::808:808"), "public", "NAT64 of a public address");
  assert.equal(classify("8.8.8.8"), "public");
  assert.equal(classify("2a00:1450:4001:81c::200e"), "public");
});

Deno.test("the address parsers read what they should and nothing else", () => {
  assert.equal(parseIPv4("192.168.0.1"), 0xc0a80001);
  for (const bad of ["192.168.0", "256.0.0.1", "01.2.3.4", "1.2.3.4.5", "a.b.c.d", ""]) {
    assert.equal(parseIPv4(bad), null, bad);
  }
  assert.deepEqual(parseIPv6("::1"), [0, 0, 0, 0, 0, 0, 0, 1]);
  assert.deepEqual(parseIPv6("fe80::"), [0xfe80, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(parseIPv6("::ffff:10.0.0.1"), [0, 0, 0, 0, 0, 0xffff, 0x0a00, 0x0001]);
  assert.deepEqual(parseIPv6("1:2:3:4:5:6:7:8"), [1, 2, 3, 4, 5, 6, 7, 8]);
  for (const bad of ["1::2::3", "1:2:3", "12345::", ":1", "1:2:3:4:5:6:7:8:9", "g::1", "1.2.3.4"]) {
    assert.equal(parseIPv6(bad), null, bad);
  }
});
