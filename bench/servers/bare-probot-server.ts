// A bare Probot app with a no-op handler, as the baseline for bench/webhooks.ts.
import { createServer } from "node:http";
import { pino } from "pino";
import { createNodeMiddleware, Probot } from "probot";

const probot = new Probot({
  appId: 1,
  privateKey: process.env.PRIVATE_KEY,
  secret: process.env.WEBHOOK_SECRET,
  log: pino({ level: "silent" }),
});
const middleware = await createNodeMiddleware(
  (app) => {
    app.on("issue_comment", async () => {});
  },
  { probot },
);
const server = createServer((request, response) => {
  void middleware(request, response, () => response.writeHead(404).end());
});
server.listen(0, "127.0.0.1", () => {
  const address = server.address() as { port: number };
  process.send?.({ address: `http://127.0.0.1:${address.port}` });
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
