import nock from "nock";
import { pino } from "pino";
import type { Db } from "../../../src/db/create-database.ts";
import type { RunServices } from "../../../src/runs/run-services.ts";
import { type ActionsClaims, type OidcIssuer, startOidcIssuer } from "../../fixtures/runner/oidc-issuer.ts";
import { type SeedOptions, seedRun } from "../../fixtures/runner/seed-run.ts";
import { type FakeGithub, fakeGithub } from "../../helpers/fake-github.ts";
import { startTestAmistio, type TestAmistio } from "../../helpers/test-amistio.ts";
import { type GithubActionsFake, githubActionsFake } from "./github-actions-fake.ts";

export const PUBLIC_URL = "https://amistio.example.test";
export const OWNER = "octo-org";
export const REPO = "widgets";
export const BASE = `/repos/${OWNER}/${REPO}`;
export const API = "https://api.github.com";
export const WORKFLOW = ".github/workflows/amistio.yml";

let nextWorkflowRun = 30_000;

/**
 * A run whose workflow_dispatch has started its workflow run, as dispatch leaves it (`options.run`
 * adds or overrides run fields), and the OIDC claims a job of that workflow run presents.
 */
export async function seedDispatchedRun(db: Db, options: SeedOptions = {}) {
  const workflowRunId = nextWorkflowRun++;
  const seeded = await seedRun(db, {
    ...options,
    run: {
      status: "dispatched",
      workflowRunId: BigInt(workflowRunId),
      workflowRunAttempt: 1,
      workflowPath: WORKFLOW,
      ref: "main",
      ...options.run,
    },
  });
  const claims: ActionsClaims = {
    repository: `${OWNER}/${REPO}`,
    repository_id: "4242",
    run_id: String(workflowRunId),
    workflow_ref: `${OWNER}/${REPO}/${WORKFLOW}@refs/heads/main`,
  };
  return { ...seeded, workflowRunId, claims };
}

export interface RunsHarness {
  amistio: TestAmistio;
  github: FakeGithub;
  /** Actions, check runs and pull requests, answered per test. */
  gh: GithubActionsFake;
  issuer: OidcIssuer;
  /** The same services the app's run jobs use, for calling a job handler directly. */
  services: RunServices;
  /** Waits until no job is due (delayed jobs such as the queued-too-long check are left alone). */
  settle(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** Amistio on a random port with GitHub played by nock and a local OIDC issuer for runner tokens. */
export async function startRunsHarness(
  options: { settings?: string; roles?: Record<string, string> } = {},
): Promise<RunsHarness> {
  const issuer = await startOidcIssuer();
  const gh = githubActionsFake();
  const github = fakeGithub({
    settings: options.settings,
    roles: options.roles ?? {
      admin: "admin",
      write: "write",
      writer2: "write",
      triage: "triage",
      reader: "read",
      requester: "triage",
    },
    files: { "README.md": "# Widgets\n" },
  });
  const amistio = await startTestAmistio({
    env: { AMISTIO_PUBLIC_URL: PUBLIC_URL, AMISTIO_RUNNER_OIDC_ISSUER: issuer.issuer },
  });
  const { db } = amistio.database;
  const services: RunServices = {
    db,
    queue: amistio.queue,
    env: { AMISTIO_PUBLIC_URL: PUBLIC_URL, githubWebUrl: "https://github.com" },
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" }),
    octokitFor: async (installationId) => (await amistio.probot.auth(Number(installationId))) as never,
  };
  return {
    amistio,
    github,
    gh,
    issuer,
    services,
    async settle(timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const due = await db.job.count({
          where: { OR: [{ status: "running" }, { status: "queued", runAt: { lte: new Date() } }] },
        });
        if (due === 0) return;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      throw new Error("jobs still due after settle timeout");
    },
    async close() {
      await amistio.close();
      github.stop();
      nock.cleanAll();
      await issuer.close();
    },
  };
}

/** A minimal workflow_run payload as GitHub sends it, for the fake repository. */
export function workflowRunPayload(input: {
  action: "requested" | "in_progress" | "completed";
  id: number;
  runId: string;
  attempt?: number;
  conclusion?: string | null;
  path?: string;
  event?: string;
  repositoryId?: number;
  headBranch?: string;
  createdAt?: Date;
}) {
  return {
    action: input.action,
    installation: { id: 77 },
    repository: repositoryPayload(input.repositoryId),
    sender: { login: "amistio[bot]", id: 1, type: "Bot" },
    workflow: { id: 1, name: "Amistio", path: input.path ?? ".github/workflows/amistio.yml" },
    workflow_run: {
      id: input.id,
      name: "Amistio",
      display_title: `Amistio run ${input.runId}`,
      path: input.path ?? ".github/workflows/amistio.yml",
      event: input.event ?? "workflow_dispatch",
      run_attempt: input.attempt ?? 1,
      run_number: 1,
      status: input.action === "completed" ? "completed" : input.action === "requested" ? "queued" : "in_progress",
      conclusion: input.action === "completed" ? (input.conclusion ?? "success") : null,
      html_url: `https://github.com/${OWNER}/${REPO}/actions/runs/${input.id}`,
      head_branch: input.headBranch ?? "main",
      head_sha: "a".repeat(40),
      created_at: (input.createdAt ?? new Date()).toISOString(),
      run_started_at: new Date().toISOString(),
    },
  };
}

export function workflowJobPayload(input: {
  action: "queued" | "waiting" | "in_progress" | "completed";
  runId: number;
  attempt?: number;
  runnerName?: string | null;
  labels?: string[];
}) {
  return {
    action: input.action,
    installation: { id: 77 },
    repository: repositoryPayload(),
    sender: { login: "amistio[bot]", id: 1, type: "Bot" },
    workflow_job: {
      id: input.runId * 10,
      run_id: input.runId,
      run_attempt: input.attempt ?? 1,
      name: "run",
      status: input.action === "completed" ? "completed" : input.action,
      conclusion: input.action === "completed" ? "success" : null,
      labels: input.labels ?? ["self-hosted", "linux"],
      runner_id: input.runnerName ? 5 : null,
      runner_name: input.runnerName ?? null,
      runner_group_id: input.runnerName ? 1 : null,
      runner_group_name: input.runnerName ? "Default" : null,
      html_url: `https://github.com/${OWNER}/${REPO}/actions/runs/${input.runId}/job/${input.runId * 10}`,
      steps: [],
    },
  };
}

function repositoryPayload(id = 4242) {
  return {
    id,
    name: REPO,
    full_name: `${OWNER}/${REPO}`,
    private: true,
    default_branch: "main",
    owner: { login: OWNER, id: 99, type: "Organization" },
  };
}
