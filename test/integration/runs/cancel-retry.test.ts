import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seedRun } from "../../fixtures/runner/seed-run.ts";
import { commentPayload } from "../../helpers/fake-github.ts";
import { webhookExample } from "../../helpers/webhook-examples.ts";
import { BASE, type RunsHarness, startRunsHarness } from "./runs-harness.ts";

const DISPATCH = `${BASE}/actions/workflows/amistio.yml/dispatches`;
let nextIssue = 700;

describe("/amistio cancel and /amistio retry", () => {
  let h: RunsHarness;
  const example = webhookExample("issue_comment", "created");

  beforeAll(async () => {
    h = await startRunsHarness();
  });
  afterAll(async () => {
    await h.close();
  });

  const say = async (issue: number, author: string, body: string) => {
    expect(
      (await h.amistio.deliver("issue_comment", commentPayload(example, h.github, { issue, author, body }))).status,
    ).toBe(202);
    await h.settle();
    return (
      h.github
        .replies()
        .filter((c) => c.issue === issue)
        .at(-1)?.body ?? ""
    );
  };
  const seed = async (run: Record<string, unknown>, extra: Parameters<typeof seedRun>[1] = {}) => {
    const number = nextIssue++;
    return { number, ...(await seedRun(h.amistio.database.db, { number, run, ...extra })) };
  };
  const dispatchedRun = (workflowRunId: number) => ({
    status: "in_progress",
    workflowRunId: BigInt(workflowRunId),
    workflowRunAttempt: 1,
    workflowPath: ".github/workflows/amistio.yml",
    htmlUrl: `https://github.com/octo-org/widgets/actions/runs/${workflowRunId}`,
  });
  const runOf = (id: string) => h.amistio.database.db.run.findUniqueOrThrow({ where: { id } });

  it("cancel: GitHub accepts (202), the run and the task are cancelled", async () => {
    const s = await seed(dispatchedRun(4001));
    h.gh.reply("POST", `${BASE}/actions/runs/4001/cancel`, [202, {}]);
    const reply = await say(s.number, "write", "/amistio cancel");
    expect(reply).toContain("Cancelled: its workflow run is being cancelled on GitHub");
    expect(await runOf(s.runId)).toMatchObject({ status: "cancelled", error: "cancelled by @write" });
    expect((await h.amistio.database.db.task.findUniqueOrThrow({ where: { id: s.taskId } })).state).toBe("cancelled");
    const audit = await h.amistio.database.db.auditEvent.findFirst({
      where: { action: "run.cancelled", target: `task:${s.taskId}` },
    });
    expect(audit).not.toBeNull();
  });

  it("cancel: GitHub answers 409, which is said, and the run is left as it is", async () => {
    const s = await seed(dispatchedRun(4002));
    h.gh.reply("POST", `${BASE}/actions/runs/4002/cancel`, [
      409,
      { message: "Cannot cancel a workflow run that is completed." },
    ]);
    const reply = await say(s.number, "write", "/amistio cancel");
    expect(reply).toContain("GitHub could not cancel");
    expect(reply).toContain("Cannot cancel a workflow run that is completed.");
    expect((await runOf(s.runId)).status).toBe("in_progress");
  });

  it("cancel before dispatch: only the database changes, and the dispatch never happens", async () => {
    const s = await seed({});
    const reply = await say(s.number, "requester", "/amistio cancel");
    expect(reply).toContain("had not started on a runner yet");
    expect((await runOf(s.runId)).status).toBe("cancelled");
    await h.amistio.queue.enqueue("run.dispatch", { runId: s.runId });
    await h.settle();
    expect(h.gh.count("POST", DISPATCH)).toBe(0);
  });

  it("cancel: someone with read permission who did not ask is refused", async () => {
    const s = await seed(dispatchedRun(4003));
    const reply = await say(s.number, "reader", "/amistio cancel");
    expect(reply).toMatch(/only the person who asked for this work or someone with write permission/);
    expect((await runOf(s.runId)).status).toBe("in_progress");
    expect(h.gh.count("POST", `${BASE}/actions/runs/4003/cancel`)).toBe(0);
  });

  it("retry: a new run of the same approved version is dispatched", async () => {
    const s = await seed({ status: "failed", error: "the agent exited with an error." });
    h.gh.reply("POST", DISPATCH, [
      200,
      { workflow_run_id: 4100, html_url: "https://github.com/octo-org/widgets/actions/runs/4100" },
    ]);
    const reply = await say(s.number, "write", "/amistio retry");
    expect(reply).toMatch(/Starting a new run of v1/);
    const runs = await h.amistio.database.db.run.findMany({
      where: { taskId: s.taskId },
      orderBy: { createdAt: "asc" },
    });
    expect(runs.map((run) => run.status)).toEqual(["failed", "dispatched"]);
    expect(runs[1]).toMatchObject({ planVersionId: s.versionId, contentHash: s.contentHash, workflowRunId: 4100n });
    expect(h.gh.requests.filter((r) => r.path === DISPATCH).at(-1)?.body.inputs.amistio_run_id).toBe(runs[1]!.id);
  });

  it("retry is refused while a run is active, when the plan is no longer approved, and without write", async () => {
    const active = await seed(dispatchedRun(4004));
    expect(await say(active.number, "write", "/amistio retry")).toMatch(/still in progress.*cancel/);
    const superseded = await seed({ status: "failed" }, { version: { status: "superseded" } });
    expect(await say(superseded.number, "write", "/amistio retry")).toMatch(/superseded, not approved/);
    const unapproved = await seed({ status: "failed" }, { approvers: [] });
    expect(await say(unapproved.number, "write", "/amistio retry")).toMatch(/only 0 of the 1 required approvals/);
    const triage = await seed({ status: "failed" });
    expect(await say(triage.number, "requester", "/amistio retry")).toMatch(/needs write permission/);
    for (const s of [active, superseded, unapproved, triage]) {
      expect(await h.amistio.database.db.run.count({ where: { taskId: s.taskId } })).toBe(1);
    }
  });
});
