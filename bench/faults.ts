// npm run faults — "nothing accepted is lost", measured with real processes on loopback:
//   1. a web process killed (SIGKILL) in the middle of a load, then GitHub's redelivery of every
//      delivery it did not acknowledge: how many deliveries never end `done`;
//   2. Redis without persistence killed and restarted after deliveries were acknowledged: how many
//      of them end `done` (refilled from the database by the sweeper);
//   3. Redis unreachable when the process starts, then back: how many acknowledged deliveries end `done`;
//   4. every PostgreSQL connection of the database ended mid-load (as a restart does; the shared server
//      is never restarted), the refused deliveries redelivered: how many never end `done`;
//   5. 4 processes starting together on an empty PostgreSQL database, 5 times: how many crash.
// Needs the PostgreSQL server of the tests (TEST_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/test;
// a database of its own is created and dropped) and redis-server on the PATH (a server of its own, on a
// free port, without persistence; the shared Redis is never touched). Bounded: about a minute or two.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { sign } from "@octokit/webhooks-methods";
import pg from "pg";
import { freePort, type OwnRedis, startOwnRedis } from "../test/integration/queue/own-redis.ts";

const ADMIN_URL = process.env.TEST_POSTGRES_URL ?? "postgresql://postgres@127.0.0.1:5432/test";
const SECRET = "fault-secret";
const LOAD = Number(process.env.FAULTS_DELIVERIES ?? 1_500);
const CONCURRENCY = Number(process.env.FAULTS_CONCURRENCY ?? 32);
const SETTLE_TIMEOUT_MS = 60_000;
const SERVER = fileURLToPath(new URL("./faults/fault-server.ts", import.meta.url));
const MIGRATOR = fileURLToPath(new URL("./faults/fault-migrate.ts", import.meta.url));

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

/** A scenario that throws (a process that would not start, say) is reported, and counts as a failure. */
async function measure(run: () => Promise<Record<string, number>>): Promise<Record<string, number | string>> {
  try {
    return await run();
  } catch (error) {
    return { error: String(error).split("\n")[0]!.slice(0, 300) };
  }
}

const redis = await startOwnRedis();
try {
  const results: Record<string, Record<string, number | string>> = {
    "web process SIGKILLed during load, unacknowledged redelivered": await measure(() => webKilledDuringLoad(redis)),
    "Redis (no persistence) killed and restarted after acknowledgement": await measure(() =>
      redisLostAfterAcknowledgement(redis),
    ),
    "Redis unreachable when the process starts, then back": await measure(async () => {
      try {
        return await redisUnreachableAtStart(redis);
      } finally {
        await redis.restart().catch(() => undefined);
      }
    }),
    "PostgreSQL connections all dropped mid-load (as by a restart)": await measure(() =>
      postgresConnectionsLostUnderLoad(redis),
    ),
    "4 concurrent first starts on an empty PostgreSQL database, x5": await measure(concurrentFirstStarts),
  };
  let failures = 0;
  for (const [name, figures] of Object.entries(results)) {
    console.log(`${name}\n  ${JSON.stringify(figures)}`);
    if ("error" in figures || Number(figures.lost ?? 0) > 0 || Number(figures.crashes ?? 0) > 0) failures++;
  }
  process.exitCode = failures === 0 ? 0 : 1;
} finally {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  await redis.stop();
}
