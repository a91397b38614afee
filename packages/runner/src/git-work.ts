import { execFile } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";

export class GitError extends Error {
  override name = "GitError";
  constructor(
    message: string,
    readonly stderr: string,
  ) {
    super(message);
  }
}

export interface Git {
  (args: string[], options?: { allowFailure?: boolean }): Promise<{ stdout: string; stderr: string; code: number }>;
  cwd: string;
}

/** git in one working tree, with prompts off so a missing credential fails instead of hanging. */
export function gitIn(cwd: string, env: NodeJS.ProcessEnv = process.env): Git {
  const run = ((args, options = {}) =>
    new Promise((resolvePromise, reject) => {
      execFile(
        "git",
        args,
        { cwd, env: { ...env, GIT_TERMINAL_PROMPT: "0" }, maxBuffer: 16 * 1024 * 1024 },
        (error, stdout, stderr) => {
          const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
          if (error && !options.allowFailure) {
            reject(new GitError(`git ${args[0]} failed: ${lastLines(stderr || error.message, 5)}`, stderr));
            return;
          }
          resolvePromise({ stdout, stderr, code });
        },
      );
    })) as Git;
  run.cwd = cwd;
  return run;
}

/**
 * Credentials for one git command. The job's GITHUB_TOKEN is passed this way (as actions/checkout
 * does) so it is never written to the repository's config, where the agent could read it.
 */
function authArgs(token: string | undefined): string[] {
  if (!token) return [];
  return ["-c", `http.extraheader=AUTHORIZATION: basic ${Buffer.from(`x-access-token:${token}`).toString("base64")}`];
}

/** Starts the work branch from the tip of `base` on origin. */
export async function prepareBranch(git: Git, input: { base: string; branch: string; token?: string }): Promise<void> {
  await git([
    ...authArgs(input.token),
    "fetch",
    "--no-tags",
    "origin",
    `+refs/heads/${input.base}:refs/remotes/origin/${input.base}`,
  ]);
  await git(["checkout", "-B", input.branch, `refs/remotes/origin/${input.base}`]);
}

/** Keeps a directory (the runner's own checkout, when it sits inside the repository) out of the commit. */
export function excludeFromCommit(git: Git, path: string): void {
  const inside = relative(git.cwd, resolve(path));
  if (inside === "" || inside.startsWith("..") || inside.startsWith(sep)) return;
  const exclude = join(git.cwd, ".git", "info", "exclude");
  if (!existsSync(join(git.cwd, ".git"))) return;
  mkdirSync(dirname(exclude), { recursive: true });
  const line = `/${inside.split(sep).join("/")}/`;
  const current = existsSync(exclude) ? readFileSync(exclude, "utf8") : "";
  if (!current.split("\n").includes(line))
    appendFileSync(exclude, `${current.endsWith("\n") || current === "" ? "" : "\n"}${line}\n`);
}

export type CommitOutcome = { changed: false } | { changed: true; commitSha: string; changedFiles: string[] };

/** Commits everything the agent changed, if anything, as the Amistio runner. */
export async function commitChanges(git: Git, message: string): Promise<CommitOutcome> {
  await git(["add", "--all"]);
  const { stdout } = await git(["diff", "--cached", "--name-only", "-z"]);
  const changedFiles = stdout.split("\0").filter(Boolean);
  if (changedFiles.length === 0) return { changed: false };
  await git([
    "-c",
    "user.name=Amistio runner",
    "-c",
    "user.email=amistio-runner@users.noreply.github.com",
    "commit",
    "--no-verify",
    "--quiet",
    "-m",
    message,
  ]);
  const { stdout: sha } = await git(["rev-parse", "HEAD"]);
  return { changed: true, commitSha: sha.trim(), changedFiles };
}

/** Pushes the branch to origin, with the job's token when there is one. */
export async function pushBranch(git: Git, input: { branch: string; token?: string }): Promise<void> {
  const { code, stderr } = await git(
    [...authArgs(input.token), "push", "--porcelain", "origin", `HEAD:refs/heads/${input.branch}`],
    {
      allowFailure: true,
    },
  );
  if (code !== 0) throw new GitError(`the push was rejected: ${lastLines(stderr, 5)}`, stderr);
}

function lastLines(text: string, count: number): string {
  return text.trim().split("\n").slice(-count).join("\n");
}
