import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sign } from "@octokit/webhooks-methods";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TEST_WEBHOOK_SECRET, testPrivateKey } from "../../helpers/test-amistio.ts";
import { webhookExample } from "../../helpers/webhook-examples.ts";

const MiB = 1024 * 1024;
const BODIES = 16;
const BODY_BYTES = 24 * MiB;
const PEAK_LIMIT_MIB = 400;
// The flags `npm start` runs the server with (package.json), so the process is shaped as users run it.
const NODE_FLAGS = (
  /node ((?:--\S+ )+)dist\/main\.js/.exec(
    JSON.parse(readFileSync("package.json", "utf8")).scripts.start as string,
  )?.[1] ?? ""
)
  .trim()
  .split(" ")
  .filter((flag) => flag !== "" && flag !== "--enable-source-maps");

/** Resident memory now and at its peak (the kernel's high-water mark), in MiB. */
function memory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0) / 1024;
  return { rss: field("VmRSS"), peak: field("VmHWM") };
}

type Answer = { status: number; retryAfter?: string } | { error: string };

/** POSTs `body` with the given headers; a connection the server cut is an answer too. */
function post(url: string, body: Buffer, headers: Record<string, string | number>): Promise<Answer> {
  return new Promise((resolve) => {
    const req = request(url, { method: "POST", headers, agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers["retry-after"] }));
      res.on("error", (error) => resolve({ error: error.message }));
    });
    req.on("error", (error) => resolve({ error: (error as NodeJS.ErrnoException).code ?? error.message }));
    req.end(body);
  });
}

describe("unauthenticated bodies cost little", () => {
  let dir: string;
  let child: ChildProcess;
  let url: string;
  let stderr = "";

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "amistio-unverified-"));
    // The real entry point in a process of its own, so its memory is its own. Port 0: it says where it listens.
    child = spawn(process.execPath, ["--import", "tsx", ...NODE_FLAGS, "src/main.ts"], {
      env: {
        ...process.env,
        APP_ID: "1",
        PRIVATE_KEY: testPrivateKey(),
        WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
        DATABASE_URL: `file:${join(dir, "amistio.db")}`,
        PORT: "0",
        HOST: "127.0.0.1",
        LOG_LEVEL: "info",
        LOG_FORMAT: "json",
        AMISTIO_ROLE: "web",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    url = await new Promise<string>((resolve, reject) => {
      let out = "";
      const onData = (chunk: Buffer) => {
        out += chunk.toString();
        const address = /"address":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(out)?.[1];
        if (address) {
          // Keep reading (and dropping) its log, so a full pipe never blocks it.
          out = "";
          child.stdout?.off("data", onData);
          child.stdout?.resume();
          resolve(address);
        }
      };
      child.stdout?.on("data", onData);
      child.once("exit", (code) => reject(new Error(`server exited with ${code}: ${stderr}`)));
    });
  }, 60_000);

  afterAll(async () => {
    if (child && child.exitCode === null) {
      child.kill("SIGTERM");
      await new Promise((resolve) => child.once("exit", resolve));
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it(`${BODIES} concurrent ${BODY_BYTES / MiB} MB bodies with a bogus signature keep the server under ${PEAK_LIMIT_MIB} MiB`, async () => {
    const pid = child.pid!;
    const before = memory(pid);
    const body = Buffer.alloc(BODY_BYTES, 0x20);
    const bogus = `sha256=${"0".repeat(64)}`;
    const answers = await Promise.all(
      Array.from({ length: BODIES }, () =>
        post(`${url}/api/github/webhooks`, body, {
          "content-type": "application/json",
          "content-length": BODY_BYTES,
          "x-github-event": "issue_comment",
          "x-github-delivery": randomUUID(),
          "x-hub-signature-256": bogus,
        }),
      ),
    );
    const after = memory(pid);
    console.log(
      `unverified bodies: RSS before ${before.rss.toFixed(1)} MiB (peak so far ${before.peak.toFixed(1)}), peak after ${BODIES} × ${BODY_BYTES / MiB} MB bogus bodies ${after.peak.toFixed(1)} MiB; answers ${JSON.stringify(
        Object.entries(
          answers.reduce<Record<string, number>>((tally, a) => {
            const key = "status" in a ? String(a.status) : a.error;
            tally[key] = (tally[key] ?? 0) + 1;
            return tally;
          }, {}),
        ),
      )}`,
    );
    expect(after.peak).toBeLessThan(PEAK_LIMIT_MIB);
    // Each was read and refused (401), or refused before reading because too many were in flight (503).
    for (const answer of answers) {
      if ("status" in answer) {
        expect([401, 503]).toContain(answer.status);
        if (answer.status === 503) expect(answer.retryAfter).toMatch(/^\d+$/);
      }
    }
    expect(answers.filter((a) => "status" in a && a.status === 401).length).toBeGreaterThan(0);

    // And the server still takes a real delivery.
    const payload = JSON.stringify(webhookExample("issue_comment", "created"));
    const real = await post(`${url}/api/github/webhooks`, Buffer.from(payload), {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(payload),
      "x-github-event": "issue_comment",
      "x-github-delivery": randomUUID(),
      "x-hub-signature-256": await sign(TEST_WEBHOOK_SECRET, payload),
    });
    expect(real).toEqual({ status: 202, retryAfter: undefined });
  }, 120_000);
});
