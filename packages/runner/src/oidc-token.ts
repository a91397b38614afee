export interface OidcTokenSourceOptions {
  /** ACTIONS_ID_TOKEN_REQUEST_URL, set in jobs with `permissions: id-token: write`. */
  requestUrl: string;
  /** ACTIONS_ID_TOKEN_REQUEST_TOKEN. */
  requestToken: string;
  audience: string;
  fetch?: typeof fetch;
  now?: () => number;
}

export class OidcTokenError extends Error {
  override name = "OidcTokenError";
}

/**
 * GitHub Actions OIDC tokens for Amistio, asked for when needed: a token lives a few minutes, a run
 * can last hours, so a fresh one is fetched once the cached one is within a minute of expiring.
 */
export function createOidcTokenSource(options: OidcTokenSourceOptions): () => Promise<string> {
  const doFetch = options.fetch ?? fetch;
  const now = options.now ?? Date.now;
  let cached: { token: string; expiresAt: number } | undefined;

  return async function oidcToken(): Promise<string> {
    if (cached && cached.expiresAt - 60_000 > now()) return cached.token;
    const url = new URL(options.requestUrl);
    url.searchParams.set("audience", options.audience);
    let response: Response;
    try {
      response = await doFetch(url, {
        headers: { authorization: `Bearer ${options.requestToken}`, accept: "application/json" },
        signal: AbortSignal.timeout(30_000),
      });
    } catch (error) {
      throw new OidcTokenError(`could not reach GitHub's OIDC token endpoint: ${(error as Error).message}`);
    }
    if (!response.ok) {
      throw new OidcTokenError(
        `GitHub refused an OIDC token (${response.status}); the job needs \`permissions: id-token: write\``,
      );
    }
    const body = (await response.json().catch(() => ({}))) as { value?: unknown };
    if (typeof body.value !== "string" || body.value === "")
      throw new OidcTokenError("GitHub's OIDC answer had no token");
    cached = { token: body.value, expiresAt: expiryOf(body.value) ?? now() + 5 * 60_000 };
    return body.value;
  };
}

function expiryOf(jwt: string): number | null {
  try {
    const payload = JSON.parse(Buffer.from(jwt.split(".")[1] ?? "", "base64url").toString("utf8")) as { exp?: unknown };
    return typeof payload.exp === "number" ? payload.exp * 1000 : null;
  } catch {
    return null;
  }
}
