import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NO_WAITS } from "../../../src/queue/retry-later.ts";
import { queuedRunCheckJob } from "../../../src/runs/queued-run-check-job.ts";
import {
  BASE,
  type RunsHarness,
  seedDispatchedRun,
  startRunsHarness,
  workflowJobPayload,
  workflowRunPayload,
} from "./runs-harness.ts";

describe("following dispatched runs through workflow_run and workflow_job", () => {
  let h: RunsHarness;

  beforeAll(async () => {
    h = await startRunsHarness();
  });
  afterAll(async () => {
    await h.close();
  });

  const dispatched = (extra: Record<string, unknown> = {}, options: { isPullRequest?: boolean } = {}) =>
    seedDispatchedRun(h.amistio.database.db, { ...options, run: { dispatchedAt: new Date(), ...extra } });
  const runOf = (id: string) => h.amistio.database.db.run.findUniqueOrThrow({ where: { id } });
  const send = async (event: string, payload: unknown) => {
    expect((await h.amistio.deliver(event, payload)).status).toBe(202);
    await h.settle();
  };

  it("moves forward through queued, in_progress and the runner, and shows it in the tracking comment", async () => {
    const s = await dispatched();
    await send(
      "workflow_job",
      workflowJobPayload({ action: "queued", runId: s.workflowRunId, labels: ["self-hosted", "gpu"] }),
    );
    expect(await runOf(s.runId)).toMatchObject({ status: "dispatched", runnerLabels: ["self-hosted", "gpu"] });
    await send("workflow_run", workflowRunPayload({ action: "in_progress", id: s.workflowRunId, runId: s.runId }));
    await send(
      "workflow_job",
      workflowJobPayload({ action: "in_progress", runId: s.workflowRunId, runnerName: "build-07" }),
    );
    const run = await runOf(s.runId);
    expect(run).toMatchObject({ status: "in_progress", runnerName: "build-07" });
    expect(run.startedAt).not.toBeNull();
    const task = await h.amistio.database.db.task.findUniqueOrThrow({ where: { id: s.taskId } });
    expect(task.state).toBe("running");
    const tracking = h.github.tracking().find((c) => c.body.includes(`task=${s.taskId}`))!;
    expect(tracking.body).toContain("Run in progress on `build-07`");
  });

  it("completed before in_progress: the run ends once, and the late event cannot bring it back", async () => {
    const s = await dispatched();
    await send(
      "workflow_run",
      workflowRunPayload({ action: "completed", id: s.workflowRunId, runId: s.runId, conclusion: "failure" }),
    );
    expect(await runOf(s.runId)).toMatchObject({ status: "failed", conclusion: "failure" });
    await send("workflow_run", workflowRunPayload({ action: "in_progress", id: s.workflowRunId, runId: s.runId }));
    await send(
      "workflow_job",
      workflowJobPayload({ action: "in_progress", runId: s.workflowRunId, runnerName: "late-runner" }),
    );
    const run = await runOf(s.runId);
    expect(run).toMatchObject({ status: "failed", runnerName: "late-runner" });
    expect(run.error).toMatch(/ended \(failure\) before the runner reported/);
    const outcomes = h.github.replies().filter((c) => c.body.includes(`outcome:${s.runId}`));
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0]!.body).toContain("ended before the runner reported a result");
    const task = await h.amistio.database.db.task.findUniqueOrThrow({ where: { id: s.taskId } });
    expect(task.state).toBe("failed");
  });

  it("a run the runner already reported on only gains the workflow's conclusion", async () => {
    const s = await dispatched({ status: "completed", completedAt: new Date() });
    const before = h.github.replies().length;
    await send(
      "workflow_run",
      workflowRunPayload({ action: "completed", id: s.workflowRunId, runId: s.runId, conclusion: "success" }),
    );
    expect(await runOf(s.runId)).toMatchObject({ status: "completed", conclusion: "success", error: null });
    expect(h.github.replies().length).toBe(before);
  });

  it("ignores events of another attempt and of workflows that are not Amistio's", async () => {
    const s = await dispatched();
    const requests = h.github.state.requests.length;
    await send(
      "workflow_run",
      workflowRunPayload({ action: "completed", id: s.workflowRunId, runId: s.runId, attempt: 2 }),
    );
    await send("workflow_run", {
      ...workflowRunPayload({ action: "completed", id: 99_999, runId: "x" }),
      workflow_run: {
        ...workflowRunPayload({ action: "completed", id: 99_999, runId: "x" }).workflow_run,
        display_title: "CI",
      },
    });
    await send("workflow_job", workflowJobPayload({ action: "queued", runId: 99_998 }));
    expect((await runOf(s.runId)).status).toBe("dispatched");
    expect(h.github.state.requests.length).toBe(requests);
  });

  it("on a pull-request task, the check run Amistio follows the run", async () => {
    const s = await dispatched({}, { isPullRequest: true });
    const number = (await h.amistio.database.db.task.findUniqueOrThrow({ where: { id: s.taskId } })).number;
    h.gh.reply("GET", `${BASE}/pulls/${number}`, [
      200,
      {
        number,
        head: { sha: "b".repeat(40), ref: "feature", repo: { id: 4242 } },
        base: { ref: "main", repo: { id: 4242 } },
      },
    ]);
    h.gh.reply("POST", `${BASE}/check-runs`, [201, { id: 555 }]);
    h.gh.reply("PATCH", `${BASE}/check-runs/555`, [200, { id: 555 }], 5);
    await send(
      "workflow_job",
      workflowJobPayload({ action: "in_progress", runId: s.workflowRunId, runnerName: "pr-runner" }),
    );
    await send(
      "workflow_run",
      workflowRunPayload({ action: "completed", id: s.workflowRunId, runId: s.runId, conclusion: "cancelled" }),
    );
    const checks = h.gh.requests.filter((r) => r.path.includes("/check-runs"));
    expect(checks[0]).toMatchObject({
      method: "POST",
      body: { name: "Amistio", head_sha: "b".repeat(40), status: "in_progress", external_id: s.runId },
    });
    expect(checks.at(-1)).toMatchObject({ method: "PATCH", body: { status: "completed", conclusion: "cancelled" } });
    expect((await runOf(s.runId)).checkRunId).toBe(555n);
  });

  it("a job queued too long: says no online runner matches its labels, once", async () => {
    const s = await dispatched({
      runnerLabels: ["self-hosted", "arm64"],
      dispatchedAt: new Date(Date.now() - 16 * 60_000),
    });
    const handler = queuedRunCheckJob(h.services);
    const context = {
      id: "j",
      name: "run.queued-check",
      attempt: 1,
      waits: NO_WAITS,
      signal: new AbortController().signal,
    };
    await handler({ runId: s.runId }, context);
    await handler({ runId: s.runId }, { ...context, attempt: 2 });
    const comments = h.github.replies().filter((c) => c.body.includes(`queued:${s.runId}`));
    expect(comments).toHaveLength(1);
    expect(comments[0]!.body).toContain("No runner has picked up the run after 16 minutes");
    expect(comments[0]!.body).toContain("`self-hosted`, `arm64`");

    // A run that started in time is left alone.
    const started = await dispatched({ status: "in_progress", startedAt: new Date() });
    await handler({ runId: started.runId }, context);
    expect(h.github.replies().some((c) => c.body.includes(`queued:${started.runId}`))).toBe(false);
  });
});
