// Text helpers of the provider adapters: times to UTC instants, HTML to plain
// text, addresses as mail headers write them.

// An RFC 3339 time (any offset) as a UTC instant without milliseconds.
export function utc(time: string): string {
  return new Date(Date.parse(time)).toISOString().replace(/\.\d{3}Z$/, "Z");
}

const ENTITIES: Record<string, string> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
  nbsp: " ",
};

export function decodeEntities(s: string): string {
  return s.replace(/&(#x?[0-9a-f]+|\w+);/gi, (whole, e: string) => {
    if (e[0] === "#") {
      const code = e[1] === "x" || e[1] === "X"
        ? parseInt(e.slice(2), 16)
        : parseInt(e.slice(1), 10);
      return Number.isFinite(code) && code > 0 && code < 0x110000
        ? String.fromCodePoint(code)
        : whole;
    }
    return ENTITIES[e.toLowerCase()] ?? whole;
  });
}

// Readable text of an HTML body: blocks become lines, tags and scripts go.
export function htmlToText(html: string): string {
  return decodeEntities(
    html.replace(/<(script|style|head)[\s\S]*?<\/\1>/gi, "")
      .replace(/<br\s*\/?>/gi, "\n")
      .replace(/<\/(p|div|li|tr|h[1-6])>/gi, "\n")
      .replace(/<[^>]+>/g, ""),
  ).replace(/[ \t]+\n/g, "\n").replace(/\n{3,}/g, "\n\n").trim();
}

// "Name" <a@b.c>, a@b.c, Name <a@b.c>: one person of a From/To/Cc header.
export function parseAddress(s: string): { email: string; name: string | null } {
  const m = s.trim().match(/^(?:"?([^"<]*?)"?\s*)?<([^>]+)>$/);
  if (m) return { email: m[2].trim(), name: m[1]?.trim() || null };
  return { email: s.trim(), name: null };
}

// Splits an address list at the commas outside quotes.
export function parseAddressList(
  header: string | undefined,
): { email: string; name: string | null }[] {
  if (!header) return [];
  const out: string[] = [];
  let cur = "", quoted = false;
  for (const ch of header) {
    if (ch === '"') quoted = !quoted;
    if (ch === "," && !quoted) {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  out.push(cur);
  return out.map((s) => s.trim()).filter(Boolean).map(parseAddress);
}

const b64 = (bytes: Uint8Array) => {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
};

export const base64url = (text: string) =>
  b64(new TextEncoder().encode(text)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

export function fromBase64url(data: string): string {
  const bin = atob(data.replace(/-/g, "+").replace(/_/g, "/"));
  return new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
}

// A header value: as is when ASCII, else an RFC 2047 encoded word.
export function headerWord(value: string): string {
  return /^[\x20-\x7e]*$/.test(value)
    ? value
    : `=?UTF-8?B?${b64(new TextEncoder().encode(value))}?=`;
}

// A plain-text RFC 2822 message, its body base64 (any text survives transport).
export function rfc2822(o: { to: string[]; cc: string[]; subject: string; body: string }): string {
  const body = b64(new TextEncoder().encode(o.body)).replace(/.{76}/g, "$&\r\n");
  return [
    `To: ${o.to.join(", ")}`,
    ...(o.cc.length ? [`Cc: ${o.cc.join(", ")}`] : []),
    `Subject: ${headerWord(o.subject)}`,
    "MIME-Version: 1.0",
    'Content-Type: text/plain; charset="UTF-8"',
    "Content-Transfer-Encoding: base64",
    "",
    body,
  ].join("\r\n");
}
