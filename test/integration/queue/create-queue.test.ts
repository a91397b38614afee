import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createQueue } from "../../../src/queue/create-queue.ts";
import { createTestDatabase, REDIS_TEST_URL, type TestDatabase } from "../../helpers/test-database.ts";
import { silentLogger } from "./queue-harness.ts";

describe("createQueue", () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase("sqlite");
  });
  afterAll(async () => {
    await database?.destroy();
  });

  it("keeps jobs in the database when no Redis URL is set", async () => {
    const queue = await createQueue({ store: database.store, logger: silentLogger });
    expect(queue.driver).toBe("embedded");
    await queue.ping();
    await queue.close();
  });

  it("uses BullMQ on Redis when a Redis URL is set", async () => {
    const queue = await createQueue({
      redisUrl: REDIS_TEST_URL,
      store: database.store,
      logger: silentLogger,
    });
    expect(queue.driver).toBe("bullmq");
    await queue.ping();
    await queue.close();
  });
});
