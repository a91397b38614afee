import { mergeFindings, type RedactionFinding, redactSecrets } from "@amistio/contract/redact-secrets";
import type { Logger } from "pino";
import type { ProbotOctokit } from "probot";
import { mapLimited } from "../github/map-limited.ts";
import { retryLaterIn } from "../queue/retry-later.ts";
import { findRelevantFiles, type TreeEntry } from "./find-relevant-files.ts";
import { type BudgetPart, countTokens, fitToBudget, type Omission, SECTION_SEPARATOR } from "./fit-to-budget.ts";
import { companionTest, cutAtBoundary, rankFiles } from "./rank-files.ts";
import type { RepositorySnapshot } from "./repository-snapshot.ts";

type Octokit = Pick<InstanceType<typeof ProbotOctokit>, "request">;

export interface ContextIssue {
  number: number;
  title: string;
  body: string | null;
  labels: string[];
  author: string;
}

export interface ContextComment {
  id: number;
  author: string;
  body: string;
}

export interface ContextLimits {
  /** Files fetched besides README and CODEOWNERS: those the text names first, then those matching its terms. */
  maxFiles: number;
  /** Files larger than this (bytes) are never fetched. */
  maxFileBytes: number;
  /** Paths listed from the repository tree before the token budget applies. */
  maxTreeEntries: number;
}

export const DEFAULT_CONTEXT_LIMITS: ContextLimits = Object.freeze({
  maxFiles: 12,
  maxFileBytes: 100_000,
  maxTreeEntries: 2_000,
});

export interface GatherContextOptions {
  octokit: Octokit;
  logger: Logger;
  owner: string;
  repo: string;
  /** Branch, tag or commit to read; the default branch when absent. */
  ref?: string;
  issue: ContextIssue;
  comments: ContextComment[];
  budgetTokens: number;
  /** The repository's `planner.instructions`. */
  instructions?: string;
  limits?: Partial<ContextLimits>;
  /**
   * The repository's files with their text (from an archive or the repository index). With it, files
   * are ranked by content and path and no GitHub reads are made for the tree, README or files.
   */
  snapshot?: RepositorySnapshot;
}

export type SectionKind = "instructions" | "issue" | "comment" | "tree" | "readme" | "codeowners" | "file";

export interface PromptSection {
  kind: SectionKind;
  /** What the section holds, e.g. `comment 123 by @alice` or `src/index.ts`. */
  title: string;
  /** The section as sent: a heading and the fenced (redacted, possibly cut) content. */
  text: string;
}

export interface ContextReport {
  /** Ids of the comments that went in. */
  comments: number[];
  /** Repository files that went in, README and CODEOWNERS included. */
  files: string[];
  redactions: RedactionFinding[];
  /** What was left out or cut, and why. */
  omitted: Omission[];
}

export interface PlanningContext {
  owner: string;
  repo: string;
  /** The issue with its title, labels and body redacted, the body bounded to 65,536 characters. */
  issue: ContextIssue & { body: string };
  sections: PromptSection[];
  /** o200k tokens of `renderContext(sections)`: at most the budget. */
  tokenCount: number;
  report: ContextReport;
}

/** The marker Amistio puts in its plan comments; such comments are not fed back as context. */
export const PLAN_COMMENT_MARKER = "<!-- amistio:plan ";

// GitHub's own limit for an issue body; anything longer did not come from GitHub's editor.
const MAX_ISSUE_BODY_CHARS = 65_536;
const CODEOWNERS_PATHS = [".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"];
const SECTION_ORDER: SectionKind[] = ["instructions", "issue", "comment", "tree", "readme", "codeowners", "file"];

interface Part extends BudgetPart {
  kind: SectionKind;
  commentId?: number;
  path?: string;
}

/**
 * Collects what a planner needs to know about an issue: its text and comments (authors marked),
 * the repository tree, README, CODEOWNERS and the files the text names or whose paths match its
 * terms. Everything is redacted with `redactSecrets` first, then fitted to `budgetTokens` (o200k
 * tokens): each part is cut to a share of the budget and the least important parts are dropped
 * first (matched files, CODEOWNERS, README, tree, named files, older comments; the issue stays).
 * The report says what went in and what was left out. A GitHub read that fails is reported as
 * omitted and planning goes on with the rest.
 */
export async function gatherContext(options: GatherContextOptions): Promise<PlanningContext> {
  const limits = { ...DEFAULT_CONTEXT_LIMITS, ...options.limits };
  const { octokit, owner, repo, logger, issue } = options;
  const omitted: Omission[] = [];
  const findings: RedactionFinding[][] = [];
  const redact = async (text: string) => {
    const result = await redactSecrets(text);
    findings.push(result.findings);
    return result.text;
  };
  const github = new GitHubReader(octokit, owner, repo, logger, omitted);
  const parts: Part[] = [];

  const title = await redact(issue.title);
  let body = await redact(issue.body ?? "");
  if (body.length > MAX_ISSUE_BODY_CHARS) {
    omitted.push({ what: "the end of the issue body", why: "it is longer than 65,536 characters" });
    body = body.slice(0, MAX_ISSUE_BODY_CHARS);
  }
  const labels: string[] = [];
  for (const label of issue.labels) labels.push(await redact(label));
  parts.push({
    kind: "issue",
    title: `issue #${issue.number}`,
    heading: `## Issue #${issue.number}: ${title}\nOpened by @${issue.author}. Labels: ${labels.join(", ") || "none"}.`,
    content: body,
    priority: 1,
    maxShare: 0.4,
    required: true,
  });

  const instructions = options.instructions?.trim();
  if (instructions) {
    parts.push({
      kind: "instructions",
      title: "the repository's instructions",
      heading: "## Instructions from the repository's settings",
      content: await redact(instructions),
      priority: 0,
      maxShare: 0.15,
    });
  }

  const comments = options.comments.filter((comment) => {
    if (!comment.body.includes(PLAN_COMMENT_MARKER)) return true;
    omitted.push({ what: `comment ${comment.id}`, why: "it is an earlier Amistio plan" });
    return false;
  });
  for (const [index, comment] of comments.entries()) {
    parts.push({
      kind: "comment",
      title: `comment ${comment.id} by @${comment.author}`,
      heading: `## Comment ${comment.id} by @${comment.author}`,
      content: await redact(comment.body),
      // Newer comments are kept first: they carry the latest state of the discussion.
      priority: 2 + (comments.length - index) / (comments.length + 1),
      maxShare: 0.15,
      commentId: comment.id,
    });
  }

  if (options.snapshot) {
    await addSnapshotParts(options.snapshot, {
      issue,
      comments,
      instructions: options.instructions,
      limits,
      redact,
      parts,
      omitted,
      budgetTokens: options.budgetTokens,
    });
  } else {
    await addGitHubParts({ github, options, issue, comments, limits, redact, parts, omitted });
  }

  const fitted = fitToBudget(parts, options.budgetTokens);
  omitted.push(...fitted.omitted);
  const kept = fitted.kept.sort((a, b) => SECTION_ORDER.indexOf(a.part.kind) - SECTION_ORDER.indexOf(b.part.kind));
  const sections = kept.map(({ part, text }) => ({ kind: part.kind, title: part.title, text }));
  return {
    owner,
    repo,
    issue: { ...issue, title, body, labels },
    sections,
    tokenCount: countTokens(renderContext(sections)),
    report: {
      comments: kept.flatMap(({ part }) => (part.commentId === undefined ? [] : [part.commentId])),
      files: kept.flatMap(({ part }) => (part.path === undefined ? [] : [part.path])),
      redactions: mergeFindings(...findings),
      omitted,
    },
  };
}

interface PartsInput {
  issue: ContextIssue;
  comments: ContextComment[];
  limits: ContextLimits;
  redact: (text: string) => Promise<string>;
  parts: Part[];
  omitted: Omission[];
}

/** Without a snapshot: the tree, README, CODEOWNERS and the files matched by path, read from GitHub. */
async function addGitHubParts(
  input: PartsInput & { github: GitHubReader; options: GatherContextOptions },
): Promise<void> {
  const { github, options, issue, comments, limits, redact, parts, omitted } = input;
  const ref = options.ref ?? (await github.defaultBranch()) ?? undefined;
  const tree = ref === undefined ? undefined : await github.tree(ref);
  const entries = tree?.entries ?? [];
  if (tree === null) omitted.push({ what: "the repository tree", why: `the repository is empty or has no ref ${ref}` });
  if (tree?.truncated) omitted.push({ what: "part of the repository tree", why: "GitHub truncated the listing" });

  if (entries.length > 0) {
    const listed = entries
      .map((entry) => ({ path: entry.path, depth: depth(entry.path) }))
      .sort((a, b) => a.depth - b.depth || (a.path < b.path ? -1 : 1))
      .slice(0, limits.maxTreeEntries)
      .map((entry) => entry.path);
    if (entries.length > listed.length) {
      omitted.push({
        what: `${(entries.length - listed.length).toLocaleString("en")} paths of the repository tree`,
        why: `only the ${limits.maxTreeEntries.toLocaleString("en")} shallowest paths are listed`,
      });
    }
    parts.push({
      kind: "tree",
      title: "the repository tree",
      heading: `## Repository files at ${ref}, shallowest first`,
      content: await redact(listed.join("\n")),
      priority: 4,
      maxShare: 0.15,
    });
  }

  const readme = ref === undefined ? undefined : await github.readme(ref);
  if (readme === null) omitted.push({ what: "README", why: "the repository has none" });
  if (readme) {
    parts.push({
      kind: "readme",
      title: readme.path,
      heading: `## README (${readme.path})`,
      content: await redact(readme.text),
      priority: 5,
      maxShare: 0.15,
      path: readme.path,
    });
  }

  const codeowners = await github.codeowners(entries, !tree || tree.truncated, ref);
  if (codeowners) {
    parts.push({
      kind: "codeowners",
      title: codeowners.path,
      heading: `## Code owners (${codeowners.path})`,
      content: await redact(codeowners.text),
      priority: 6,
      maxShare: 0.05,
      path: codeowners.path,
    });
  }

  const relevant = findRelevantFiles({
    texts: [issue.title, issue.body ?? "", options.instructions ?? "", ...comments.map((c) => c.body)],
    title: issue.title,
    body: issue.body ?? "",
    entries,
  });
  const alreadyIn = (entry: TreeEntry) => isReadme(entry.path) || CODEOWNERS_PATHS.includes(entry.path);
  const named = relevant.named.filter((entry) => {
    if (alreadyIn(entry)) return false;
    if (entry.size <= limits.maxFileBytes) return true;
    omitted.push({ what: entry.path, why: `it is larger than ${formatBytes(limits.maxFileBytes)}` });
    return false;
  });
  if (named.length > limits.maxFiles) {
    omitted.push({
      what: `${named.length - limits.maxFiles} more files named in the text`,
      why: "over the file limit",
    });
  }
  const matched = relevant.matched.filter((entry) => !alreadyIn(entry) && entry.size <= limits.maxFileBytes);
  const chosen = [
    ...named.map((entry) => ({ entry, named: true })),
    ...matched.map((entry) => ({ entry, named: false })),
  ].slice(0, limits.maxFiles);
  const files = await mapLimited(chosen, 4, async ({ entry, named }) => {
    const content = await github.blob(entry);
    if (!content) return undefined;
    // Only a file someone named is worth saying it was skipped.
    if (isBinary(content)) {
      if (named) omitted.push({ what: entry.path, why: "it is a binary file" });
      return undefined;
    }
    return { entry, named, text: content.toString("utf8") };
  });
  for (const file of files) {
    if (!file) continue;
    parts.push({
      kind: "file",
      title: file.entry.path,
      heading: `## File ${file.entry.path}${file.named ? " (named in the issue)" : ""}`,
      content: await redact(file.text),
      priority: file.named ? 3 : 7,
      maxShare: file.named ? 0.2 : 0.1,
      path: file.entry.path,
    });
  }
}

// Shares of the budget by rank: a strong hit gets more room than a weak one.
const RANK_SHARES = [0.3, 0.2, 0.15, 0.1, 0.08, 0.06];
// Rough characters per o200k token in source code, to pre-cut at a boundary before the exact fit.
const CHARS_PER_TOKEN = 3.2;
const CANDIDATE_LIST = 40;

/**
 * With a snapshot: files ranked by content and path; the best ones' content most relevant first,
 * each with room by rank and cut at a top-level boundary; a ranked list of the next candidates.
 */
async function addSnapshotParts(
  snapshot: RepositorySnapshot,
  input: PartsInput & { instructions?: string; budgetTokens: number },
): Promise<void> {
  const { issue, comments, limits, redact, parts, omitted, budgetTokens } = input;
  for (const note of snapshot.omitted) omitted.push(note);
  if (snapshot.files.length === 0) {
    omitted.push({ what: "the repository's files", why: "the repository is empty" });
    return;
  }
  const readme = snapshot.files.find((file) => isReadme(file.path) && !file.path.includes("/") && file.text !== null);
  if (readme?.text) {
    parts.push({
      kind: "readme",
      title: readme.path,
      heading: `## README (${readme.path})`,
      content: await redact(readme.text),
      priority: 6,
      maxShare: 0.08,
      path: readme.path,
    });
  }
  const codeowners = CODEOWNERS_PATHS.map((path) => snapshot.files.find((file) => file.path === path)).find(Boolean);
  if (codeowners?.text) {
    parts.push({
      kind: "codeowners",
      title: codeowners.path,
      heading: `## Code owners (${codeowners.path})`,
      content: await redact(codeowners.text),
      priority: 7,
      maxShare: 0.05,
      path: codeowners.path,
    });
  }

  const ranked = rankFiles(
    {
      title: issue.title,
      body: issue.body ?? "",
      extra: [input.instructions ?? "", ...comments.map((comment) => comment.body)],
    },
    snapshot.files.filter((file) => file.path !== readme?.path && file.path !== codeowners?.path),
  );
  const byPath = new Map(snapshot.files.map((file) => [file.path, file]));
  const chosen: { path: string; reason: string }[] = [];
  const allPaths = snapshot.files.map((file) => file.path);
  for (const hit of ranked) {
    if (chosen.length >= limits.maxFiles) break;
    const file = byPath.get(hit.path);
    if (!file || file.text === null || chosen.some((c) => c.path === hit.path)) continue;
    chosen.push({ path: hit.path, reason: hit.reason });
    // A chosen source file's test comes along right after it, once.
    if (chosen.length === 1 && chosen.length < limits.maxFiles) {
      const test = companionTest(hit.path, allPaths);
      if (test && byPath.get(test)?.text != null && !chosen.some((c) => c.path === test)) {
        chosen.push({ path: test, reason: "companion" });
      }
    }
  }
  for (const [rank, { path, reason }] of chosen.entries()) {
    const share = RANK_SHARES[Math.min(rank, RANK_SHARES.length - 1)]! * (reason === "companion" ? 0.5 : 1);
    const text = byPath.get(path)!.text!;
    const cut = cutAtBoundary(text, Math.floor(budgetTokens * share * CHARS_PER_TOKEN * 1.6));
    const label =
      reason === "named" ? " (named in the issue)" : reason === "companion" ? " (test of the file above)" : "";
    parts.push({
      kind: "file",
      title: path,
      heading: `## File ${path}${label}${cut.length < text.length ? " (cut at a declaration boundary)" : ""}`,
      content: await redact(cut),
      // Most relevant first: the first files before README, the rest after it.
      priority: rank < 4 ? 3 + rank / 10 : 8 + rank / 100,
      maxShare: share,
      path,
    });
  }
  const rest = ranked.filter((hit) => !chosen.some((c) => c.path === hit.path)).slice(0, CANDIDATE_LIST);
  if (rest.length > 0) {
    parts.push({
      kind: "tree",
      title: "the ranked list of other candidate files",
      heading: `## Other candidate files at ${snapshot.ref}, most relevant first (content not included)`,
      content: await redact(rest.map((hit) => hit.path).join("\n")),
      priority: 4,
      maxShare: 0.05,
    });
  }
}

/** The sections as one text: what a planner sends as the issue's context. */
export function renderContext(sections: PromptSection[]): string {
  return sections.map((section) => section.text).join(SECTION_SEPARATOR);
}

/** Git's own test: a NUL byte in the first 8,000 bytes means binary. */
function isBinary(content: Buffer): boolean {
  return content.subarray(0, 8000).includes(0);
}

function isReadme(path: string): boolean {
  return /^(\.github\/|docs\/)?readme(\.[a-z]+)?$/i.test(path);
}

function depth(path: string): number {
  let count = 0;
  for (const c of path) if (c === "/") count++;
  return count;
}

function formatBytes(bytes: number): string {
  return bytes >= 1000 ? `${Math.round(bytes / 1000)} KB` : `${bytes} bytes`;
}

/**
 * The GitHub reads, each of which may fail on its own: a part that cannot be read is reported as
 * omitted and planning goes on with the rest.
 */
class GitHubReader {
  constructor(
    private readonly octokit: Octokit,
    private readonly owner: string,
    private readonly repo: string,
    private readonly logger: Logger,
    private readonly omitted: Omission[],
  ) {}

  async defaultBranch(): Promise<string | null | undefined> {
    return this.read("the repository's files", async () => {
      const { data } = await this.octokit.request("GET /repos/{owner}/{repo}", { owner: this.owner, repo: this.repo });
      return data.default_branch;
    });
  }

  async tree(ref: string): Promise<{ entries: TreeEntry[]; truncated: boolean } | null | undefined> {
    return this.read("the repository tree", async () => {
      const response = await this.octokit.request("GET /repos/{owner}/{repo}/git/trees/{tree_sha}", {
        owner: this.owner,
        repo: this.repo,
        tree_sha: ref,
        recursive: "1",
        request: { parseSuccessResponseBody: false },
      });
      // A big tree is up to 7 MB of JSON: Octokit's parser (json-with-bigint) blocks for seconds on
      // it, the platform's for a tenth of that. Nothing in a tree needs BigInt.
      const data = (await new Response(response.data as unknown as ReadableStream).json()) as typeof response.data;
      const entries: TreeEntry[] = [];
      for (const item of data.tree) {
        if (item.type === "blob" && item.path && item.sha) {
          entries.push({ path: item.path, sha: item.sha, size: item.size ?? 0 });
        }
      }
      return { entries, truncated: data.truncated };
    });
  }

  async readme(ref: string): Promise<{ path: string; text: string } | null | undefined> {
    return this.read("README", async () => {
      const { data } = await this.octokit.request("GET /repos/{owner}/{repo}/readme", {
        owner: this.owner,
        repo: this.repo,
        ref,
      });
      return { path: data.path, text: Buffer.from(data.content, "base64").toString("utf8") };
    });
  }

  async blob(entry: TreeEntry): Promise<Buffer | null | undefined> {
    return this.read(entry.path, async () => {
      const { data } = await this.octokit.request("GET /repos/{owner}/{repo}/git/blobs/{file_sha}", {
        owner: this.owner,
        repo: this.repo,
        file_sha: entry.sha,
      });
      return Buffer.from(data.content, data.encoding === "base64" ? "base64" : "utf8");
    });
  }

  /** CODEOWNERS from the tree; looked up directly only when the tree is incomplete. */
  async codeowners(
    entries: TreeEntry[],
    incomplete: boolean,
    ref: string | undefined,
  ): Promise<{ path: string; text: string } | null | undefined> {
    for (const path of CODEOWNERS_PATHS) {
      const entry = entries.find((e) => e.path === path);
      if (entry) {
        const content = await this.blob(entry);
        return content && { path, text: content.toString("utf8") };
      }
    }
    if (!incomplete || ref === undefined) return undefined;
    for (const path of CODEOWNERS_PATHS) {
      const found = await this.read(path, async () => {
        const { data } = await this.octokit.request("GET /repos/{owner}/{repo}/contents/{path}", {
          owner: this.owner,
          repo: this.repo,
          path,
          ref,
        });
        if (Array.isArray(data) || data.type !== "file" || !("content" in data)) return undefined;
        return { path, text: Buffer.from(data.content, "base64").toString("utf8") };
      });
      if (found) return found;
    }
    return undefined;
  }

  /**
   * Runs one read. `null`: not there (404, or 409 for an empty repository); `undefined`: it failed,
   * which is logged and reported.
   */
  private async read<T>(what: string, run: () => Promise<T>): Promise<T | null | undefined> {
    try {
      return await run();
    } catch (error) {
      const status = (error as { status?: number }).status;
      if (status === 404 || status === 409) return null;
      // Rate limited: the job waits and plans with the whole context, rather than without it now.
      if (retryLaterIn(error)) throw error;
      this.logger.warn({ err: error, owner: this.owner, repo: this.repo, what }, "could not read planning context");
      this.omitted.push({ what, why: `GitHub answered ${status ?? "with an error"}` });
      return undefined;
    }
  }
}
