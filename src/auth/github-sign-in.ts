import * as client from "openid-client";
import type { GithubSettings } from "../config/read-web-settings.ts";
import { type OAuthStart, type OAuthTokens, oauthTokens } from "./oauth-tokens.ts";

export interface GithubProfile {
  id: number;
  login: string;
  name: string | null;
  email: string | null;
  avatarUrl: string | null;
}

export interface GithubInstallation {
  id: number;
  account: { id: number; login: string; type: string };
  suspended: boolean;
}

export interface GithubSignIn {
  start(redirectUri: string): Promise<OAuthStart>;
  /** Exchanges the code in the callback URL; throws when the answer does not match `checks`. */
  finish(callbackUrl: URL, checks: { state: string; verifier: string }): Promise<OAuthTokens>;
  refresh(refreshToken: string): Promise<OAuthTokens>;
  profile(accessToken: string): Promise<GithubProfile>;
  installations(accessToken: string): Promise<GithubInstallation[]>;
  /** True when the person is an admin of the organisation (needs the App's Members: read). */
  isOrgAdmin(accessToken: string, org: string): Promise<boolean>;
  /** Revokes the person's grant (and so every token of it); false when GitHub no longer knew the token. */
  revokeGrant(accessToken: string): Promise<boolean>;
}

export interface CreateGithubSignInOptions {
  settings: GithubSettings;
  fetch?: typeof fetch;
  now?: () => Date;
}

export class GithubApiError extends Error {
  override name = "GithubApiError";
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const API_HEADERS = { accept: "application/vnd.github+json", "x-github-api-version": "2022-11-28" };
const PAGE_SIZE = 100;
// A person reaches a handful of installations; the bound keeps a misbehaving server from looping us.
const MAX_PAGES = 20;

/**
 * Sign-in through the GitHub App's user authorisation (OAuth 2 with state and PKCE S256) and the few
 * user-token API calls the web needs. GitHub is not an OpenID provider, so the endpoints are given
 * rather than discovered; openid-client still does the protocol work.
 */
export function createGithubSignIn(options: CreateGithubSignInOptions): GithubSignIn {
  const { settings } = options;
  const fetchImpl = options.fetch ?? fetch;
  const now = options.now ?? (() => new Date());
  const config = new client.Configuration(
    {
      issuer: settings.webUrl,
      authorization_endpoint: `${settings.webUrl}/login/oauth/authorize`,
      token_endpoint: `${settings.webUrl}/login/oauth/access_token`,
    },
    settings.clientId,
    settings.clientSecret,
  );
  const tokenEndpoint = `${settings.webUrl}/login/oauth/access_token`;
  // GitHub answers a refused code or refresh token with HTTP 200 and an `error` field; OAuth
  // clients expect 400, so the answer is restated that way and openid-client reports the error.
  config[client.customFetch] = async (url, init) => {
    const response = await fetchImpl(url, init as RequestInit);
    if (url !== tokenEndpoint || response.status !== 200) return response;
    const body = await response.text();
    const refused = /"error"\s*:/.test(body) && !/"access_token"\s*:/.test(body);
    return new Response(body, { status: refused ? 400 : 200, headers: response.headers });
  };
  config.timeout = 10;
  // GHE_PROTOCOL=http is the operator's explicit choice for a server without TLS.
  if (settings.webUrl.startsWith("http:")) client.allowInsecureRequests(config);

  async function api(accessToken: string, path: string): Promise<unknown> {
    const response = await client.fetchProtectedResource(
      config,
      accessToken,
      new URL(`${settings.apiUrl}${path}`),
      "GET",
      null,
      new Headers(API_HEADERS),
    );
    if (!response.ok) throw new GithubApiError(response.status, `GitHub answered ${response.status} to GET ${path}`);
    return response.json();
  }

  return {
    async start(redirectUri) {
      const state = client.randomState();
      const verifier = client.randomPKCECodeVerifier();
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        state,
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: "S256",
      });
      return { url, state, verifier };
    },
    async finish(callbackUrl, checks) {
      const response = await client.authorizationCodeGrant(config, callbackUrl, {
        expectedState: checks.state,
        pkceCodeVerifier: checks.verifier,
      });
      return oauthTokens(response, now());
    },
    async refresh(refreshToken) {
      return oauthTokens(await client.refreshTokenGrant(config, refreshToken), now());
    },
    async profile(accessToken) {
      const user = (await api(accessToken, "/user")) as {
        id: number;
        login: string;
        name?: string | null;
        email?: string | null;
        avatar_url?: string | null;
      };
      return {
        id: user.id,
        login: user.login,
        name: user.name ?? null,
        email: user.email ?? null,
        avatarUrl: user.avatar_url ?? null,
      };
    },
    async installations(accessToken) {
      const found: GithubInstallation[] = [];
      for (let page = 1; page <= MAX_PAGES; page++) {
        const body = (await api(accessToken, `/user/installations?per_page=${PAGE_SIZE}&page=${page}`)) as {
          installations: {
            id: number;
            account: { id: number; login?: string; slug?: string; type?: string } | null;
            suspended_at?: string | null;
          }[];
        };
        for (const installation of body.installations) {
          if (!installation.account) continue;
          found.push({
            id: installation.id,
            account: {
              id: installation.account.id,
              login: installation.account.login ?? installation.account.slug ?? String(installation.account.id),
              type: installation.account.type ?? "Organization",
            },
            suspended: Boolean(installation.suspended_at),
          });
        }
        if (body.installations.length < PAGE_SIZE) break;
      }
      return found;
    },
    async isOrgAdmin(accessToken, org) {
      const membership = (await api(accessToken, `/user/memberships/orgs/${encodeURIComponent(org)}`)) as {
        state?: string;
        role?: string;
      };
      return membership.state === "active" && membership.role === "admin";
    },
    async revokeGrant(accessToken) {
      const basic = Buffer.from(`${settings.clientId}:${settings.clientSecret}`).toString("base64");
      const response = await fetchImpl(
        `${settings.apiUrl}/applications/${encodeURIComponent(settings.clientId)}/grant`,
        {
          method: "DELETE",
          headers: { ...API_HEADERS, authorization: `Basic ${basic}`, "content-type": "application/json" },
          body: JSON.stringify({ access_token: accessToken }),
          signal: AbortSignal.timeout(10_000),
        },
      );
      if (response.status === 204) return true;
      // 404/422: GitHub no longer knows the token (expired or already revoked), so nothing is left to revoke.
      if (response.status === 404 || response.status === 422) return false;
      throw new GithubApiError(response.status, `GitHub answered ${response.status} to revoking the grant`);
    },
  };
}
