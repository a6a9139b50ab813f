// The caller's address, as the platform reports it: hosted Supabase puts the
// client's IP first in X-Forwarded-For (the local gateway does the same from
// the socket), so the first entry is the platform's and later ones are not.
// IPv6 callers count by their /64: a subscriber usually holds a whole /64,
// and each of its 2^64 addresses must not be a fresh bucket.

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

// What a request without a usable address counts as: one shared bucket, so
// such requests are limited together rather than not at all.
export const UNKNOWN_ADDRESS = "unknown";

export function clientAddress(forwardedFor: string | null | undefined): string {
  const first = (forwardedFor ?? "").split(",")[0].trim();
  if (IPV4.test(first)) return first;
  return ipv6Slash64(first) ?? UNKNOWN_ADDRESS;
}

// "2001:db8:1:2::5" -> "2001:db8:1:2::/64"; an IPv4-mapped address
// (::ffff:192.0.2.1) is its IPv4 address; anything else is undefined.
export function ipv6Slash64(text: string): string | undefined {
  const address = text.replace(/^\[(.*)\]$/, "$1").replace(/%.*$/, "").toLowerCase();
  if (address.length > 45 || !/^[0-9a-f:.]+$/.test(address)) return undefined;
  const groups = ipv6Groups(address);
  if (!groups) return undefined;
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return [groups[6] >> 8, groups[6] & 255, groups[7] >> 8, groups[7] & 255].join(".");
  }
  return `${groups.slice(0, 4).map((g) => g.toString(16)).join(":")}::/64`;
}

// The eight 16-bit groups of an IPv6 address, "::" expanded and a trailing
// dotted IPv4 part read as two groups.
function ipv6Groups(address: string): number[] | undefined {
  const halves = address.split("::");
  if (halves.length > 2) return undefined;
  const parts = halves.map((h) => (h === "" ? [] : h.split(":")));
  const last = parts[parts.length - 1];
  const dotted = last[last.length - 1];
  if (dotted?.includes(".")) {
    if (!IPV4.test(dotted)) return undefined;
    const [a, b, c, d] = dotted.split(".").map(Number);
    last.splice(last.length - 1, 1, ((a << 8) | b).toString(16), ((c << 8) | d).toString(16));
  }
  const given = parts.flat();
  if (!given.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return undefined;
  if (halves.length === 1 ? given.length !== 8 : given.length > 7) return undefined;
  const zeros = Array(8 - given.length).fill("0");
  const groups = halves.length === 1 ? given : [...parts[0], ...zeros, ...parts[1]];
  return groups.map((g) => parseInt(g, 16));
}
