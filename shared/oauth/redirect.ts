// redirect_to must be on the allow-list: same origin as an entry, and the
// entry's path or below it (on a segment boundary). URLs are compared after
// WHATWG parsing, so "/app/../admin" and "\\" tricks are already resolved.
const MAX_LENGTH = 2048;

export function allowedRedirect(value: string, allowlist: URL[]): URL | null {
  if (value.length > MAX_LENGTH) return null;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return null;
  if (url.username || url.password) return null;
  for (const entry of allowlist) {
    if (url.origin !== entry.origin) continue;
    const path = entry.pathname.replace(/\/+$/, "");
    if (path === "" || url.pathname === path || url.pathname.startsWith(`${path}/`)) return url;
  }
  return null;
}
