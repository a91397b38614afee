const PLACEHOLDER_ORIGIN = "http://amistio.invalid";
const MAX_LENGTH = 512;

/**
 * A local path to go back to after sign-in, or undefined. The value is normalised the way a browser
 * would (dot segments, `%2e`, backslashes) and only what survives as a path on this site is kept:
 * absolute URLs, protocol-relative `//host` (also when dot segments only produce it after
 * normalisation, as `/.//evil.com` or `/a/..//evil.com` do), backslash tricks and control characters
 * are refused, so the sign-in flow cannot be used as an open redirect. What comes back is the
 * normalised path and query, never the text as given.
 */
export function safeReturnTo(value: unknown): string | undefined {
  if (typeof value !== "string" || value.length > MAX_LENGTH) return undefined;
  if (!value.startsWith("/") || value.startsWith("//") || value.includes("\\")) return undefined;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(value)) return undefined;
  const path = normalisedLocalPath(value);
  if (path === undefined) return undefined;
  // Never back into the sign-in flow itself.
  if (path === "/auth" || path.startsWith("/auth/") || path.startsWith("/auth?")) return undefined;
  return path;
}

/**
 * `value` resolved against a placeholder origin, as pathname + search, when that stays on the
 * placeholder origin and is itself a fixed point: sent as a `Location`, a browser resolves it to the
 * same place (a pathname that begins `//` would be read as another host).
 */
function normalisedLocalPath(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value, PLACEHOLDER_ORIGIN);
  } catch {
    return undefined;
  }
  if (url.origin !== PLACEHOLDER_ORIGIN || url.username !== "" || url.password !== "") return undefined;
  const path = `${url.pathname}${url.search}`;
  if (!path.startsWith("/") || path.startsWith("//") || path.includes("\\")) return undefined;
  let again: URL;
  try {
    again = new URL(path, PLACEHOLDER_ORIGIN);
  } catch {
    return undefined;
  }
  if (again.origin !== PLACEHOLDER_ORIGIN || `${again.pathname}${again.search}` !== path) return undefined;
  return path;
}
