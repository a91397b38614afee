import type { FastifyReply, FastifyRequest } from "fastify";
import type { Logger } from "pino";
import type { GithubSignIn } from "../auth/github-sign-in.ts";
import type { IdentityTokens } from "../auth/identity-tokens.ts";
import type { OidcSignIn } from "../auth/oidc-sign-in.ts";
import type { TokenVault } from "../auth/token-vault.ts";
import type { WebSettings } from "../config/read-web-settings.ts";
import type { Db } from "../db/create-database.ts";
import type { AuditChainMonitor } from "./audit-chain-monitor.ts";
import type { SafeHtml } from "./html.ts";
import type { MembershipCheck } from "./membership-check.ts";

export interface PageOptions {
  status?: number;
  title: string;
  body: SafeHtml;
  notice?: SafeHtml | string;
}

/** What every web route needs, built once by the web plugin. */
export interface WebContext {
  db: Db;
  logger: Logger;
  settings: WebSettings;
  now: () => Date;
  github: GithubSignIn | undefined;
  oidc: OidcSignIn | undefined;
  vault: TokenVault;
  tokens: IdentityTokens;
  chain: AuditChainMonitor;
  memberships: MembershipCheck;
  /** Sends a full HTML page with the shared layout. */
  page(request: FastifyRequest, reply: FastifyReply, options: PageOptions): FastifyReply;
  /**
   * Where this server is reached, for callback URLs: AMISTIO_PUBLIC_URL, else the address it listens
   * on (HOST, PORT). Never the request's Host header.
   */
  origin(): string;
}

/** A form or query field that must be one string (repeated fields arrive as arrays and are refused). */
export function field(source: unknown, name: string): string | undefined {
  if (typeof source !== "object" || source === null) return undefined;
  const value = (source as Record<string, unknown>)[name];
  return typeof value === "string" ? value : undefined;
}
