import type { RunnerJob } from "@amistio/contract/runner-contract";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ActionsClaims } from "../../fixtures/runner/oidc-issuer.ts";
import { SEED_PLAN } from "../../fixtures/runner/seed-run.ts";
import { BASE, OWNER, REPO, type RunsHarness, seedDispatchedRun, startRunsHarness, WORKFLOW } from "./runs-harness.ts";

describe("the runner API: OIDC-authenticated, bound to the dispatched run", () => {
  let h: RunsHarness;

  beforeAll(async () => {
    h = await startRunsHarness();
  });
  afterAll(async () => {
    await h.close();
  });

  const dispatched = (run: Record<string, unknown> = {}) => seedDispatchedRun(h.amistio.database.db, { run });
  const call = async (runId: string, path: string, token: string | null, body: unknown = {}) => {
    const response = await fetch(`${h.amistio.url}/api/runner/runs/${runId}/${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as { error?: string; [key: string]: unknown } };
  };
  /** A workflow run as `GET /actions/runs/{id}` answers, for the dispatched workflow on main. */
  const workflowRun = (input: {
    id: number;
    title: string;
    headBranch?: string;
    createdAt?: Date;
    htmlUrl?: string;
  }) => ({
    id: input.id,
    display_title: input.title,
    path: WORKFLOW,
    event: "workflow_dispatch",
    head_branch: input.headBranch ?? "main",
    created_at: (input.createdAt ?? new Date()).toISOString(),
    run_attempt: 1,
    html_url: input.htmlUrl ?? "x",
  });
  const refusals = (runId: string) => h.amistio.database.db.runEvent.findMany({ where: { runId, kind: "refused" } });

  it("a valid token gets the approved plan, and the run is in progress", async () => {
    const s = await dispatched();
    const started = await call(s.runId, "start", await h.issuer.mint(s.claims));
    expect(started.status).toBe(200);
    const job = started.body as unknown as RunnerJob;
    expect(job).toMatchObject({
      runId: s.runId,
      contentHash: s.contentHash,
      plan: SEED_PLAN,
      baseBranch: "main",
      branch: `amistio/${job.issueNumber}-${s.runId}`,
      agent: { kind: "command", command: null },
      timeoutMinutes: 60,
    });
    const run = await h.amistio.database.db.run.findUniqueOrThrow({ where: { id: s.runId } });
    expect(run).toMatchObject({ status: "in_progress", branch: job.branch });
    expect(run.startedAt).not.toBeNull();
  });

  it.each([
    ["no token", async () => null, 401, /no token/],
    [
      "another audience",
      (c: ActionsClaims) => h.issuer.mint(c, { audience: "sts.amazonaws.com" }),
      401,
      /not meant for Amistio/,
    ],
    ["an expired token", (c: ActionsClaims) => h.issuer.mint(c, { expiresIn: -120 }), 401, /expired/],
    [
      "an unknown signing key",
      (c: ActionsClaims) => h.issuer.mint(c, { unknownKey: true }),
      401,
      /key the issuer does not publish/,
    ],
    ["another issuer", (c: ActionsClaims) => h.issuer.mint(c, { issuer: "https://token.example" }), 401, /issuer/],
    [
      "another repository",
      (c: ActionsClaims) => h.issuer.mint({ ...c, repository: "octo-org/other", repository_id: "5151" }),
      403,
      /another repository/,
    ],
    ["another workflow run", (c: ActionsClaims) => h.issuer.mint({ ...c, run_id: "1" }), 403, /another workflow run/],
    [
      "another workflow file",
      (c: ActionsClaims) =>
        h.issuer.mint({ ...c, workflow_ref: `${OWNER}/${REPO}/.github/workflows/ci.yml@refs/heads/main` }),
      403,
      /another workflow/,
    ],
    ["a push event", (c: ActionsClaims) => h.issuer.mint({ ...c, event_name: "push" }), 403, /another workflow/],
  ] as const)("%s is refused", async (_name, token, status, message) => {
    const s = await dispatched();
    const answer = await call(s.runId, "start", await token(s.claims));
    expect(answer.status).toBe(status);
    expect(answer.body.error).toMatch(message);
    expect((await h.amistio.database.db.run.findUniqueOrThrow({ where: { id: s.runId } })).status).toBe("dispatched");
    // Refusals of genuine tokens are recorded on the run; an unverifiable token is only logged.
    expect((await refusals(s.runId)).length).toBe(status === 403 ? 1 : 0);
  });

  it("a token of another workflow run is refused 403 before the run's state is told (an ended run says nothing)", async () => {
    for (const status of ["completed", "cancelled", "queued"]) {
      const s = await dispatched({ status });
      const other = await call(s.runId, "events", await h.issuer.mint({ ...s.claims, run_id: "1" }), { events: [] });
      expect(other, status).toMatchObject({ status: 403, body: { code: "runner.other_run" } });
      expect(JSON.stringify(other.body), status).not.toMatch(/ended|dispatched|completed|cancelled|queued/);
      const otherAttempt = await call(s.runId, "events", await h.issuer.mint({ ...s.claims, run_attempt: "7" }));
      expect(otherAttempt, status).toMatchObject({ status: 403, body: { code: "runner.other_attempt" } });
      // The run's own token still hears why it is refused.
      const own = await call(s.runId, "events", await h.issuer.mint(s.claims), { events: [] });
      expect(own.status, status).toBe(409);
    }
  });

  it("streams redacted progress, takes one result, and refuses a replayed token after the run ended", async () => {
    const s = await dispatched();
    const token = await h.issuer.mint(s.claims);
    await call(s.runId, "start", token);
    const secret = `ghp_${"A1b2C3d4E5".repeat(3)}abcdef`;
    const events = await call(s.runId, "events", token, {
      events: [
        { kind: "output", message: "editing README.md" },
        { kind: "output", message: `token=${secret}` },
      ],
    });
    expect(events).toEqual({ status: 200, body: { accepted: true, more: true } });
    const stored = await h.amistio.database.db.runEvent.findFirstOrThrow({ where: { runId: s.runId, kind: "output" } });
    expect(stored.message).toContain("editing README.md");
    expect(stored.message).not.toContain(secret);
    expect(stored.message).toContain("[REDACTED:");

    expect((await call(s.runId, "events", token, { events: [] })).status).toBe(400);
    const job = (await h.amistio.database.db.run.findUniqueOrThrow({ where: { id: s.runId } })).branch;
    h.gh.reply("POST", `${BASE}/pulls`, [201, { number: 12, html_url: "https://github.com/octo-org/widgets/pull/12" }]);
    const result = {
      outcome: "changes",
      branch: job,
      commitSha: "c".repeat(40),
      exitCode: 0,
      durationMs: 1200,
      changedFiles: ["README.md"],
      outputTail: `done ${secret}`,
    };
    expect((await call(s.runId, "result", token, result)).status).toBe(202);
    expect((await call(s.runId, "result", token, result)).status).toBe(409);
    const replay = await call(s.runId, "events", token, { events: [{ kind: "output", message: "late" }] });
    expect(replay).toMatchObject({ status: 409, body: { error: "the run has ended (completed)" } });
    await h.settle();

    const run = await h.amistio.database.db.run.findUniqueOrThrow({ where: { id: s.runId } });
    expect(run).toMatchObject({ status: "completed", pullRequestUrl: "https://github.com/octo-org/widgets/pull/12" });
    const pull = h.gh.requests.find((r) => r.method === "POST" && r.path === `${BASE}/pulls`)!;
    expect(pull.body).toMatchObject({ head: job, base: "main", title: expect.stringMatching(/^Amistio: Issue \d+/) });
    expect(pull.body.body).toMatch(/^Resolves #\d+\./);
    expect(pull.body.body).toContain("Add a greeting to the README.");
    expect(pull.body.body).not.toContain(secret);
    const outcome = h.github.replies().find((c) => c.body.includes(`outcome:${s.runId}`))!;
    expect(outcome.body).toContain("Amistio opened https://github.com/octo-org/widgets/pull/12");
    expect((await h.amistio.database.db.task.findUniqueOrThrow({ where: { id: s.taskId } })).state).toBe("done");
    expect(
      (await h.amistio.database.db.job.findFirstOrThrow({ where: { name: "run.finish", key: `finish:${s.runId}` } }))
        .status,
    ).toBe("completed");
  });

  it("a failed run: the reason and the redacted output tail are posted", async () => {
    const s = await dispatched();
    const token = await h.issuer.mint(s.claims);
    await call(s.runId, "start", token);
    const answer = await call(s.runId, "result", token, {
      outcome: "failed",
      reason: "agent_failed",
      message: "exit code 3",
      exitCode: 3,
      durationMs: 5,
      outputTail: "Traceback: boom",
    });
    expect(answer.status).toBe(202);
    await h.settle();
    const run = await h.amistio.database.db.run.findUniqueOrThrow({ where: { id: s.runId } });
    expect(run).toMatchObject({ status: "failed", error: "the agent exited with an error. `exit code 3`" });
    const outcome = h.github.replies().find((c) => c.body.includes(`outcome:${s.runId}`))!;
    expect(outcome.body).toContain("**The run failed:** the agent exited with an error.");
    expect(outcome.body).toContain("Traceback: boom");
    expect(outcome.body).toContain("/amistio retry");
  });

  it("Enterprise Server: a run dispatched without an id is matched through the token's workflow run", async () => {
    const s = await dispatched({ workflowRunId: null, workflowRunAttempt: null });
    h.gh.reply("GET", `${BASE}/actions/runs/${s.workflowRunId}`, [
      200,
      workflowRun({ id: s.workflowRunId, title: `Amistio run ${s.runId}`, htmlUrl: "https://ghe/x" }),
    ]);
    expect((await call(s.runId, "start", await h.issuer.mint(s.claims))).status).toBe(200);
    expect(await h.amistio.database.db.run.findUniqueOrThrow({ where: { id: s.runId } })).toMatchObject({
      workflowRunId: BigInt(s.workflowRunId),
    });

    const other = await dispatched({ workflowRunId: null });
    h.gh.reply("GET", `${BASE}/actions/runs/${other.workflowRunId}`, [
      200,
      workflowRun({ id: other.workflowRunId, title: "Amistio run somebodyelse00000000000" }),
    ]);
    expect((await call(other.runId, "start", await h.issuer.mint(other.claims))).status).toBe(403);
  });

  it("Enterprise Server: the workflow copied to another branch with this run's title gets no plan, and the real runner still does", async () => {
    const s = await dispatched({ workflowRunId: null, workflowRunAttempt: null });
    const { db } = h.amistio.database;
    // Its token names the branch's copy of the workflow file.
    const onBranch = {
      ...s.claims,
      run_id: "66001",
      workflow_ref: s.claims.workflow_ref.replace(/@.*/, "@refs/heads/evil"),
    };
    const refused = await call(s.runId, "start", await h.issuer.mint(onBranch));
    expect(refused).toMatchObject({ status: 403, body: { code: "runner.other_workflow" } });
    expect(refused.body).not.toHaveProperty("plan");
    // Even a token claiming the default branch's file is matched against the run GitHub reports.
    h.gh.reply("GET", `${BASE}/actions/runs/66002`, [
      200,
      workflowRun({ id: 66002, title: `Amistio run ${s.runId}`, headBranch: "evil" }),
    ]);
    const copied = await call(s.runId, "start", await h.issuer.mint({ ...s.claims, run_id: "66002" }));
    expect(copied).toMatchObject({ status: 403, body: { code: "runner.other_run" } });
    // A run of the right file and branch created before the Amistio run cannot be its dispatch either.
    h.gh.reply("GET", `${BASE}/actions/runs/66003`, [
      200,
      workflowRun({ id: 66003, title: `Amistio run ${s.runId}`, createdAt: new Date(Date.now() - 3_600_000) }),
    ]);
    expect((await call(s.runId, "start", await h.issuer.mint({ ...s.claims, run_id: "66003" }))).status).toBe(403);
    expect((await db.run.findUniqueOrThrow({ where: { id: s.runId } })).workflowRunId).toBeNull();

    h.gh.reply("GET", `${BASE}/actions/runs/${s.workflowRunId}`, [
      200,
      workflowRun({ id: s.workflowRunId, title: `Amistio run ${s.runId}` }),
    ]);
    expect((await call(s.runId, "start", await h.issuer.mint(s.claims))).status).toBe(200);
  });

  it("a plan no longer approved is not handed out, and the run fails with a comment", async () => {
    const s = await dispatched();
    await h.amistio.database.db.planVersion.update({ where: { id: s.versionId }, data: { status: "superseded" } });
    const answer = await call(s.runId, "start", await h.issuer.mint(s.claims));
    expect(answer.status).toBe(409);
    expect(answer.body).not.toHaveProperty("plan");
    await h.settle();
    expect((await h.amistio.database.db.run.findUniqueOrThrow({ where: { id: s.runId } })).status).toBe("failed");
    expect(h.github.replies().find((c) => c.body.includes(`outcome:${s.runId}`))?.body).toContain(
      "refused to hand out the plan",
    );
  });
});
