// Where a webhook may be sent. Users choose the URL, so the server must not
// become their way into networks it can reach and they cannot (SSRF): https
// only, and the host, resolved, must be a public unicast address. Private
// (10/8, 172.16/12, 192.168/16, fc00::/7, 100.64/10), link-local (169.254/16,
// fe80::/10), unspecified, multicast, reserved and documentation ranges are
// refused, and loopback too, except where the local stack allows it (http to
// 127.0.0.1, localhost or [::1], which its receiver needs). Checked at
// registration and again before every delivery, since DNS answers change.
//
// What is left: the delivery connects by name after this check, so a name
// that resolves to a public address here and to a private one a moment later
// (DNS rebinding within the TTL) is not caught; see docs/decisions.md.

export type Resolver = (host: string) => Promise<string[]>;

export type UrlVerdict =
  | { ok: true; url: URL; addresses: string[] }
  | { ok: false; reason: string };

export type UrlPolicy = {
  // Only the local stack: http (and https) to loopback hosts and addresses.
  allowLoopback: boolean;
  // Name resolution; the default asks DNS for A and AAAA records.
  resolve?: Resolver;
};

const LOOPBACK_NAMES = /^(localhost|.+\.localhost)$/i;
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

export async function checkOutboundUrl(raw: string, policy: UrlPolicy): Promise<UrlVerdict> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: "not a URL" };
  }
  if (url.username || url.password) return { ok: false, reason: "credentials in the URL" };
  const host = url.hostname.toLowerCase();
  if (url.protocol === "http:") {
    if (!policy.allowLoopback || !LOOPBACK_HOSTS.has(host)) {
      return { ok: false, reason: "https is required (http only to loopback on the local stack)" };
    }
  } else if (url.protocol !== "https:") {
    return { ok: false, reason: "https is required" };
  }

  let addresses: string[];
  const literal = host.startsWith("[") ? host.slice(1, -1) : host;
  if (parseIPv4(literal) !== null || parseIPv6(literal) !== null) {
    addresses = [literal];
  } else if (LOOPBACK_NAMES.test(host)) {
    addresses = ["127.0.0.1", "::1"]; // RFC 6761: never asked of DNS
  } else {
    try {
      addresses = await (policy.resolve ?? resolveDns)(host);
    } catch {
      addresses = [];
    }
    if (addresses.length === 0) return { ok: false, reason: "the host does not resolve" };
  }

  for (const address of addresses) {
    const kind = classify(address);
    if (kind === "public") continue;
    if (kind === "loopback" && policy.allowLoopback) continue;
    return { ok: false, reason: `the host is ${ARTICLE[kind]} address` };
  }
  return { ok: true, url, addresses };
}

const ARTICLE: Record<Exclude<AddressKind, "public">, string> = {
  loopback: "a loopback",
  private: "a private",
  "link-local": "a link-local",
  unspecified: "an unspecified",
  reserved: "a reserved (multicast, documentation or special-purpose)",
  invalid: "an unreadable",
};

// A and AAAA records, each asked within a few seconds; a type the name does
// not have is not an error.
async function resolveDns(host: string): Promise<string[]> {
  const ask = (type: "A" | "AAAA") =>
    Deno.resolveDns(host, type, { signal: AbortSignal.timeout(DNS_TIMEOUT_MS) })
      .catch(() => [] as string[]);
  const [v4, v6] = await Promise.all([ask("A"), ask("AAAA")]);
  return [...v4, ...v6];
}

export const DNS_TIMEOUT_MS = 5_000;

// Addresses -------------------------------------------------------------------------

export type AddressKind =
  | "public"
  | "loopback"
  | "private"
  | "link-local"
  | "unspecified"
  | "reserved"
  | "invalid";

export function classify(address: string): AddressKind {
  const v4 = parseIPv4(address);
  if (v4 !== null) return classifyV4(v4);
  const v6 = parseIPv6(address);
  if (v6 !== null) return classifyV6(v6);
  return "invalid";
}

// [base, prefix length, kind], first match wins.
const V4_RANGES: Array<[string, number, AddressKind]> = [
  ["0.0.0.0", 32, "unspecified"],
  ["0.0.0.0", 8, "reserved"], // "this network"
  ["10.0.0.0", 8, "private"],
  ["100.64.0.0", 10, "private"], // carrier-grade NAT
  ["127.0.0.0", 8, "loopback"],
  ["169.254.0.0", 16, "link-local"], // includes cloud metadata (169.254.169.254)
  ["172.16.0.0", 12, "private"],
  ["192.0.0.0", 24, "reserved"], // IETF protocol assignments
  ["192.0.2.0", 24, "reserved"], // documentation
  ["192.88.99.0", 24, "reserved"], // 6to4 relay anycast
  ["192.168.0.0", 16, "private"],
  ["198.18.0.0", 15, "reserved"], // benchmarking
  ["198.51.100.0", 24, "reserved"], // documentation
  ["203.0.113.0", 24, "reserved"], // documentation
  ["224.0.0.0", 4, "reserved"], // multicast
  ["240.0.0.0", 4, "reserved"], // reserved, broadcast
];

function classifyV4(ip: number): AddressKind {
  for (const [base, bits, kind] of V4_RANGES) {
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    if (((ip & mask) >>> 0) === ((parseIPv4(base)! & mask) >>> 0)) return kind;
  }
  return "public";
}

function classifyV6(g: number[]): AddressKind {
  const zeroUpTo = (n: number) => g.slice(0, n).every((x) => x === 0);
  if (zeroUpTo(8)) return "unspecified";
  if (zeroUpTo(7) && g[7] === 1) return "loopback";
  // IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d, deprecated) and
  // NAT64 (64:ff9b::/96): judged by the IPv4 address they carry.
  const embedded = ((g[6] << 16) | g[7]) >>> 0;
  if (zeroUpTo(5) && g[5] === 0xffff) return classifyV4(embedded);
  if (zeroUpTo(6)) return classifyV4(embedded);
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0)) {
    return classifyV4(embedded);
  }
  if ((g[0] & 0xfe00) === 0xfc00) return "private"; // fc00::/7 unique local
  if ((g[0] & 0xffc0) === 0xfe80) return "link-local"; // fe80::/10
  if ((g[0] & 0xffc0) === 0xfec0) return "private"; // fec0::/10 site-local (deprecated)
  if ((g[0] & 0xff00) === 0xff00) return "reserved"; // multicast
  if (g[0] === 0x2001 && g[1] === 0x0db8) return "reserved"; // documentation
  if (g[0] === 0x0100 && g.slice(1, 4).every((x) => x === 0)) return "reserved"; // discard 100::/64
  if (g[0] === 0x2002) return "reserved"; // 6to4: carries an IPv4 address of any kind
  if (g[0] === 0x2001 && g[1] === 0) return "reserved"; // Teredo
  if ((g[0] & 0xe000) !== 0x2000) return "reserved"; // outside global unicast 2000::/3
  return "public";
}

// Dotted-quad IPv4 only (the URL parser already normalised other spellings
// such as 2130706433 or 0x7f.1 to it); null otherwise.
export function parseIPv4(s: string): number | null {
  const parts = s.split(".");
  if (parts.length !== 4) return null;
  let n = 0;
  for (const p of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255) return null;
    n = n * 256 + Number(p);
  }
  return n >>> 0;
}

// Eight 16-bit groups, or null. Accepts "::" compression and a trailing IPv4.
export function parseIPv6(s: string): number[] | null {
  if (!/^[0-9a-f:.]+$/i.test(s) || !s.includes(":")) return null;
  let text = s;
  const lastColon = text.lastIndexOf(":");
  const last = text.slice(lastColon + 1);
  if (last.includes(".")) {
    const v4 = parseIPv4(last);
    if (v4 === null) return null;
    const hex = (n: number) => n.toString(16);
    text = `${text.slice(0, lastColon + 1)}${hex(v4 >>> 16)}:${hex(v4 & 0xffff)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const read = (part: string) => (part === "" ? [] : part.split(":"));
  const head = read(halves[0]);
  const rest = halves.length === 2 ? read(halves[1]) : [];
  if (![...head, ...rest].every((x) => /^[0-9a-f]{1,4}$/i.test(x))) return null;
  const n = head.length + rest.length;
  if (halves.length === 1 ? n !== 8 : n > 7) return null;
  const numbers = (xs: string[]) => xs.map((x) => parseInt(x, 16));
  const fill = Array<number>(halves.length === 2 ? 8 - n : 0).fill(0);
  return [...numbers(head), ...fill, ...numbers(rest)];
}
