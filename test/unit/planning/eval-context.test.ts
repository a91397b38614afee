import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { evaluate, type Pair, snapshotFromGit } from "../../../bench/context/eval-context.ts";

const dir = mkdtempSync(join(tmpdir(), "amistio-eval-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function git(...args: string[]): string {
  return execFileSync("git", ["-C", dir, ...args], {
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: "t",
      GIT_AUTHOR_EMAIL: "t@t",
      GIT_COMMITTER_NAME: "t",
      GIT_COMMITTER_EMAIL: "t@t",
    },
  })
    .toString()
    .trim();
}

function buildRepository() {
  git("init", "-q");
  mkdirSync(join(dir, "src"));
  mkdirSync(join(dir, "test"));
  writeFileSync(join(dir, "README.md"), "# widgets\n");
  writeFileSync(
    join(dir, "src/parse-duration.js"),
    "export function parseDuration(text) {\n  return Number(text);\n}\n",
  );
  writeFileSync(
    join(dir, "src/format.js"),
    "import { parseDuration } from './parse-duration.js';\nexport function format(d) { return String(d); }\n",
  );
  writeFileSync(join(dir, "src/colors.js"), "export const red = '#f00';\n");
  writeFileSync(join(dir, "test/parse-duration.test.js"), "parseDuration('1h');\n");
  writeFileSync(join(dir, "logo.png"), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 1]));
  writeFileSync(join(dir, "latin1.txt"), Buffer.from([0x63, 0x61, 0x66, 0xe9]));
  symlinkSync("/etc/passwd", join(dir, "outside"));
  git("add", "-A");
  git("commit", "-qm", "initial");
  const parent = git("rev-parse", "HEAD");
  writeFileSync(
    join(dir, "src/parse-duration.js"),
    "export function parseDuration(text) {\n  return text.endsWith('h') ? 3600 : Number(text);\n}\n",
  );
  git("commit", "-qam", "fix: parseDuration reads hours, fixes #7");
  return { parent, fix: git("rev-parse", "HEAD") };
}

describe("eval:context mechanics on a tiny git repository", () => {
  const { parent, fix } = buildRepository();
  const pair: Pair = {
    id: "widgets-7",
    repo: "acme/widgets",
    issue: 7,
    url: "https://github.com/acme/widgets/issues/7",
    title: "parseDuration does not understand hours",
    body: "**Describe the bug**\n`parseDuration('1h')` returns NaN.\n\n#### Environment\n- Version 1.2.3",
    fix,
    parent,
    files: ["src/parse-duration.js"],
  };

  it("reads the snapshot without symlinks, with binary and non-UTF-8 content left out", () => {
    const snapshot = snapshotFromGit(join(dir, ".git"), parent);
    const paths = snapshot.files.map((file) => file.path);
    expect(paths).not.toContain("outside");
    expect(snapshot.files.find((file) => file.path === "logo.png")?.text).toBeNull();
    expect(snapshot.files.find((file) => file.path === "latin1.txt")?.text).toBeNull();
    expect(snapshot.files.find((file) => file.path === "src/colors.js")?.text).toContain("red");
  });

  it("reports recall per pair, per repository, on average and for issues naming no file", async () => {
    const report = await evaluate([pair], "/nonexistent", { "acme/widgets": join(dir, ".git") });
    expect(report.pairs[0]).toMatchObject({
      id: "widgets-7",
      targets: ["src/parse-duration.js"],
      recall: 1,
      namesFile: false,
    });
    expect(report.pairs[0]?.reached[0]).toBe("src/parse-duration.js");
    // BM25 is compared at the same number of files.
    expect(report.pairs[0]?.bm25.length).toBeLessThanOrEqual(report.pairs[0]!.reached.length);
    expect(report.byRepo).toEqual([expect.objectContaining({ repo: "acme/widgets", pairs: 1, recall: 1 })]);
    expect(report.noFileNamed.pairs).toBe(1);
    expect(report.reachedFiles.max).toBeGreaterThanOrEqual(1);
  });

  it("fails clearly when a mirror is missing", async () => {
    await expect(evaluate([{ ...pair, repo: "acme/none" }], "/nonexistent")).rejects.toThrow(/no git mirror/);
  });
});
