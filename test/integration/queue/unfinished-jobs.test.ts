import { afterEach, describe, expect, it } from "vitest";
import type { JobContext, JobQueue } from "../../../src/queue/job-queue.ts";
import { type Backend, DRIVERS, uniqueName, waitFor } from "./queue-harness.ts";

describe.each(DRIVERS)("what /metrics reads of the queue ($name)", (driver) => {
  let backend: Backend | undefined;
  let queue: JobQueue | undefined;
  afterEach(async () => {
    await queue?.close();
    await backend?.close();
    queue = undefined;
    backend = undefined;
  });

  it("counts unfinished jobs by state, and tells a first try when it became due", async () => {
    backend = await driver.open();
    queue = backend.queue(uniqueName());
    await queue.enqueue("a.job", { n: 1 });
    await queue.enqueue("a.job", { n: 2 }, { delayMs: 60_000 });
    const waiting = await queue.unfinishedJobs();
    const name = queue.driver === "bullmq" ? "all" : "a.job";
    expect(waiting.find((row) => row.name === name && row.state === "waiting")?.count).toBe(2);

    const seen: JobContext[] = [];
    await queue.startWorker({ "a.job": async (_data, context) => void seen.push(context) }, { concurrency: 1 });
    await waitFor("the first job to start", () => seen.length === 1);
    const dueAt = seen[0]!.dueAt;
    expect(dueAt).toBeInstanceOf(Date);
    expect(Math.abs(Date.now() - dueAt!.getTime())).toBeLessThan(30_000);
    await waitFor("one job left waiting", async () => {
      const rows = await queue!.unfinishedJobs();
      return rows.find((row) => row.state === "waiting")?.count === 1 || undefined;
    });
  });
});
