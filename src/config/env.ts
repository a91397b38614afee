import { getPrivateKey } from "@probot/get-private-key";
import { z } from "zod";
import { DEFAULT_DATABASE_URL } from "../db/database-url.ts";

const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;

const optionalText = z
  .string()
  .trim()
  .transform((value) => (value === "" ? undefined : value))
  .optional();

const httpUrl = (hint: string) =>
  z
    .string()
    .trim()
    .refine((value) => /^https?:\/\/[^\s]+$/.test(value) && URL.canParse(value), `must be an http(s) URL, ${hint}`);

const optionalUrl = (hint: string) =>
  z
    .string()
    .trim()
    .transform((value) => (value === "" ? undefined : value))
    .pipe(httpUrl(hint).optional())
    .optional();

const positiveInt = (fallback: number, max: number) =>
  z.coerce
    .number()
    .int("must be a whole number")
    .min(1, "must be at least 1")
    .max(max, `must be at most ${max}`)
    .default(fallback);

/**
 * Every environment variable Amistio reads. Probot's own names are kept so an app registered
 * through Probot's setup flow (which writes .env) works unchanged.
 */
const envSchema = z.object({
  APP_ID: z
    .string()
    .trim()
    .regex(/^\d*$/, "must be the numeric App ID from the GitHub App's settings page")
    .transform((value) => (value === "" ? undefined : Number(value)))
    .optional(),
  WEBHOOK_SECRET: optionalText,
  WEBHOOK_PATH: z.string().trim().startsWith("/", "must start with /").default("/api/github/webhooks"),
  WEBHOOK_PROXY_URL: optionalUrl("e.g. a channel from https://smee.io/new"),
  GHE_HOST: z
    .string()
    .trim()
    .regex(/^[a-z0-9.-]*(:\d+)?$/i, "must be a host name such as github.example.com, without a scheme")
    .transform((value) => (value === "" ? undefined : value))
    .optional(),
  GHE_PROTOCOL: z.enum(["http", "https"], "must be http or https").default("https"),
  PORT: z.coerce.number().int().min(0).max(65535, "must be a port number (0-65535)").default(3000),
  HOST: z.string().trim().default("localhost"),
  LOG_LEVEL: z.enum(LOG_LEVELS, `must be one of ${LOG_LEVELS.join(", ")}`).default("info"),
  LOG_FORMAT: z.enum(["json", "pretty"], "must be json or pretty").optional(),
  DATABASE_URL: z
    .string()
    .trim()
    .default(DEFAULT_DATABASE_URL)
    .refine(
      (value) => /^(file:|postgres(ql)?:\/\/)/.test(value),
      "must be file:<path> for SQLite or postgres://user@host/db for PostgreSQL",
    ),
  REDIS_URL: z
    .string()
    .trim()
    .transform((value) => (value === "" ? undefined : value))
    .pipe(
      z
        .string()
        .regex(/^rediss?:\/\/\S+$/, "must be a redis:// or rediss:// URL")
        .optional(),
    )
    .optional(),
  AMISTIO_PUBLIC_URL: optionalUrl("the address people and runners use to reach this server"),
  AMISTIO_ROLE: z.enum(["all", "web", "worker"], "must be all, web or worker").default("all"),
  AMISTIO_QUEUE_CONCURRENCY: positiveInt(4, 256),
  OPENAI_API_KEY: optionalText,
  OPENAI_BASE_URL: optionalUrl("the OpenAI-compatible endpoint, e.g. https://api.openai.com/v1"),
  OPENAI_MODEL: optionalText,
  AMISTIO_PLANNER_TIMEOUT_SECONDS: positiveInt(120, 3600),
  // Model tokens per repository and calendar month for repositories whose settings name none; unset: no limit.
  AMISTIO_MONTHLY_TOKENS: z
    .string()
    .trim()
    .transform((value) => (value === "" ? undefined : Number(value)))
    .pipe(z.number("must be a whole number").int("must be a whole number").min(1, "must be at least 1").optional())
    .optional(),
  // Web sign-in. The client id/secret are the GitHub App's own, under the names Probot's setup flow writes.
  GITHUB_CLIENT_ID: optionalText,
  GITHUB_CLIENT_SECRET: optionalText,
  SESSION_SECRET: z
    .string()
    .trim()
    .min(32, "must be at least 32 characters, e.g. the output of `openssl rand -base64 32`")
    .optional(),
  AMISTIO_PRIVACY_CONTACT: optionalText,
  AMISTIO_ADMINS: z
    .string()
    .transform((value) =>
      value
        .split(",")
        .map((login) => login.trim().toLowerCase())
        .filter((login) => login !== ""),
    )
    .pipe(z.array(z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,38})$/, "must be comma-separated GitHub logins")))
    .default([]),
  OIDC_PROVIDER: z.enum(["google"], "must be google, or leave it empty and set OIDC_ISSUER").optional(),
  OIDC_ISSUER: optionalUrl("the OpenID Connect issuer, e.g. https://accounts.google.com"),
  OIDC_CLIENT_ID: optionalText,
  OIDC_CLIENT_SECRET: optionalText,
  OIDC_NAME: optionalText,
  AMISTIO_RETENTION_DAYS: positiveInt(90, 36500),
  // The bearer token a Prometheus scraper sends to GET /metrics; unset, /metrics is not served.
  AMISTIO_METRICS_TOKEN: z
    .string()
    .trim()
    .min(32, "must be at least 32 characters, e.g. the output of `openssl rand -hex 32`")
    .max(512, "must be at most 512 characters")
    .regex(/^[\x21-\x7e]+$/, "must be printable ASCII without spaces (it is sent in an Authorization header)")
    .optional(),
  // A worker (AMISTIO_ROLE=worker) serves /healthz, /readyz and /metrics on this port and address.
  AMISTIO_WORKER_PORT: z.coerce.number().int().min(0).max(65535, "must be a port number (0-65535)").default(9464),
  AMISTIO_WORKER_HOST: z
    .string()
    .trim()
    .regex(/^[a-z0-9.:[\]-]{1,253}$/i, "must be an address or host name to listen on, e.g. 127.0.0.1 or 0.0.0.0")
    .default("127.0.0.1"),
  // Runners authenticate with GitHub Actions OIDC tokens from this issuer. Unset: github.com's, or
  // https://<GHE_HOST>/_services/token with GHE_HOST; an enterprise's custom issuer is set here.
  AMISTIO_RUNNER_OIDC_ISSUER: optionalUrl(
    "the GitHub Actions OIDC issuer, e.g. https://token.actions.githubusercontent.com",
  ),
});

type ParsedEnv = z.output<typeof envSchema>;

export type AppEnv = Readonly<
  ParsedEnv & {
    /** The PEM key from PRIVATE_KEY or PRIVATE_KEY_PATH, when present. */
    privateKey: string | undefined;
    /** REST API base: api.github.com, or <protocol>://<GHE_HOST>/api/v3. */
    githubApiUrl: string;
    /** Web base, for links and sign-in: github.com or the Enterprise Server host. */
    githubWebUrl: string;
    /** True when APP_ID, a private key and a webhook secret are all set. */
    hasAppCredentials: boolean;
  }
>;

export class EnvError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `Amistio cannot start; fix these environment variables (in .env or the shell):\n${problems.map((p) => `  - ${p}`).join("\n")}`,
    );
    this.name = "EnvError";
  }
}

/** Reads and validates the environment once; the result is frozen. */
export function readEnv(env: NodeJS.ProcessEnv = process.env): AppEnv {
  // An empty value (as .env.example leaves them) means "not set", so defaults apply.
  const given = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value.trim() !== ""),
  );
  const parsed = envSchema.safeParse(given);
  const problems: string[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const name = String(issue.path[0] ?? "environment");
      problems.push(`${name}: ${issue.message}`);
    }
  }
  let privateKey: string | undefined;
  if (env.PRIVATE_KEY || env.PRIVATE_KEY_PATH) {
    try {
      privateKey =
        getPrivateKey({ env: { PRIVATE_KEY: env.PRIVATE_KEY }, filepath: env.PRIVATE_KEY_PATH || undefined }) ??
        undefined;
      if (privateKey === undefined)
        problems.push("PRIVATE_KEY: is not a PEM private key (paste the key GitHub gave you, or set PRIVATE_KEY_PATH)");
    } catch (error) {
      const which = env.PRIVATE_KEY_PATH ? "PRIVATE_KEY_PATH" : "PRIVATE_KEY";
      problems.push(`${which}: ${(error as Error).message.split("\n")[0]}`);
    }
  }
  if (!parsed.success || problems.length > 0) throw new EnvError(problems);
  const values = parsed.data;
  if (values.APP_ID !== undefined && privateKey === undefined) {
    problems.push(
      "PRIVATE_KEY or PRIVATE_KEY_PATH: required when APP_ID is set (the .pem file from the App's settings)",
    );
  }
  if (values.APP_ID !== undefined && values.WEBHOOK_SECRET === undefined) {
    problems.push(
      "WEBHOOK_SECRET: required when APP_ID is set (the App's webhook secret), or deliveries cannot be verified",
    );
  }
  if (problems.length > 0) throw new EnvError(problems);
  const host = values.GHE_HOST;
  return Object.freeze({
    ...values,
    privateKey,
    githubApiUrl: host ? `${values.GHE_PROTOCOL}://${host}/api/v3` : "https://api.github.com",
    githubWebUrl: host ? `${values.GHE_PROTOCOL}://${host}` : "https://github.com",
    hasAppCredentials: values.APP_ID !== undefined && privateKey !== undefined && values.WEBHOOK_SECRET !== undefined,
  });
}
