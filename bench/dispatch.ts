import { planContentHash } from "@amistio/contract/plan-hash";
import type { Plan } from "@amistio/contract/plan-schema";
import { commentPayload, serveFakeGithub } from "../test/helpers/fake-github.ts";
import { webhookExample } from "../test/helpers/webhook-examples.ts";
import { startBenchAmistio } from "./start-bench-amistio.ts";

const TASKS = Number(process.env.BENCH_TASKS ?? 100);
const WARMUP = 10;
const TARGET_MEDIAN_MS = 100;

// GitHub answers each dispatch as github.com does (200 with the run id). Approvals go one at a time,
// so the next dispatch is the current task's; checked against the run ids after.
let onDispatch: ((runId: string) => void) | undefined;
let dispatches = 0;
const api = await serveFakeGithub({
  roles: { alice: "triage", bob: "write" },
  onDispatch: (inputs) => {
    dispatches++;
    onDispatch?.(inputs.amistio_run_id ?? "");
  },
});
const bench = await startBenchAmistio({
  githubHost: api.host,
  env: { AMISTIO_PUBLIC_URL: "https://amistio.example.test" },
});
const { amistio } = bench;
const { db } = amistio.database;

// Each task starts with a plan awaiting approval, as `/amistio plan` leaves it (its cost is bench:plan's).
const plan: Plan = {
  summary: "Cache the widget's results.",
  steps: [{ title: "Add a cache", details: "Memoise by input.", files: ["src/widget.ts"] }],
  risks: [],
  tests: ["cache hit"],
  questions: [],
};
const contentHash = planContentHash(plan);
const githubIdOf = (login: string) => BigInt(1000 + [...login].reduce((sum, c) => sum + c.charCodeAt(0), 0));
const workspace = await db.workspace.create({
  data: { installationId: 77n, accountLogin: api.owner, accountType: "Organization", accountId: 99n },
});
const repository = await db.repository.create({
  data: { workspaceId: workspace.id, githubId: 4242n, fullName: `${api.owner}/${api.repo}`, defaultBranch: "main" },
});
const alice = await db.user.create({ data: { githubId: githubIdOf("alice"), login: "alice" } });
for (let n = 1; n <= TASKS + WARMUP; n++) {
  const task = await db.task.create({
    data: {
      workspaceId: workspace.id,
      repositoryId: repository.id,
      number: n,
      title: `Issue ${n}`,
      requesterId: alice.id,
      state: "awaiting_approval",
    },
  });
  await db.planVersion.create({
    data: {
      taskId: task.id,
      version: 1,
      contentHash,
      content: plan as object,
      source: "offline",
      createdById: alice.id,
    },
  });
}

async function idle(): Promise<void> {
  for (;;) {
    const due = await db.job.count({
      where: { OR: [{ status: "running" }, { status: "queued", runAt: { lte: new Date() } }] },
    });
    if (due === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const example = webhookExample("issue_comment", "created");
const times: number[] = [];
try {
  for (let n = 1; n <= TASKS + WARMUP; n++) {
    const payload = commentPayload(example, api, { issue: n, author: "bob", body: "/amistio approve" });
    const reached = new Promise<{ at: number; runId: string }>((resolve) => {
      onDispatch = (runId) => resolve({ at: performance.now(), runId });
    });
    const started = performance.now();
    await bench.comment(payload);
    const { at, runId } = await reached;
    const run = await db.run.findUniqueOrThrow({
      where: { id: runId },
      select: { task: { select: { number: true } } },
    });
    if (run.task.number !== n) throw new Error(`dispatch for task ${run.task.number} while timing task ${n}`);
    if (n > WARMUP) times.push(at - started);
    // What follows a dispatch (tracking comment, audit) finishes before the next approval, as it
    // would between two people's approvals; the delayed queued-too-long check is left waiting.
    await idle();
  }
  const sorted = [...times].sort((a, b) => a - b);
  const pick = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
  console.log(`\n${TASKS} approvals (after ${WARMUP} warm-up), GitHub answering at once, SQLite, embedded queue\n`);
  console.log(
    `approve delivery → dispatch request: median ${pick(0.5).toFixed(1)} ms, p95 ${pick(0.95).toFixed(1)} ms, max ${sorted.at(-1)!.toFixed(1)} ms (target: median <= ${TARGET_MEDIAN_MS} ms)`,
  );
  console.log(`dispatch requests: ${dispatches} for ${TASKS + WARMUP} approvals`);
  console.log(`GitHub requests per approval: ${(api.state.requests.length / (TASKS + WARMUP)).toFixed(1)}`);
} finally {
  await bench.stop();
  await api.close();
}
