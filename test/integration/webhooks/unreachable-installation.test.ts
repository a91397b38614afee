import { randomUUID } from "node:crypto";
import nock from "nock";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createRepositoryPermission } from "../../../src/approvals/repository-permission.ts";
import { readEnv } from "../../../src/config/env.ts";
import { type Amistio, createAmistio } from "../../../src/index.ts";
import { commentPayload, type FakeGithub, fakeGithub } from "../../helpers/fake-github.ts";
import { sendDelivery } from "../../helpers/send-delivery.ts";
import { TEST_WEBHOOK_SECRET, TestOctokit, testPrivateKey } from "../../helpers/test-amistio.ts";
import { createTestDatabase, type TestDatabase } from "../../helpers/test-database.ts";
import { webhookExample } from "../../helpers/webhook-examples.ts";

const API = "https://api.github.com";
const REAL = 77;
const PHANTOM = 666_001;

/**
 * Amistio with real App authentication (no fixed token), so every installation's token is asked of
 * `POST /app/installations/{id}/access_tokens`, which nock answers.
 */
async function startWithAppAuth() {
  const database: TestDatabase = await createTestDatabase("sqlite");
  await database.close();
  const env = readEnv({
    APP_ID: "1",
    PRIVATE_KEY: testPrivateKey(),
    WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
    DATABASE_URL: database.url,
    PORT: "0",
    HOST: "127.0.0.1",
    LOG_LEVEL: "silent",
  });
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level: "info" },
    { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  const amistio: Amistio = await createAmistio({ env, logger, Octokit: TestOctokit });
  const url = (await amistio.start()) as string;
  return {
    ...amistio,
    lines,
    deliver: (event: string, payload: unknown, id = randomUUID()) =>
      sendDelivery({ url: `${url}${env.WEBHOOK_PATH}`, secret: TEST_WEBHOOK_SECRET, event, payload, id }),
    async drain() {
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline) {
        const pending = await amistio.database.db.job.count({
          where: { OR: [{ status: "running" }, { status: "queued", runAt: { lte: new Date() } }] },
        });
        if (pending === 0) return;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      throw new Error("jobs still pending");
    },
    async close() {
      await amistio.stop(1000);
      await database.destroy().catch(() => undefined);
    },
  };
}

describe("a delivery for an installation Amistio cannot reach", () => {
  let amistio: Awaited<ReturnType<typeof startWithAppAuth>>;
  let github: FakeGithub;
  const tokenRequests: number[] = [];

  beforeEach(async () => {
    tokenRequests.length = 0;
    // Registered before the fake API's catch-all, so these answer the token requests.
    nock(API)
      .persist()
      .post(/^\/app\/installations\/(\d+)\/access_tokens$/)
      .reply((uri) => {
        const id = Number(/installations\/(\d+)\//.exec(uri)![1]);
        tokenRequests.push(id);
        return id === REAL
          ? [201, { token: `ghs_${"r".repeat(36)}`, expires_at: "2099-01-01T00:00:00Z", permissions: {} }]
          : [404, { message: "Not Found", documentation_url: "https://docs.github.com/rest/apps/apps" }];
      });
    github = fakeGithub({ roles: { alice: "write" } });
    amistio = await startWithAppAuth();
  });
  afterEach(async () => {
    await amistio?.close();
    nock.cleanAll();
  });

  const comment = (installationId: number, body: string) =>
    commentPayload(webhookExample("issue_comment", "created"), github, {
      issue: 7,
      author: "alice",
      body,
      installationId,
    });

  it("is recorded as ignored and dropped: no phantom workspace, nothing moved, and the next real command works", async () => {
    const { db } = amistio.database;
    expect((await amistio.deliver("issue_comment", comment(REAL, "/amistio plan"))).status).toBe(202);
    await amistio.drain();
    const realWorkspace = await db.workspace.findUniqueOrThrow({ where: { installationId: BigInt(REAL) } });
    const repository = await db.repository.findFirstOrThrow();
    expect(repository.workspaceId).toBe(realWorkspace.id);
    const commentsBefore = github.state.comments.length;
    const auditBefore = await db.auditEvent.count();

    const phantomId = randomUUID();
    const phantom = await amistio.deliver("issue_comment", comment(PHANTOM, "/amistio plan"), phantomId);
    expect(phantom.status).toBe(202);
    await amistio.drain();

    expect(await db.webhookDelivery.findUniqueOrThrow({ where: { id: phantomId } })).toMatchObject({
      status: "ignored",
      error: "installation not reachable",
    });
    expect(await db.job.findFirstOrThrow({ where: { key: `delivery:${phantomId}` } })).toMatchObject({
      status: "completed",
      attempts: 1,
    });
    expect(await db.workspace.count()).toBe(1);
    expect(await db.workspace.count({ where: { installationId: BigInt(PHANTOM) } })).toBe(0);
    expect((await db.repository.findUniqueOrThrow({ where: { id: repository.id } })).workspaceId).toBe(
      realWorkspace.id,
    );
    expect(await db.task.count({ where: { workspaceId: { not: realWorkspace.id } } })).toBe(0);
    expect(await db.auditEvent.count()).toBe(auditBefore);
    expect(github.state.comments.length).toBe(commentsBefore);
    // Only the token request: no settings read, no permission asked, nothing posted as that installation.
    expect(tokenRequests.filter((id) => id === PHANTOM)).toEqual([PHANTOM]);
    // One line tells the story: intake's "accepted", then the worker's refusal.
    const refusals = amistio.lines.filter((line) => line.deliveryId === phantomId && Number(line.level) >= 40);
    expect(refusals).toEqual([
      expect.objectContaining({ status: "ignored", msg: expect.stringMatching(/installation not reachable/) }),
    ]);

    // A redelivery of the dropped delivery is a duplicate, not a second try.
    const again = await amistio.deliver("issue_comment", comment(PHANTOM, "/amistio plan"), phantomId);
    expect(await again.json()).toEqual({ status: "duplicate", delivery: "ignored" });

    // The real user's next command on the real installation is not refused by a cached "none".
    await amistio.deliver("issue_comment", comment(REAL, "/amistio revise add tests"));
    await amistio.drain();
    const replies = github.replies().slice(-1)[0]!.body;
    expect(replies).not.toMatch(/you have none/);
    expect(await db.planVersion.count()).toBe(2);
  });

  it("still handles an installation's own deletion, whose token GitHub no longer gives out", async () => {
    const payload = webhookExample("installation", "deleted");
    (payload.installation as { id: number }).id = PHANTOM;
    const id = randomUUID();
    expect((await amistio.deliver("installation", payload, id)).status).toBe(202);
    await amistio.drain();
    expect(await amistio.database.db.webhookDelivery.findUniqueOrThrow({ where: { id } })).toMatchObject({
      status: "done",
    });
    expect(await amistio.database.db.workspace.findFirstOrThrow()).toMatchObject({ status: "deleted" });
    expect(tokenRequests).toEqual([]);
  });
});

describe("the repository-permission cache", () => {
  it("keeps each installation's answer to itself", async () => {
    const answers: Record<string, [number, unknown]> = {
      "token-a": [404, { message: "Not Found" }],
      "token-b": [200, { permission: "write", role_name: "write" }],
    };
    const scope = nock(API)
      .persist()
      .get("/repos/octo-org/widgets/collaborators/alice/permission")
      .reply(function () {
        const token = String(this.req.headers.authorization).replace(/^(token|bearer) /i, "");
        return answers[token] ?? [500, {}];
      });
    const permission = createRepositoryPermission();
    const as = (token: string) => new TestOctokit({ auth: { token } });
    const query = { owner: "octo-org", repo: "widgets", username: "alice" };
    expect(await permission(as("token-a"), { ...query, installationId: 1 })).toBe("none");
    expect(await permission(as("token-b"), { ...query, installationId: 2 })).toBe("write");
    // Within one installation the answer is cached.
    expect(await permission(as("token-b"), { ...query, installationId: 2 })).toBe("write");
    scope.persist(false);
    nock.cleanAll();
  });
});
