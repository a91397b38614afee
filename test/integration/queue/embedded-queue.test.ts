import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createDatabase, type Database } from "../../../src/db/create-database.ts";
import { createEmbeddedQueue } from "../../../src/queue/embedded-queue.ts";
import type { JobQueue } from "../../../src/queue/job-queue.ts";
import { createTestDatabase, PROVIDERS, type TestDatabase } from "../../helpers/test-database.ts";
import { silentLogger, sleep, uniqueName, waitFor } from "./queue-harness.ts";

describe.each(PROVIDERS)("embedded queue on %s", (provider) => {
  let database: TestDatabase;
  let queues: JobQueue[] = [];

  beforeAll(async () => {
    database = await createTestDatabase(provider);
  });
  afterAll(async () => {
    await database?.destroy();
  });
  afterEach(async () => {
    for (const queue of queues) await queue.close();
    queues = [];
  });

  function newQueue(queueName: string, extra: { workerId?: string; database?: Database } = {}): JobQueue {
    const queue = createEmbeddedQueue({
      store: (extra.database ?? database).store,
      logger: silentLogger,
      queueName,
      pollIntervalMs: 20,
      workerId: extra.workerId,
    });
    queues.push(queue);
    return queue;
  }

  it("makes one job when the same new key is enqueued at the same time", async () => {
    const queue = newQueue(uniqueName());
    const key = `delivery:${uniqueName()}`;
    const results = await Promise.all(Array.from({ length: 5 }, () => queue.enqueue("greet", {}, { key })));
    expect(results.filter((result) => result.created)).toHaveLength(1);
    expect(new Set(results.map((result) => result.id)).size).toBe(1);
    expect(await database.db.job.count({ where: { key } })).toBe(1);
  });

  it("keeps a failed job's data as JSON text apart from its row, and cuts a very long error", async () => {
    const queue = newQueue(uniqueName());
    await queue.startWorker(
      {
        loud: async () => {
          throw new Error("x".repeat(50_000));
        },
      },
      { concurrency: 1 },
    );
    const { id } = await queue.enqueue("loud", { nested: { list: [1, "two"] } }, { maxAttempts: 1 });
    const job = await waitFor("the job to fail", async () => {
      const row = await database.db.job.findUnique({ where: { id }, include: { input: true } });
      return row?.status === "failed" ? row : undefined;
    });
    expect(JSON.parse(job.input?.data ?? "")).toEqual({ nested: { list: [1, "two"] } });
    expect(job.lastError?.length).toBeLessThanOrEqual(2_000);
    expect(job.lastError?.startsWith("xxx")).toBe(true);
  });

  /** Starts a worker on the queue of a job stored as given; resolves with the row once it failed, and whether it ran. */
  async function failedWithoutRunning(job: { id: string; queue: string }) {
    let ran = false;
    const queue = newQueue(job.queue);
    await queue.startWorker(
      {
        greet: async () => {
          ran = true;
        },
      },
      { concurrency: 1 },
    );
    const failed = await waitFor("the job to fail", async () => {
      const row = await database.db.job.findUnique({ where: { id: job.id } });
      return row?.status === "failed" ? row : undefined;
    });
    return { failed, ran };
  }

  it("fails a job whose input row is missing, saying so, instead of running it without", async () => {
    const job = await database.db.job.create({ data: { queue: uniqueName(), name: "greet", maxAttempts: 1 } });
    const { failed, ran } = await failedWithoutRunning(job);
    expect(failed.lastError).toBe("the job's input is missing from JobInput");
    expect(ran).toBe(false);
  });

  it("fails a job whose worker died during its last attempt, instead of running it again", async () => {
    const job = await database.db.job.create({
      data: {
        queue: uniqueName(),
        name: "greet",
        input: { create: { data: "{}" } },
        status: "running",
        attempts: 2,
        maxAttempts: 2,
        lockedBy: "dead-worker#1",
        lockedUntil: new Date(Date.now() - 1_000),
      },
    });
    const { failed, ran } = await failedWithoutRunning(job);
    expect(failed.lastError).toMatch(/lease expired/);
    expect(ran).toBe(false);
  });

  // Only PostgreSQL serves several worker processes; SQLite is the one-process setup.
  if (provider === "postgresql")
    it("never runs a job twice when two workers share the queue", async () => {
      const queueName = uniqueName();
      // A second client is what a second process would have: its own connections.
      const other = await createDatabase({ url: database.url, migrate: false });
      try {
        const runs: { id: string; worker: string }[] = [];
        const handlers = (worker: string) => ({
          work: async (_data: unknown, context: { id: string }) => {
            runs.push({ id: context.id, worker });
            await sleep(5);
          },
        });
        const producer = newQueue(queueName);
        const ids: string[] = [];
        for (let n = 0; n < 50; n++) ids.push((await producer.enqueue("work", { n })).id);
        const a = newQueue(queueName, { workerId: "a" });
        const b = newQueue(queueName, { workerId: "b", database: other });
        // Connections warmed first, so both workers' first claims race for the same jobs.
        await Promise.all([a.ping(), b.ping()]);
        await Promise.all([
          a.startWorker(handlers("a"), { concurrency: 8 }),
          b.startWorker(handlers("b"), { concurrency: 8 }),
        ]);
        await waitFor(
          "all 50 jobs to complete",
          async () => (await database.db.job.count({ where: { queue: queueName, status: "completed" } })) === 50,
        );
        expect(runs).toHaveLength(50);
        expect(new Set(runs.map((run) => run.id))).toEqual(new Set(ids));
        expect(runs.some((run) => run.worker === "a")).toBe(true);
        expect(runs.some((run) => run.worker === "b")).toBe(true);
        expect(await database.db.job.findMany({ where: { queue: queueName }, select: { attempts: true } })).toEqual(
          ids.map(() => ({ attempts: 1 })),
        );
      } finally {
        for (const queue of queues) await queue.close();
        queues = [];
        await other.close();
      }
    });
});
