// A bare Probot app with a no-op handler, as the baseline for bench/webhooks.ts. Plain JavaScript,
// run by plain node like the built Amistio it is compared with.
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
server.listen(Number(process.env.PORT), "127.0.0.1");
process.on("SIGTERM", () => server.close(() => process.exit(0)));
