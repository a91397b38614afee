import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { agentCommand } from "../../../packages/runner/src/agent-command.ts";
import { createProgressStream } from "../../../packages/runner/src/progress-stream.ts";
import { runAgent } from "../../../packages/runner/src/run-agent.ts";

const AGENTS = resolve(import.meta.dirname, "../../fixtures/runner/agents");
const base = { args: [], shell: false, cwd: AGENTS, env: { PATH: process.env.PATH }, stdin: "" };

describe("running the agent", () => {
  it("stops an agent that hangs (and ignores SIGTERM) at the time limit", async () => {
    const outcome = await runAgent({
      ...base,
      command: process.execPath,
      args: [join(AGENTS, "hang.mjs")],
      timeoutMs: 500,
      killGraceMs: 300,
    });
    expect(outcome).toMatchObject({ timedOut: true, exitCode: null, signal: "SIGKILL" });
    expect(outcome.outputTail).toContain("thinking forever");
  });

  it("keeps only a bounded tail of an agent that prints 100 MB, and passes lines on", async () => {
    let lines = 0;
    let longest = 0;
    const outcome = await runAgent({
      ...base,
      command: process.execPath,
      args: [join(AGENTS, "loud.mjs")],
      timeoutMs: 60_000,
      tailChars: 4096,
      maxLineChars: 100,
      onLine: (line) => {
        lines++;
        longest = Math.max(longest, line.length);
      },
    });
    expect(outcome.exitCode).toBe(0);
    expect(outcome.outputBytes).toBe(100 * 1024 * 1024 + "the end\n".length);
    expect(outcome.outputTail.length).toBe(4096);
    expect(outcome.outputTail.endsWith("the end\n")).toBe(true);
    expect(lines).toBe(100 * 1024 + 1);
    expect(longest).toBe(100);
  });

  it("reports an exit code, and a command that cannot start", async () => {
    const failed = await runAgent({
      ...base,
      command: process.execPath,
      args: [join(AGENTS, "fail.mjs")],
      timeoutMs: 10_000,
    });
    expect(failed).toMatchObject({ exitCode: 3, timedOut: false, spawnError: null });
    expect(failed.outputTail).toContain("something broke");
    const missing = await runAgent({ ...base, command: "/nonexistent/agent", timeoutMs: 10_000 });
    expect(missing.spawnError).toMatch(/ENOENT/);
  });

  it("ready-made agent commands get the plan without a shell; `command` needs runner.command", () => {
    expect(agentCommand({ kind: "aider", command: null }, "/tmp/plan.md")).toMatchObject({
      command: "aider",
      shell: false,
      args: expect.arrayContaining(["--message-file", "/tmp/plan.md", "--no-auto-commits"]),
    });
    expect(agentCommand({ kind: "codex", command: null }, "/p").args.slice(0, 3)).toEqual([
      "exec",
      "--sandbox",
      "workspace-write",
    ]);
    expect(agentCommand({ kind: "claude-code", command: null }, "/p").args.slice(0, 3)).toEqual([
      "-p",
      "--permission-mode",
      "acceptEdits",
    ]);
    expect(agentCommand({ kind: "command", command: "make agent" }, "/p")).toEqual({
      command: "make agent",
      args: [],
      shell: true,
    });
    expect(() => agentCommand({ kind: "command", command: null }, "/p")).toThrow(/runner.command is not set/);
  });
});

describe("streaming progress", () => {
  it("sends bounded batches, one at a time, says what it skipped, and stops when Amistio says so", async () => {
    const batches: string[][] = [];
    let release: () => void = () => {};
    const stream = createProgressStream({
      intervalMs: 10,
      maxLinesPerBatch: 5,
      send: async (lines) => {
        batches.push(lines);
        await new Promise<void>((resolve) => (release = resolve));
        return batches.length < 2;
      },
    });
    for (let i = 0; i < 3; i++) stream.push(`line ${i}`);
    await new Promise((resolve) => setTimeout(resolve, 30));
    for (let i = 3; i < 20; i++) stream.push(`line ${i}`);
    release();
    await new Promise((resolve) => setTimeout(resolve, 30));
    release();
    await new Promise((resolve) => setTimeout(resolve, 30));
    stream.push("after Amistio said stop");
    await stream.close();
    expect(batches).toEqual([
      ["line 0", "line 1", "line 2"],
      ["[13 lines not sent]", "line 16", "line 17", "line 18", "line 19"],
    ]);
  });
});
