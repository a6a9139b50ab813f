// redirect_to must be on the allow-list. Two kinds of entry:
// - a web page: http(s), same origin as the entry, and the entry's path or
//   below it (on a segment boundary); a mobile app's claimed https link
//   (Universal Links, App Links) is one of these;
// - a native app's private-use URI scheme (RFC 8252 §7.1), such as
//   com.example.app:/oauth: same scheme and authority, same path or below.
//   Such a scheme must be a reverse domain name (it holds a dot), which no
//   dangerous scheme (javascript:, data:, file:) does.
// URLs are compared after WHATWG parsing, so "/app/../admin" and "\\" tricks
// are already resolved. Whoever receives the redirect gets a completion code
// only, which nobody but the user who started can redeem (shared/oauth/complete.ts),
// so an app that hijacks a scheme gains nothing.
const MAX_LENGTH = 2048;
const PRIVATE_USE_SCHEME = /^[a-z][a-z0-9+-]*(\.[a-z0-9+-]+)+:$/;

export function isPrivateUseScheme(protocol: string): boolean {
  return PRIVATE_USE_SCHEME.test(protocol);
}

// What an allow-list entry or a redirect_to may be at all.
export function redirectTarget(value: string): URL | null {
  if (value.length > MAX_LENGTH) return null;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  const web = url.protocol === "http:" || url.protocol === "https:";
  if (!web && !isPrivateUseScheme(url.protocol)) return null;
  if (url.username || url.password) return null;
  return url;
}

export function allowedRedirect(value: string, allowlist: URL[]): URL | null {
  const url = redirectTarget(value);
  if (!url) return null;
  for (const entry of allowlist) {
    if (url.protocol !== entry.protocol || url.host !== entry.host) continue;
    const path = entry.pathname.replace(/\/+$/, "");
    if (path === "" || url.pathname === path || url.pathname.startsWith(`${path}/`)) return url;
  }
  return null;
}
