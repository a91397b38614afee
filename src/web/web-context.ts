import type { FastifyReply, FastifyRequest } from "fastify";
import type { Logger } from "pino";
import type { GithubSignIn } from "../auth/github-sign-in.ts";
import type { IdentityTokens } from "../auth/identity-tokens.ts";
import type { OidcSignIn } from "../auth/oidc-sign-in.ts";
import type { TokenVault } from "../auth/token-vault.ts";
import type { WebSettings } from "../config/read-web-settings.ts";
import type { Db } from "../db/create-database.ts";
import type { Refusal as RefusalShown } from "../refusals/refusals.ts";
import type { AuditChainMonitor } from "./audit-chain-monitor.ts";
import type { SafeHtml } from "./html.ts";
import type { MembershipCheck } from "./membership-check.ts";

/** A page that says no: what the person reads, and what the one log line records. */
export interface Refusal {
  /** Names the log line: "refused: <area>". */
  area: string;
  status: number;
  /** What the person reads: its summary is the page's heading. */
  refused: RefusalShown;
  /** Where to go from here. */
  next: SafeHtml;
  details?: Record<string, unknown>;
}

export type AreaRefusal = (
  request: FastifyRequest,
  reply: FastifyReply,
  status: number,
  refused: RefusalShown,
  details?: Record<string, unknown>,
) => FastifyReply;

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
  /** A refusal page, and its one log line (the request's logger carries the request id). */
  refuse(request: FastifyRequest, reply: FastifyReply, refusal: Refusal): FastifyReply;
  /** `refuse` for the routes of one area, whose refusals all lead on to the same place. */
  refusesIn(area: string, next: (request: FastifyRequest) => SafeHtml): AreaRefusal;
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
