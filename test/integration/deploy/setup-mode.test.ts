import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import type { Server } from "probot";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readEnv } from "../../../src/config/env.ts";
import { startSetupMode } from "../../../src/startup/setup-mode.ts";

// Probot's setup flow reads WEBHOOK_PROXY_URL and NO_SMEE_SETUP from process.env itself.
const SMEE_KEYS = ["WEBHOOK_PROXY_URL", "NO_SMEE_SETUP", "PROJECT_DOMAIN"] as const;
const saved = Object.fromEntries(SMEE_KEYS.map((key) => [key, process.env[key]]));
const servers: Server[] = [];
beforeEach(() => {
  for (const key of SMEE_KEYS) delete process.env[key];
});
afterEach(async () => {
  for (const server of servers.splice(0)) await server.stop();
  for (const key of SMEE_KEYS) {
    if (saved[key] === undefined) delete process.env[key];
    else (process.env as Record<string, string | undefined>)[key] = saved[key];
  }
});

/** A GET on a fresh connection: the servers here come and go on ports the OS may hand out again. */
function get(url: string) {
  return new Promise<{ status: number; location?: string; body: string }>((resolve, reject) => {
    request(url, { agent: false }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => {
        body += chunk;
      });
      response.on("end", () =>
        resolve({ status: response.statusCode ?? 0, location: response.headers.location, body }),
      );
    })
      .on("error", reject)
      .end();
  });
}

function captureLogger() {
  const lines: { level: number; msg: string }[] = [];
  const logger = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, lines };
}

async function start(options: { createSmeeChannel?: () => Promise<string> } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "amistio-setup-"));
  const envFile = join(dir, ".env");
  const { logger, lines } = captureLogger();
  const env = readEnv({ HOST: "127.0.0.1", PORT: "0", DATABASE_URL: "file:./data/unused.db" });
  const server = await startSetupMode({ env, logger, envFile, smeeTimeoutMs: 2_000, ...options });
  servers.push(server);
  return { base: `http://127.0.0.1:${server.port}`, lines, envFile };
}

describe("setup mode (no APP_ID)", () => {
  it("answers /healthz 200 and /readyz 503, and still serves Probot's registration page", async () => {
    process.env.NO_SMEE_SETUP = "true";
    const { base } = await start();
    const health = await get(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toEqual({ status: "ok", mode: "setup" });
    expect((await get(`${base}/readyz`)).status).toBe(503);
    const page = await get(`${base}/probot`);
    expect(page.status).toBe(200);
    expect(page.body).toContain("Register GitHub App");
    expect((await get(`${base}/`)).location).toBe("/probot");
    expect((await get(`${base}/nothing-here`)).status).toBe(404);
  });

  it("says in one line what to do next when smee.io cannot be reached, and Probot does not try again", async () => {
    const { base, lines } = await start({
      createSmeeChannel: async () => {
        throw Object.assign(new Error("fetch failed"), { cause: { code: "ENOTFOUND" } });
      },
    });
    const warnings = lines.filter((line) => line.level === 40).map((line) => line.msg);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^Could not reach smee\.io to create a webhook channel \(ENOTFOUND\)\. Next: /);
    expect(warnings[0]).toContain("WEBHOOK_PROXY_URL");
    expect(warnings[0]).not.toContain("\n");
    expect(lines.map((line) => line.msg).join("\n")).not.toContain("try restarting");
    expect(process.env.NO_SMEE_SETUP).toBe("true");
    expect((await get(`${base}/healthz`)).status).toBe(200);
  });

  it("gives up on a smee.io that never answers", async () => {
    const { lines } = await start({ createSmeeChannel: () => new Promise<string>(() => {}) });
    expect(lines.find((line) => line.level === 40)?.msg).toContain("(no answer within 2 s)");
  });

  it("saves a channel it could create in .env, keeping the other lines", async () => {
    const dir = mkdtempSync(join(tmpdir(), "amistio-setup-"));
    writeFileSync(join(dir, ".env"), "LOG_LEVEL=debug\n");
    const { logger } = captureLogger();
    const env = readEnv({ HOST: "127.0.0.1", PORT: "0" });
    const server = await startSetupMode({
      env,
      logger,
      envFile: join(dir, ".env"),
      createSmeeChannel: async () => "https://smee.io/abc123",
    });
    servers.push(server);
    expect(readFileSync(join(dir, ".env"), "utf8")).toBe("LOG_LEVEL=debug\nWEBHOOK_PROXY_URL=https://smee.io/abc123\n");
    expect(process.env.WEBHOOK_PROXY_URL).toBe("https://smee.io/abc123");
  });
});
