import { execFileSync, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BASE, type RunsHarness, seedDispatchedRun, startRunsHarness } from "../../integration/runs/runs-harness.ts";

const ROOT = resolve(import.meta.dirname, "../../..");
const AGENTS = join(ROOT, "test/fixtures/runner/agents");
// The agent is chosen per test through an environment variable the shell expands.
const SETTINGS = 'runner:\n  agent: command\n  command: node "$AMISTIO_TEST_AGENT"\n  timeoutMinutes: 5\n';

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe("amistio-runner end to end: a real Amistio server, a git repository with a bare remote, a stand-in agent", () => {
  let h: RunsHarness;
  let dir: string;
  let remote: string;

  beforeAll(async () => {
    h = await startRunsHarness({ settings: SETTINGS });
    dir = mkdtempSync(join(tmpdir(), "amistio-runner-e2e-"));
    remote = join(dir, "remote.git");
    const git = (cwd: string, ...args: string[]) => execFileSync("git", args, { cwd, env: gitEnv(), stdio: "pipe" });
    git(dir, "init", "--quiet", "--bare", "--initial-branch=main", remote);
    const seed = join(dir, "seed");
    git(dir, "clone", "--quiet", remote, seed);
    writeFileSync(join(seed, "README.md"), "# Widgets\n");
    git(seed, "add", "README.md");
    git(seed, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "--quiet", "-m", "first");
    git(seed, "push", "--quiet", "origin", "HEAD:main");
  });
  afterAll(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const gitEnv = () => ({ PATH: process.env.PATH, HOME: dir, GIT_CONFIG_NOSYSTEM: "1" });

  /** A dispatched run and a fresh checkout of the repository, as actions/checkout leaves it. */
  const prepare = async () => {
    const seeded = await seedDispatchedRun(h.amistio.database.db);
    const workspace = join(dir, `work-${seeded.workflowRunId}`);
    execFileSync("git", ["clone", "--quiet", remote, workspace], { env: gitEnv() });
    const task = await h.amistio.database.db.task.findUniqueOrThrow({ where: { id: seeded.taskId } });
    return { ...seeded, workspace, branch: `amistio/${task.number}-${seeded.runId}` };
  };

  const runCli = (
    run: Awaited<ReturnType<typeof prepare>>,
    agent: string,
    extraEnv: Record<string, string> = {},
  ): Promise<CliRun> =>
    new Promise((resolvePromise) => {
      const child = spawn(process.execPath, [join(ROOT, "packages/runner/bin/amistio-runner.js"), "run"], {
        cwd: run.workspace,
        env: {
          ...gitEnv(),
          AMISTIO_URL: h.amistio.url,
          AMISTIO_RUN_ID: run.runId,
          AMISTIO_PLAN_HASH: run.contentHash,
          GITHUB_WORKSPACE: run.workspace,
          ACTIONS_ID_TOKEN_REQUEST_URL: h.issuer.tokenEndpoint(run.claims, "request-token"),
          ACTIONS_ID_TOKEN_REQUEST_TOKEN: "request-token",
          AMISTIO_TEST_AGENT: join(AGENTS, agent),
          ...extraEnv,
        },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (chunk) => (stdout += chunk));
      child.stderr.on("data", (chunk) => (stderr += chunk));
      child.on("close", (code) => resolvePromise({ code, stdout, stderr }));
    });

  const remoteBranch = (branch: string) =>
    execFileSync("git", ["ls-remote", remote, `refs/heads/${branch}`], { env: gitEnv() })
      .toString()
      .trim();
  const runOf = (id: string) => h.amistio.database.db.run.findUniqueOrThrow({ where: { id } });
  const outcomeOf = (id: string) => h.github.replies().find((c) => c.body.includes(`outcome:${id}`))?.body ?? "";

  it("runs the agent, pushes the branch, reports, and Amistio opens the pull request", async () => {
    const run = await prepare();
    h.gh.reply("POST", `${BASE}/pulls`, [201, { number: 77, html_url: "https://github.com/octo-org/widgets/pull/77" }]);
    // The job's token is the runner's, for git; the stand-in agent exits 9 if it can see it.
    const cli = await runCli(run, "edit-readme.mjs", { GITHUB_TOKEN: "ghs_jobtoken" });
    expect(cli.stderr).toBe("");
    expect(cli.code).toBe(0);
    expect(h.issuer.tokenRequests.every((request) => request.audience === "amistio")).toBe(true);

    const pushed = remoteBranch(run.branch);
    expect(pushed).not.toBe("");
    const sha = pushed.split(/\s/)[0]!;
    const readme = execFileSync("git", ["--git-dir", remote, "show", `${sha}:README.md`], { env: gitEnv() }).toString();
    expect(readme).toBe("# Widgets\nHello from the agent.\n");
    const files = execFileSync("git", ["--git-dir", remote, "show", "--name-only", "--format=", sha], {
      env: gitEnv(),
    }).toString();
    expect(files.trim()).toBe("README.md");

    await h.settle();
    expect(await runOf(run.runId)).toMatchObject({
      status: "completed",
      branch: run.branch,
      pullRequestUrl: "https://github.com/octo-org/widgets/pull/77",
    });
    const pull = h.gh.requests.find(
      (r) => r.method === "POST" && r.path === `${BASE}/pulls` && r.body.head === run.branch,
    )!;
    expect(pull.body).toMatchObject({ base: "main" });
    expect(pull.body.body).toContain("README.md");
    expect(outcomeOf(run.runId)).toContain("Amistio opened https://github.com/octo-org/widgets/pull/77");
    const output = await h.amistio.database.db.runEvent.findMany({ where: { runId: run.runId, kind: "output" } });
    const streamed = output.map((event) => event.message).join("\n");
    expect(streamed).toContain("edited README.md");
    expect(streamed).not.toMatch(/ghp_Z9y8/);
  });

  it("an agent that exits non-zero: nothing is pushed, the failure and its output are posted", async () => {
    const run = await prepare();
    const cli = await runCli(run, "fail.mjs");
    expect(cli.code).toBe(1);
    expect(remoteBranch(run.branch)).toBe("");
    await h.settle();
    expect(await runOf(run.runId)).toMatchObject({
      status: "failed",
      error: "the agent exited with an error. `exit code 3`",
    });
    expect(outcomeOf(run.runId)).toContain("something broke");
  });

  it("a push that is rejected ends in a clear failure", async () => {
    const run = await prepare();
    const hook = join(remote, "hooks", "pre-receive");
    writeFileSync(hook, "#!/bin/sh\necho 'branch protection: pushes are not allowed' >&2\nexit 1\n");
    chmodSync(hook, 0o755);
    try {
      const cli = await runCli(run, "edit-readme.mjs");
      expect(cli.code).toBe(1);
    } finally {
      rmSync(hook);
    }
    await h.settle();
    const failed = await runOf(run.runId);
    expect(failed.status).toBe("failed");
    expect(failed.error).toMatch(/could not be pushed.*branch protection: pushes are not allowed/s);
    expect(outcomeOf(run.runId)).toContain("**The run failed:** the branch could not be pushed");
  });

  it("a plan whose hash does not match the dispatched one is never given to the agent", async () => {
    const run = await prepare();
    const marker = join(dir, `marker-${run.runId}`);
    const cli = await runCli(run, "marker.mjs", { AMISTIO_PLAN_HASH: "0".repeat(64), AMISTIO_TEST_MARKER: marker });
    expect(cli.code).toBe(1);
    expect(existsSync(marker)).toBe(false);
    await h.settle();
    expect((await runOf(run.runId)).error).toMatch(/does not match the approved hash/);
  });

  it("an agent that changes nothing: no branch, no pull request, said so", async () => {
    const run = await prepare();
    const cli = await runCli(run, "noop.mjs");
    expect(cli.code).toBe(0);
    expect(remoteBranch(run.branch)).toBe("");
    await h.settle();
    expect(await runOf(run.runId)).toMatchObject({ status: "completed", pullRequestUrl: null });
    expect(outcomeOf(run.runId)).toContain("finished without changes");
  });

  it("a runner without a valid token is refused and exits non-zero", async () => {
    const run = await prepare();
    const cli = await runCli(run, "marker.mjs", {
      ACTIONS_ID_TOKEN_REQUEST_URL: h.issuer.tokenEndpoint({ ...run.claims, run_id: "1" }, "request-token"),
    });
    expect(cli.code).toBe(1);
    expect(cli.stderr).toContain("Amistio refused the runner (403): the token was issued to another workflow run");
    expect((await runOf(run.runId)).status).toBe("dispatched");
  });
});
