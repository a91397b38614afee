import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { runCli } from "../../../packages/runner/src/cli.ts";
import { readWorkflowTemplate } from "../../../packages/runner/src/workflow-template.ts";
import { runIdFromTitle } from "../../../src/runs/dispatch-workflow.ts";
import { renderPullRequestBody, renderRunSucceeded } from "../../../src/runs/render-run-messages.ts";
import { SEED_PLAN } from "../../fixtures/runner/seed-run.ts";

describe("what people read about runs", () => {
  // Refusals and failures are snapshot with the registry (test/unit/refusals/refusals.test.ts).
  it("a run that went well", () => {
    const common = { version: 2, branch: "amistio/7-run", htmlUrl: "https://github.com/o/r/actions/runs/1" };
    expect(
      renderRunSucceeded({
        ...common,
        pullRequestUrl: "https://github.com/o/r/pull/9",
        changedFiles: 3,
        outputTail: null,
      }),
    ).toMatchSnapshot();
    expect(
      renderRunSucceeded({ ...common, pullRequestUrl: null, changedFiles: 0, outputTail: "nothing to do" }),
    ).toMatchSnapshot();
  });

  it("the pull request body keeps untrusted text in fenced blocks", () => {
    const body = renderPullRequestBody({
      taskNumber: 7,
      isPullRequest: false,
      version: 2,
      contentHash: "a".repeat(64),
      approvers: ["alice", "bob"],
      plan: { ...SEED_PLAN, summary: "Ping @everyone and <script>x</script>\n````\nbreak out" },
      htmlUrl: "https://github.com/o/r/actions/runs/1",
      agent: "codex",
      exitCode: 0,
      durationMs: 125_000,
      changedFiles: ["README.md"],
      outputTail: "done",
    });
    expect(body).toMatchSnapshot();
    const fence = /^(`{5,})text$/m.exec(body)?.[1];
    expect(fence, "a fence longer than the plan's own backticks").toBeDefined();
  });
});

describe("the workflow template", () => {
  const template = parse(readWorkflowTemplate());

  it("declares the inputs Amistio dispatches with and a run-name Amistio can match", () => {
    expect(Object.keys(template.on.workflow_dispatch.inputs).sort()).toEqual([
      "amistio_run_id",
      "amistio_url",
      "plan_hash",
      "runner_labels",
    ]);
    const expression = ["$", "{{ inputs.amistio_run_id }}"].join("");
    expect(runIdFromTitle(template["run-name"].replace(expression, "cabc1234def5678ghij9012kl"))).toBe(
      "cabc1234def5678ghij9012kl",
    );
    expect(template.permissions).toEqual({ contents: "write", "id-token": "write" });
    expect(template.jobs.run["runs-on"]).toBe(["$", "{{ fromJSON(inputs.runner_labels) }}"].join(""));
  });

  it("`amistio-runner init` writes it, and will not overwrite without --force", async () => {
    const dir = mkdtempSync(join(tmpdir(), "amistio-init-"));
    const lines: string[] = [];
    const io = { env: {}, cwd: dir, out: (line: string) => lines.push(line), err: (line: string) => lines.push(line) };
    try {
      expect(await runCli(["init"], io)).toBe(0);
      expect(readFileSync(join(dir, ".github/workflows/amistio.yml"), "utf8")).toBe(readWorkflowTemplate());
      expect(await runCli(["init"], io)).toBe(1);
      expect(lines.at(-1)).toMatch(/exists; --force replaces it/);
      expect(await runCli(["init", "--force"], io)).toBe(0);
      expect(await runCli(["run"], io)).toBe(2);
      expect(lines.at(-1)).toMatch(/missing AMISTIO_URL, AMISTIO_RUN_ID/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
