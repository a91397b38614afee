import { randomUUID } from "node:crypto";
import { Queue } from "bullmq";
import type { Probot } from "probot";
import { afterEach, describe, expect, it } from "vitest";
import { createBullmqQueue } from "../../../src/queue/bullmq-queue.ts";
import { createEmbeddedQueue } from "../../../src/queue/embedded-queue.ts";
import type { JobQueue } from "../../../src/queue/job-queue.ts";
import { checkedJobHandler } from "../../../src/queue/jobs.ts";
import { requeueStrandedDispatches } from "../../../src/runs/requeue-stranded-dispatches.ts";
import { dispatchKey, queueDispatch } from "../../../src/runs/start-run.ts";
import { deliverWebhook } from "../../../src/webhooks/deliver-webhook.ts";
import { createDeliveryRecorder, type IncomingDelivery } from "../../../src/webhooks/delivery-recorder.ts";
import { createDeliverySweeper } from "../../../src/webhooks/delivery-sweeper.ts";
import { seedRun } from "../../fixtures/runner/seed-run.ts";
import { createTestDatabase, type Provider, type TestDatabase } from "../../helpers/test-database.ts";
import { type OwnRedis, startOwnRedis } from "./own-redis.ts";
import { BACKOFF_BASE_MS, BULLMQ_TEST_PREFIX, silentLogger, uniqueName, waitFor } from "./queue-harness.ts";

const incoming = (): IncomingDelivery => {
  const payload = { action: "created", comment: { body: `hello ${randomUUID()}` } };
  return {
    deliveryId: randomUUID(),
    event: "issue_comment",
    action: "created",
    installationId: null,
    body: JSON.stringify(payload),
    payload,
  };
};

/** A queue whose enqueue never answers: the web process froze, then died, between the row and the job. */
function dyingQueue(queue: JobQueue): JobQueue {
  return { ...queue, sameDatabase: undefined, enqueueMany: () => new Promise(() => {}) };
}

describe.each<Provider>(["postgresql", "sqlite"])("BullMQ beside %s: the database is the outbox", (provider) => {
  let database: TestDatabase;
  let redis: OwnRedis;
  const queues: JobQueue[] = [];
  const received: string[] = [];

  afterEach(async () => {
    for (const queue of queues.splice(0)) await queue.close().catch(() => undefined);
    await redis?.stop();
    await database?.destroy();
    received.length = 0;
  });

  async function open(): Promise<void> {
    database = await createTestDatabase(provider);
    redis = await startOwnRedis();
  }

  function newQueue(): JobQueue {
    const queue = createBullmqQueue({
      redisUrl: redis.url,
      logger: silentLogger,
      prefix: BULLMQ_TEST_PREFIX,
      backoffBaseMs: BACKOFF_BASE_MS,
    });
    queues.push(queue);
    return queue;
  }

  const probot = {
    receive: async (event: { id: string }) => {
      received.push(event.id);
    },
    log: silentLogger,
  } as unknown as Probot;

  async function startWorker(queue: JobQueue): Promise<void> {
    const { db, store } = database;
    await queue.startWorker(
      { "webhook.deliver": checkedJobHandler("webhook.deliver", deliverWebhook({ db, store, probot })) },
      { concurrency: 4 },
    );
  }

  const recorderOn = (queue: JobQueue, requeueAfterMs = 0) =>
    createDeliveryRecorder({
      db: database.db,
      store: database.store,
      queue,
      logger: silentLogger,
      requeueAfterMs,
    });

  const sweeperOn = (queue: JobQueue) =>
    createDeliverySweeper({
      db: database.db,
      store: database.store,
      queue,
      logger: silentLogger,
      provider,
      graceMs: 0,
    });

  const row = (id: string) => database.db.webhookDelivery.findUniqueOrThrow({ where: { id } });
  const allDone = (ids: string[]) => async () =>
    (await database.db.webhookDelivery.count({ where: { id: { in: ids }, status: "done" } })) === ids.length;

  it("keeps the payload on the row until the delivery is done; the job carries only the id", async () => {
    await open();
    const queue = newQueue();
    const delivery = incoming();
    expect(await recorderOn(queue).record(delivery)).toEqual({ outcome: "queued", redelivered: false });
    expect(await row(delivery.deliveryId)).toMatchObject({ status: "queued", payload: delivery.body });
    const inspector = new Queue("default", { connection: { url: redis.url }, prefix: BULLMQ_TEST_PREFIX });
    const [job] = await inspector.getJobs();
    await inspector.close();
    expect(job?.data).toEqual({ deliveryId: delivery.deliveryId, event: "issue_comment" });

    await startWorker(queue);
    await waitFor("the delivery to be done", allDone([delivery.deliveryId]));
    expect(await row(delivery.deliveryId)).toMatchObject({ status: "done", payload: null });
    expect(received).toEqual([delivery.deliveryId]);
  });

  it("queues again, once, a redelivery of a delivery stored by a process that died before queueing it", async () => {
    await open();
    const queue = newQueue();
    const delivery = incoming();
    // The first web process stores the row, then dies before its job is queued.
    void recorderOn(dyingQueue(queue)).record(delivery);
    await waitFor("the row to be stored", () =>
      database.db.webhookDelivery.findUnique({ where: { id: delivery.deliveryId } }),
    );

    await startWorker(queue);
    const recorder = recorderOn(queue);
    expect(await recorder.record(delivery)).toEqual({ outcome: "queued", redelivered: true });
    await waitFor("the delivery to be done", allDone([delivery.deliveryId]));
    expect(await recorder.record(delivery)).toEqual({ outcome: "duplicate", status: "done" });
    expect(received).toEqual([delivery.deliveryId]);
  });

  it("answers a redelivery of a delivery whose job is queued as a duplicate, and adds no job", async () => {
    await open();
    const queue = newQueue();
    const delivery = incoming();
    const recorder = recorderOn(queue);
    await recorder.record(delivery);
    expect(await recorder.record(delivery)).toEqual({ outcome: "duplicate", status: "queued" });
    const inspector = new Queue("default", { connection: { url: redis.url }, prefix: BULLMQ_TEST_PREFIX });
    expect(await inspector.getJobCounts("waiting")).toEqual({ waiting: 1 });
    await inspector.close();
  });

  it("sweeps stored deliveries that have no job into the queue, one sweeper at a time", async () => {
    await open();
    const queue = newQueue();
    const deliveries = Array.from({ length: 20 }, incoming);
    const dying = recorderOn(dyingQueue(queue));
    for (const delivery of deliveries) void dying.record(delivery);
    const ids = deliveries.map((delivery) => delivery.deliveryId);
    await waitFor(
      "the rows to be stored",
      async () => (await database.db.webhookDelivery.count({ where: { id: { in: ids } } })) === ids.length,
    );

    // Two processes sweep at the same moment: one holds the lock, and each delivery is queued once.
    // (On a loaded machine the first may finish before the second starts; the second then finds
    // nothing left. Either way exactly one sweep does the work, and nothing is queued twice.)
    const other = newQueue();
    const sweeps = await Promise.all([sweeperOn(queue).sweep(), sweeperOn(other).sweep()]);
    const requeued = sweeps.flatMap((sweep) => sweep?.requeued ?? []);
    expect(requeued.sort()).toEqual([...ids].sort());
    expect(sweeps.filter((sweep) => (sweep?.requeued.length ?? 0) > 0)).toHaveLength(1);

    await startWorker(queue);
    await waitFor("every delivery to be done", allDone(ids));
    expect(received.sort()).toEqual([...ids].sort());
    // Nothing left to sweep.
    expect(await sweeperOn(queue).sweep()).toEqual({ requeued: [], failed: [], done: [] });
  });

  it("refills a Redis without persistence that restarted after deliveries were acknowledged", async () => {
    await open();
    const queue = newQueue();
    const deliveries = Array.from({ length: 30 }, incoming);
    const recorder = recorderOn(queue);
    const outcomes = await Promise.all(deliveries.map((delivery) => recorder.record(delivery)));
    expect(outcomes.every((outcome) => outcome.outcome === "queued")).toBe(true);

    await redis.kill();
    await redis.restart();
    await waitFor("the queue to reconnect", () =>
      queue.ping().then(
        () => true,
        () => false,
      ),
    );

    await startWorker(queue);
    const result = await sweeperOn(queue).sweep();
    expect(result?.requeued).toHaveLength(deliveries.length);
    const ids = deliveries.map((delivery) => delivery.deliveryId);
    await waitFor("every acknowledged delivery to be done", allDone(ids));
    expect(received.sort()).toEqual([...ids].sort());
    expect(await database.db.webhookDelivery.count({ where: { payload: { not: null } } })).toBe(0);
  });

  it("queues again the dispatch of an approved run whose job a restarted Redis lost, and only that", async () => {
    await open();
    const queue = newQueue();
    const { db } = database;
    const lost = await seedRun(db);
    const dispatched = await seedRun(db, { run: { status: "dispatched" } });
    await queueDispatch(queue, lost.runId);
    await redis.kill();
    await redis.restart();
    await waitFor("the queue to reconnect", () =>
      queue.ping().then(
        () => true,
        () => false,
      ),
    );
    expect((await queue.jobsByKey([dispatchKey(lost.runId)])).size).toBe(0);

    const later = new Date(Date.now() + 60_000);
    const sweep = () => requeueStrandedDispatches({ db, queue, logger: silentLogger, cutoff: later });
    expect(await sweep()).toEqual([lost.runId]);
    expect((await queue.jobsByKey([dispatchKey(lost.runId)])).get(dispatchKey(lost.runId))?.state).toBe("waiting");
    expect((await queue.jobsByKey([dispatchKey(dispatched.runId)])).size).toBe(0);
    // Its job is there now: the next sweep leaves it alone.
    expect(await sweep()).toEqual([]);
  });

  it("accepts deliveries while Redis is unreachable and queues them once it is back", async () => {
    await open();
    const queue = newQueue();
    await queue.ping();
    await redis.kill();
    const delivery = incoming();
    expect(await recorderOn(queue).record(delivery)).toEqual({ outcome: "queued", redelivered: false });
    expect(await row(delivery.deliveryId)).toMatchObject({ status: "queued", payload: delivery.body });

    await redis.restart();
    await waitFor("the queue to reconnect", () =>
      queue.ping().then(
        () => true,
        () => false,
      ),
    );
    await startWorker(queue);
    expect((await sweeperOn(queue).sweep())?.requeued).toEqual([delivery.deliveryId]);
    await waitFor("the delivery to be done", allDone([delivery.deliveryId]));
  });

  it("starts with Redis unreachable, stores what it accepts, and works it once Redis answers", async () => {
    await open();
    await redis.kill();
    const queue = newQueue();
    // Neither the worker's start nor intake waits for Redis: the process comes up and accepts.
    await startWorker(queue);
    const delivery = incoming();
    expect(await recorderOn(queue).record(delivery)).toEqual({ outcome: "queued", redelivered: false });
    expect(await row(delivery.deliveryId)).toMatchObject({ status: "queued", payload: delivery.body });

    await redis.restart();
    const sweeper = sweeperOn(queue);
    await waitFor(
      "the delivery to be done",
      async () => {
        await sweeper.sweep();
        return allDone([delivery.deliveryId])();
      },
      20_000,
    );
    expect(received).toEqual([delivery.deliveryId]);
  }, 30_000);

  it("fails, with a clear error, a delivery whose job and payload are both gone", async () => {
    await open();
    const queue = newQueue();
    const id = randomUUID();
    await database.db.webhookDelivery.create({ data: { id, event: "issue_comment", status: "queued" } });
    expect(await sweeperOn(queue).sweep()).toEqual({ requeued: [], failed: [id], done: [] });
    expect(await row(id)).toMatchObject({
      status: "failed",
      error: "its job is gone and its payload was not kept; redeliver it from GitHub",
    });
  });
});

describe.each<Provider>(["sqlite", "postgresql"])("the embedded queue on %s: deliveries and jobs", (provider) => {
  let database: TestDatabase;
  let queue: JobQueue;
  afterEach(async () => {
    await queue.close();
    await database.destroy();
  });

  it("marks failed a delivery whose worker died on its last try, once swept", async () => {
    database = await createTestDatabase(provider);
    const { db, store } = database;
    queue = createEmbeddedQueue({ store, logger: silentLogger, queueName: uniqueName() });
    const delivery = incoming();
    await createDeliveryRecorder({ db, store, queue, logger: silentLogger }).record(delivery);
    // What the queue leaves when the worker running the last try dies: the job failed, the delivery retrying.
    await db.webhookDelivery.update({ where: { id: delivery.deliveryId }, data: { status: "retrying" } });
    await db.job.updateMany({
      where: { key: `delivery:${delivery.deliveryId}` },
      data: {
        status: "failed",
        lastError: "the worker running its last attempt stopped before finishing (lease expired)",
      },
    });
    const sweeper = createDeliverySweeper({ db, store, queue, logger: silentLogger, provider, graceMs: 0 });
    expect(await sweeper.sweep()).toEqual({ requeued: [], failed: [delivery.deliveryId], done: [] });
    expect(await db.webhookDelivery.findUniqueOrThrow({ where: { id: delivery.deliveryId } })).toMatchObject({
      status: "failed",
      error: "the worker running its last attempt stopped before finishing (lease expired)",
    });
  });

  it("leaves alone deliveries whose job is queued, and those younger than the grace", async () => {
    database = await createTestDatabase(provider);
    const { db, store } = database;
    queue = createEmbeddedQueue({ store, logger: silentLogger, queueName: uniqueName() });
    const recorder = createDeliveryRecorder({ db, store, queue, logger: silentLogger });
    await Promise.all([recorder.record(incoming()), recorder.record(incoming())]);
    await db.job.deleteMany();
    expect(await createDeliverySweeper({ db, store, queue, logger: silentLogger, provider }).sweep()).toEqual({
      requeued: [],
      failed: [],
      done: [],
    });
    await recorder.record(incoming());
    const swept = await createDeliverySweeper({ db, store, queue, logger: silentLogger, provider, graceMs: 0 }).sweep();
    // The two whose jobs were deleted by hand are found; the one with a queued job is not.
    expect(swept?.failed).toHaveLength(2);
  });
});
