import type { FastifyInstance } from "fastify";
import { pino } from "pino";
import { loadWebKeys } from "../../../src/auth/load-web-keys.ts";
import { readEnv } from "../../../src/config/env.ts";
import { readWebSettings } from "../../../src/config/read-web-settings.ts";
import { createMetrics } from "../../../src/metrics/amistio-metrics.ts";
import { createQueue } from "../../../src/queue/create-queue.ts";
import type { JobQueue } from "../../../src/queue/job-queue.ts";
import { createServer } from "../../../src/web/create-server.ts";
import { createTestDatabase, type Provider, type TestDatabase } from "../../helpers/test-database.ts";

export interface WebHarness {
  url: string;
  database: TestDatabase;
  server: FastifyInstance;
  /** The server's clock: starts at the real time and moves only when a test moves it. */
  clock: { now(): Date; advance(ms: number): void };
  /** Every log line the server wrote, parsed. */
  logs: Record<string, unknown>[];
  close(): Promise<void>;
}

/**
 * The HTTP server with the web pages only (no Probot, no worker), and a clock the test controls, for
 * behaviour that depends on time passing (session activity, how old a membership is).
 */
export async function startWebHarness(
  options: { env?: Record<string, string>; provider?: Provider; membershipCheckTimeoutMs?: number } = {},
): Promise<WebHarness> {
  const database = await createTestDatabase(options.provider ?? "sqlite");
  const env = readEnv({
    DATABASE_URL: database.url,
    PORT: "0",
    HOST: "127.0.0.1",
    LOG_LEVEL: "info",
    SESSION_SECRET: "web-harness-session-secret-0123456789abcdef",
    ...options.env,
  });
  const settings = readWebSettings(env);
  let time = Date.now();
  const clock = {
    now: () => new Date(time),
    advance(ms: number) {
      time += ms;
    },
  };
  const logs: Record<string, unknown>[] = [];
  const logger = pino({ level: "info" }, { write: (line: string) => void logs.push(JSON.parse(line)) });
  let queue: JobQueue | undefined;
  try {
    queue = await createQueue({ store: database.store, logger });
    const server = await createServer({
      db: database.db,
      store: database.store,
      queue,
      logger,
      webhookPath: "/api/github/webhooks",
      webhookSecret: "unused-here",
      metrics: createMetrics(),
      web: {
        settings,
        keys: loadWebKeys({ secret: settings.sessionSecret, dataDir: settings.dataDir }),
        now: clock.now,
        ...(options.membershipCheckTimeoutMs ? { membershipCheckTimeoutMs: options.membershipCheckTimeoutMs } : {}),
      },
    });
    const url = await server.listen({ port: 0, host: "127.0.0.1" });
    return {
      url,
      database,
      server,
      clock,
      logs,
      async close() {
        await server.close();
        await queue!.close();
        await database.destroy();
      },
    };
  } catch (error) {
    await queue?.close();
    await database.destroy();
    throw error;
  }
}
