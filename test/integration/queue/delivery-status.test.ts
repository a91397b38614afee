import { randomUUID } from "node:crypto";
import type { Probot } from "probot";
import { afterEach, describe, expect, it } from "vitest";
import { createBullmqQueue } from "../../../src/queue/bullmq-queue.ts";
import { createEmbeddedQueue } from "../../../src/queue/embedded-queue.ts";
import type { JobQueue } from "../../../src/queue/job-queue.ts";
import { checkedJobHandler } from "../../../src/queue/jobs.ts";
import { deliverWebhook } from "../../../src/webhooks/deliver-webhook.ts";
import { createDeliveryRecorder, type IncomingDelivery } from "../../../src/webhooks/delivery-recorder.ts";
import { createDeliverySweeper } from "../../../src/webhooks/delivery-sweeper.ts";
import { createTestDatabase, REDIS_TEST_URL, type TestDatabase } from "../../helpers/test-database.ts";
import { BACKOFF_BASE_MS, BULLMQ_TEST_PREFIX, deferred, silentLogger, uniqueName, waitFor } from "./queue-harness.ts";

/** One driver beside the database it goes with. */
interface Setup {
  database: TestDatabase;
  queue: JobQueue;
  close(): Promise<void>;
}

async function embeddedOn(provider: "sqlite" | "postgresql"): Promise<Setup> {
  const database = await createTestDatabase(provider);
  const queue = createEmbeddedQueue({
    store: database.store,
    logger: silentLogger,
    pollIntervalMs: 50,
    backoffBaseMs: BACKOFF_BASE_MS,
  });
  return {
    database,
    queue,
    async close() {
      await queue.close();
      await database.destroy();
    },
  };
}

async function bullmqBesidePostgres(): Promise<Setup> {
  const database = await createTestDatabase("postgresql");
  const queue = createBullmqQueue({
    redisUrl: REDIS_TEST_URL,
    logger: silentLogger,
    queueName: uniqueName(),
    prefix: BULLMQ_TEST_PREFIX,
    backoffBaseMs: BACKOFF_BASE_MS,
  });
  return {
    database,
    queue,
    async close() {
      await queue.close();
      await database.destroy();
    },
  };
}

const DELIVERY_SETUPS = [
  ["the embedded queue on SQLite", () => embeddedOn("sqlite")],
  ["the embedded queue on PostgreSQL", () => embeddedOn("postgresql")],
  ["BullMQ beside PostgreSQL", bullmqBesidePostgres],
] as const;

/** A Probot stand-in whose handlers are `receive`; no installation in the payloads, so no token is asked for. */
function fakeProbot(receive: () => Promise<void>): Probot {
  return { receive, log: silentLogger } as unknown as Probot;
}

const incoming = (body?: string): IncomingDelivery => {
  const payload = { action: "created", comment: { body: "hello" } };
  return {
    deliveryId: randomUUID(),
    event: "issue_comment",
    action: "created",
    installationId: null,
    body: body ?? JSON.stringify(payload),
    payload,
  };
};

describe.each(DELIVERY_SETUPS)("a delivery's status with %s", (_name, open) => {
  let setup: Setup;
  afterEach(async () => {
    await setup.close();
  });

  const statusOf = async (id: string) =>
    (await setup.database.db.webhookDelivery.findUnique({ where: { id }, select: { status: true, error: true } })) ??
    undefined;

  async function start(receive: () => Promise<void>) {
    const { db, store } = setup.database;
    await setup.queue.startWorker(
      {
        "webhook.deliver": checkedJobHandler(
          "webhook.deliver",
          deliverWebhook({ db, store, probot: fakeProbot(receive) }),
        ),
      },
      { concurrency: 2 },
    );
    return createDeliveryRecorder({ db, store, queue: setup.queue, logger: silentLogger });
  }

  it("is retrying, not failed, while tries remain, and done once a later try succeeded", async () => {
    setup = await open();
    let tries = 0;
    const secondTry = deferred();
    const mayFinish = deferred();
    const recorder = await start(async () => {
      tries++;
      if (tries === 1) throw new Error("GitHub answered 502");
      secondTry.resolve();
      await mayFinish.promise;
    });
    const delivery = incoming();
    expect(await recorder.record(delivery)).toEqual({ outcome: "queued", redelivered: false });
    await secondTry.promise;
    // The first try failed and the second is running: tries remain, so it is not failed.
    expect(await statusOf(delivery.deliveryId)).toEqual({ status: "retrying", error: "GitHub answered 502" });
    mayFinish.resolve();
    await waitFor("the delivery to be done", async () => (await statusOf(delivery.deliveryId))?.status === "done");
    expect(await statusOf(delivery.deliveryId)).toEqual({ status: "done", error: null });
  });

  it("is failed, with the last error, only once every try failed", async () => {
    setup = await open();
    let tries = 0;
    const seen: string[] = [];
    const recorder = await start(async () => {
      tries++;
      seen.push((await statusOf(delivery.deliveryId))?.status ?? "missing");
      throw new Error(`try ${tries} failed`);
    });
    const delivery = incoming();
    await recorder.record(delivery);
    await waitFor("the delivery to be failed", async () => (await statusOf(delivery.deliveryId))?.status === "failed");
    expect(tries).toBe(5);
    // What each try found: queued before the first, retrying before every later one.
    expect(seen).toEqual(["queued", "retrying", "retrying", "retrying", "retrying"]);
    expect(await statusOf(delivery.deliveryId)).toEqual({ status: "failed", error: "try 5 failed" });
  });

  it("fails at once, with a clear error, a delivery whose payload does not parse", async () => {
    setup = await open();
    let tries = 0;
    const recorder = await start(async () => {
      tries++;
    });
    // Intake parses before it records; a stored body that does not parse stands for a corrupted store.
    const delivery = incoming('{"action": "created", "comment": ');
    await recorder.record(delivery);
    // With BullMQ the handler reads the payload from the row and fails the delivery itself. The
    // embedded queue cannot even read the job's input (the payload is spliced into it), so it fails
    // the job at once, and the sweep settles the delivery from the job.
    const { db, store } = setup.database;
    const provider = setup.database.target.provider;
    const sweeper = createDeliverySweeper({
      db,
      store,
      queue: setup.queue,
      logger: silentLogger,
      provider,
      graceMs: 0,
    });
    await waitFor("the delivery to be failed", async () => {
      await sweeper.sweep();
      return (await statusOf(delivery.deliveryId))?.status === "failed";
    });
    expect(tries).toBe(0);
    expect((await statusOf(delivery.deliveryId))?.error).toMatch(
      setup.queue.driver === "bullmq"
        ? new RegExp(`^the payload of delivery ${delivery.deliveryId} is not valid JSON`)
        : /^the job's input is not valid JSON/,
    );
  });

  it("fails at once a job whose input does not fit the webhook job's schema", async () => {
    setup = await open();
    let tries = 0;
    await start(async () => {
      tries++;
    });
    await setup.queue.enqueue("webhook.deliver", { deliveryId: "not a delivery id!", event: 42 }, { key: "bad-input" });
    await waitFor(
      "the job to fail",
      async () => (await setup.queue.jobsByKey(["bad-input"])).get("bad-input")?.state === "failed",
    );
    const [job] = (await setup.queue.jobsByKey(["bad-input"])).values();
    // Its name and the schema's complaint, at once: not five retries of a TypeError.
    expect(job?.lastError).toBe(
      "job webhook.deliver: invalid input: deliveryId: not a delivery id; event: Invalid input: expected string, received number",
    );
    expect(tries).toBe(0);
  });
});
