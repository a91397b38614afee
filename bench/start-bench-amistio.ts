// The in-process Amistio the planning and dispatch benchmarks drive: a temporary SQLite database,
// GitHub played by a local HTTP server (reached the Enterprise Server way), signed deliveries in.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { readEnv } from "../src/config/env.ts";
import { createAmistio } from "../src/index.ts";
import { sendDelivery } from "../test/helpers/send-delivery.ts";
import { TestOctokit, testPrivateKey } from "../test/helpers/test-amistio.ts";

const SECRET = "bench-secret";

export async function startBenchAmistio(options: { githubHost: string; env?: Record<string, string> }) {
  const dir = mkdtempSync(join(tmpdir(), "amistio-bench-"));
  const env = readEnv({
    APP_ID: "1",
    PRIVATE_KEY: testPrivateKey(),
    WEBHOOK_SECRET: SECRET,
    DATABASE_URL: `file:${join(dir, "bench.db")}`,
    PORT: "0",
    HOST: "127.0.0.1",
    GHE_HOST: options.githubHost,
    GHE_PROTOCOL: "http",
    ...options.env,
  });
  const amistio = await createAmistio({
    env,
    logger: pino({ level: "silent" }),
    Octokit: TestOctokit,
    githubToken: "bench",
  });
  const url = await amistio.start();
  return {
    amistio,
    /** Sends a signed issue_comment delivery and fails unless it is accepted. */
    async comment(payload: unknown): Promise<void> {
      const response = await sendDelivery({
        url: `${url}${env.WEBHOOK_PATH}`,
        secret: SECRET,
        event: "issue_comment",
        payload,
      });
      if (response.status !== 202) throw new Error(`a delivery answered ${response.status}`);
    },
    async stop(): Promise<void> {
      await amistio.stop(1000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
