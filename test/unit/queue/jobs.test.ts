import { describe, expect, it, vi } from "vitest";
import { type JobContext, type JobQueue, PermanentJobError } from "../../../src/queue/job-queue.ts";
import {
  checkedJobHandler,
  enqueueJob,
  JOBS,
  type JobHandlerMap,
  jobHandlers,
  newJob,
  storedJob,
} from "../../../src/queue/jobs.ts";
import { NO_WAITS } from "../../../src/queue/retry-later.ts";

const context = (name: string): JobContext => ({
  id: "1",
  name,
  attempt: 1,
  lastAttempt: false,
  waits: NO_WAITS,
  signal: new AbortController().signal,
});

const noop = async () => {};
const everyHandler = (): JobHandlerMap => ({
  "webhook.deliver": noop,
  "run.dispatch": noop,
  "run.queued-check": noop,
  "run.finish": noop,
  "repository.index": noop,
});

describe("the job list", () => {
  it("fails a job whose input does not fit its schema at once, naming the job and the schema's complaint", async () => {
    const handler = vi.fn(noop);
    const checked = checkedJobHandler("run.dispatch", handler);
    const failure = await checked({ runId: 42 }, context("run.dispatch")).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(PermanentJobError);
    expect((failure as Error).message).toBe(
      "job run.dispatch: invalid input: runId: Invalid input: expected string, received number",
    );
    expect(handler).not.toHaveBeenCalled();

    const missing = await checkedJobHandler("repository.index", handler)({}, context("repository.index")).catch(
      (error: unknown) => error,
    );
    expect(missing).toBeInstanceOf(PermanentJobError);
    expect((missing as Error).message).toMatch(
      /^job repository\.index: invalid input: installationId: .*; repositoryId: /,
    );
    expect(handler).not.toHaveBeenCalled();
  });

  it("hands the handler the input as its schema reads it, and the job's context", async () => {
    const handler = vi.fn(async (_data: { payload?: object }, _job: JobContext) => {});
    const job = context("webhook.deliver");
    const payload = { action: "created" };
    await checkedJobHandler("webhook.deliver", handler)(
      { deliveryId: "d-1", event: "issue_comment", payload, extra: "dropped" },
      job,
    );
    expect(handler).toHaveBeenCalledWith({ deliveryId: "d-1", event: "issue_comment", payload }, job);
    // The payload is checked for being an object, not copied: intake's payloads are 10–50 KB.
    expect(handler.mock.calls[0]?.[0]?.payload).toBe(payload);
    await expect(
      checkedJobHandler("webhook.deliver", handler)({ deliveryId: "d-2", event: "push", payload: [] }, job),
    ).rejects.toThrow("job webhook.deliver: invalid input: payload: expected a JSON object");
  });

  it("refuses at start a handler list that misses a job or names one that is not listed", () => {
    expect(Object.keys(jobHandlers(everyHandler())).sort()).toEqual(Object.keys(JOBS).sort());
    const { "run.finish": _, ...withoutFinish } = everyHandler();
    expect(() => jobHandlers(withoutFinish as JobHandlerMap)).toThrow(
      "job handlers do not match the job list (src/queue/jobs.ts): no handler for run.finish",
    );
    expect(() => jobHandlers({ ...everyHandler(), "run.typo": noop } as JobHandlerMap)).toThrow(
      "run.typo is not a job",
    );
  });

  it("queues with the retry policy of the list, whatever the producer", async () => {
    const enqueue = vi.fn(async () => ({ id: "1", created: true }));
    await enqueueJob({ enqueue } as unknown as JobQueue, "repository.index", {
      installationId: 1,
      repositoryId: "r",
      fullName: "o/r",
    });
    expect(enqueue).toHaveBeenCalledWith(
      "repository.index",
      { installationId: 1, repositoryId: "r", fullName: "o/r" },
      { maxAttempts: JOBS["repository.index"].maxAttempts },
    );
    expect(newJob("run.finish", { runId: "r" }, { key: "k" }).options).toEqual({ key: "k", maxAttempts: 5 });
    expect(storedJob("webhook.deliver", "{}", { key: "k" })).toEqual({
      name: "webhook.deliver",
      data: {},
      dataJson: "{}",
      options: { key: "k", maxAttempts: 5 },
    });
  });
});
