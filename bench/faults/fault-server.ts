// One Amistio process for `npm run faults` (bench/faults.ts): the real wiring (createAmistio) with the
// role, database and Redis from the environment, and the delivery sweeper on a short interval so the
// run stays within a couple of minutes. GitHub is never called when the deliveries carry no installation;
// with GHE_HOST set (a fake GitHub on loopback, `serveFakeGithub`) the plan and approve scenarios reach it,
// and FAULT_OCTOKIT=production swaps the test Octokit (no retries, no pacing) for the production one
// (write pacing shared in Redis, rate limits turned into waits).
// Prints "READY <address>" once started; SIGKILL is what the fault script sends.
import { pino } from "pino";
import { readEnv } from "../../src/config/env.ts";
import { createAmistio } from "../../src/index.ts";
import { TestOctokit, testPrivateKey } from "../../test/helpers/test-amistio.ts";

const env = readEnv({
  APP_ID: "1",
  PRIVATE_KEY: testPrivateKey(),
  WEBHOOK_SECRET: process.env.WEBHOOK_SECRET ?? "fault-secret",
  DATABASE_URL: process.env.DATABASE_URL ?? "",
  ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
  AMISTIO_ROLE: process.env.AMISTIO_ROLE ?? "all",
  PORT: process.env.PORT ?? "0",
  // A worker's own health and metrics port: any free one, so several workers can run side by side.
  AMISTIO_WORKER_PORT: "0",
  HOST: "127.0.0.1",
  LOG_LEVEL: process.env.LOG_LEVEL ?? "warn",
  ...(process.env.GHE_HOST ? { GHE_HOST: process.env.GHE_HOST, GHE_PROTOCOL: "http" } : {}),
  ...(process.env.AMISTIO_PUBLIC_URL ? { AMISTIO_PUBLIC_URL: process.env.AMISTIO_PUBLIC_URL } : {}),
});
const logger = pino({ level: env.LOG_LEVEL });
const amistio = await createAmistio({
  env,
  logger,
  // Without an Octokit, createAmistio uses the production one (githubOctokit with the write pacer).
  ...(process.env.FAULT_OCTOKIT === "production" ? {} : { Octokit: TestOctokit }),
  githubToken: "fault",
  sweeper: {
    intervalMs: Number(process.env.SWEEP_INTERVAL_MS ?? 1_000),
    graceMs: Number(process.env.SWEEP_GRACE_MS ?? 2_000),
  },
});
const address = await amistio.start();
console.log(`READY ${address ?? "worker"}`);
process.on("SIGTERM", () => void amistio.stop(2_000).then(() => process.exit(0)));
