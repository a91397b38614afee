import type { Logger } from "pino";
import type { Db } from "../db/create-database.ts";
import type { RevokeIdentity, StoredIdentity } from "../privacy/delete-account.ts";
import type { GithubSignIn } from "./github-sign-in.ts";
import type { OidcSignIn } from "./oidc-sign-in.ts";
import type { TokenVault } from "./token-vault.ts";

export interface IdentityTokensOptions {
  db: Db;
  vault: TokenVault;
  github: GithubSignIn | undefined;
  oidc: OidcSignIn | undefined;
  logger: Logger;
  now: () => Date;
}

export interface IdentityTokens {
  /** A usable GitHub access token for the identity, refreshed first when it has expired. */
  githubAccessToken(identity: StoredIdentity): Promise<string | undefined>;
  revoke: RevokeIdentity;
}

// Refresh a little early, so a token does not expire between the check and GitHub's answer.
const EXPIRY_MARGIN_MS = 60_000;

/** Reads, refreshes and revokes the sealed tokens stored on identities. */
export function identityTokens(options: IdentityTokensOptions): IdentityTokens {
  const { db, vault, github, oidc, logger, now } = options;
  const open = async (sealed: string | null) => (sealed === null ? undefined : vault.open(sealed));

  async function githubAccessToken(identity: StoredIdentity): Promise<string | undefined> {
    if (!github || identity.provider !== "github") return undefined;
    const access = await open(identity.accessToken);
    const fresh = !identity.expiresAt || identity.expiresAt.getTime() - EXPIRY_MARGIN_MS > now().getTime();
    if (access && fresh) return access;
    const refresh = await open(identity.refreshToken);
    if (!refresh) return undefined;
    try {
      const tokens = await github.refresh(refresh);
      // GitHub's refresh tokens are single-use: store the new pair at once.
      await db.identity.update({
        where: { id: identity.id },
        data: {
          accessToken: await vault.seal(tokens.accessToken),
          refreshToken: tokens.refreshToken ? await vault.seal(tokens.refreshToken) : null,
          expiresAt: tokens.expiresAt ?? null,
        },
      });
      return tokens.accessToken;
    } catch (error) {
      logger.warn(
        { err: error, identityId: identity.id },
        "GitHub token refresh failed; the person must sign in again",
      );
      await db.identity.update({
        where: { id: identity.id },
        data: { accessToken: null, refreshToken: null, expiresAt: null },
      });
      return undefined;
    }
  }

  return {
    githubAccessToken,
    async revoke(identity) {
      try {
        if (identity.provider === "github") {
          const token = await githubAccessToken(identity);
          if (!token) return "nothing_to_revoke";
          return (await github!.revokeGrant(token)) ? "revoked" : "nothing_to_revoke";
        }
        if (oidc && identity.provider === oidc.issuer) {
          // Revoking the refresh token ends the grant at providers that support revocation (e.g. Google).
          const token = (await open(identity.refreshToken)) ?? (await open(identity.accessToken));
          if (!token) return "nothing_to_revoke";
          return (await oidc.revoke(token)) ? "revoked" : "nothing_to_revoke";
        }
        return "nothing_to_revoke";
      } catch (error) {
        logger.warn(
          { err: error, provider: identity.provider },
          "token revocation failed; the stored tokens are deleted anyway",
        );
        return "failed";
      }
    },
  };
}
