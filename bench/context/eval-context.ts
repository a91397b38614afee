/**
 * `npm run eval:context`: how often the content of the files a real fix changed reaches the model.
 *
 * For each issue → fix pair in bench/context/pairs.json, the repository is read at the fix's parent
 * from a local git mirror, the planner's context is gathered under the default budget (12,000
 * tokens), and the recall of the fix's source files among the files whose content went in is
 * compared with plain BM25 (path + content) at the same number of files.
 *
 *   npm run eval:context -- [--mirrors <dir>] [--map <repo→path json>] [--pairs <file>] [--json]
 *
 * A mirror is found as <dir>/<owner>+<name>/repo, <dir>/<owner>+<name>, or <dir>/<owner>/<name>
 * (bare or not), or through --map.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import pino from "pino";
import { gatherContext } from "../../src/planning/gather-context.ts";
import { bm25Baseline, findPathMentions, isIndexable, isSourcePath } from "../../src/planning/rank-files.ts";
import {
  DEFAULT_SNAPSHOT_LIMITS,
  decodeText,
  isSafePath,
  type RepositorySnapshot,
  type SnapshotFile,
} from "../../src/planning/repository-snapshot.ts";

export interface Pair {
  id: string;
  repo: string;
  issue: number;
  url: string;
  title: string;
  body: string;
  fix: string;
  parent: string;
  files: string[];
}

export interface PairResult {
  id: string;
  repo: string;
  namesFile: boolean;
  /** Fix files present at the parent (a file the fix created cannot be found). */
  targets: string[];
  reached: string[];
  recall: number;
  bm25Recall: number;
  bm25: string[];
}

export interface EvalReport {
  budget: number;
  pairs: PairResult[];
  byRepo: { repo: string; pairs: number; recall: number; bm25Recall: number }[];
  average: { recall: number; bm25Recall: number; pairs: number };
  noFileNamed: { recall: number; bm25Recall: number; pairs: number };
  reachedFiles: { median: number; min: number; max: number };
}

const BUDGET = 12_000;
const silent = pino({ level: "silent" });
// No GitHub in the evaluation: everything comes from the snapshot.
const offline = {
  request: async () => {
    throw Object.assign(new Error("the evaluation makes no GitHub requests"), { status: 500 });
  },
} as never;

/** Reads a repository at `ref` from a git directory into a bounded snapshot. */
export function snapshotFromGit(gitDir: string, ref: string): RepositorySnapshot {
  const git = (args: string[], input?: string) =>
    execFileSync("git", ["--git-dir", gitDir, ...args], { input, maxBuffer: 1 << 30 });
  const omitted: RepositorySnapshot["omitted"] = [];
  const listed: { sha: string; size: number; path: string }[] = [];
  for (const line of git(["ls-tree", "-r", "-l", "-z", ref]).toString("utf8").split("\0")) {
    const match = /^(\d+) (\w+) ([0-9a-f]+)\s+(-|\d+)\t(.*)$/s.exec(line);
    if (!match) continue;
    const [, mode, type, sha, size, path] = match;
    // Submodules and symlinks point outside the snapshot: listed by nothing, read never.
    if (type !== "blob" || mode === "120000" || !isSafePath(path!)) continue;
    listed.push({ sha: sha!, size: Number(size), path: path! });
  }
  const files: SnapshotFile[] = [];
  const wanted = listed.filter(
    (entry) => entry.size <= DEFAULT_SNAPSHOT_LIMITS.maxFileBytes && isIndexable(entry.path),
  );
  const contents = new Map<string, Buffer>();
  if (wanted.length > 0) {
    const out = git(["cat-file", "--batch"], `${wanted.map((entry) => entry.sha).join("\n")}\n`);
    let at = 0;
    while (at < out.length) {
      const eol = out.indexOf(10, at);
      const [sha, , size] = out.subarray(at, eol).toString("utf8").split(" ");
      const length = Number(size);
      contents.set(sha!, out.subarray(eol + 1, eol + 1 + length));
      at = eol + 1 + length + 1;
    }
  }
  for (const entry of listed) {
    const content = contents.get(entry.sha);
    files.push({ path: entry.path, size: entry.size, text: content ? decodeText(content) : null });
  }
  return { ref, files, omitted };
}

function findMirror(repo: string, mirrors: string, map: Record<string, string>): string {
  const [owner, name] = repo.split("/");
  const candidates = [
    map[repo],
    join(mirrors, `${owner}+${name}`, "repo"),
    join(mirrors, `${owner}+${name}`),
    join(mirrors, owner!, name!),
    join(mirrors, owner!, `${name}.git`),
  ].filter((path): path is string => Boolean(path));
  for (const path of candidates) {
    if (existsSync(join(path, "HEAD")) && existsSync(join(path, "objects"))) return path;
    if (existsSync(join(path, ".git", "HEAD"))) return join(path, ".git");
  }
  throw new Error(`no git mirror for ${repo} under ${mirrors} (tried ${candidates.join(", ")})`);
}

function namesAFile(pair: Pair, paths: string[]): boolean {
  const mentions = findPathMentions(`${pair.title}\n${pair.body}`);
  return mentions.some((mention) => {
    const lower = mention.toLowerCase();
    return paths.some((path) => `/${path.toLowerCase()}`.endsWith(`/${lower}`));
  });
}

export async function evaluate(
  pairs: Pair[],
  mirrors: string,
  map: Record<string, string> = {},
  onPair?: (result: PairResult) => void,
): Promise<EvalReport> {
  const results: PairResult[] = [];
  for (const pair of pairs) {
    const gitDir = findMirror(pair.repo, mirrors, map);
    const snapshot = snapshotFromGit(gitDir, pair.parent);
    const present = new Set(snapshot.files.map((file) => file.path));
    const targets = pair.files.filter((file) => present.has(file));
    const [owner, repo] = pair.repo.split("/") as [string, string];
    const context = await gatherContext({
      octokit: offline,
      logger: silent,
      owner,
      repo,
      ref: pair.parent,
      issue: { number: pair.issue, title: pair.title, body: pair.body, labels: [], author: "reporter" },
      comments: [],
      budgetTokens: BUDGET,
      snapshot,
    });
    const reached = context.sections.filter((section) => section.kind === "file").map((section) => section.title);
    const sources = snapshot.files.filter((file) => file.text !== null && isSourcePath(file.path));
    const bm25 = bm25Baseline({ title: pair.title, body: pair.body }, sources, reached.length);
    const recallOf = (set: string[]) =>
      targets.length === 0 ? 0 : targets.filter((target) => set.includes(target)).length / targets.length;
    const result: PairResult = {
      id: pair.id,
      repo: pair.repo,
      namesFile: namesAFile(pair, [...present]),
      targets,
      reached,
      recall: recallOf(reached),
      bm25Recall: recallOf(bm25),
      bm25,
    };
    results.push(result);
    onPair?.(result);
  }
  const scored = results.filter((result) => result.targets.length > 0);
  const mean = (values: number[]) => (values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length);
  const summary = (subset: PairResult[]) => ({
    recall: mean(subset.map((r) => r.recall)),
    bm25Recall: mean(subset.map((r) => r.bm25Recall)),
    pairs: subset.length,
  });
  const repos = [...new Set(scored.map((result) => result.repo))];
  const counts = results.map((result) => result.reached.length).sort((a, b) => a - b);
  return {
    budget: BUDGET,
    pairs: results,
    byRepo: repos.map((repo) => ({ repo, ...summary(scored.filter((r) => r.repo === repo)) })),
    average: summary(scored),
    noFileNamed: summary(scored.filter((result) => !result.namesFile)),
    reachedFiles: {
      median: counts.length === 0 ? 0 : counts[Math.floor((counts.length - 1) / 2)]!,
      min: counts[0] ?? 0,
      max: counts.at(-1) ?? 0,
    },
  };
}

function formatReport(report: EvalReport): string {
  const pct = (value: number) => value.toFixed(2);
  const lines = [
    "",
    `recall of the fix's source files whose content reached the model (budget ${report.budget.toLocaleString("en")} tokens), beside plain BM25 at the same number of files`,
    "",
    "repository                 pairs  recall  bm25   diff",
  ];
  for (const row of report.byRepo) {
    lines.push(
      `${row.repo.padEnd(26)} ${String(row.pairs).padStart(5)}  ${pct(row.recall).padStart(6)}  ${pct(row.bm25Recall).padStart(5)}  ${(row.recall - row.bm25Recall >= 0 ? "+" : "") + pct(row.recall - row.bm25Recall)}`,
    );
  }
  const { average, noFileNamed, reachedFiles } = report;
  lines.push(
    `${"average".padEnd(26)} ${String(average.pairs).padStart(5)}  ${pct(average.recall).padStart(6)}  ${pct(average.bm25Recall).padStart(5)}  ${(average.recall - average.bm25Recall >= 0 ? "+" : "") + pct(average.recall - average.bm25Recall)}`,
    `${"issues naming no file".padEnd(26)} ${String(noFileNamed.pairs).padStart(5)}  ${pct(noFileNamed.recall).padStart(6)}  ${pct(noFileNamed.bm25Recall).padStart(5)}  ${(noFileNamed.recall - noFileNamed.bm25Recall >= 0 ? "+" : "") + pct(noFileNamed.recall - noFileNamed.bm25Recall)}`,
    "",
    `files whose content reached the model: median ${reachedFiles.median}, range ${reachedFiles.min}–${reachedFiles.max}`,
  );
  return lines.join("\n");
}

async function main() {
  const args = process.argv.slice(2);
  const option = (name: string) => {
    const at = args.indexOf(name);
    return at === -1 ? undefined : args[at + 1];
  };
  const here = fileURLToPath(new URL(".", import.meta.url));
  const pairsFile = resolve(option("--pairs") ?? join(here, "pairs.json"));
  const mirrors = resolve(option("--mirrors") ?? process.env.AMISTIO_MIRRORS ?? "/work/.mirror");
  const mapFile = option("--map");
  const map = mapFile ? (JSON.parse(readFileSync(mapFile, "utf8")) as Record<string, string>) : {};
  const { pairs } = JSON.parse(readFileSync(pairsFile, "utf8")) as { pairs: Pair[] };
  const report = await evaluate(pairs, mirrors, map, (result) => {
    if (args.includes("--json")) return;
    const mark = (set: string[]) => result.targets.map((t) => (set.includes(t) ? "✓" : "✗")).join("");
    console.log(
      `${result.id.padEnd(16)} recall ${result.recall.toFixed(2)} ${mark(result.reached).padEnd(4)} bm25 ${result.bm25Recall.toFixed(2)} ${mark(result.bm25).padEnd(4)} files ${result.reached.length}${result.namesFile ? "" : "  (names no file)"}`,
    );
  });
  console.log(args.includes("--json") ? JSON.stringify(report, null, 1) : formatReport(report));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
