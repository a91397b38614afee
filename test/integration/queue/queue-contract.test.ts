import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { JobContext, JobData, JobQueue } from "../../../src/queue/job-queue.ts";
import { BACKOFF_BASE_MS, type Backend, DRIVERS, deferred, sleep, uniqueName, waitFor } from "./queue-harness.ts";

interface Run {
  data: JobData;
  context: JobContext;
  at: number;
}

describe.each(DRIVERS)("job queue contract: $name", (driver) => {
  let backend: Backend;
  let namespace: string;
  let queues: JobQueue[] = [];

  beforeAll(async () => {
    backend = await driver.open();
  });
  afterAll(async () => {
    await backend?.close();
  });
  afterEach(async () => {
    for (const queue of queues) {
      await queue.stopWorker(50);
      await queue.close();
    }
  });

  function newQueue(): JobQueue {
    const queue = backend.queue(namespace);
    queues.push(queue);
    return queue;
  }

  function setup(): { queue: JobQueue; runs: Run[]; record: (data: JobData, context: JobContext) => void } {
    queues = [];
    namespace = uniqueName();
    const runs: Run[] = [];
    return { queue: newQueue(), runs, record: (data, context) => runs.push({ data, context, at: Date.now() }) };
  }

  const statusOf = async (id: string) => (await backend.inspect(namespace, id))?.status;
  const until = (id: string, status: string) =>
    waitFor(`job ${id} to be ${status}`, async () => (await statusOf(id)) === status);

  it("runs a job once, with its data", async () => {
    const { queue, runs, record } = setup();
    await queue.startWorker({ greet: async (data, context) => record(data, context) }, { concurrency: 2 });
    const result = await queue.enqueue("greet", { who: "octocat", n: 1 });
    expect(result.created).toBe(true);
    await until(result.id, "completed");
    expect(runs).toHaveLength(1);
    expect(runs[0]?.data).toEqual({ who: "octocat", n: 1 });
    expect(runs[0]?.context).toMatchObject({ id: result.id, name: "greet", attempt: 1 });
    expect(runs[0]?.context.signal.aborted).toBe(false);
  });

  it("ignores an enqueue whose key matches a queued or completed job", async () => {
    const { queue, runs, record } = setup();
    const key = `delivery:${namespace}:1`;
    const first = await queue.enqueue("greet", { n: 1 }, { key });
    const duplicate = await queue.enqueue("greet", { n: 2 }, { key });
    expect(first.created).toBe(true);
    expect(duplicate).toEqual({ id: first.id, created: false });
    await queue.startWorker({ greet: async (data, context) => record(data, context) }, { concurrency: 1 });
    await until(first.id, "completed");
    expect(await queue.enqueue("greet", { n: 3 }, { key })).toEqual({ id: first.id, created: false });
    await sleep(150);
    expect(runs.map((run) => run.data)).toEqual([{ n: 1 }]);
  });

  it("queues a job again when its key matches a job that failed for good", async () => {
    const { queue, runs, record } = setup();
    const key = `delivery:${namespace}:2`;
    await queue.startWorker(
      {
        greet: async (data, context) => {
          record(data, context);
          if (runs.length === 1) throw new Error("first delivery fails");
        },
      },
      { concurrency: 1 },
    );
    const first = await queue.enqueue("greet", { n: 1 }, { key, maxAttempts: 1 });
    await until(first.id, "failed");
    const again = await queue.enqueue("greet", { n: 1 }, { key, maxAttempts: 1 });
    expect(again).toEqual({ id: first.id, created: true });
    await until(first.id, "completed");
    expect(runs.map((run) => run.context.attempt)).toEqual([1, 1]);
  });

  it("enqueueMany queues each job like enqueue would, keys included", async () => {
    const { queue, runs, record } = setup();
    const done = await queue.enqueue("greet", { n: 0 }, { key: `${namespace}-seen` });
    const results = await queue.enqueueMany([
      { name: "greet", data: { n: 1 }, options: { key: `${namespace}-a` } },
      { name: "greet", data: { n: 2 } },
      { name: "greet", data: { n: 3 }, options: { key: `${namespace}-seen` } },
      { name: "greet", data: { n: 4 }, options: { key: `${namespace}-a` } },
    ]);
    expect(results.map((result) => result.created)).toEqual([true, true, false, false]);
    expect(results[2]?.id).toBe(done.id);
    expect(results[3]?.id).toBe(results[0]?.id);
    await queue.startWorker({ greet: async (data, context) => record(data, context) }, { concurrency: 2 });
    for (const id of [done.id, results[0]!.id, results[1]!.id]) await until(id, "completed");
    expect(runs.map((run) => run.data.n).sort()).toEqual([0, 1, 2]);
  });

  it("retries a failing job with growing delays until it succeeds", async () => {
    const { queue, runs, record } = setup();
    await queue.startWorker(
      {
        flaky: async (data, context) => {
          record(data, context);
          if (context.attempt < 3) throw new Error(`try ${context.attempt} failed`);
        },
      },
      { concurrency: 1 },
    );
    const { id } = await queue.enqueue("flaky", {}, { maxAttempts: 5 });
    await until(id, "completed");
    expect(runs.map((run) => run.context.attempt)).toEqual([1, 2, 3]);
    const [one, two, three] = runs.map((run) => run.at) as [number, number, number];
    // Exponential: about base, then about twice base (jitter takes off at most 20%).
    expect(two - one).toBeGreaterThanOrEqual(BACKOFF_BASE_MS * 0.8 - 5);
    expect(three - two).toBeGreaterThanOrEqual(BACKOFF_BASE_MS * 2 * 0.8 - 5);
    expect((await backend.inspect(namespace, id))?.status).toBe("completed");
  });

  it("keeps a job that failed every try as failed, with its last error", async () => {
    const { queue, runs, record } = setup();
    await queue.startWorker(
      {
        doomed: async (data, context) => {
          record(data, context);
          throw new Error(`boom on try ${context.attempt}`);
        },
      },
      { concurrency: 1 },
    );
    const { id } = await queue.enqueue("doomed", {}, { maxAttempts: 2 });
    await until(id, "failed");
    const stored = await backend.inspect(namespace, id);
    expect(stored).toMatchObject({ status: "failed", attempts: 2 });
    expect(stored?.lastError).toContain("boom on try 2");
    await sleep(300);
    expect(runs).toHaveLength(2);
  });

  it("runs at most `concurrency` handlers at once", async () => {
    const { queue } = setup();
    let inFlight = 0;
    let maxInFlight = 0;
    let done = 0;
    const ids = [];
    for (let n = 0; n < 9; n++) ids.push((await queue.enqueue("slow", { n })).id);
    await queue.startWorker(
      {
        slow: async () => {
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          await sleep(60);
          inFlight--;
          done++;
        },
      },
      { concurrency: 3 },
    );
    await waitFor("all nine jobs", () => done === 9);
    for (const id of ids) await until(id, "completed");
    expect(maxInFlight).toBe(3);
  });

  it("does not run a delayed job before its time", async () => {
    const { queue, runs, record } = setup();
    await queue.startWorker({ later: async (data, context) => record(data, context) }, { concurrency: 1 });
    const enqueuedAt = Date.now();
    const { id } = await queue.enqueue("later", {}, { delayMs: 400 });
    await sleep(200);
    expect(runs).toHaveLength(0);
    expect(await statusOf(id)).toBe("queued");
    await until(id, "completed");
    expect(runs[0]!.at - enqueuedAt).toBeGreaterThanOrEqual(400);
  });

  it("fails a job with no handler at once, saying so", async () => {
    const { queue } = setup();
    await queue.startWorker({ known: async () => {} }, { concurrency: 1 });
    const { id } = await queue.enqueue("unknown-job", {}, { maxAttempts: 5 });
    await until(id, "failed");
    expect(await backend.inspect(namespace, id)).toMatchObject({
      status: "failed",
      attempts: 1,
      lastError: "no handler for job unknown-job",
    });
  });

  it("stopWorker waits for a running job to finish", async () => {
    const { queue } = setup();
    const started = deferred();
    let finished = false;
    await queue.startWorker(
      {
        slow: async () => {
          started.resolve();
          await sleep(300);
          finished = true;
        },
      },
      { concurrency: 1 },
    );
    const { id } = await queue.enqueue("slow", {});
    await started.promise;
    await queue.stopWorker(5_000);
    expect(finished).toBe(true);
    expect(await statusOf(id)).toBe("completed");
  });

  it("stopWorker aborts and releases a job that outlives the grace, and it runs again", async () => {
    const { queue, runs, record } = setup();
    const started = deferred();
    let aborted = false;
    await queue.startWorker(
      {
        stuck: async (_data, context) => {
          context.signal.addEventListener("abort", () => {
            aborted = true;
          });
          started.resolve();
          // Ignores the signal on purpose: the worst case.
          await new Promise(() => {});
        },
      },
      { concurrency: 1 },
    );
    const { id } = await queue.enqueue("stuck", {});
    await started.promise;
    await queue.stopWorker(200);
    expect(aborted).toBe(true);
    expect(await statusOf(id)).toBe("queued");

    await queue.startWorker({ stuck: async (data, context) => record(data, context) }, { concurrency: 1 });
    await until(id, "completed");
    // The interrupted try is not counted against the job.
    expect(runs.map((run) => run.context.attempt)).toEqual([1]);
  });

  it("answers ping while its store is reachable", async () => {
    const { queue } = setup();
    await expect(queue.ping()).resolves.toBeUndefined();
  });
});
