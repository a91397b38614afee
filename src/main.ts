import type { SmeeClient as SmeeClientType } from "smee-client";
import type { AppEnv } from "./config/env.ts";
import { unsupportedNodeMessage } from "./startup/node-version.ts";

// Before anything else is loaded: on a Node.js older than the supported lines, say so in one line
// instead of failing later on a missing API.
const nodeProblem = unsupportedNodeMessage(process.versions.node);
if (nodeProblem) {
  console.error(nodeProblem);
  process.exit(1);
}

const { existsSync } = await import("node:fs");
const { EnvError, readEnv } = await import("./config/env.ts");
const { createLogger } = await import("./startup/create-logger.ts");

// `npm start` on a fresh clone: .env is optional, and Probot's setup flow writes it.
if (existsSync(".env")) process.loadEnvFile(".env");

let env: AppEnv;
try {
  env = readEnv();
} catch (error) {
  if (!(error instanceof EnvError)) throw error;
  console.error(error.message);
  process.exit(1);
}
const logger = createLogger({ level: env.LOG_LEVEL, format: env.LOG_FORMAT });

if (env.APP_ID === undefined && process.env.NODE_ENV === "production") {
  // Probot's setup pages write .env and are for a first run on a workstation; a production process
  // (the container image sets NODE_ENV=production) is given the App's credentials instead.
  console.error(
    new EnvError([
      "APP_ID: required when NODE_ENV=production, with PRIVATE_KEY (or PRIVATE_KEY_PATH) and WEBHOOK_SECRET; register the App first (docs/deploy.md)",
    ]).message,
  );
  process.exit(1);
}

if (env.APP_ID === undefined) {
  // No App yet: serve Probot's setup flow, which registers the App from app.yml and writes .env.
  logger.info(`No APP_ID: open http://${env.HOST}:${env.PORT} to register Amistio as a GitHub App, then restart.`);
  const { startSetupMode } = await import("./startup/setup-mode.ts");
  await startSetupMode({ env, logger });
} else {
  const { createAmistio } = await import("./index.ts");
  let amistio: Awaited<ReturnType<typeof createAmistio>>;
  try {
    amistio = await createAmistio({ env, logger });
  } catch (error) {
    // Settings that only make sense together (sign-in, runners) are checked while wiring.
    if (!(error instanceof EnvError)) throw error;
    console.error(error.message);
    process.exit(1);
  }
  const address = await amistio.start();
  if (address) logger.info({ address, webhookPath: env.WEBHOOK_PATH, role: env.AMISTIO_ROLE }, "Amistio is listening");
  else logger.info({ role: env.AMISTIO_ROLE }, "Amistio worker started");

  let smee: SmeeClientType | undefined;
  if (env.WEBHOOK_PROXY_URL && address) {
    const { SmeeClient } = await import("smee-client");
    smee = new SmeeClient({
      source: env.WEBHOOK_PROXY_URL,
      target: `${address}${env.WEBHOOK_PATH}`,
      logger: { info: (message: string) => logger.info(message), error: (message: string) => logger.error(message) },
    });
    await smee.start();
  }

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "stopping: no new work is taken; running jobs finish or are released");
    try {
      await smee?.stop();
      await amistio.stop();
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, "unclean stop");
      process.exit(1);
    }
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}
