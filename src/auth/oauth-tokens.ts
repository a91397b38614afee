import type { TokenEndpointResponse, TokenEndpointResponseHelpers } from "openid-client";

export interface OAuthTokens {
  accessToken: string;
  refreshToken: string | undefined;
  expiresAt: Date | undefined;
}

/** What a sign-in start hands the browser session, to check the provider's answer against. */
export interface OAuthStart {
  url: URL;
  state: string;
  verifier: string;
  nonce?: string;
}

export function oauthTokens(response: TokenEndpointResponse & TokenEndpointResponseHelpers, now: Date): OAuthTokens {
  const expiresIn = response.expiresIn();
  return {
    accessToken: response.access_token,
    refreshToken: response.refresh_token,
    expiresAt: expiresIn === undefined ? undefined : new Date(now.getTime() + expiresIn * 1000),
  };
}
