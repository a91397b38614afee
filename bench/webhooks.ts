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

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
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
  return { perSecond: ok / SECONDS, ok, failed, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
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

async function measure(
  name: string,
  args: string[],
  path: string,
  readyPath: string,
  env: Record<string, string> = {},
) {
  const server = await startServer(args, env, readyPath);
  const pid = server.child.pid!;
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const idle = memory(pid);
  // The steady rate first, after a short warm-up at that rate (JIT, caches, SQLite pages): measured
  // after the saturation phase it would mostly time the worker catching up with that backlog.
  const warm = await fixedRate(server.url, path, 2);
  const rate = await fixedRate(server.url, path, Math.min(SECONDS, 10));
  const load = await saturate(server.url, path);
  const peak = memory(pid).peakMb;
  return { name, server, idleMb: idle.rssMb, peakMb: peak, load, rate, accepted: warm.ok + load.ok + rate.ok };
}

const dir = mkdtempSync(join(tmpdir(), "amistio-bench-"));
const results: Awaited<ReturnType<typeof measure>>[] = [];

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

try {
  const bare = await measure("bare Probot", ["bench/servers/bare-probot-server.mjs"], WEBHOOK_PATH, WEBHOOK_PATH);
  bare.server.child.kill("SIGTERM");
  results.push(bare);
  execFileSync("npm", ["run", "build", "--silent"], { stdio: "inherit" });
  // The all-in-one process exactly as `npm start` runs it (web + worker, SQLite, embedded queue), and
  // the same code as a web process alone (AMISTIO_ROLE=web: jobs wait for a separate worker).
  const counts: { deliveries: number; jobs: number }[] = [];
  for (const [name, role] of [
    ["Amistio", "all"],
    ["Amistio web", "web"],
  ] as const) {
    const dbFile = join(dir, `${role}.db`);
    const run = await measure(name, [...NODE_FLAGS, "dist/main.js"], WEBHOOK_PATH, "/healthz", {
      APP_ID: "1",
      DATABASE_URL: `file:${dbFile}`,
      HOST: "127.0.0.1",
      AMISTIO_ROLE: role,
    });
    run.server.child.kill("SIGTERM");
    await new Promise((resolve) => run.server.child.once("exit", resolve));
    results.push(run);
    counts.push(persisted(dbFile));
  }
  const [, amistio, web] = results as [typeof bare, typeof bare, typeof bare];

  const fmt = (n: number) => n.toFixed(1);
  console.log(
    `\nwebhook intake, ${SECONDS}s per phase, ${CONCURRENCY} concurrent clients, ${body.length} byte issue_comment bodies\n`,
  );
  console.log("server        deliveries/s   p50 ms   p99 ms   @200/s p50   @200/s p99   idle RSS MB   peak RSS MB");
  for (const r of results) {
    console.log(
      `${r.name.padEnd(13)} ${fmt(r.load.perSecond).padStart(12)} ${fmt(r.load.p50).padStart(8)} ${fmt(r.load.p99).padStart(8)} ${fmt(r.rate.p50).padStart(12)} ${fmt(r.rate.p99).padStart(12)} ${fmt(r.idleMb).padStart(13)} ${fmt(r.peakMb).padStart(13)}`,
    );
  }
  const ratio = (r: typeof bare) => (r.load.perSecond / bare.load.perSecond).toFixed(2);
  console.log(
    `\nthroughput ratio to bare Probot: all-in-one ${ratio(amistio)}, web role ${ratio(web)} (target >= 0.60)`,
  );
  console.log(
    `p99 at 200 deliveries/s: all-in-one ${fmt(amistio.rate.p99)} ms, web role ${fmt(web.rate.p99)} ms (target <= 15 ms)`,
  );
  console.log(
    `all-in-one memory: idle ${fmt(amistio.idleMb)} MB (target <= 150), peak ${fmt(amistio.peakMb)} MB (target <= 250)`,
  );
  [amistio, web].forEach((r, i) => {
    const { deliveries, jobs } = counts[i]!;
    const complete = deliveries === r.accepted && jobs === r.accepted;
    console.log(
      `${r.name}: ${deliveries} deliveries and ${jobs} jobs stored for ${r.accepted} answered 2xx (${complete ? "all persisted" : "MISMATCH"})${r.load.failed > 0 ? `; ${r.load.failed} non-2xx under load` : ""}`,
    );
  });
} finally {
  agent.destroy();
  for (const r of results) r.server.child.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
}
