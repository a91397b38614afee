// npm run bench:webhooks — signed issue_comment deliveries over HTTP against the all-in-one Amistio
// process and a bare Probot app with a no-op handler: throughput, time to the 2xx, peak memory.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { Agent, request } from "node:http";
import { createRequire } from "node:module";
import { type AddressInfo, createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sign } from "@octokit/webhooks-methods";
import Sqlite from "better-sqlite3";

/** Saturation time per server and round; the rounds interleave the servers. */
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const RATE = 200;
const SECRET = "bench-secret";
const WEBHOOK_PATH = "/api/github/webhooks";
// The flags `npm start` uses (package.json), so the figures are those of the real process.
const NODE_FLAGS = (
  /node ((?:--\S+ )+)dist\/main\.js/.exec(
    JSON.parse(readFileSync("package.json", "utf8")).scripts.start as string,
  )?.[1] ?? ""
)
  .trim()
  .split(" ")
  .filter(Boolean);

const examples = createRequire(import.meta.url)("@octokit/webhooks-examples") as {
  name: string;
  examples: { action?: string }[];
}[];
const payload = examples.find((e) => e.name === "issue_comment")!.examples.find((e) => e.action === "created")!;
const body = JSON.stringify(payload);
const signature = await sign(SECRET, body);
const privateKey = generateKeyPairSync("rsa", {
  modulusLength: 2048,
  privateKeyEncoding: { type: "pkcs8", format: "pem" },
  publicKeyEncoding: { type: "spki", format: "pem" },
}).privateKey;

interface Started {
  child: ChildProcess;
  url: string;
}

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Starts a server as users run it (plain node on JavaScript) and waits until it answers. */
async function startServer(args: string[], env: Record<string, string>, readyPath: string): Promise<Started> {
  const port = await freePort();
  const child = spawn(process.execPath, args, {
    env: {
      ...process.env,
      ...env,
      PORT: String(port),
      PRIVATE_KEY: privateKey,
      WEBHOOK_SECRET: SECRET,
      LOG_LEVEL: "silent",
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`${args.join(" ")} exited with ${child.exitCode}`);
    const ok = await fetch(`${url}${readyPath}`, { method: readyPath === "/healthz" ? "GET" : "POST" }).then(
      () => true,
      () => false,
    );
    if (ok) return { child, url };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${args.join(" ")} did not start`);
}

/** Resident memory now and at its peak, from the kernel's own accounting. */
function memory(pid: number): { rssMb: number; peakMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string) =>
    Number(/\s(\d+) kB/.exec(status.split("\n").find((line) => line.startsWith(name)) ?? "")?.[1] ?? 0) / 1024;
  return { rssMb: field("VmRSS:"), peakMb: field("VmHWM:") };
}

const TICKS_PER_SECOND = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());

/** CPU time, user and system, all threads, that the process has used so far, in ms. */
function cpuMs(pid: number): number {
  // Fields 14 and 15 of /proc/<pid>/stat, counted after the command name, which may hold spaces.
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
}

const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });

function deliver(url: string, path: string): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}${path}`,
      {
        method: "POST",
        agent,
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
          "x-github-event": "issue_comment",
          "x-github-delivery": randomUUID(),
          "x-hub-signature-256": signature,
        },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
};

/** Closed loop: CONCURRENCY clients send back to back for SECONDS. */
async function saturate(url: string, path: string) {
  const latencies: number[] = [];
  let ok = 0;
  let failed = 0;
  const end = performance.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < end) {
        const { status, ms } = await deliver(url, path);
        if (status >= 200 && status < 300) ok++;
        else failed++;
        latencies.push(ms);
      }
    }),
  );
  return { ok, failed, latencies };
}

/** Open loop at a fixed rate, so queueing in the client does not hide server latency. */
async function fixedRate(url: string, path: string, seconds: number) {
  const latencies: number[] = [];
  let ok = 0;
  const pending: Promise<void>[] = [];
  const start = performance.now();
  for (let i = 0; i < RATE * seconds; i++) {
    const due = start + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    pending.push(
      deliver(url, path).then(({ status, ms }) => {
        if (status >= 200 && status < 300) ok++;
        latencies.push(ms);
      }),
    );
  }
  await Promise.all(pending);
  return { ok, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

interface Server {
  name: string;
  args: string[];
  readyPath: string;
  env?: Record<string, string>;
  /** The SQLite file of an Amistio server, read at the end for what it stored. */
  dbFile?: string;
  /** Works its jobs itself (the all-in-one): each phase waits until its backlog is worked off. */
  worksJobs?: boolean;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Counts what a run left in its database: every delivery answered 2xx must be there with its job. */
function persisted(dbFile: string): { deliveries: number; jobs: number } {
  const db = new Sqlite(dbFile, { readonly: true });
  const count = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
  const result = {
    deliveries: count("SELECT count(*) AS n FROM WebhookDelivery"),
    jobs: count("SELECT count(*) AS n FROM Job WHERE name = 'webhook.deliver'"),
  };
  db.close();
  return result;
}

/**
 * Waits until the all-in-one process has worked off the jobs a phase left queued, so that its
 * worker does not take CPU from the next phase's server; returns how long that took.
 */
async function drained(dbFile: string): Promise<number> {
  const started = performance.now();
  const db = new Sqlite(dbFile, { readonly: true });
  try {
    const pending = db.prepare("SELECT count(*) AS n FROM Job WHERE status IN ('queued', 'running')");
    while ((pending.get() as { n: number }).n > 0) {
      if (performance.now() - started > 300_000) throw new Error(`${dbFile}: jobs still pending after 5 min`);
      await sleep(100);
    }
  } finally {
    db.close();
  }
  return (performance.now() - started) / 1000;
}

const dir = mkdtempSync(join(tmpdir(), "amistio-bench-"));
const started: Started[] = [];

try {
  execFileSync("npm", ["run", "build", "--silent"], { stdio: "inherit" });
  // The all-in-one process exactly as `npm start` runs it (web + worker, SQLite, embedded queue), and
  // the same code as a web process alone (AMISTIO_ROLE=web: jobs wait for a separate worker).
  const amistio = (name: string, role: string): Server => {
    const dbFile = join(dir, `${role}.db`);
    return {
      name,
      args: [...NODE_FLAGS, "dist/main.js"],
      readyPath: "/healthz",
      env: { APP_ID: "1", DATABASE_URL: `file:${dbFile}`, HOST: "127.0.0.1", AMISTIO_ROLE: role },
      dbFile,
      worksJobs: role === "all",
    };
  };
  const servers: Server[] = [
    { name: "bare Probot", args: ["bench/servers/bare-probot-server.mjs"], readyPath: WEBHOOK_PATH },
    amistio("Amistio", "all"),
    amistio("Amistio web", "web"),
  ];
  for (const server of servers) started.push(await startServer(server.args, server.env ?? {}, server.readyPath));
  const pids = started.map((server) => server.child.pid!);

  // Idle is read twice: just after start, while the garbage of loading and migrating is still held,
  // and once V8's memory reducer has released it, which it does after some seconds without work.
  await sleep(2000);
  const atStart = pids.map((pid) => memory(pid).rssMb);
  await sleep(13_000);
  const idle = pids.map((pid) => memory(pid).rssMb);

  // The steady rate first, after a short warm-up at that rate (JIT, caches, SQLite pages): measured
  // after the saturation phase it would mostly time the worker catching up with that backlog.
  const accepted = servers.map(() => 0);
  const rates: Awaited<ReturnType<typeof fixedRate>>[] = [];
  for (const [index, server] of servers.entries()) {
    const url = started[index]!.url;
    const warm = await fixedRate(url, WEBHOOK_PATH, 2);
    const rate = await fixedRate(url, WEBHOOK_PATH, 10);
    accepted[index]! += warm.ok + rate.ok;
    rates.push(rate);
    if (server.worksJobs) await drained(server.dbFile!);
  }

  // Saturation in interleaved rounds, so that the machine's own drift over the run (other tenants,
  // thermal state) weighs on every server alike instead of on whichever ran last.
  const loads = servers.map(() => ({ ok: 0, failed: 0, latencies: [] as number[], cpuMs: 0 }));
  let drainSeconds = 0;
  for (let round = 0; round < ROUNDS; round++) {
    for (const [index, server] of servers.entries()) {
      const cpuBefore = cpuMs(pids[index]!);
      const { ok, failed, latencies } = await saturate(started[index]!.url, WEBHOOK_PATH);
      const load = loads[index]!;
      load.ok += ok;
      load.failed += failed;
      load.latencies = load.latencies.concat(latencies);
      accepted[index]! += ok;
      if (server.worksJobs) drainSeconds = Math.max(drainSeconds, await drained(server.dbFile!));
      // Up to the end of the drain: the all-in-one's cost of a delivery includes working its job.
      load.cpuMs += cpuMs(pids[index]!) - cpuBefore;
    }
  }
  const peaks = pids.map((pid) => memory(pid).peakMb);
  for (const server of started) server.child.kill("SIGTERM");
  await Promise.all(started.map((server) => new Promise((resolve) => server.child.once("exit", resolve))));

  const perSecond = loads.map((load) => load.ok / (ROUNDS * SECONDS));
  const fmt = (n: number) => n.toFixed(1);
  console.log(
    `\nwebhook intake: ${CONCURRENCY} concurrent clients for ${ROUNDS} interleaved rounds of ${SECONDS} s per server, ${body.length} byte issue_comment bodies\n`,
  );
  console.log(
    "server        deliveries/s   p50 ms   p99 ms   @200/s p50   @200/s p99   RSS MB at 2 s   idle RSS MB   peak RSS MB",
  );
  for (const [index, server] of servers.entries()) {
    const { latencies } = loads[index]!;
    console.log(
      `${server.name.padEnd(13)} ${fmt(perSecond[index]!).padStart(12)} ${fmt(percentile(latencies, 50)).padStart(8)} ${fmt(percentile(latencies, 99)).padStart(8)} ${fmt(rates[index]!.p50).padStart(12)} ${fmt(rates[index]!.p99).padStart(12)} ${fmt(atStart[index]!).padStart(15)} ${fmt(idle[index]!).padStart(13)} ${fmt(peaks[index]!).padStart(13)}`,
    );
  }
  const ratio = (index: number) => (perSecond[index]! / perSecond[0]!).toFixed(2);
  console.log(`\nthroughput ratio to bare Probot: all-in-one ${ratio(1)}, web role ${ratio(2)} (target >= 0.60)`);
  console.log(
    `p99 at 200 deliveries/s: all-in-one ${fmt(rates[1]!.p99)} ms, web role ${fmt(rates[2]!.p99)} ms (target <= 15 ms)`,
  );
  console.log(
    `all-in-one memory: idle ${fmt(idle[1]!)} MB 15 s after start (${fmt(atStart[1]!)} MB at 2 s; target <= 150), peak ${fmt(peaks[1]!)} MB (target <= 250)`,
  );
  console.log(`all-in-one worker: each round's backlog worked off within ${fmt(drainSeconds)} s`);
  // Throughput on a loopback benchmark depends on the machine; the CPU a delivery costs depends on it less.
  const cpuPerDelivery = loads.map((load) => (load.cpuMs * 1000) / load.ok);
  console.log(
    `server CPU per delivery, all threads: bare Probot ${cpuPerDelivery[0]!.toFixed(0)} µs, all-in-one ${cpuPerDelivery[1]!.toFixed(0)} µs with its job (${(cpuPerDelivery[1]! / cpuPerDelivery[0]!).toFixed(1)}×), web role ${cpuPerDelivery[2]!.toFixed(0)} µs (${(cpuPerDelivery[2]! / cpuPerDelivery[0]!).toFixed(1)}×)`,
  );
  for (const [index, server] of servers.entries()) {
    if (!server.dbFile) continue;
    const { deliveries, jobs } = persisted(server.dbFile);
    const complete = deliveries === accepted[index] && jobs === accepted[index];
    const failed = loads[index]!.failed;
    console.log(
      `${server.name}: ${deliveries} deliveries and ${jobs} jobs stored for ${accepted[index]} answered 2xx (${complete ? "all persisted" : "MISMATCH"})${failed > 0 ? `; ${failed} non-2xx under load` : ""}`,
    );
  }
} finally {
  agent.destroy();
  for (const server of started) server.child.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
}
