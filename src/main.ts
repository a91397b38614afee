import { existsSync } from "node:fs";
import { run } from "probot";
import { SmeeClient } from "smee-client";
import { EnvError, readEnv } from "./config/env.ts";
import { createAmistio } from "./index.ts";
import { createLogger } from "./logging/create-logger.ts";

// `npm start` on a fresh clone: .env is optional, and Probot's setup flow writes it.
if (existsSync(".env")) process.loadEnvFile(".env");

let env: ReturnType<typeof readEnv>;
try {
  env = readEnv();
} catch (error) {
  if (!(error instanceof EnvError)) throw error;
  console.error(error.message);
  process.exit(1);
}
const logger = createLogger({ level: env.LOG_LEVEL, format: env.LOG_FORMAT });

if (env.APP_ID === undefined) {
  // No App yet: serve Probot's setup flow, which registers the App from app.yml and writes .env.
  logger.info(`No APP_ID: open http://${env.HOST}:${env.PORT} to register Amistio as a GitHub App, then restart.`);
  await run(() => {});
} else {
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

  let smee: SmeeClient | undefined;
  if (env.WEBHOOK_PROXY_URL && address) {
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
