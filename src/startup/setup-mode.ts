import { existsSync, readFileSync, writeFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Logger } from "pino";
import { Probot, Server } from "probot";
import type { AppEnv } from "../config/env.ts";

type Handler = (request: IncomingMessage, response: ServerResponse) => boolean | Promise<boolean>;
type SetupAppFactory = (options: {
  host: string;
  port: number;
  log: Logger;
  updateEnv?: (values: Record<string, string>) => Record<string, string>;
}) => () => Promise<Handler>;

export interface SetupModeOptions {
  env: AppEnv;
  logger: Logger;
  /** Asks smee.io for a new channel URL; tests pass their own. */
  createSmeeChannel?: () => Promise<string>;
  /** Where the channel URL is saved, as Probot's setup flow saves the App's credentials. */
  envFile?: string;
  smeeTimeoutMs?: number;
}

/**
 * Setup mode (no APP_ID): Probot's own registration pages, plus /healthz and /readyz so a process
 * supervisor or load balancer sees a live but not-ready server. Probot's `run()` gives no way to
 * add a route in setup mode, so the same server is assembled here from Probot's exported Server
 * and its setup handler.
 */
export async function startSetupMode(options: SetupModeOptions): Promise<Server> {
  const { env, logger } = options;
  await prepareSmeeChannel(options);

  const server = new Server({
    host: env.HOST,
    port: env.PORT,
    webhookPath: env.WEBHOOK_PATH,
    log: logger,
    // Probot needs some App id and key to build its instance; setup mode never uses them.
    Probot: Probot.defaults({ appId: 1, privateKey: "unused in setup mode", log: logger }),
  });
  server.addHandler(setupHealthHandler);
  const setupAppFactory = await loadSetupAppFactory();
  await server.loadHandlerFactory(
    setupAppFactory({ host: env.HOST, port: env.PORT, log: logger.child({ name: "setup" }) }),
  );
  await server.start();
  return server;
}

/** /healthz: the process is up; /readyz: 503, since no webhook can be received until the App is registered. */
export function setupHealthHandler(request: IncomingMessage, response: ServerResponse): boolean {
  if (request.method !== "GET" && request.method !== "HEAD") return false;
  const path = request.url?.split("?")[0];
  if (path !== "/healthz" && path !== "/readyz") return false;
  const ready = path === "/readyz";
  response
    .writeHead(ready ? 503 : 200, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" })
    .end(JSON.stringify(ready ? { status: "setup", app: "not registered" } : { status: "ok", mode: "setup" }));
  return true;
}

/**
 * Probot's setup page creates a smee.io channel when none is configured, and when smee.io cannot be
 * reached it only says to restart. Doing it here first lets the failure say what to do next, in one
 * line; Probot is then told to skip its own attempt.
 */
async function prepareSmeeChannel(options: SetupModeOptions): Promise<void> {
  // Probot's setup flow reads these from process.env itself.
  const processEnv = process.env;
  const { logger } = options;
  if (processEnv.WEBHOOK_PROXY_URL || processEnv.NO_SMEE_SETUP === "true" || processEnv.PROJECT_DOMAIN) return;
  const createChannel =
    options.createSmeeChannel ?? (async () => (await import("smee-client")).SmeeClient.createChannel());
  const timeoutMs = options.smeeTimeoutMs ?? 10_000;
  let timer: NodeJS.Timeout | undefined;
  try {
    const url = await Promise.race([
      createChannel(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs);
      }),
    ]);
    if (!/^https:\/\/\S+$/.test(url)) throw new Error(`unexpected channel address ${JSON.stringify(url)}`);
    saveEnvValue(options.envFile ?? join(process.cwd(), ".env"), "WEBHOOK_PROXY_URL", url);
    processEnv.WEBHOOK_PROXY_URL = url;
    logger.info(`Created the smee.io channel ${url} for webhooks (saved as WEBHOOK_PROXY_URL in .env).`);
  } catch (error) {
    processEnv.NO_SMEE_SETUP = "true";
    const reason = describe(error);
    const { HOST, PORT } = options.env;
    logger.warn(
      `Could not reach smee.io to create a webhook channel (${reason}). Next: if GitHub cannot reach this machine, create a channel at https://smee.io/new in a browser, set WEBHOOK_PROXY_URL=<that URL> in .env and restart; if it can, set NO_SMEE_SETUP=true and register the App at http://${HOST}:${PORT}.`,
    );
  } finally {
    clearTimeout(timer);
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as Error & { cause?: { code?: string; message?: string } }).cause;
  return cause?.message ?? cause?.code ?? error.message;
}

/** Sets one KEY=value line in a dotenv file, keeping every other line as it was. */
export function saveEnvValue(file: string, key: string, value: string): void {
  const lines = existsSync(file) ? readFileSync(file, "utf8").split("\n") : [];
  const index = lines.findIndex((line) => line.startsWith(`${key}=`));
  if (index >= 0) lines[index] = `${key}=${value}`;
  else {
    if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
    lines.push(`${key}=${value}`, "");
  }
  writeFileSync(file, lines.join("\n"), { mode: 0o600 });
}

/**
 * Probot exports only `run()` for setup mode, which takes no extra routes; its setup handler lives
 * beside its entry point. The version is pinned in package.json, and test/integration/deploy/
 * setup-mode.test.ts fails if an upgrade moves it.
 */
async function loadSetupAppFactory(): Promise<SetupAppFactory> {
  const entry = createRequire(import.meta.url).resolve("probot");
  const module = (await import(pathToFileURL(join(dirname(entry), "apps", "setup.js")).href)) as {
    setupAppFactory?: SetupAppFactory;
  };
  if (typeof module.setupAppFactory !== "function") {
    throw new Error("Probot's setup handler was not found (apps/setup.js); is the installed probot version 14?");
  }
  return module.setupAppFactory;
}
