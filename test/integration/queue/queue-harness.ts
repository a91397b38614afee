import { randomBytes } from "node:crypto";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { pino } from "pino";
import { createBullmqQueue } from "../../../src/queue/bullmq-queue.ts";
import { createEmbeddedQueue } from "../../../src/queue/embedded-queue.ts";
import type { JobQueue } from "../../../src/queue/job-queue.ts";
import { createTestDatabase, type Provider, REDIS_TEST_URL, type TestDatabase } from "../../helpers/test-database.ts";

export const silentLogger = pino({ level: "silent" });
export const BULLMQ_TEST_PREFIX = "amistio-test";

/** A job as its store holds it, in the embedded queue's words. */
export interface StoredJob {
  status: "queued" | "running" | "completed" | "failed";
  attempts: number;
  lastError: string | null;
}

/** One driver on its real store; each test works in a namespace (queue name) of its own. */
export interface Backend {
  queue(namespace: string): JobQueue;
  inspect(namespace: string, id: string): Promise<StoredJob | undefined>;
  /** Env for test/fixtures/queue/crash-worker.ts. */
  workerEnv(namespace: string): Record<string, string>;
  close(): Promise<void>;
}

export interface DriverCase {
  name: string;
  open(): Promise<Backend>;
}

export const BACKOFF_BASE_MS = 100;

export const uniqueName = (): string => `q${randomBytes(5).toString("hex")}`;

function embedded(provider: Provider): DriverCase {
  return {
    name: `embedded on ${provider}`,
    async open() {
      const database: TestDatabase = await createTestDatabase(provider);
      return {
        queue: (namespace) =>
          createEmbeddedQueue({
            store: database.store,
            logger: silentLogger,
            queueName: namespace,
            pollIntervalMs: 50,
            backoffBaseMs: BACKOFF_BASE_MS,
          }),
        async inspect(_namespace, id) {
          const job = await database.db.job.findUnique({ where: { id } });
          if (!job) return undefined;
          return { status: job.status as StoredJob["status"], attempts: job.attempts, lastError: job.lastError };
        },
        workerEnv: (namespace) => ({ QUEUE_DRIVER: "embedded", DATABASE_URL: database.url, QUEUE_NAME: namespace }),
        close: () => database.destroy(),
      };
    },
  };
}

const bullmq: DriverCase = {
  name: "bullmq on redis",
  async open() {
    const redis = new Redis(REDIS_TEST_URL);
    const inspectors = new Map<string, Queue>();
    const inspector = (namespace: string): Queue => {
      let queue = inspectors.get(namespace);
      if (!queue) {
        queue = new Queue(namespace, { connection: redis, prefix: BULLMQ_TEST_PREFIX });
        inspectors.set(namespace, queue);
      }
      return queue;
    };
    return {
      queue: (namespace) =>
        createBullmqQueue({
          redisUrl: REDIS_TEST_URL,
          logger: silentLogger,
          queueName: namespace,
          prefix: BULLMQ_TEST_PREFIX,
          backoffBaseMs: BACKOFF_BASE_MS,
        }),
      async inspect(namespace, id) {
        const job = await inspector(namespace).getJob(id);
        if (!job) return undefined;
        const state = await job.getState();
        const status = state === "completed" || state === "failed" ? state : state === "active" ? "running" : "queued";
        return { status, attempts: job.attemptsMade, lastError: job.failedReason || null };
      },
      workerEnv: (namespace) => ({
        QUEUE_DRIVER: "bullmq",
        REDIS_URL: REDIS_TEST_URL,
        QUEUE_NAME: namespace,
        QUEUE_PREFIX: BULLMQ_TEST_PREFIX,
      }),
      async close() {
        for (const queue of inspectors.values()) {
          await queue.obliterate({ force: true });
          await queue.close();
        }
        await redis.quit();
      },
    };
  },
};

export const DRIVERS: DriverCase[] = [embedded("sqlite"), embedded("postgresql"), bullmq];

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `check` returns something truthy; fails with `what` after `timeoutMs`. */
export async function waitFor<T>(
  what: string | (() => string),
  check: () => T | Promise<T>,
  timeoutMs = 10_000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === "string" ? what : what()}`);
    await sleep(10);
  }
}

export interface Deferred<T = void> {
  promise: Promise<T>;
  resolve(value: T): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve: (value: T) => void = () => {};
  const promise = new Promise<T>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}
