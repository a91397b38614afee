import { randomUUID } from "node:crypto";
import { Queue } from "bullmq";
import { afterEach, describe, expect, it } from "vitest";
import { Prisma } from "../../../src/db/create-database.ts";
import { createBullmqQueue } from "../../../src/queue/bullmq-queue.ts";
import { createEmbeddedQueue } from "../../../src/queue/embedded-queue.ts";
import type { JobQueue } from "../../../src/queue/job-queue.ts";
import {
  createDeliveryRecorder,
  type IncomingDelivery,
  type RecordOutcome,
} from "../../../src/webhooks/delivery-recorder.ts";
import { createTestDatabase, REDIS_TEST_URL, type TestDatabase } from "../../helpers/test-database.ts";
import { BULLMQ_TEST_PREFIX, silentLogger, uniqueName } from "../queue/queue-harness.ts";

interface Setup {
  database: TestDatabase;
  queue: JobQueue;
  /** The input of a delivery's stored job, whichever store holds it. */
  jobInput(deliveryId: string): Promise<unknown>;
  close(): Promise<void>;
}

async function embeddedOn(provider: "sqlite" | "postgresql"): Promise<Setup> {
  const database = await createTestDatabase(provider);
  const queue = createEmbeddedQueue({ store: database.store, logger: silentLogger });
  return {
    database,
    queue,
    async jobInput(deliveryId) {
      const job = await database.db.job.findUnique({
        where: { key: `delivery:${deliveryId}` },
        include: { input: true },
      });
      return job?.input && JSON.parse(job.input.data);
    },
    close: () => database.destroy(),
  };
}

async function bullmqBesideSqlite(): Promise<Setup> {
  const database = await createTestDatabase("sqlite");
  const queueName = uniqueName();
  const queue = createBullmqQueue({
    redisUrl: REDIS_TEST_URL,
    logger: silentLogger,
    queueName,
    prefix: BULLMQ_TEST_PREFIX,
  });
  const inspector = new Queue(queueName, { connection: { url: REDIS_TEST_URL }, prefix: BULLMQ_TEST_PREFIX });
  return {
    database,
    queue,
    async jobInput(deliveryId) {
      return (await inspector.getJobs()).find((job) => job.data.deliveryId === deliveryId)?.data;
    },
    async close() {
      await queue.close();
      await inspector.obliterate({ force: true });
      await inspector.close();
      await database.destroy();
    },
  };
}

const delivery = (deliveryId = randomUUID()): IncomingDelivery => {
  const payload = { action: "created", installation: { id: 4242 }, comment: { body: 'say "hi"\n' } };
  return {
    deliveryId,
    event: "issue_comment",
    action: "created",
    installationId: 4242n,
    body: JSON.stringify(payload),
    payload,
  };
};

describe.each([
  ["the embedded queue on SQLite", () => embeddedOn("sqlite")],
  ["the embedded queue on PostgreSQL", () => embeddedOn("postgresql")],
  ["BullMQ beside SQLite", bullmqBesideSqlite],
] as const)("recording deliveries with %s", (_name, open) => {
  let setup: Setup;
  afterEach(async () => {
    await setup.close();
  });

  const recorder = () =>
    createDeliveryRecorder({
      db: setup.database.db,
      store: setup.database.store,
      queue: setup.queue,
      logger: silentLogger,
    });

  it("stores each of many deliveries arriving together with one job each", async () => {
    setup = await open();
    const deliveries = Array.from({ length: 30 }, () => delivery());
    const record = recorder();
    const outcomes = await Promise.all(deliveries.map((incoming) => record.record(incoming)));
    expect(outcomes).toEqual(deliveries.map(() => ({ outcome: "queued", redelivered: false })));
    const stored = await setup.database.db.webhookDelivery.findMany({ select: { id: true, status: true } });
    expect(stored.map((row) => row.id).sort()).toEqual(deliveries.map((d) => d.deliveryId).sort());
    for (const { deliveryId, payload, body } of deliveries) {
      if (setup.queue.sameDatabase) {
        // The embedded queue: the payload travels in the job, written in the same transaction.
        expect(await setup.jobInput(deliveryId)).toEqual({ deliveryId, event: "issue_comment", payload });
      } else {
        // BullMQ: the row is the outbox and keeps the payload; Redis holds only the delivery's id.
        expect(await setup.jobInput(deliveryId)).toEqual({ deliveryId, event: "issue_comment" });
        const row = await setup.database.db.webhookDelivery.findUniqueOrThrow({ where: { id: deliveryId } });
        expect(row.payload).toBe(body);
      }
    }
  });

  it("acts once on an id that arrives twice at the same moment, and again a moment later", async () => {
    setup = await open();
    const twice = delivery();
    const record = recorder();
    const together = await Promise.all([record.record(twice), record.record({ ...twice })]);
    // The next turn of the event loop: a batch of its own, written while the first may still be.
    const later = await new Promise<RecordOutcome>((resolve) =>
      setImmediate(() => resolve(record.record({ ...twice }))),
    );
    const outcomes = [...together, later];
    expect(outcomes.filter((outcome) => outcome.outcome === "queued")).toHaveLength(1);
    expect(outcomes.filter((outcome) => outcome.outcome === "duplicate")).toHaveLength(2);
    expect(await setup.database.db.webhookDelivery.count()).toBe(1);
  });

  it("queues a redelivery of one whose handling failed, and nothing for one that was handled", async () => {
    setup = await open();
    const failed = delivery();
    const handled = delivery();
    const record = recorder();
    await Promise.all([record.record(failed), record.record(handled)]);
    const { db } = setup.database;
    await db.webhookDelivery.update({ where: { id: failed.deliveryId }, data: { status: "failed", error: "boom" } });
    await db.webhookDelivery.update({ where: { id: handled.deliveryId }, data: { status: "done" } });
    expect(await record.record(failed)).toEqual({ outcome: "queued", redelivered: true });
    expect(await record.record(handled)).toEqual({ outcome: "duplicate", status: "done" });
    expect(await db.webhookDelivery.findUnique({ where: { id: failed.deliveryId } })).toMatchObject({
      status: "queued",
      error: null,
    });
  });
});

describe("recording deliveries with the embedded queue", () => {
  let database: TestDatabase;
  afterEach(async () => {
    await database.destroy();
  });

  const recorderOn = (db: TestDatabase) =>
    createDeliveryRecorder({
      db: db.db,
      store: db.store,
      queue: createEmbeddedQueue({ store: db.store, logger: silentLogger }),
      logger: silentLogger,
    });

  it("does not queue a delivery seen before, even when retention removed its finished job", async () => {
    database = await createTestDatabase("sqlite");
    const { db } = database;
    const seen = delivery();
    const record = recorderOn(database);
    await record.record(seen);
    await db.webhookDelivery.update({ where: { id: seen.deliveryId }, data: { status: "done" } });
    await db.job.deleteMany();
    expect(await record.record(seen)).toEqual({ outcome: "duplicate", status: "done" });
    expect(await db.job.count()).toBe(0);
  });

  it("writes a delivery and its job together: when the delivery cannot be stored, its job is not", async () => {
    database = await createTestDatabase("sqlite");
    const { db } = database;
    // The job's insert comes first in the transaction, so this failure must undo it.
    await db.$executeRaw(
      Prisma.sql`CREATE TRIGGER "refuse" BEFORE INSERT ON "WebhookDelivery" BEGIN SELECT RAISE(ABORT, 'disk says no'); END`,
    );
    const outcome = await recorderOn(database).record(delivery());
    expect(outcome).toMatchObject({ outcome: "unavailable" });
    expect(String((outcome as { error: unknown }).error)).toContain("disk says no");
    expect(await db.webhookDelivery.count()).toBe(0);
    expect(await db.job.count({ where: { name: "webhook.deliver" } })).toBe(0);
  });
});
