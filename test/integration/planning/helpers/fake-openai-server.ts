import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";

export interface ScriptedReply {
  status?: number;
  headers?: Record<string, string>;
  /** A chat completion whose message content is this text. */
  content?: string;
  /** A raw JSON body instead (e.g. an error object). */
  body?: unknown;
  /** Never answer: for timeouts. */
  hang?: boolean;
}

export interface ReceivedRequest {
  url: string;
  headers: IncomingHttpHeaders;
  raw: string;
  body: {
    model: string;
    messages: { role: string; content: string }[];
    response_format: unknown;
  };
}

/**
 * An OpenAI-compatible chat completions endpoint on 127.0.0.1 that answers from a script, one reply
 * per request, and records what it received.
 */
export async function startFakeOpenAi(script: ScriptedReply[]) {
  const received: ReceivedRequest[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      received.push({ url: request.url ?? "", headers: request.headers, raw, body: JSON.parse(raw) });
      const reply = script.shift() ?? { status: 500, body: { error: { message: "script exhausted" } } };
      if (reply.hang) return;
      const body =
        reply.body ??
        ({
          id: `chatcmpl-${received.length}`,
          object: "chat.completion",
          created: 1_700_000_000,
          model: "gpt-test-2025-01-01",
          choices: [
            {
              index: 0,
              finish_reason: "stop",
              message: { role: "assistant", content: reply.content ?? "", refusal: null },
            },
          ],
          usage: { prompt_tokens: 100, completion_tokens: 20, total_tokens: 120 },
        } as const);
      response
        .writeHead(reply.status ?? 200, { "content-type": "application/json", ...reply.headers })
        .end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    received,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
