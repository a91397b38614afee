import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { RUN_ID_PATTERN, RUNNER_TOKEN_AUDIENCE } from "@amistio/contract/runner-contract";
import { createAmistioClient, RunnerApiError } from "./amistio-client.ts";
import { executeRun } from "./execute-run.ts";
import { createOidcTokenSource, OidcTokenError } from "./oidc-token.ts";
import { DEFAULT_WORKFLOW_FILE, initWorkflow } from "./workflow-template.ts";

export interface CliIo {
  env: NodeJS.ProcessEnv;
  cwd: string;
  out(line: string): void;
  err(line: string): void;
}

const USAGE = `amistio-runner: runs Amistio's approved plans inside a GitHub Actions job.

Usage:
  amistio-runner run                 Run the dispatched plan (inside the workflow job)
  amistio-runner init [--force] [--path <file>]
                                     Write the workflow (default ${DEFAULT_WORKFLOW_FILE})
  amistio-runner help

\`run\` reads AMISTIO_URL, AMISTIO_RUN_ID and AMISTIO_PLAN_HASH (the workflow inputs) and the job's
OIDC token variables (the job needs \`permissions: id-token: write\`). See Amistio's docs/runners.md.`;

/** The Amistio checkout this runs from (packages/runner/src/ → its root): kept out of commits when it is inside the repository. */
const SELF_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

/** Exit codes: 0 done, 1 the run failed (and was reported when Amistio could be reached), 2 usage. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [command = "help", ...rest] = argv;
  if (command === "init") return init(rest, io);
  if (command === "run") return run(io);
  io.out(USAGE);
  return command === "help" || command === "--help" || command === "-h" ? 0 : 2;
}

function init(args: string[], io: CliIo): number {
  const force = args.includes("--force");
  const at = args.indexOf("--path");
  const path = at >= 0 ? args[at + 1] : undefined;
  if (at >= 0 && !path) {
    io.err("--path needs a file, e.g. .github/workflows/amistio.yml");
    return 2;
  }
  const result = initWorkflow({ dir: io.cwd, path, force });
  if (!result.written) {
    io.err(`${result.path} exists; --force replaces it`);
    return 1;
  }
  io.out(`wrote ${result.path}: commit it to the default branch, then Amistio can dispatch it`);
  return 0;
}

async function run(io: CliIo): Promise<number> {
  const { env } = io;
  const missing = [
    "AMISTIO_URL",
    "AMISTIO_RUN_ID",
    "ACTIONS_ID_TOKEN_REQUEST_URL",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
  ].filter((name) => !env[name]);
  if (missing.length > 0) {
    io.err(
      `missing ${missing.join(", ")}: run inside the Amistio workflow, whose job has \`permissions: id-token: write\``,
    );
    return 2;
  }
  const baseUrl = env.AMISTIO_URL!;
  if (!/^https?:\/\/[^\s]+$/.test(baseUrl) || !URL.canParse(baseUrl)) {
    io.err("AMISTIO_URL must be an http(s) URL");
    return 2;
  }
  const runId = env.AMISTIO_RUN_ID!;
  if (!RUN_ID_PATTERN.test(runId)) {
    io.err("AMISTIO_RUN_ID is not an Amistio run id");
    return 2;
  }
  const token = createOidcTokenSource({
    requestUrl: env.ACTIONS_ID_TOKEN_REQUEST_URL!,
    requestToken: env.ACTIONS_ID_TOKEN_REQUEST_TOKEN!,
    audience: RUNNER_TOKEN_AUDIENCE,
  });
  const client = createAmistioClient({ baseUrl, runId, token });
  try {
    return await executeRun({
      client,
      repoDir: env.GITHUB_WORKSPACE || io.cwd,
      expectedHash: env.AMISTIO_PLAN_HASH || undefined,
      pushToken: env.GITHUB_TOKEN || undefined,
      env,
      selfDir: SELF_DIR,
      log: io.out,
    });
  } catch (error) {
    if (error instanceof RunnerApiError) io.err(`Amistio refused the runner (${error.status}): ${error.message}`);
    else if (error instanceof OidcTokenError) io.err(error.message);
    else io.err(`the run failed: ${(error as Error).stack ?? error}`);
    return 1;
  }
}
