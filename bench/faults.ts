// npm run faults — "nothing accepted is lost", measured with real processes on loopback:
//   1. a web process killed (SIGKILL) in the middle of a load, then GitHub's redelivery of every
//      delivery it did not acknowledge: how many deliveries never end `done`;
//   2. Redis without persistence killed and restarted after deliveries were acknowledged: how many
//      of them end `done` (refilled from the database by the sweeper);
//   3. Redis unreachable when the process starts, then back: how many acknowledged deliveries end `done`;
//   4. every PostgreSQL connection of the database ended mid-load (as a restart does; the shared server
//      is never restarted), the refused deliveries redelivered: how many never end `done`;
//   5. 4 processes starting together on an empty PostgreSQL database, 5 times: how many crash;
//   6. a GitHub secondary rate limit of 120 s (FAULTS_RATE_LIMIT_S) on every write, from the first one,
//      while N `/amistio plan` commands are handled (production Octokit: write pacing in Redis, limits as
//      waits): plan comments per issue once it lifts, plans lost, the tries and waits the jobs used;
//   7. exactly-once under duplicates: 2 web and 2 worker processes, N issues each getting `/amistio plan`
//      then `/amistio approve` by another user, 10% of deliveries sent twice (same X-GitHub-Delivery), to
//      the other web process, half at the same moment and half after the first was answered: plan
//      comments per issue and workflow dispatches per approved plan.
// Scenarios 6 and 7 talk to a fake GitHub (test/helpers/fake-github.ts) on loopback, through GHE_HOST.
// Needs the PostgreSQL server of the tests (TEST_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/test;
// a database of its own is created and dropped) and redis-server on the PATH (a server of its own, on a
// free port, without persistence; the shared Redis is never touched). Bounded: about a minute, plus the
// rate limit's duration and the plans after it (about 4 to 5 minutes in all with the default 120 s).
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { sign } from "@octokit/webhooks-methods";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import pg from "pg";
import { waitsFromProgress } from "../src/queue/retry-later.ts";
import { commentPayload, type FakeGithubApi, serveFakeGithub } from "../test/helpers/fake-github.ts";
import { webhookExample } from "../test/helpers/webhook-examples.ts";
import { freePort, type OwnRedis, startOwnRedis } from "../test/integration/queue/own-redis.ts";

const ADMIN_URL = process.env.TEST_POSTGRES_URL ?? "postgresql://postgres@127.0.0.1:5432/test";
const SECRET = "fault-secret";
const LOAD = Number(process.env.FAULTS_DELIVERIES ?? 1_500);
const CONCURRENCY = Number(process.env.FAULTS_CONCURRENCY ?? 32);
const SETTLE_TIMEOUT_MS = 60_000;
const SERVER = fileURLToPath(new URL("./faults/fault-server.ts", import.meta.url));
const MIGRATOR = fileURLToPath(new URL("./faults/fault-migrate.ts", import.meta.url));
const RATE_LIMIT_S = Number(process.env.FAULTS_RATE_LIMIT_S ?? 120);
const RATE_LIMIT_ISSUES = Number(process.env.FAULTS_RATE_LIMIT_ISSUES ?? 10);
const EXACTLY_ONCE_ISSUES = Number(process.env.FAULTS_EXACTLY_ONCE_ISSUES ?? 50);

const examples = createRequire(import.meta.url)("@octokit/webhooks-examples") as {
  name: string;
  examples: { action?: string; installation?: unknown }[];
}[];
// No installation: the worker then asks GitHub for no token, and handling needs no network.
const { installation: _, ...template } = examples
  .find((e) => e.name === "issue_comment")!
  .examples.find((e) => e.action === "created")!;

interface Delivery {
  id: string;
  body: string;
  signature: string;
}

async function makeDeliveries(count: number): Promise<Delivery[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, index) => {
      const body = JSON.stringify({
        ...template,
        comment: { ...(template as { comment: object }).comment, body: `note ${index}` },
      });
      return { id: randomUUID(), body, signature: await sign(SECRET, body) };
    }),
  );
}

/** Resolves with the HTTP status, or 0 when the connection failed (the process was gone). */
async function send(url: string, delivery: Delivery): Promise<number> {
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-github-event": "issue_comment",
        "x-github-delivery": delivery.id,
        "x-hub-signature-256": delivery.signature,
      },
      body: delivery.body,
      signal: AbortSignal.timeout(10_000),
    });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 0;
  }
}

/** Sends every delivery, `CONCURRENCY` at a time; `onAnswer` sees each outcome as it comes. */
async function sendAll(
  url: string,
  deliveries: Delivery[],
  onAnswer?: (done: number) => void,
): Promise<Map<string, number>> {
  const statuses = new Map<string, number>();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < deliveries.length) {
        const delivery = deliveries[next++]!;
        statuses.set(delivery.id, await send(url, delivery));
        onAnswer?.(statuses.size);
      }
    }),
  );
  return statuses;
}

const acknowledged = (status: number | undefined) => status !== undefined && status >= 200 && status < 300;

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function freshDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `amistio_faults_${randomBytes(5).toString("hex")}`;
  await admin(`CREATE DATABASE ${name}`);
  return {
    url: ADMIN_URL.replace(/\/[^/]*$/, `/${name}`),
    drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

async function countDone(url: string, ids: string[]): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query(
      `SELECT count(*)::int AS n FROM "WebhookDelivery" WHERE "status" = 'done' AND "id" = ANY($1)`,
      [ids],
    );
    return rows[0].n as number;
  } finally {
    await client.end();
  }
}

async function waitUntilDone(url: string, ids: string[]): Promise<{ done: number; ms: number }> {
  const started = Date.now();
  let done = 0;
  while (Date.now() - started < SETTLE_TIMEOUT_MS) {
    done = await countDone(url, ids);
    if (done === ids.length) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return { done, ms: Date.now() - started };
}

interface Server {
  child: ChildProcess;
  url: string;
  /** Lines of its log (warn and above) that contain `text`. */
  count(text: string): number;
  lines(text: string): string[];
  kill(): Promise<void>;
}

const children = new Set<ChildProcess>();

async function startServer(env: Record<string, string>): Promise<Server> {
  const child = spawn(process.execPath, ["--import", "tsx", SERVER], {
    env: { ...process.env, WEBHOOK_SECRET: SECRET, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  let output = "";
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 30_000);
    child.stdout!.on("data", (chunk: Buffer) => {
      output += chunk;
      const ready = /READY (\S+)/.exec(output);
      if (ready) {
        clearTimeout(timer);
        resolve(ready[1]!);
      }
    });
    child.stderr!.on("data", (chunk: Buffer) => {
      output += chunk;
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code}) before it was ready:\n${output}`));
    });
  });
  return {
    child,
    url,
    count: (text) => output.split("\n").filter((line) => line.includes(text)).length,
    lines: (text) => output.split("\n").filter((line) => line.includes(text)),
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await exited;
      children.delete(child);
    },
  };
}

async function webKilledDuringLoad(redis: OwnRedis): Promise<Record<string, number>> {
  const database = await freshDatabase();
  try {
    const common = { DATABASE_URL: database.url, REDIS_URL: redis.url };
    const port = String(await freePort());
    const worker = await startServer({ ...common, AMISTIO_ROLE: "worker" });
    const firstWeb = await startServer({ ...common, AMISTIO_ROLE: "web", PORT: port });
    let web = firstWeb;
    const deliveries = await makeDeliveries(LOAD);
    const hook = `${web.url}/api/github/webhooks`;
    let killed: Promise<void> | undefined;
    // SIGKILL once a third of the load has been answered: requests are in flight at every stage.
    const first = await sendAll(hook, deliveries, (answered) => {
      if (answered >= LOAD / 3 && !killed) killed = web.kill();
    });
    await killed;
    const unacknowledged = deliveries.filter((delivery) => !acknowledged(first.get(delivery.id)));
    // GitHub's redelivery of what was not acknowledged, to a new web process (same port).
    web = await startServer({ ...common, AMISTIO_ROLE: "web", PORT: port });
    const again = await sendAll(hook, unacknowledged);
    const stillRefused = unacknowledged.filter((delivery) => !acknowledged(again.get(delivery.id))).length;
    const { done, ms } = await waitUntilDone(
      database.url,
      deliveries.map((delivery) => delivery.id),
    );
    await web.kill();
    await worker.kill();
    const swept = [firstWeb, web, worker].reduce((sum, server) => sum + server.count("stored without a job"), 0);
    return {
      deliveries: LOAD,
      acknowledgedBeforeKill: LOAD - unacknowledged.length,
      redelivered: unacknowledged.length,
      refusedOnRedelivery: stillRefused,
      queuedAgainBySweeper: swept,
      done,
      lost: LOAD - done,
      settledMs: ms,
    };
  } finally {
    await database.drop();
  }
}

async function redisLostAfterAcknowledgement(redis: OwnRedis): Promise<Record<string, number>> {
  const database = await freshDatabase();
  try {
    const common = { DATABASE_URL: database.url, REDIS_URL: redis.url };
    // No worker yet: the jobs wait in Redis when it dies.
    const web = await startServer({ ...common, AMISTIO_ROLE: "web" });
    const deliveries = await makeDeliveries(Math.round(LOAD / 3));
    const answers = await sendAll(`${web.url}/api/github/webhooks`, deliveries);
    const acked = deliveries.filter((delivery) => acknowledged(answers.get(delivery.id))).map((d) => d.id);
    await redis.kill();
    await redis.restart();
    const worker = await startServer({ ...common, AMISTIO_ROLE: "worker" });
    const { done, ms } = await waitUntilDone(database.url, acked);
    await web.kill();
    await worker.kill();
    const swept = [web, worker].reduce((sum, server) => sum + server.count("stored without a job"), 0);
    return {
      acknowledged: acked.length,
      queuedAgainBySweeper: swept,
      done,
      lost: acked.length - done,
      recoveredMs: ms,
    };
  } finally {
    await database.drop();
  }
}

/** Ends every connection to the database, as a PostgreSQL restart does (the shared server itself is never restarted). */
async function dropConnections(url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  await admin(
    `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${name}' AND pid <> pg_backend_pid()`,
  );
}

async function postgresConnectionsLostUnderLoad(redis: OwnRedis): Promise<Record<string, number>> {
  const database = await freshDatabase();
  try {
    const common = { DATABASE_URL: database.url, REDIS_URL: redis.url };
    const worker = await startServer({ ...common, AMISTIO_ROLE: "worker" });
    const web = await startServer({ ...common, AMISTIO_ROLE: "web" });
    const deliveries = await makeDeliveries(Math.round(LOAD / 2));
    const hook = `${web.url}/api/github/webhooks`;
    let dropped: Promise<void> | undefined;
    const first = await sendAll(hook, deliveries, (answered) => {
      if (answered >= deliveries.length / 3 && !dropped) dropped = dropConnections(database.url);
    });
    await dropped;
    // What was refused (503) is redelivered, as an operator would from GitHub.
    const refused = deliveries.filter((delivery) => !acknowledged(first.get(delivery.id)));
    const again = await sendAll(hook, refused);
    const stillRefused = refused.filter((delivery) => !acknowledged(again.get(delivery.id))).length;
    const { done, ms } = await waitUntilDone(
      database.url,
      deliveries.map((delivery) => delivery.id),
    );
    const alive = [web, worker].filter((server) => server.child.exitCode === null && server.child.signalCode === null);
    await web.kill();
    await worker.kill();
    return {
      deliveries: deliveries.length,
      refusedDuringDrop: refused.length,
      refusedOnRedelivery: stillRefused,
      processesStillUp: alive.length,
      done,
      lost: deliveries.length - done,
      settledMs: ms,
    };
  } finally {
    await database.drop();
  }
}

async function redisUnreachableAtStart(redis: OwnRedis): Promise<Record<string, number>> {
  const database = await freshDatabase();
  try {
    await redis.kill();
    // One process, web and worker, started while Redis is down: it must start, and store what it accepts.
    const server = await startServer({ DATABASE_URL: database.url, REDIS_URL: redis.url, AMISTIO_ROLE: "all" });
    const deliveries = await makeDeliveries(64);
    const answers = await sendAll(`${server.url}/api/github/webhooks`, deliveries);
    const acked = deliveries.filter((delivery) => acknowledged(answers.get(delivery.id))).map((d) => d.id);
    await redis.restart();
    const { done, ms } = await waitUntilDone(database.url, acked);
    await server.kill();
    return { sent: deliveries.length, acknowledged: acked.length, done, lost: acked.length - done, recoveredMs: ms };
  } finally {
    await database.drop();
  }
}

async function concurrentFirstStarts(): Promise<Record<string, number>> {
  let crashes = 0;
  let starts = 0;
  for (let round = 0; round < 5; round++) {
    const database = await freshDatabase();
    try {
      const codes = await Promise.all(
        Array.from({ length: 4 }, () => {
          const child = spawn(process.execPath, ["--import", "tsx", MIGRATOR], {
            env: { ...process.env, DATABASE_URL: database.url },
            stdio: ["ignore", "ignore", "inherit"],
          });
          children.add(child);
          return new Promise<number>((resolve) => child.once("exit", (code) => resolve(code ?? 1)));
        }),
      );
      starts += codes.length;
      crashes += codes.filter((code) => code !== 0).length;
    } finally {
      await database.drop();
    }
  }
  return { starts, crashes };
}

// ---- Scenarios 6 and 7: commands against a fake GitHub ------------------------------------------------

const PLAN_MARKER = "<!-- amistio:plan "; // PLAN_COMMENT_MARKER in src/planning/gather-context.ts
const commentExample = webhookExample("issue_comment", "created");

async function commandDelivery(
  github: Pick<FakeGithubApi, "owner" | "repo">,
  issue: number,
  author: string,
  text: string,
): Promise<Delivery> {
  const body = JSON.stringify(commentPayload(commentExample, github, { issue, author, body: text }));
  return { id: randomUUID(), body, signature: await sign(SECRET, body) };
}

/** Plan comments the fake GitHub holds, per issue. */
function planCommentsByIssue(github: FakeGithubApi): Map<number, number> {
  const byIssue = new Map<number, number>();
  for (const comment of github.state.comments) {
    if (comment.body.includes(PLAN_MARKER)) byIssue.set(comment.issue, (byIssue.get(comment.issue) ?? 0) + 1);
  }
  return byIssue;
}

async function query<T>(url: string, sql: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, values)).rows as T[];
  } finally {
    await client.end();
  }
}

/** Polls `ready` every 250 ms until it holds or `timeoutMs` passed; resolves with whether it held. */
async function waitFor(ready: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await ready()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** The tries and rate-limit waits of every job BullMQ holds, by state (the queue of createBullmqQueue's defaults). */
async function bullmqTries(url: string): Promise<Record<string, number>> {
  const connection = new Redis(url, { maxRetriesPerRequest: null });
  const queue = new Queue("default", { connection, prefix: "amistio" });
  try {
    const jobs = (await queue.getJobs(["completed", "failed", "delayed", "waiting", "active", "prioritized"])).filter(
      (job) => job !== undefined && job !== null,
    );
    const failed = await queue.getJobs(["failed"]);
    const unfinished = await queue.getJobs(["delayed", "waiting", "active", "prioritized"]);
    const waits = jobs.map((job) => waitsFromProgress(job.progress));
    return {
      jobs: jobs.length,
      triesUsed: jobs.reduce((sum, job) => sum + job.attemptsMade, 0),
      mostTriesOneJob: Math.max(0, ...jobs.map((job) => job.attemptsMade)),
      jobsFailed: failed.length,
      jobsUnfinished: unfinished.length,
      waitsWithoutATry: waits.reduce((sum, wait) => sum + wait.count, 0),
      mostWaitsOneJob: Math.max(0, ...waits.map((wait) => wait.count)),
    };
  } finally {
    await queue.close();
    connection.disconnect();
  }
}

/** "job failed; will retry (webhook.deliver, try 1): <the error's last line>", from a worker's JSON log line. */
function failedTry(line: string): string {
  try {
    const entry = JSON.parse(line.slice(line.indexOf("{"))) as {
      msg?: string;
      job?: string;
      attempt?: number;
      err?: { message?: string };
    };
    const reason = (entry.err?.message ?? "").trim().split("\n").at(-1) ?? "";
    return `${entry.msg} (${entry.job}, try ${entry.attempt}): ${reason.slice(0, 200)}`;
  } catch {
    return line.slice(0, 300);
  }
}

const SECONDARY_LIMIT_BODY = {
  message:
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID 0000:0000:0000000:0000000:00000000.",
  documentation_url:
    "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits",
};

async function secondaryRateLimit(redis: OwnRedis): Promise<Record<string, number>> {
  // A Redis of this scenario alone, so the job counts below are its own.
  await redis.kill();
  await redis.restart();
  const database = await freshDatabase();
  const github = await serveFakeGithub({ roles: { alice: "write" } });
  // GitHub's secondary limit as it behaves: from the first content-creating request, every write is
  // refused with 403 and `retry-after` counting down the seconds left; reads still answer.
  let limitedUntil = 0;
  let refusedWrites = 0;
  const planPostedAt: number[] = [];
  github.state.refuse = (method) => {
    if (method === "GET") return undefined;
    const now = Date.now();
    if (limitedUntil === 0) limitedUntil = now + RATE_LIMIT_S * 1000;
    if (now >= limitedUntil) return undefined;
    refusedWrites++;
    return [403, SECONDARY_LIMIT_BODY, { "retry-after": String(Math.max(1, Math.ceil((limitedUntil - now) / 1000))) }];
  };
  github.state.onComment = (comment) => {
    if (comment.body.includes(PLAN_MARKER)) planPostedAt.push(Date.now());
  };
  const servers: Server[] = [];
  try {
    // 2 workers sharing one write pacer and one record of the limit, in Redis.
    const common = {
      DATABASE_URL: database.url,
      REDIS_URL: redis.url,
      GHE_HOST: github.host,
      FAULT_OCTOKIT: "production",
    };
    servers.push(await startServer({ ...common, AMISTIO_ROLE: "worker" }));
    servers.push(await startServer({ ...common, AMISTIO_ROLE: "worker" }));
    const web = await startServer({ ...common, AMISTIO_ROLE: "web" });
    servers.push(web);
    const issues = Array.from({ length: RATE_LIMIT_ISSUES }, (_, index) => index + 1);
    const deliveries = await Promise.all(
      issues.map((issue) => commandDelivery(github, issue, "alice", "/amistio plan")),
    );
    const answers = await sendAll(`${web.url}/api/github/webhooks`, deliveries);
    const acked = deliveries.filter((delivery) => acknowledged(answers.get(delivery.id))).map((d) => d.id);
    // Until every plan is posted and every delivery done, or the limit plus two minutes.
    await waitFor(
      async () =>
        planCommentsByIssue(github).size === issues.length && (await countDone(database.url, acked)) === acked.length,
      RATE_LIMIT_S * 1000 + 120_000,
    );
    // A little longer: a second plan comment from a job run twice would show up now.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const plans = planCommentsByIssue(github);
    const tries = await bullmqTries(redis.url);
    const done = await countDone(database.url, acked);
    const afterLift = planPostedAt.map((at) => at - limitedUntil);
    // A try that failed (rather than waited) under the limit is a finding: say which and why.
    for (const server of servers)
      for (const line of server.lines("job failed")) console.error(`  [rate limit] ${failedTry(line)}`);
    return {
      plansAsked: issues.length,
      acknowledged: acked.length,
      limitS: RATE_LIMIT_S,
      writesRefused: refusedWrites,
      issuesWithOnePlan: issues.filter((issue) => plans.get(issue) === 1).length,
      plansPostedTwice: issues.filter((issue) => (plans.get(issue) ?? 0) > 1).length,
      postedDuringLimit: afterLift.filter((ms) => ms < 0).length,
      firstPlanAfterLiftMs: afterLift.length > 0 ? Math.min(...afterLift) : -1,
      lastPlanAfterLiftMs: afterLift.length > 0 ? Math.max(...afterLift) : -1,
      lost: issues.filter((issue) => !plans.has(issue)).length,
      deliveriesDone: done,
      deliveriesNotDone: acked.length - done,
      ...tries,
      triesFailedInLog: servers.reduce((sum, server) => sum + server.count("job failed"), 0),
    };
  } finally {
    for (const server of servers) await server.kill();
    await github.close();
    await database.drop();
  }
}

interface Send {
  delivery: Delivery;
  url: string;
}

/** Sends each `Send`, `CONCURRENCY` at a time, in order; resolves with the status of each, in order. */
async function sendEach(sends: Send[]): Promise<number[]> {
  const statuses: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < sends.length) {
        const index = next++;
        statuses[index] = await send(sends[index]!.url, sends[index]!.delivery);
      }
    }),
  );
  return statuses;
}

/**
 * One command per issue, spread over the web processes; every tenth delivery is sent twice, to the
 * other web process: the even ones at the same moment as the first, the odd ones once every first
 * copy was answered (GitHub's redelivery, or its retry of a slow answer).
 */
async function sendWithDuplicates(
  deliveries: Delivery[],
  hooks: string[],
): Promise<{
  sent: number;
  duplicates: number;
  together: number;
  later: number;
  refused: number;
  answers: Map<number, number>;
}> {
  const first: Send[] = [];
  const later: Send[] = [];
  let together = 0;
  deliveries.forEach((delivery, index) => {
    first.push({ delivery, url: hooks[index % hooks.length]! });
    if (index % 10 !== 9) return;
    const copy = { delivery, url: hooks[(index + 1) % hooks.length]! };
    if (((index - 9) / 10) % 2 === 0) {
      first.push(copy);
      together++;
    } else {
      later.push(copy);
    }
  });
  const statuses = [...(await sendEach(first)), ...(await sendEach(later))];
  const answers = new Map<number, number>();
  for (const status of statuses) answers.set(status, (answers.get(status) ?? 0) + 1);
  const byId = new Map<string, boolean>();
  [...first, ...later].forEach((entry, index) => {
    byId.set(entry.delivery.id, (byId.get(entry.delivery.id) ?? false) || acknowledged(statuses[index]));
  });
  return {
    sent: statuses.length,
    duplicates: first.length + later.length - deliveries.length,
    together,
    later: later.length,
    refused: [...byId.values()].filter((ok) => !ok).length,
    answers,
  };
}

async function exactlyOnceUnderDuplicates(redis: OwnRedis): Promise<Record<string, number>> {
  await redis.kill();
  await redis.restart();
  const database = await freshDatabase();
  const dispatchedRuns: string[] = [];
  const github = await serveFakeGithub({
    roles: { alice: "write", bob: "write" },
    onDispatch: (inputs) => dispatchedRuns.push(inputs.amistio_run_id ?? ""),
  });
  const servers: Server[] = [];
  try {
    // The test Octokit (no retries, no write pacing): GitHub's 1 write a second per installation would
    // stretch 50 issues' ~400 writes over minutes; pacing and limits are scenario 6's subject.
    const common = {
      DATABASE_URL: database.url,
      REDIS_URL: redis.url,
      GHE_HOST: github.host,
      AMISTIO_PUBLIC_URL: "https://amistio.example.test",
    };
    servers.push(await startServer({ ...common, AMISTIO_ROLE: "worker" }));
    servers.push(await startServer({ ...common, AMISTIO_ROLE: "worker" }));
    const webs = [
      await startServer({ ...common, AMISTIO_ROLE: "web" }),
      await startServer({ ...common, AMISTIO_ROLE: "web" }),
    ];
    servers.push(...webs);
    const hooks = webs.map((web) => `${web.url}/api/github/webhooks`);
    const issues = Array.from({ length: EXACTLY_ONCE_ISSUES }, (_, index) => index + 1);
    const budget = 90_000;

    const plans = await Promise.all(issues.map((issue) => commandDelivery(github, issue, "alice", "/amistio plan")));
    const planSent = await sendWithDuplicates(plans, hooks);
    const planIds = plans.map((delivery) => delivery.id);
    await waitFor(
      async () =>
        planCommentsByIssue(github).size === issues.length &&
        (await countDone(database.url, planIds)) === planIds.length,
      budget,
    );

    const approvals = await Promise.all(
      issues.map((issue) => commandDelivery(github, issue, "bob", "/amistio approve")),
    );
    const approveSent = await sendWithDuplicates(approvals, hooks);
    const approveIds = approvals.map((delivery) => delivery.id);
    await waitFor(
      async () =>
        new Set(dispatchedRuns).size >= issues.length &&
        (await countDone(database.url, approveIds)) === approveIds.length,
      budget,
    );
    // A little longer: a second comment or dispatch from a job run twice would show up now.
    await new Promise((resolve) => setTimeout(resolve, 3_000));

    const planComments = planCommentsByIssue(github);
    const approved = await query<{ id: string }>(
      database.url,
      `SELECT "id" FROM "PlanVersion" WHERE "status" = 'approved'`,
    );
    const runs = await query<{ id: string; planVersionId: string }>(
      database.url,
      `SELECT "id", "planVersionId" FROM "Run"`,
    );
    const versions = await query<{ n: number }>(database.url, `SELECT count(*)::int AS n FROM "PlanVersion"`);
    const planOfRun = new Map(runs.map((run) => [run.id, run.planVersionId]));
    const dispatchesByPlan = new Map<string, number>();
    for (const runId of dispatchedRuns) {
      const plan = planOfRun.get(runId) ?? `unknown run ${runId}`;
      dispatchesByPlan.set(plan, (dispatchesByPlan.get(plan) ?? 0) + 1);
    }
    const runsByPlan = new Map<string, number>();
    for (const run of runs) runsByPlan.set(run.planVersionId, (runsByPlan.get(run.planVersionId) ?? 0) + 1);
    for (const server of servers)
      for (const line of server.lines("job failed")) console.error(`  [exactly-once] ${failedTry(line)}`);
    const planDone = await countDone(database.url, planIds);
    const approveDone = await countDone(database.url, approveIds);
    return {
      issues: issues.length,
      deliveriesSent: planSent.sent + approveSent.sent,
      duplicatesSent: planSent.duplicates + approveSent.duplicates,
      duplicatesAtOnce: planSent.together + approveSent.together,
      duplicatesAfterAnswer: planSent.later + approveSent.later,
      answered202: (planSent.answers.get(202) ?? 0) + (approveSent.answers.get(202) ?? 0),
      answered200: (planSent.answers.get(200) ?? 0) + (approveSent.answers.get(200) ?? 0),
      refused: planSent.refused + approveSent.refused,
      planVersions: versions[0]?.n ?? 0,
      issuesWithOnePlanComment: issues.filter((issue) => planComments.get(issue) === 1).length,
      plansPostedTwice: issues.filter((issue) => (planComments.get(issue) ?? 0) > 1).length,
      lost: issues.filter((issue) => !planComments.has(issue)).length,
      approvedPlans: approved.length,
      runs: runs.length,
      plansWithTwoRuns: [...runsByPlan.values()].filter((n) => n > 1).length,
      dispatches: dispatchedRuns.length,
      approvedPlansDispatchedOnce: approved.filter((plan) => dispatchesByPlan.get(plan.id) === 1).length,
      dispatchedTwice: [...dispatchesByPlan.values()].filter((n) => n > 1).length,
      approvedNotDispatched: approved.filter((plan) => !dispatchesByPlan.has(plan.id)).length,
      deliveriesNotDone: planIds.length + approveIds.length - planDone - approveDone,
      triesFailedInLog: servers.reduce((sum, server) => sum + server.count("job failed"), 0),
    };
  } finally {
    for (const server of servers) await server.kill();
    await github.close();
    await database.drop();
  }
}

/** A scenario that throws (a process that would not start, say) is reported, and counts as a failure. */
async function measure(run: () => Promise<Record<string, number>>): Promise<Record<string, number | string>> {
  try {
    return await run();
  } catch (error) {
    console.error(error);
    return { error: String(error).split("\n")[0]!.slice(0, 300) };
  }
}

const redis = await startOwnRedis();
try {
  const scenarios: [string, () => Promise<Record<string, number>>][] = [
    ["web process SIGKILLed during load, unacknowledged redelivered", () => webKilledDuringLoad(redis)],
    ["Redis (no persistence) killed and restarted after acknowledgement", () => redisLostAfterAcknowledgement(redis)],
    [
      "Redis unreachable when the process starts, then back",
      async () => {
        try {
          return await redisUnreachableAtStart(redis);
        } finally {
          await redis.restart().catch(() => undefined);
        }
      },
    ],
    ["PostgreSQL connections all dropped mid-load (as by a restart)", () => postgresConnectionsLostUnderLoad(redis)],
    ["4 concurrent first starts on an empty PostgreSQL database, x5", concurrentFirstStarts],
    [
      `GitHub secondary rate limit of ${RATE_LIMIT_S} s on every write, ${RATE_LIMIT_ISSUES} plan commands`,
      () => secondaryRateLimit(redis),
    ],
    [
      `exactly-once: 2 web + 2 workers, ${EXACTLY_ONCE_ISSUES} issues planned then approved, 10% duplicate deliveries`,
      () => exactlyOnceUnderDuplicates(redis),
    ],
  ];
  // FAULTS_ONLY=6,7 runs those scenarios alone (numbered as in the list at the top of this file).
  const only = process.env.FAULTS_ONLY?.split(",").map(Number);
  const results: Record<string, Record<string, number | string>> = {};
  for (const [index, [name, run]] of scenarios.entries()) {
    if (only && !only.includes(index + 1)) continue;
    const started = Date.now();
    results[name] = await measure(run);
    console.error(`(${name}: ${((Date.now() - started) / 1000).toFixed(0)} s)`);
  }
  let failures = 0;
  for (const [name, figures] of Object.entries(results)) {
    console.log(`${name}\n  ${JSON.stringify(figures)}`);
    const bad = ["lost", "crashes", "plansPostedTwice", "dispatchedTwice", "plansWithTwoRuns", "approvedNotDispatched"];
    if ("error" in figures || bad.some((key) => Number(figures[key] ?? 0) > 0)) failures++;
  }
  process.exitCode = failures === 0 ? 0 : 1;
} finally {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  await redis.stop();
}
