import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import nock from "nock";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { githubOctokit } from "../../../src/github/github-octokit.ts";
import { GithubRateLimitedError, rateLimitOf } from "../../../src/github/github-rate-limit.ts";
import { createMemoryPacer, createRedisPacer, type WriteLimit } from "../../../src/github/write-pacer.ts";
import { createBullmqQueue } from "../../../src/queue/bullmq-queue.ts";
import { createEmbeddedQueue } from "../../../src/queue/embedded-queue.ts";
import type { JobContext, JobQueue } from "../../../src/queue/job-queue.ts";
import { RetryLaterError } from "../../../src/queue/retry-later.ts";
import { commentPayload, type FakeGithub, fakeGithub } from "../../helpers/fake-github.ts";
import { startTestAmistio, type TestAmistio, TestOctokit } from "../../helpers/test-amistio.ts";
import { createTestDatabase, REDIS_TEST_URL, type TestDatabase } from "../../helpers/test-database.ts";
import { webhookExample } from "../../helpers/webhook-examples.ts";
import { silentLogger, uniqueName, waitFor } from "../queue/queue-harness.ts";

const API = "https://api.github.com";
const COMMENTS = "/repos/octo-org/widgets/issues/7/comments";
const SECONDARY = {
  message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
};

/** Probot's Octokit as production builds it (throttling and retry plugins on), with Amistio's limits. */
function productionOctokit(limits: readonly WriteLimit[] = []) {
  const Octokit = githubOctokit({ pacer: createMemoryPacer({ limits }) });
  return new Octokit({ auth: { token: "test-token" } });
}

afterEach(() => {
  nock.cleanAll();
});

describe("GitHub's rate-limit answers", () => {
  const now = Date.parse("2026-05-01T12:00:00Z");

  it("reads retry-after, x-ratelimit-reset and GitHub's fallback minute; refuses nonsense", () => {
    const answer = (status: number, headers: Record<string, string>, message = "") => ({
      status,
      message,
      response: { headers, data: { message } },
    });
    const waitOf = (error: unknown) => {
      const limit = rateLimitOf(error, now);
      return limit ? { kind: limit.kind, ms: limit.until.getTime() - now } : undefined;
    };
    expect(waitOf(answer(403, { "retry-after": "120" }))).toEqual({ kind: "secondary", ms: 120_000 });
    expect(waitOf(answer(429, { "retry-after": "120" }))).toEqual({ kind: "secondary", ms: 120_000 });
    expect(waitOf(answer(429, { "retry-after": new Date(now + 30_000).toUTCString() }))).toEqual({
      kind: "secondary",
      ms: 30_000,
    });
    const reset = String(now / 1000 + 600);
    expect(waitOf(answer(403, { "x-ratelimit-remaining": "0", "x-ratelimit-reset": reset }))).toEqual({
      kind: "primary",
      ms: 601_000,
    });
    // A secondary limit without headers, and a bare 429: wait a minute, as GitHub asks.
    expect(waitOf(answer(403, {}, SECONDARY.message))).toEqual({ kind: "secondary", ms: 60_000 });
    expect(waitOf(answer(429, {}))).toEqual({ kind: "secondary", ms: 60_000 });
    // Bad input: never less than a second, never more than two hours, garbage read as absent.
    expect(waitOf(answer(403, { "retry-after": "0" }))?.ms).toBe(1_000);
    expect(waitOf(answer(403, { "retry-after": "99999999" }))?.ms).toBe(7_200_000);
    expect(waitOf(answer(403, { "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1" }))?.ms).toBe(1_000);
    expect(waitOf(answer(403, { "x-ratelimit-remaining": "0", "x-ratelimit-reset": "soon" }))?.ms).toBe(60_000);
    expect(waitOf(answer(429, { "retry-after": "-5" }))?.ms).toBe(60_000);
    // A plain refusal is not a limit.
    expect(waitOf(answer(403, {}, "Resource not accessible by integration"))).toBeUndefined();
    expect(waitOf(answer(403, { "x-ratelimit-remaining": "4999" }))).toBeUndefined();
    expect(waitOf(answer(404, { "retry-after": "120" }))).toBeUndefined();
    expect(waitOf(undefined)).toBeUndefined();
  });
});

describe("Probot's Octokit as Amistio builds it", () => {
  it("hands a 403 with retry-after: 120 back at once as a wait, and sends nothing more before then", async () => {
    const octokit = productionOctokit();
    const refused = nock(API).post(COMMENTS).reply(403, SECONDARY, { "retry-after": "120" });
    const started = Date.now();
    const error = await octokit.rest.issues
      .createComment({ owner: "octo-org", repo: "widgets", issue_number: 7, body: "plan" })
      .catch((caught: unknown) => caught);
    // Not swallowed inside the try by Probot's throttling or retry plugins: back within a second.
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(error).toBeInstanceOf(GithubRateLimitedError);
    const limited = error as GithubRateLimitedError;
    expect(limited).toBeInstanceOf(RetryLaterError);
    expect(limited).toMatchObject({ kind: "secondary", status: 403 });
    expect(limited.until.getTime() - started).toBeGreaterThanOrEqual(119_000);
    expect(limited.until.getTime() - started).toBeLessThanOrEqual(122_000);
    expect(refused.isDone()).toBe(true);
    // The installation is known to be limited: a read is not sent either.
    const read = nock(API).get("/repos/octo-org/widgets").reply(200, {});
    const second = await octokit.rest.repos
      .get({ owner: "octo-org", repo: "widgets" })
      .catch((caught: unknown) => caught);
    expect(second).toMatchObject({ kind: "known", status: 429 });
    expect(read.isDone()).toBe(false);
  });

  it("waits out a primary limit's reset in the queue, not inside the try", async () => {
    const octokit = productionOctokit();
    const reset = Math.floor(Date.now() / 1000) + 3600;
    nock(API)
      .patch("/repos/octo-org/widgets/issues/comments/1")
      .reply(
        429,
        { message: "API rate limit exceeded" },
        {
          "x-ratelimit-remaining": "0",
          "x-ratelimit-reset": String(reset),
        },
      );
    const started = Date.now();
    const error = await octokit.rest.issues
      .updateComment({ owner: "octo-org", repo: "widgets", comment_id: 1, body: "x" })
      .catch((caught: unknown) => caught);
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(error).toMatchObject({ kind: "primary", status: 429, until: new Date(reset * 1000 + 1000) });
  });

  it("still retries a short secondary limit inside the try, once", async () => {
    const octokit = productionOctokit();
    const scope = nock(API)
      .post(COMMENTS)
      .reply(403, SECONDARY, { "retry-after": "1" })
      .post(COMMENTS)
      .reply(201, { id: 5 });
    const { data } = await octokit.rest.issues.createComment({
      owner: "octo-org",
      repo: "widgets",
      issue_number: 7,
      body: "x",
    });
    expect(data).toEqual({ id: 5 });
    expect(scope.isDone()).toBe(true);
  });

  it("goes back to the queue when the installation's write budget is spent", async () => {
    const octokit = productionOctokit([{ count: 2, perMs: 60_000 }]);
    nock(API).post(COMMENTS).times(2).reply(201, { id: 1 });
    const write = () =>
      octokit.rest.issues.createComment({ owner: "octo-org", repo: "widgets", issue_number: 7, body: "x" });
    await write();
    await write();
    const error = await write().catch((caught: unknown) => caught);
    expect(error).toMatchObject({ kind: "pacing" });
    // Next slot: one interval (30 s) after the first write.
    const waitMs = (error as GithubRateLimitedError).until.getTime() - Date.now();
    expect(waitMs).toBeGreaterThan(20_000);
    expect(waitMs).toBeLessThanOrEqual(30_000);
  });
});

describe("a job told to wait by GitHub", () => {
  let database: TestDatabase;
  let queue: JobQueue | undefined;
  beforeAll(async () => {
    database = await createTestDatabase("sqlite");
  });
  afterAll(async () => {
    await database?.destroy();
  });
  afterEach(async () => {
    await queue?.close();
    queue = undefined;
  });

  const limited = (ms: number) =>
    new GithubRateLimitedError({ kind: "secondary", until: new Date(Date.now() + ms), route: "POST /x", sent: true });

  it("is put back for retry-after (120 s) on the embedded queue without using a try", async () => {
    queue = createEmbeddedQueue({
      store: database.store,
      logger: silentLogger,
      queueName: uniqueName(),
      pollIntervalMs: 20,
    });
    await queue.startWorker(
      {
        post: async () => {
          // As Probot's receive reports a handler's error.
          throw new AggregateError([limited(120_000)], "rate limited");
        },
      },
      { concurrency: 1 },
    );
    const started = Date.now();
    const { id } = await queue.enqueue("post", {}, { maxAttempts: 1 });
    const row = await waitFor("the job to be put back", async () => {
      const job = await database.db.job.findUnique({ where: { id } });
      return job?.status === "queued" && job.lastError ? job : undefined;
    });
    // One try allowed, none used: the job is queued again, not failed.
    expect(row.attempts).toBe(0);
    expect(row.runAt.getTime() - started).toBeGreaterThanOrEqual(119_000);
    expect(row.runAt.getTime() - started).toBeLessThanOrEqual(125_000);
    expect(row.lastError).toContain("GitHub's secondary rate limit");
  });

  it("runs again after the wait as the same try, knowing it waited; past the bound a wait is a failed try", async () => {
    const runs: { attempt: number; waits: number }[] = [];
    queue = createEmbeddedQueue({
      store: database.store,
      logger: silentLogger,
      queueName: uniqueName(),
      pollIntervalMs: 20,
      backoffBaseMs: 50,
      maxWaitMs: 1_000,
    });
    await queue.startWorker(
      {
        post: async (_data, job: JobContext) => {
          runs.push({ attempt: job.attempt, waits: job.waits.count });
          // 600 ms, then 600 ms again: the second wait would pass the 1 s bound, so it counts.
          if (runs.length <= 2) throw limited(600);
        },
      },
      { concurrency: 1 },
    );
    const { id } = await queue.enqueue("post", {}, { maxAttempts: 3 });
    const row = await waitFor(
      "the job to finish",
      async () => {
        const job = await database.db.job.findUnique({ where: { id } });
        return job?.status === "completed" ? job : undefined;
      },
      10_000,
    );
    expect(runs).toEqual([
      { attempt: 1, waits: 0 },
      { attempt: 1, waits: 1 },
      { attempt: 2, waits: 0 },
    ]);
    expect(row.attempts).toBe(2);
  });

  it("is delayed on BullMQ without using a try", async () => {
    const prefix = `amistio-test-${randomBytes(4).toString("hex")}`;
    queue = createBullmqQueue({ redisUrl: REDIS_TEST_URL, logger: silentLogger, prefix, queueName: uniqueName() });
    const runs: { attempt: number; waits: number; at: number }[] = [];
    await queue.startWorker(
      {
        post: async (_data, job: JobContext) => {
          runs.push({ attempt: job.attempt, waits: job.waits.count, at: Date.now() });
          if (runs.length === 1) throw limited(1_500);
        },
      },
      { concurrency: 1 },
    );
    await queue.enqueue("post", {}, { maxAttempts: 1 });
    await waitFor("the second run", async () => (runs.length === 2 ? true : undefined), 10_000);
    expect(runs.map(({ attempt, waits }) => ({ attempt, waits }))).toEqual([
      { attempt: 1, waits: 0 },
      { attempt: 1, waits: 1 },
    ]);
    expect(runs[1]!.at - runs[0]!.at).toBeGreaterThanOrEqual(1_400);
    const redis = new Redis(REDIS_TEST_URL);
    try {
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
    } finally {
      redis.disconnect();
    }
  });
});

describe("a plan comment answered 403 retry-after", () => {
  let amistio: TestAmistio | undefined;
  let github: FakeGithub | undefined;
  afterEach(async () => {
    await amistio?.close();
    github?.stop();
    amistio = undefined;
  });

  it("is posted exactly once, after the wait, without using a try, and the tracking comment says so", async () => {
    let refusedAt = 0;
    // Registered before the fake GitHub, so it answers the first plan comment; later ones reach the fake.
    nock(API)
      .post(COMMENTS, (body: { body?: string }) => Boolean(body.body?.includes("<!-- amistio:plan")))
      .reply(() => {
        refusedAt = Date.now();
        return [403, SECONDARY, { "retry-after": "2" }];
      });
    github = fakeGithub({
      roles: { alice: "write" },
      issues: { 7: { title: "Cache", body: "- [ ] add cache", author: "alice" } },
    });
    let plannedAt = 0;
    github.state.onComment = (comment) => {
      if (comment.body.includes("<!-- amistio:plan")) plannedAt = Date.now();
    };
    // Waits of up to 1 s stay in the try (Probot's throttling plugin); this one's 2 s go back to the queue.
    const Octokit = githubOctokit({ pacer: createMemoryPacer({ limits: [] }), inProcessWaitMs: 1_000 });
    amistio = await startTestAmistio({ Octokit });
    const payload = commentPayload(webhookExample("issue_comment", "created"), github, {
      issue: 7,
      author: "alice",
      body: "/amistio plan",
    });
    await amistio.deliver("issue_comment", payload, { id: "delivery-rate-limited" });
    const { db } = amistio.database;
    const job = await waitFor(
      "the delivery's job to complete",
      async () => {
        const row = await db.job.findUnique({ where: { key: "delivery:delivery-rate-limited" } });
        return row?.status === "completed" ? row : undefined;
      },
      25_000,
    );
    expect(refusedAt).toBeGreaterThan(0);
    expect(plannedAt - refusedAt).toBeGreaterThanOrEqual(1_900);
    const plans = github.replies().filter((comment) => comment.body.includes("<!-- amistio:plan"));
    expect(plans).toHaveLength(1);
    // Ran twice, counted once: the wait used no try.
    expect(job.attempts).toBe(1);
    const posts = github.state.requests.filter((request) => request === `POST ${COMMENTS}`);
    expect(posts.length).toBeGreaterThanOrEqual(2); // tracking comment, then the plan after the wait
    expect(github.tracking()).toHaveLength(1);
    expect(github.tracking()[0]!.body).toMatch(/Delayed by GitHub's rate limit until \d\d:\d\d UTC/);
    expect(await db.webhookDelivery.findUniqueOrThrow({ where: { id: "delivery-rate-limited" } })).toMatchObject({
      status: "done",
    });
  }, 40_000);
});

describe("write pacing shared through Redis", () => {
  const clients: Redis[] = [];
  afterAll(async () => {
    for (const client of clients) client.disconnect();
  });

  function pacedOctokit(prefix: string, limits: readonly WriteLimit[]) {
    const client = new Redis(REDIS_TEST_URL);
    clients.push(client);
    // Throttling off in the base, so only the shared pacer spaces the writes.
    const Octokit = githubOctokit({ base: TestOctokit, pacer: createRedisPacer({ client, prefix, limits }) });
    return new Octokit({ auth: { token: "test-token" } });
  }

  async function timedWrites(octokits: ReturnType<typeof pacedOctokit>[], each: number): Promise<number[]> {
    const times: number[] = [];
    nock(API)
      .post(COMMENTS)
      .times(octokits.length * each)
      .reply(() => {
        times.push(Date.now());
        return [201, { id: 1 }];
      });
    await Promise.all(
      octokits.flatMap((octokit) =>
        Array.from({ length: each }, () =>
          octokit.rest.issues.createComment({ owner: "octo-org", repo: "widgets", issue_number: 7, body: "x" }),
        ),
      ),
    );
    return times.sort((a, b) => a - b);
  }

  const SPACED = [{ count: 1, perMs: 200, burst: 1 }];
  const prefix = () => `amistio-test-${randomBytes(4).toString("hex")}`;

  it("spaces the writes of two Octokit instances (two Redis connections) jointly", async () => {
    const shared = prefix();
    const start = Date.now();
    const times = await timedWrites([pacedOctokit(shared, SPACED), pacedOctokit(shared, SPACED)], 4);
    // Eight writes, one slot each 200 ms across both: the k-th no sooner than k slots after the start.
    // Measured from the start, not between writes: a loaded machine may send a write late, and the
    // next on time, but never one early.
    for (const [k, time] of times.entries()) expect(time - start, `write ${k}`).toBeGreaterThanOrEqual(k * 190);
  });

  it("paces each installation on its own when they do not share the pacer (control)", async () => {
    const times = await timedWrites([pacedOctokit(prefix(), SPACED), pacedOctokit(prefix(), SPACED)], 4);
    // Two lanes of four: about half the time, and pairs of writes close together.
    expect(times.at(-1)! - times[0]!).toBeLessThan(7 * 150);
  });

  it("shares the hourly budget and GitHub's answer that an installation is limited", async () => {
    const shared = prefix();
    const budget = [{ count: 3, perMs: 3_600_000 }];
    const [first, second] = [pacedOctokit(shared, budget), pacedOctokit(shared, budget)];
    await timedWrites([first!], 2);
    await timedWrites([second!], 1);
    const spent = await second!.rest.issues
      .createComment({ owner: "octo-org", repo: "widgets", issue_number: 7, body: "x" })
      .catch((caught: unknown) => caught);
    expect(spent).toMatchObject({ kind: "pacing" });

    const other = prefix();
    const [a, b] = [pacedOctokit(other, []), pacedOctokit(other, [])];
    nock(API).get("/repos/octo-org/widgets").reply(403, SECONDARY, { "retry-after": "120" });
    await expect(a!.rest.repos.get({ owner: "octo-org", repo: "widgets" })).rejects.toMatchObject({
      kind: "secondary",
    });
    const unsent = nock(API).get("/repos/octo-org/widgets").reply(200, {});
    await expect(b!.rest.repos.get({ owner: "octo-org", repo: "widgets" })).rejects.toMatchObject({ kind: "known" });
    expect(unsent.isDone()).toBe(false);
    const cleanup = clients[0]!;
    const keys = [...(await cleanup.keys(`${shared}:*`)), ...(await cleanup.keys(`${other}:*`))];
    if (keys.length > 0) await cleanup.del(...keys);
  });
});
