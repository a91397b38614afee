import * as client from "openid-client";
import type { OidcSettings } from "../config/read-web-settings.ts";
import { type OAuthStart, type OAuthTokens, oauthTokens } from "./oauth-tokens.ts";

export interface OidcIdentity {
  subject: string;
  email: string | null;
  name: string | null;
  picture: string | null;
  tokens: OAuthTokens;
}

export interface OidcSignIn {
  readonly issuer: string;
  start(redirectUri: string): Promise<OAuthStart>;
  finish(callbackUrl: URL, checks: { state: string; verifier: string; nonce: string }): Promise<OidcIdentity>;
  /** False when the provider offers no revocation endpoint. */
  revoke(token: string): Promise<boolean>;
}

export interface CreateOidcSignInOptions {
  settings: OidcSettings;
  fetch?: typeof fetch;
  now?: () => Date;
}

/** Sign-in with any OpenID Connect provider, found by discovery on first use. */
export function createOidcSignIn(options: CreateOidcSignInOptions): OidcSignIn {
  const { settings } = options;
  const now = options.now ?? (() => new Date());
  let configuration: Promise<client.Configuration> | undefined;
  const fetchImpl = options.fetch;
  const customFetch: client.CustomFetch | undefined = fetchImpl && ((url, init) => fetchImpl(url, init as RequestInit));

  // Discovered lazily, so Amistio starts while the provider is down; a failed discovery is retried next time.
  function config(): Promise<client.Configuration> {
    configuration ??= client
      .discovery(settings.issuer, settings.clientId, settings.clientSecret, undefined, {
        // Settings allow http only for a loopback issuer (development and tests).
        execute: settings.issuer.protocol === "http:" ? [client.allowInsecureRequests] : [],
        ...(customFetch ? { [client.customFetch]: customFetch } : {}),
        timeout: 10,
      })
      .catch((error: unknown) => {
        configuration = undefined;
        throw error;
      });
    return configuration;
  }

  return {
    issuer: settings.issuer.href,
    async start(redirectUri) {
      const state = client.randomState();
      const nonce = client.randomNonce();
      const verifier = client.randomPKCECodeVerifier();
      const url = client.buildAuthorizationUrl(await config(), {
        redirect_uri: redirectUri,
        scope: "openid email profile",
        state,
        nonce,
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: "S256",
      });
      return { url, state, verifier, nonce };
    },
    async finish(callbackUrl, checks) {
      const configured = await config();
      const response = await client.authorizationCodeGrant(configured, callbackUrl, {
        expectedState: checks.state,
        expectedNonce: checks.nonce,
        pkceCodeVerifier: checks.verifier,
        idTokenExpected: true,
      });
      const claims = response.claims()!;
      let profile: Record<string, unknown> = claims;
      // Some providers keep name and email out of the ID token and serve them from userinfo.
      if ((claims.email === undefined || claims.name === undefined) && configured.serverMetadata().userinfo_endpoint) {
        profile = { ...(await client.fetchUserInfo(configured, response.access_token, claims.sub)), ...claims };
      }
      const text = (value: unknown) => (typeof value === "string" && value !== "" ? value : null);
      return {
        subject: claims.sub,
        email: text(profile.email),
        name: text(profile.name),
        picture: text(profile.picture),
        tokens: oauthTokens(response, now()),
      };
    },
    async revoke(token) {
      const configured = await config();
      if (!configured.serverMetadata().revocation_endpoint) return false;
      await client.tokenRevocation(configured, token);
      return true;
    },
  };
}
