import nock from "nock";
import { ProbotOctokit } from "probot";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { githubOctokit } from "../../../src/github/github-octokit.ts";
import { createMemoryPacer } from "../../../src/github/write-pacer.ts";
import { NO_WAITS, RetryLaterError } from "../../../src/queue/retry-later.ts";
import { dispatchRunJob } from "../../../src/runs/dispatch-run-job.ts";
import { createWorkflowDispatcher } from "../../../src/runs/dispatch-workflow.ts";
import { seedRun } from "../../fixtures/runner/seed-run.ts";
import { commentPayload } from "../../helpers/fake-github.ts";
import { TestOctokit } from "../../helpers/test-amistio.ts";
import { webhookExample } from "../../helpers/webhook-examples.ts";
import { BASE, PUBLIC_URL, type RunsHarness, startRunsHarness, workflowRunPayload } from "./runs-harness.ts";

const DISPATCH = `${BASE}/actions/workflows/amistio.yml/dispatches`;
const RUNS = `${BASE}/actions/workflows/amistio.yml/runs`;
const SETTINGS = "runner:\n  labels: [self-hosted, linux]\n  queuedTimeoutMinutes: 20\n";

/** A run as the workflow's run list shows it. */
const listedRun = (input: { id: number; title: string; headBranch?: string }) => ({
  id: input.id,
  display_title: input.title,
  path: ".github/workflows/amistio.yml",
  event: "workflow_dispatch",
  head_branch: input.headBranch ?? "main",
  created_at: new Date().toISOString(),
  html_url: `https://x/${input.id}`,
  run_attempt: 1,
});

const jobContext = (attempt: number) => ({
  id: "test-job",
  name: "run.dispatch",
  attempt,
  waits: NO_WAITS,
  signal: new AbortController().signal,
});

describe("dispatching approved runs", () => {
  let h: RunsHarness;

  beforeAll(async () => {
    h = await startRunsHarness({ settings: SETTINGS });
  });
  afterAll(async () => {
    await h.close();
  });

  const dispatchRequests = () => h.gh.requests.filter((r) => r.method === "POST" && r.path === DISPATCH);

  it("dispatches once when the approve command meets the quorum, and records the run id GitHub returns", async () => {
    h.gh.reply("POST", DISPATCH, [
      200,
      { workflow_run_id: 9001, run_url: "x", html_url: "https://github.com/octo-org/widgets/actions/runs/9001" },
    ]);
    const example = webhookExample("issue_comment", "created");
    for (const [author, body] of [
      ["requester", "/amistio plan"],
      ["write", "/amistio approve"],
    ] as const) {
      const payload = commentPayload(example, h.github, { issue: 7, author, body });
      expect((await h.amistio.deliver("issue_comment", payload)).status).toBe(202);
      await h.settle();
    }
    const { db } = h.amistio.database;
    const run = await db.run.findFirstOrThrow({ where: { task: { number: 7 } }, include: { task: true } });
    expect(run).toMatchObject({
      status: "dispatched",
      workflowRunId: 9001n,
      workflowRunAttempt: 1,
      workflowPath: ".github/workflows/amistio.yml",
      // The default branch of the recorded payload's repository.
      ref: "master",
      htmlUrl: "https://github.com/octo-org/widgets/actions/runs/9001",
    });
    expect(run.task.state).toBe("running");
    expect(dispatchRequests().map((r) => r.body)).toEqual([
      {
        ref: "master",
        return_run_details: true,
        inputs: {
          amistio_run_id: run.id,
          amistio_url: PUBLIC_URL,
          plan_hash: run.contentHash,
          runner_labels: '["self-hosted","linux"]',
        },
      },
    ]);
    const check = await db.job.findFirstOrThrow({
      where: { name: "run.queued-check", key: `queued-check:${run.id}` },
    });
    expect(check.runAt.getTime() - Date.now()).toBeGreaterThan(19 * 60_000);
    const actions = (await db.auditEvent.findMany({ where: { target: `task:${run.taskId}` } })).map((e) => e.action);
    expect(actions).toContain("run.dispatched");
    expect(h.github.tracking().find((c) => c.issue === 7)?.body).toContain("Run dispatched");
  });

  it("runs the job twice but sends one dispatch request", async () => {
    const before = dispatchRequests().length;
    const seeded = await seedRun(h.amistio.database.db);
    h.gh.reply(
      "POST",
      DISPATCH,
      [200, { workflow_run_id: 9002, html_url: "https://github.com/o/r/actions/runs/9002" }],
      3,
    );
    const handler = dispatchRunJob(h.services);
    await handler({ runId: seeded.runId }, jobContext(1));
    await handler({ runId: seeded.runId }, jobContext(1));
    await handler({ runId: seeded.runId }, jobContext(2));
    expect(dispatchRequests().length - before).toBe(1);
    expect((await h.amistio.database.db.run.findUniqueOrThrow({ where: { id: seeded.runId } })).workflowRunId).toBe(
      9002n,
    );
    h.gh.reset();
  });

  it("after a lost answer, finds the earlier dispatch by its title instead of dispatching again", async () => {
    const { db } = h.amistio.database;
    const before = dispatchRequests().length;
    const seeded = await seedRun(db, {
      run: { status: "dispatching", workflowPath: ".github/workflows/amistio.yml", ref: "main" },
    });
    // The earlier try went out long enough ago for its run to be listed by now.
    await db.$executeRawUnsafe(`UPDATE "Run" SET "updatedAt" = ? WHERE "id" = ?`, Date.now() - 60_000, seeded.runId);
    h.gh.reply("GET", RUNS, (path) => {
      const query = new URL(path, "http://x").searchParams;
      expect(query.get("event")).toBe("workflow_dispatch");
      expect(query.get("branch")).toBe("main");
      expect(query.get("created")).toMatch(/^>=\d{4}-/);
      return [
        200,
        {
          total_count: 3,
          workflow_runs: [
            listedRun({ id: 1, title: "Amistio run someotherrun0000000000" }),
            // The title copied into a run of the workflow on another branch does not count.
            listedRun({ id: 2, title: `Amistio run ${seeded.runId}`, headBranch: "evil" }),
            listedRun({ id: 9003, title: `Amistio run ${seeded.runId}` }),
          ],
        },
      ];
    });
    await dispatchRunJob(h.services)({ runId: seeded.runId }, jobContext(2));
    expect(dispatchRequests().length).toBe(before);
    expect(await db.run.findUniqueOrThrow({ where: { id: seeded.runId } })).toMatchObject({
      status: "dispatched",
      workflowRunId: 9003n,
    });
  });

  it("a 502 after GitHub created the run: the next try finds it, and one workflow run exists", async () => {
    const { db } = h.amistio.database;
    const before = dispatchRequests().length;
    const seeded = await seedRun(db);
    h.gh.reply("POST", DISPATCH, [502, { message: "Bad Gateway" }]);
    await expect(dispatchRunJob(h.services)({ runId: seeded.runId }, jobContext(1))).rejects.toMatchObject({
      status: 502,
    });
    // The outcome is unknown: the run stays dispatching, so the next try looks before sending.
    expect((await db.run.findUniqueOrThrow({ where: { id: seeded.runId } })).status).toBe("dispatching");
    h.gh.reply("GET", RUNS, [
      200,
      { total_count: 1, workflow_runs: [listedRun({ id: 9010, title: `Amistio run ${seeded.runId}` })] },
    ]);
    await dispatchRunJob(h.services)({ runId: seeded.runId }, jobContext(2));
    expect(dispatchRequests().length - before).toBe(1);
    expect(await db.run.findUniqueOrThrow({ where: { id: seeded.runId } })).toMatchObject({
      status: "dispatched",
      workflowRunId: 9010n,
    });
  });

  it("the dispatch request is never repeated by Octokit's own retry", async () => {
    // Probot's Octokit with its retry plugin on (the harness turns it off), against a server of its own.
    const baseUrl = "https://retry-check.test/api/v3";
    const octokit = new (ProbotOctokit.defaults({ retry: { retryAfterBaseValue: 1 }, throttle: { enabled: false } }))({
      auth: "test",
      baseUrl,
    });
    let posts = 0;
    const scope = nock(baseUrl)
      .post("/repos/o/r/actions/workflows/amistio.yml/dispatches")
      .times(4)
      .reply(() => {
        posts++;
        return [502, { message: "Bad Gateway" }];
      });
    await expect(
      createWorkflowDispatcher()(octokit, { owner: "o", repo: "r", workflow: "amistio.yml", ref: "main", inputs: {} }),
    ).rejects.toMatchObject({ status: 502 });
    expect(posts).toBe(1);
    scope.persist(false);
    nock.removeInterceptor({
      hostname: "retry-check.test",
      method: "POST",
      path: "/api/v3/repos/o/r/actions/workflows/amistio.yml/dispatches",
    });
  });

  it("does not dispatch again while an earlier try's dispatch may still show up", async () => {
    const { db } = h.amistio.database;
    const before = dispatchRequests().length;
    const seeded = await seedRun(db, {
      run: { status: "dispatching", workflowPath: ".github/workflows/amistio.yml", ref: "main" },
    });
    h.gh.reply("GET", RUNS, [200, { total_count: 0, workflow_runs: [] }]);
    await expect(dispatchRunJob(h.services)({ runId: seeded.runId }, jobContext(2))).rejects.toThrow(
      /may still appear/,
    );
    expect(dispatchRequests().length).toBe(before);
    expect((await db.run.findUniqueOrThrow({ where: { id: seeded.runId } })).status).toBe("dispatching");
  });

  it("on Enterprise Server: sends again without return_run_details, then matches the workflow run by its title", async () => {
    const { db } = h.amistio.database;
    const seeded = await seedRun(db);
    const before = dispatchRequests().length;
    const refused = { message: 'Invalid request.\n\n"return_run_details" is not a permitted key.' };
    h.gh.reply("POST", DISPATCH, (_path, body) => ("return_run_details" in body ? [422, refused] : [204]), 2);
    const handler = dispatchRunJob(h.services);
    await handler({ runId: seeded.runId }, jobContext(1));
    expect(
      dispatchRequests()
        .slice(before)
        .map((r) => "return_run_details" in r.body),
    ).toEqual([true, false]);
    expect(await db.run.findUniqueOrThrow({ where: { id: seeded.runId } })).toMatchObject({
      status: "dispatched",
      workflowRunId: null,
    });

    // Titles are not trusted alone: another workflow file or another event does not match.
    const other = { runId: seeded.runId, action: "requested" } as const;
    await h.amistio.deliver(
      "workflow_run",
      workflowRunPayload({ ...other, id: 7001, path: ".github/workflows/ci.yml" }),
    );
    await h.amistio.deliver("workflow_run", workflowRunPayload({ ...other, id: 7002, event: "push" }));
    // Nor the same file run on another branch (where anyone who can push may edit it), nor a run
    // created before this Amistio run existed.
    await h.amistio.deliver("workflow_run", workflowRunPayload({ ...other, id: 7004, headBranch: "evil" }));
    await h.amistio.deliver(
      "workflow_run",
      workflowRunPayload({ ...other, id: 7005, createdAt: new Date(Date.now() - 3_600_000) }),
    );
    await h.amistio.deliver("workflow_run", workflowRunPayload({ ...other, id: 7003 }));
    await h.settle();
    expect(await db.run.findUniqueOrThrow({ where: { id: seeded.runId } })).toMatchObject({
      status: "dispatched",
      workflowRunId: 7003n,
      htmlUrl: "https://github.com/octo-org/widgets/actions/runs/7003",
    });

    // The server is remembered: the next dispatch goes without the field straight away.
    const next = await seedRun(db);
    h.gh.reply("POST", DISPATCH, [204]);
    await handler({ runId: next.runId }, jobContext(1));
    expect(
      dispatchRequests()
        .slice(before)
        .map((r) => "return_run_details" in r.body),
    ).toEqual([true, false, false]);
  });

  it("a missing workflow: the run fails with a comment naming the file to add", async () => {
    const { db } = h.amistio.database;
    const seeded = await seedRun(db);
    h.gh.reply("POST", DISPATCH, [404, { message: "Not Found" }]);
    await dispatchRunJob(h.services)({ runId: seeded.runId }, jobContext(1));
    const run = await db.run.findUniqueOrThrow({ where: { id: seeded.runId } });
    expect(run.status).toBe("failed");
    expect(run.error).toContain(".github/workflows/amistio.yml");
    const comment = h.github.replies().find((c) => c.body.includes(`dispatch-failed:${seeded.runId}`))!;
    expect(comment.body).toContain("`.github/workflows/amistio.yml` does not exist on `main`");
    expect(comment.body).toContain("amistio-runner init");
    const audit = await db.auditEvent.findFirstOrThrow({
      where: { action: "run.dispatch_failed", target: `task:${seeded.taskId}` },
    });
    expect(JSON.parse(audit.data)).toMatchObject({ code: "dispatch.workflow_missing", runId: seeded.runId });
    expect((await db.task.findUniqueOrThrow({ where: { id: seeded.taskId } })).state).toBe("failed");
  });

  it("403: says which App permission is missing", async () => {
    const seeded = await seedRun(h.amistio.database.db);
    h.gh.reply("POST", DISPATCH, [403, { message: "Resource not accessible by integration" }]);
    await dispatchRunJob(h.services)({ runId: seeded.runId }, jobContext(1));
    const comment = h.github.replies().find((c) => c.body.includes(`dispatch-failed:${seeded.runId}`))!;
    expect(comment.body).toContain("Actions: write");
    expect(comment.body).toContain("Resource not accessible by integration");
  });

  it("422: passes GitHub's message on", async () => {
    const seeded = await seedRun(h.amistio.database.db);
    h.gh.reply("POST", DISPATCH, [422, { message: 'Unexpected inputs provided: ["runner_labels"]' }], 2);
    await dispatchRunJob(h.services)({ runId: seeded.runId }, jobContext(1));
    const comment = h.github.replies().find((c) => c.body.includes(`dispatch-failed:${seeded.runId}`))!;
    expect(comment.body).toContain('Unexpected inputs provided: ["runner_labels"]');
    expect(comment.body).toContain("packages/runner/workflow-template.yml");
  });

  it("5xx and rate limits are retried; the last try posts a clear failure", async () => {
    const { db } = h.amistio.database;
    const seeded = await seedRun(db);
    h.gh.reply("POST", DISPATCH, [502, { message: "Bad Gateway" }]);
    await expect(dispatchRunJob(h.services)({ runId: seeded.runId }, jobContext(1))).rejects.toMatchObject({
      status: 502,
    });
    expect((await db.run.findUniqueOrThrow({ where: { id: seeded.runId } })).status).toBe("dispatching");
    // Nothing showed up in the runs list within the grace period: the next try sends again.
    await db.run.update({ where: { id: seeded.runId }, data: { updatedAt: new Date(Date.now() - 60_000) } });
    h.gh.reply("GET", RUNS, [200, { total_count: 0, workflow_runs: [] }]);
    h.gh.reply("POST", DISPATCH, [403, { message: "API rate limit exceeded" }, { "x-ratelimit-remaining": "0" }]);
    await expect(dispatchRunJob(h.services)({ runId: seeded.runId }, jobContext(2))).rejects.toMatchObject({
      status: 403,
    });
    expect(h.github.replies().some((c) => c.body.includes(`dispatch-failed:${seeded.runId}`))).toBe(false);
    h.gh.reply("POST", DISPATCH, [503, { message: "Service Unavailable" }]);
    await dispatchRunJob(h.services)({ runId: seeded.runId }, jobContext(5));
    expect((await db.run.findUniqueOrThrow({ where: { id: seeded.runId } })).status).toBe("failed");
    const comment = h.github.replies().find((c) => c.body.includes(`dispatch-failed:${seeded.runId}`))!;
    expect(comment.body).toContain("after 5 tries");
  });

  it("a rate limit on the last try waits in the queue instead of failing the run", async () => {
    const { db } = h.amistio.database;
    const seeded = await seedRun(db);
    // Amistio's own Octokit (rate limits become waits) over the harness's test Octokit.
    const Limited = githubOctokit({ pacer: createMemoryPacer(), base: TestOctokit });
    const services = { ...h.services, octokitFor: async () => new Limited({ auth: "test" }) as never };
    h.gh.reply("POST", DISPATCH, [
      403,
      { message: "You have exceeded a secondary rate limit" },
      { "retry-after": "120" },
    ]);
    const tried = dispatchRunJob(services)({ runId: seeded.runId }, jobContext(5));
    await expect(tried).rejects.toBeInstanceOf(RetryLaterError);
    expect((await db.run.findUniqueOrThrow({ where: { id: seeded.runId } })).status).toBe("queued");
    expect(h.github.replies().some((c) => c.body.includes(`dispatch-failed:${seeded.runId}`))).toBe(false);
  });

  it("re-checks the approval: a superseded, changed or under-approved plan is not dispatched", async () => {
    const { db } = h.amistio.database;
    const before = dispatchRequests().length;
    const superseded = await seedRun(db, { version: { status: "superseded" } });
    const changed = await seedRun(db);
    await db.planVersion.update({
      where: { id: changed.versionId },
      data: {
        content: {
          summary: "Something else",
          steps: [{ title: "x", details: "", files: [] }],
          risks: [],
          tests: [],
          questions: [],
        },
      },
    });
    const tooFew = await seedRun(db, { approvers: [] });
    for (const seeded of [superseded, changed, tooFew]) {
      await dispatchRunJob(h.services)({ runId: seeded.runId }, jobContext(1));
    }
    expect(dispatchRequests().length).toBe(before);
    const errors = await Promise.all(
      [superseded, changed, tooFew].map(
        async (s) => (await db.run.findUniqueOrThrow({ where: { id: s.runId } })).error,
      ),
    );
    expect(errors[0]).toMatch(/superseded, not approved/);
    expect(errors[1]).toMatch(/no longer matches the content that was approved/);
    expect(errors[2]).toMatch(/only 0 of the 1 required approvals/);
  });
});
