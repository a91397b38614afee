import { generateKeyPairSync } from "node:crypto";
import { pino } from "pino";
import { ProbotOctokit } from "probot";
import { readEnv } from "../../src/config/env.ts";
import { type Amistio, createAmistio } from "../../src/index.ts";
import { sendDelivery } from "./send-delivery.ts";
import { createTestDatabase, type Provider } from "./test-database.ts";

export const TEST_WEBHOOK_SECRET = "test-webhook-secret";

/** Octokit for tests: no retries or throttling, so nock sees each request exactly once. */
export const TestOctokit = ProbotOctokit.defaults((options: Record<string, unknown>) => ({
  ...options,
  retry: { enabled: false },
  throttle: { enabled: false },
}));

let privateKey: string | undefined;
/** A real RSA key made at run time, so no key is committed and env validation sees a real PEM. */
export function testPrivateKey(): string {
  privateKey ??= generateKeyPairSync("rsa", {
    modulusLength: 2048,
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  }).privateKey;
  return privateKey;
}

export interface TestAmistio extends Amistio {
  url: string;
  /** POSTs a signed delivery to the real HTTP endpoint. */
  deliver(
    event: string,
    payload: unknown,
    options?: { id?: string; headers?: Record<string, string> },
  ): Promise<Response>;
  /** Resolves once no job is running or due. */
  drain(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startTestAmistio(
  options: {
    provider?: Provider;
    env?: Record<string, string>;
    /** Default `TestOctokit`; tests of rate limits pass the production one (`githubOctokit`). */
    Octokit?: typeof ProbotOctokit;
  } = {},
): Promise<TestAmistio> {
  const database = await createTestDatabase(options.provider ?? "sqlite");
  await database.close();
  const env = readEnv({
    APP_ID: "1",
    PRIVATE_KEY: testPrivateKey(), // App auth is stood in for by githubToken below
    WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
    DATABASE_URL: database.url,
    PORT: "0",
    HOST: "127.0.0.1",
    LOG_LEVEL: "silent",
    ...options.env,
  });
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });
  const amistio = await createAmistio({
    env,
    logger,
    Octokit: options.Octokit ?? TestOctokit,
    githubToken: "test-token",
  });
  const url = (await amistio.start()) as string;
  const path = env.WEBHOOK_PATH;
  return {
    ...amistio,
    url,
    deliver: (event, payload, deliveryOptions = {}) =>
      sendDelivery({ url: `${url}${path}`, secret: TEST_WEBHOOK_SECRET, event, payload, ...deliveryOptions }),
    async drain(timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      const db = amistio.database.db;
      while (Date.now() < deadline) {
        // A retry waiting out its backoff is not pending work for a test.
        const pending = await db.job.count({
          where: { OR: [{ status: "running" }, { status: "queued", runAt: { lte: new Date() } }] },
        });
        if (pending === 0) return;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      throw new Error("jobs still pending after drain timeout");
    },
    async close() {
      await amistio.stop(1000);
      await database.destroy().catch(() => undefined);
    },
  };
}
