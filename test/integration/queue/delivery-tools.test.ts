import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { promisify } from "node:util";
import type { Probot } from "probot";
import { afterEach, describe, expect, it } from "vitest";
import { createBullmqQueue } from "../../../src/queue/bullmq-queue.ts";
import { createEmbeddedQueue } from "../../../src/queue/embedded-queue.ts";
import type { JobQueue } from "../../../src/queue/job-queue.ts";
import { checkedJobHandler } from "../../../src/queue/jobs.ts";
import { deliverWebhook } from "../../../src/webhooks/deliver-webhook.ts";
import { createDeliveryRecorder, type IncomingDelivery } from "../../../src/webhooks/delivery-recorder.ts";
import { listDeliveries, replayDeliveries, STUCK_AFTER_MS } from "../../../src/webhooks/delivery-tools.ts";
import { createTestDatabase, REDIS_TEST_URL, type TestDatabase } from "../../helpers/test-database.ts";
import { BACKOFF_BASE_MS, BULLMQ_TEST_PREFIX, silentLogger, uniqueName, waitFor } from "./queue-harness.ts";

const incoming = (): IncomingDelivery => {
  const payload = { action: "created", comment: { body: "hello" } };
  return {
    deliveryId: randomUUID(),
    event: "issue_comment",
    action: "created",
    installationId: null,
    body: JSON.stringify(payload),
    payload,
  };
};

const SETUPS = [
  [
    "the embedded queue on SQLite",
    async () => {
      const database = await createTestDatabase("sqlite");
      const queue = createEmbeddedQueue({
        store: database.store,
        logger: silentLogger,
        pollIntervalMs: 50,
        backoffBaseMs: BACKOFF_BASE_MS,
      });
      return { database, queue };
    },
  ],
  [
    "BullMQ beside PostgreSQL",
    async () => {
      const database = await createTestDatabase("postgresql");
      const queue = createBullmqQueue({
        redisUrl: REDIS_TEST_URL,
        logger: silentLogger,
        queueName: uniqueName(),
        prefix: BULLMQ_TEST_PREFIX,
        backoffBaseMs: BACKOFF_BASE_MS,
      });
      return { database, queue };
    },
  ],
] as const;

describe.each(SETUPS)("operator tools for deliveries with %s", (_name, open) => {
  let database: TestDatabase;
  let queue: JobQueue;
  let failing = true;
  let handled: string[] = [];

  afterEach(async () => {
    await queue.close();
    await database.destroy();
    failing = true;
    handled = [];
  });

  async function start() {
    ({ database, queue } = await open());
    const { db, store } = database;
    const probot = {
      receive: async (event: { id: string }) => {
        if (failing) throw new Error("GitHub is down");
        handled.push(event.id);
      },
      log: silentLogger,
    } as unknown as Probot;
    await queue.startWorker(
      { "webhook.deliver": checkedJobHandler("webhook.deliver", deliverWebhook({ db, store, probot })) },
      { concurrency: 2 },
    );
    return createDeliveryRecorder({ db, store, queue, logger: silentLogger });
  }

  const statusOf = async (id: string) =>
    (await database.db.webhookDelivery.findUniqueOrThrow({ where: { id } })).status;

  it("lists failed, retrying and stuck deliveries with their job's state, by status and time", async () => {
    const recorder = await start();
    const failed = incoming();
    await recorder.record(failed);
    await waitFor("the delivery to fail", async () => (await statusOf(failed.deliveryId)) === "failed");
    const { db } = database;
    const stuckId = randomUUID();
    const longAgo = new Date(Date.now() - STUCK_AFTER_MS - 60_000);
    await db.webhookDelivery.create({ data: { id: stuckId, event: "issues", status: "queued", receivedAt: longAgo } });

    const all = await listDeliveries(db, queue);
    expect(all.map(({ id, status, job }) => ({ id, status, job }))).toEqual([
      { id: stuckId, status: "queued", job: "missing" },
      { id: failed.deliveryId, status: "failed", job: "failed" },
    ]);
    expect((await listDeliveries(db, queue, { status: "stuck" })).map((row) => row.id)).toEqual([stuckId]);
    expect((await listDeliveries(db, queue, { status: "failed" })).map((row) => row.id)).toEqual([failed.deliveryId]);
    expect(await listDeliveries(db, queue, { status: "retrying" })).toEqual([]);
    const since = new Date(Date.now() - 60_000);
    expect((await listDeliveries(db, queue, { since })).map((row) => row.id)).toEqual([failed.deliveryId]);
    expect(all[1]?.error).toBe("GitHub is down");
  });

  it("replays a failed delivery exactly once, and refuses one that is done", async () => {
    const recorder = await start();
    const delivery = incoming();
    await recorder.record(delivery);
    await waitFor("the delivery to fail", async () => (await statusOf(delivery.deliveryId)) === "failed");

    failing = false;
    const { db } = database;
    // Two operators replay it at the same moment: one job.
    const [first, second] = await Promise.all([
      replayDeliveries(db, queue, [delivery.deliveryId]),
      replayDeliveries(db, queue, [delivery.deliveryId]),
    ]);
    const outcomes = [first?.[0]?.outcome, second?.[0]?.outcome].sort();
    // BullMQ may answer "queued" to both (its add with a taken job id is a no-op); either way one job runs.
    if (queue.driver === "embedded") expect(outcomes).toEqual(["already queued", "queued"]);
    else expect(outcomes).toContain("queued");
    await waitFor("the delivery to be done", async () => (await statusOf(delivery.deliveryId)) === "done");
    expect(handled).toEqual([delivery.deliveryId]);

    expect(await replayDeliveries(db, queue, [delivery.deliveryId, "no-such-delivery"])).toEqual([
      { id: delivery.deliveryId, outcome: "refused", reason: "already done" },
      { id: "no-such-delivery", outcome: "refused", reason: "no such delivery" },
    ]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(handled).toEqual([delivery.deliveryId]);
  });
});

describe("npm run deliveries", () => {
  let database: TestDatabase | undefined;
  afterEach(async () => {
    await database?.destroy();
  });

  const run = promisify(execFile);
  const cli = (args: string[]) =>
    run(process.execPath, ["--import", "tsx", "scripts/deliveries.ts", ...args], {
      env: { ...process.env, DATABASE_URL: database!.url, REDIS_URL: "" },
    }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error: { code: number; stdout: string; stderr: string }) => error,
    );

  it("lists failed deliveries and replays those failed since a time; refuses bad arguments", async () => {
    database = await createTestDatabase("sqlite");
    const { db, store } = database;
    const queue = createEmbeddedQueue({ store, logger: silentLogger });
    const delivery = incoming();
    await createDeliveryRecorder({ db, store, queue, logger: silentLogger }).record(delivery);
    // As a worker leaves it after its last failed try.
    await db.webhookDelivery.update({ where: { id: delivery.deliveryId }, data: { status: "failed", error: "boom" } });
    await db.job.updateMany({ data: { status: "failed", attempts: 5, lastError: "boom" } });

    const listed = await cli(["list", "--status", "failed"]);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(`${delivery.deliveryId}  failed  issue_comment.created`);
    expect(listed.stdout).toContain("job:failed  boom");

    const replayed = await cli(["replay", "--failed-since", new Date(Date.now() - 60_000).toISOString()]);
    expect(replayed.stdout).toBe(`${delivery.deliveryId}  queued\n`);
    expect(replayed.code).toBe(0);
    expect(await db.job.findFirst({ select: { status: true, attempts: true } })).toEqual({
      status: "queued",
      attempts: 0,
    });
    expect((await db.webhookDelivery.findUniqueOrThrow({ where: { id: delivery.deliveryId } })).status).toBe("queued");

    const again = await cli(["replay", delivery.deliveryId]);
    expect(again.stdout).toBe(`${delivery.deliveryId}  already queued (job waiting); nothing added\n`);

    const bad = await cli(["replay", "--since", "yesterday"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("usage: npm run deliveries");
  }, 60_000);
});
