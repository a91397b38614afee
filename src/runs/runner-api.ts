import type { Plan } from "@amistio/contract/plan-schema";
import { redactSecrets } from "@amistio/contract/redact-secrets";
import {
  RUN_ID_PATTERN,
  RUNNER_API_PREFIX,
  RUNNER_LIMITS,
  type RunnerJob,
  runnerEventsSchema,
  runnerResultSchema,
} from "@amistio/contract/runner-contract";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { loadRepoSettings } from "../config/load-repo-settings.ts";
import { DEFAULT_REPO_SETTINGS, REPO_SETTINGS_FILE } from "../config/repo-settings.ts";
import { type Refusal, refusal, runnerApiError } from "../refusals/refusals.ts";
import { approvalProblem } from "./approval-problem.ts";
import { auditRun } from "./audit-run.ts";
import { baseBranchFor } from "./base-branch.ts";
import { runIdFromTitle } from "./dispatch-workflow.ts";
import { dispatchMismatch, qualifiedRefs, workflowRefMatches } from "./dispatched-ref.ts";
import { recordRunnerResult } from "./record-runner-result.ts";
import { loadRunRecord, type RunRecord, repoOf, runBranch } from "./run-record.ts";
import type { RunServices } from "./run-services.ts";
import { isTerminal } from "./run-status.ts";
import { type RunnerClaims, RunnerTokenError, type RunnerTokenVerifier } from "./verify-runner-token.ts";

export interface RunnerApiOptions {
  services: RunServices;
  verifyToken: RunnerTokenVerifier;
}

/** Refusals kept per run (events and audit): enough to diagnose, too few to flood anything. */
const MAX_RECORDED_REFUSALS = 20;

class RunnerRefusal extends Error {
  constructor(
    readonly status: number,
    readonly refused: Refusal,
  ) {
    super(refused.summary);
  }
}

/**
 * The API `amistio-runner` calls from inside the workflow job. There is no shared secret: each call
 * carries a GitHub Actions OIDC token, verified against the issuer's keys, whose `repository`,
 * `repository_id`, `workflow_ref`, `event_name` and `run_id` must be those of the dispatched run,
 * and only while that run is live. Refusals of a genuine token are recorded on the run.
 */
export async function runnerApi(app: FastifyInstance, options: RunnerApiOptions): Promise<void> {
  const { services, verifyToken } = options;
  const { db } = services;

  async function authorise(request: FastifyRequest): Promise<{ record: RunRecord; claims: RunnerClaims }> {
    const { runId } = request.params as { runId: string };
    if (!RUN_ID_PATTERN.test(runId)) throw new RunnerRefusal(404, refusal("runner.unknown_run"));
    const header = request.headers.authorization ?? "";
    const token = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
    if (!token) {
      throw new RunnerRefusal(401, refusal("runner.no_token"));
    }
    let claims: RunnerClaims;
    try {
      claims = await verifyToken(token);
    } catch (error) {
      if (!(error instanceof RunnerTokenError)) throw error;
      throw error.kind === "unavailable"
        ? new RunnerRefusal(503, refusal("runner.keys_unavailable"))
        : new RunnerRefusal(401, refusal("runner.invalid_token", { detail: error.message }));
    }
    const record = await loadRunRecord(db, runId);
    if (!record) throw new RunnerRefusal(404, refusal("runner.unknown_run"));
    try {
      await checkClaims(record, claims);
    } catch (error) {
      if (error instanceof RunnerRefusal) await recordRefusal(record, error);
      throw error;
    }
    return { record: (await loadRunRecord(db, runId))!, claims };
  }

  async function checkClaims(record: RunRecord, claims: RunnerClaims): Promise<void> {
    const repository = record.task.repository;
    if (
      claims.repositoryId !== repository.githubId.toString() ||
      claims.repository.toLowerCase() !== repository.fullName.toLowerCase()
    ) {
      throw new RunnerRefusal(403, refusal("runner.other_repository"));
    }
    // The workflow file and the ref Amistio dispatched: a copy of the workflow on another branch
    // (whose run-name can carry this run's title) gets no plan.
    const expected = { repository: claims.repository, workflowPath: record.workflowPath, ref: record.ref };
    if (
      claims.eventName !== "workflow_dispatch" ||
      !workflowRefMatches(claims.workflowRef, expected) ||
      (claims.ref !== null && !qualifiedRefs(record.ref ?? "").includes(claims.ref))
    ) {
      throw new RunnerRefusal(403, refusal("runner.other_workflow"));
    }
    // The token's binding to this run is checked before the run's state, so a token of another run
    // learns nothing about this one (not even that it has ended).
    const matched = record.workflowRunId === null ? await matchTitle(record, claims) : null;
    if (record.workflowRunId !== null && record.workflowRunId.toString() !== claims.runId) {
      throw new RunnerRefusal(403, refusal("runner.other_run"));
    }
    if (
      record.workflowRunAttempt !== null &&
      claims.runAttempt !== null &&
      claims.runAttempt !== String(record.workflowRunAttempt)
    ) {
      throw new RunnerRefusal(403, refusal("runner.other_attempt"));
    }
    if (isTerminal(record.status)) {
      throw new RunnerRefusal(409, refusal("runner.run_ended", { status: record.status }));
    }
    if (record.status === "queued") throw new RunnerRefusal(409, refusal("runner.not_dispatched"));
    if (matched) {
      await db.run.updateMany({
        where: { id: record.id, workflowRunId: null },
        data: { workflowRunId: BigInt(claims.runId), workflowRunAttempt: matched.attempt, htmlUrl: matched.htmlUrl },
      });
    }
  }

  /**
   * A dispatch GitHub answered without the run id: the token's run must carry this run's title. Only
   * reads; `checkClaims` stores the match once the run's state allows the call.
   */
  async function matchTitle(record: RunRecord, claims: RunnerClaims): Promise<{ attempt: number; htmlUrl: string }> {
    const octokit = await services.octokitFor(record.task.workspace.installationId);
    const { owner, repo } = repoOf(record);
    const { data } = await octokit.rest.actions.getWorkflowRun({ owner, repo, run_id: Number(claims.runId) });
    if (
      runIdFromTitle(data.display_title) !== record.id ||
      dispatchMismatch(record, {
        path: data.path,
        event: data.event,
        headBranch: data.head_branch,
        createdAt: data.created_at,
      }) !== null
    ) {
      throw new RunnerRefusal(403, refusal("runner.other_run"));
    }
    return { attempt: data.run_attempt ?? 1, htmlUrl: data.html_url };
  }

  async function recordRefusal(record: RunRecord, error: RunnerRefusal): Promise<void> {
    const recorded = await db.runEvent.count({ where: { runId: record.id, kind: "refused" } });
    if (recorded >= MAX_RECORDED_REFUSALS) return;
    const { code, summary: text } = error.refused;
    await db.runEvent.create({ data: { runId: record.id, kind: "refused", message: text, data: { code } } });
    await auditRun(db, record, "runner.refused", { code, status: error.status });
  }

  function refuse(reply: FastifyReply, request: FastifyRequest, error: unknown) {
    if (!(error instanceof RunnerRefusal)) throw error;
    const { code, summary: text } = error.refused;
    request.log.warn({ status: error.status, code, url: request.url }, `runner call refused: ${text}`);
    return reply.code(error.status).send(runnerApiError(error.refused));
  }

  await app.register(
    async (scope) => {
      scope.post("/runs/:runId/start", async (request, reply) => {
        try {
          const { record, claims } = await authorise(request);
          return reply.send(await start(record, claims));
        } catch (error) {
          return refuse(reply, request, error);
        }
      });

      scope.post("/runs/:runId/events", { bodyLimit: 256 * 1024 }, async (request, reply) => {
        try {
          const { record } = await authorise(request);
          const parsed = runnerEventsSchema.safeParse(request.body);
          if (!parsed.success) return reply.code(400).send(runnerApiError(refusal("runner.bad_events")));
          const stored = await db.runEvent.count({ where: { runId: record.id } });
          if (stored >= RUNNER_LIMITS.storedEventsPerRun) return reply.send({ accepted: false, more: false });
          const lines = parsed.data.events.map((event) => event.message.slice(0, RUNNER_LIMITS.messageChars));
          const joined = lines.join("\n").slice(-RUNNER_LIMITS.storedCharsPerRequest);
          const redacted = await redactSecrets(joined);
          const kind = parsed.data.events.every((event) => event.kind === "progress") ? "progress" : "output";
          await db.runEvent.create({
            data: {
              runId: record.id,
              kind,
              message: redacted.text,
              data: { lines: lines.length, redacted: redacted.findings.reduce((sum, f) => sum + f.count, 0) },
            },
          });
          return reply.send({ accepted: true, more: stored + 1 < RUNNER_LIMITS.storedEventsPerRun });
        } catch (error) {
          return refuse(reply, request, error);
        }
      });

      scope.post("/runs/:runId/result", { bodyLimit: 256 * 1024 }, async (request, reply) => {
        try {
          const { record } = await authorise(request);
          const parsed = runnerResultSchema.safeParse(request.body);
          if (!parsed.success) return reply.code(400).send(runnerApiError(refusal("runner.bad_result")));
          const ended = await recordRunnerResult(services, record, parsed.data);
          if (!ended) throw new RunnerRefusal(409, refusal("runner.run_ended", { status: null }));
          return reply.code(202).send({ status: "recorded" });
        } catch (error) {
          return refuse(reply, request, error);
        }
      });
    },
    { prefix: RUNNER_API_PREFIX },
  );

  /** What the runner needs; the plan is handed out only while it is still approved with the run's hash. */
  async function start(record: RunRecord, claims: RunnerClaims): Promise<RunnerJob> {
    const octokit = await services.octokitFor(record.task.workspace.installationId);
    const { owner, repo } = repoOf(record);
    const loaded = await loadRepoSettings(octokit, owner, repo);
    const settings = loaded.ok ? loaded.settings : null;
    const lapsed = loaded.ok
      ? await approvalProblem(
          db,
          record.planVersion,
          { required: loaded.settings.approvals.required, prefix: loaded.settings.commands.prefix },
          record.contentHash,
        )
      : refusal("settings.invalid", { file: REPO_SETTINGS_FILE, problems: loaded.problems });
    if (lapsed) {
      await recordRunnerResult(services, record, {
        outcome: "failed",
        reason: "setup_failed",
        message: `Amistio refused to hand out the plan: ${lapsed.summary}`,
        durationMs: 0,
      });
      throw new RunnerRefusal(409, lapsed);
    }
    const runner = (settings ?? DEFAULT_REPO_SETTINGS).runner;
    const branch = runBranch(record);
    const baseBranch = await baseBranchFor(octokit, record);
    const now = services.now?.() ?? new Date();
    const { count } = await db.run.updateMany({
      where: { id: record.id, status: { in: ["dispatching", "dispatched", "waiting"] } },
      data: { status: "in_progress", startedAt: record.startedAt ?? now },
    });
    await db.run.update({ where: { id: record.id }, data: { branch } });
    if (count === 1 || record.startedAt === null) {
      await db.task.updateMany({
        where: { id: record.taskId, state: { in: ["approved", "running"] } },
        data: { state: "running" },
      });
      await auditRun(db, record, "runner.started", {
        runnerEnvironment: claims.runnerEnvironment,
        workflowRunId: claims.runId,
      });
    }
    await db.runEvent.create({
      data: {
        runId: record.id,
        kind: "started",
        message: `runner started (${claims.runnerEnvironment ?? "unknown"} runner)`,
      },
    });
    return {
      runId: record.id,
      repository: record.task.repository.fullName,
      issueNumber: record.task.number,
      isPullRequest: record.task.isPullRequest,
      title: record.task.title,
      version: record.planVersion.version,
      contentHash: record.contentHash,
      plan: record.planVersion.content as unknown as Plan,
      baseBranch,
      branch,
      agent: { kind: runner.agent, command: runner.command ?? null },
      timeoutMinutes: runner.timeoutMinutes,
      limits: RUNNER_LIMITS,
    };
  }
}
