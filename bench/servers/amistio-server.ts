// The all-in-one Amistio process (web + worker, embedded SQLite and queue) for bench/webhooks.ts.
import { pino } from "pino";
import { readEnv } from "../../src/config/env.ts";
import { createAmistio } from "../../src/index.ts";

const amistio = await createAmistio({ env: readEnv(), logger: pino({ level: "silent" }) });
const address = await amistio.start();
process.send?.({ address });
process.on("SIGTERM", async () => {
  await amistio.stop(2000);
  process.exit(0);
});
