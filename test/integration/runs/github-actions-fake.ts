import nock from "nock";

type Reply = [number, unknown?, Record<string, string>?];
// biome-ignore lint/suspicious/noExplicitAny: a request body is whatever JSON the test expects
type Responder = (path: string, body: any) => Reply;

interface Handler {
  method: string;
  pattern: string | RegExp;
  respond: Responder;
  times: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  // biome-ignore lint/suspicious/noExplicitAny: as above
  body: any;
}

/**
 * The GitHub endpoints runs use (Actions, check runs, pull requests), answered per test. It has to
 * be set up before `fakeGithub`, whose catch-all would otherwise take these paths. A request with
 * no answer set gets 501, so a test notices a call it did not expect.
 */
export function githubActionsFake(host = "https://api.github.com") {
  const requests: RecordedRequest[] = [];
  let handlers: Handler[] = [];
  const owned = /^\/repos\/[^/]+\/[^/]+\/(actions|check-runs|pulls)(\/|\?|$)/;
  const scope = nock(host).persist();
  for (const method of ["get", "post", "patch"] as const) {
    scope[method](owned).reply(function (uri, body) {
      const verb = this.req.method.toUpperCase();
      const parsed = typeof body === "string" && body !== "" ? JSON.parse(body) : body;
      requests.push({ method: verb, path: uri, body: parsed });
      const bare = uri.split("?")[0]!;
      const handler = handlers.find(
        (h) =>
          h.method === verb &&
          h.times > 0 &&
          (typeof h.pattern === "string" ? h.pattern === bare : h.pattern.test(uri)),
      );
      if (!handler) return [501, { message: `no answer set for ${verb} ${uri}` }];
      handler.times--;
      return handler.respond(uri, parsed) as [number, nock.Body, Record<string, string>];
    });
  }
  return {
    requests,
    /** Answers the next `times` matching requests (default once). */
    reply(method: string, pattern: string | RegExp, reply: Reply | Responder, times = 1): void {
      handlers.push({ method, pattern, respond: typeof reply === "function" ? reply : () => reply, times });
    },
    count(method: string, pattern: string | RegExp): number {
      return requests.filter(
        (r) =>
          r.method === method &&
          (typeof pattern === "string" ? r.path.split("?")[0] === pattern : pattern.test(r.path)),
      ).length;
    },
    /** Forgets answers not used yet. */
    reset(): void {
      handlers = [];
    },
  };
}

export type GithubActionsFake = ReturnType<typeof githubActionsFake>;
