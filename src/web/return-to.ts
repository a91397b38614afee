const PLACEHOLDER_ORIGIN = "http://amistio.invalid";

/**
 * A local path to go back to after sign-in, or undefined. Only same-site paths pass: absolute URLs,
 * protocol-relative `//host`, backslash tricks and control characters are refused, so the sign-in
 * flow cannot be used as an open redirect.
 */
export function safeReturnTo(value: unknown): string | undefined {
  if (typeof value !== "string" || value.length > 512) return undefined;
  if (!value.startsWith("/") || value.startsWith("//") || value.includes("\\")) return undefined;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(value)) return undefined;
  let url: URL;
  try {
    url = new URL(value, PLACEHOLDER_ORIGIN);
  } catch {
    return undefined;
  }
  if (url.origin !== PLACEHOLDER_ORIGIN) return undefined;
  // Never back into the sign-in flow itself.
  if (url.pathname.startsWith("/auth/")) return undefined;
  return `${url.pathname}${url.search}`;
}
