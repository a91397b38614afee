import { dirname, resolve } from "node:path";
import { databaseTarget } from "../db/database-url.ts";
import { type AppEnv, EnvError } from "./env.ts";

export interface OidcSettings {
  issuer: URL;
  clientId: string;
  clientSecret: string;
  /** The label on the sign-in button, e.g. "Google". */
  name: string;
}

export interface GithubSettings {
  clientId: string;
  clientSecret: string;
  webUrl: string;
  apiUrl: string;
}

export interface WebSettings {
  /** Where people reach Amistio (AMISTIO_PUBLIC_URL). */
  publicUrl: URL | undefined;
  /**
   * Where this server listens (HOST, PORT): the base for callback URLs when publicUrl is not set.
   * Port 0 means "the port the server was given when it started listening".
   */
  listen: { host: string; port: number };
  secureCookies: boolean;
  github: GithubSettings | undefined;
  oidc: OidcSettings | undefined;
  privacyContact: string | undefined;
  /** Lowercase GitHub logins of the instance's operators (privacy requests). */
  admins: ReadonlySet<string>;
  retentionDays: number;
  sessionSecret: string | undefined;
  /** Where a generated session key is kept when SESSION_SECRET is not set. */
  dataDir: string;
}

const OIDC_PRESETS = { google: { issuer: "https://accounts.google.com", name: "Google" } } as const;

/** The web's view of the environment, with the checks that span several variables. */
export function readWebSettings(env: AppEnv): WebSettings {
  const problems: string[] = [];
  const github =
    env.GITHUB_CLIENT_ID && env.GITHUB_CLIENT_SECRET
      ? {
          clientId: env.GITHUB_CLIENT_ID,
          clientSecret: env.GITHUB_CLIENT_SECRET,
          webUrl: env.githubWebUrl,
          apiUrl: env.githubApiUrl,
        }
      : undefined;
  if (Boolean(env.GITHUB_CLIENT_ID) !== Boolean(env.GITHUB_CLIENT_SECRET)) {
    problems.push(
      "GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET: set both (the App's client id and a client secret from its settings page), or neither",
    );
  }

  const preset = env.OIDC_PROVIDER ? OIDC_PRESETS[env.OIDC_PROVIDER] : undefined;
  const issuerText = env.OIDC_ISSUER ?? preset?.issuer;
  let oidc: OidcSettings | undefined;
  if (issuerText || env.OIDC_CLIENT_ID || env.OIDC_CLIENT_SECRET) {
    if (!issuerText) problems.push("OIDC_ISSUER: required with OIDC_CLIENT_ID (or set OIDC_PROVIDER=google)");
    if (!env.OIDC_CLIENT_ID) problems.push("OIDC_CLIENT_ID: required to sign in with OpenID Connect");
    if (!env.OIDC_CLIENT_SECRET) problems.push("OIDC_CLIENT_SECRET: required to sign in with OpenID Connect");
    if (issuerText && env.OIDC_CLIENT_ID && env.OIDC_CLIENT_SECRET) {
      const issuer = new URL(issuerText);
      // Plain http would expose the sign-in to anyone on the path; allowed only on this machine, for development.
      if (issuer.protocol !== "https:" && !isLoopback(issuer)) {
        problems.push("OIDC_ISSUER: must be https (http is accepted only for 127.0.0.1 or localhost)");
      } else {
        oidc = {
          issuer,
          clientId: env.OIDC_CLIENT_ID,
          clientSecret: env.OIDC_CLIENT_SECRET,
          name: env.OIDC_NAME ?? preset?.name ?? issuer.host,
        };
      }
    }
  }
  if (problems.length > 0) throw new EnvError(problems);

  const publicUrl = env.AMISTIO_PUBLIC_URL ? new URL(env.AMISTIO_PUBLIC_URL) : undefined;
  const target = databaseTarget(env.DATABASE_URL);
  const dataDir = target.provider === "sqlite" && target.file !== ":memory:" ? dirname(target.file) : resolve("data");
  return {
    publicUrl,
    listen: { host: env.HOST, port: env.PORT },
    secureCookies: publicUrl?.protocol === "https:",
    github,
    oidc,
    privacyContact: env.AMISTIO_PRIVACY_CONTACT,
    admins: new Set(env.AMISTIO_ADMINS),
    retentionDays: env.AMISTIO_RETENTION_DAYS,
    sessionSecret: env.SESSION_SECRET,
    dataDir,
  };
}

/**
 * The address callback URLs are built from without AMISTIO_PUBLIC_URL: plain http on the host and port
 * the server listens on (`localhost` when it listens on every interface). Built from the configuration
 * only, never from a request's Host header, which whoever sends the request chooses.
 */
export function listenOrigin(listen: WebSettings["listen"], boundPort: number | undefined): string {
  const wildcard = listen.host === "" || listen.host === "0.0.0.0" || listen.host === "::" || listen.host === "[::]";
  const host = wildcard
    ? "localhost"
    : listen.host.includes(":") && !listen.host.startsWith("[")
      ? `[${listen.host}]`
      : listen.host;
  const port = listen.port === 0 ? boundPort : listen.port;
  return `http://${host}${port === undefined ? "" : `:${port}`}`;
}

function isLoopback(url: URL): boolean {
  return url.hostname === "127.0.0.1" || url.hostname === "localhost" || url.hostname === "[::1]";
}
