import { createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";

export type SignedBody =
  | { ok: true; body: Buffer }
  | { ok: false; reason: "signature" | "aborted" | "timeout"; received: number };

/**
 * Reads a webhook body while computing its HMAC-SHA256, chunk by chunk, and hands out the bytes only
 * when the signature matches (compared in constant time). Nothing is turned into a string or parsed
 * before that. Node's HTTP parser holds the body to the Content-Length it announced, so `end` means
 * exactly that many bytes arrived; a client that stops sending is given up on after `timeoutMs`.
 */
export function readSignedBody(
  raw: IncomingMessage,
  options: { secret: string; expected: Buffer; timeoutMs: number },
): Promise<SignedBody> {
  return new Promise((resolve) => {
    const hmac = createHmac("sha256", options.secret);
    let chunks: Buffer[] = [];
    let received = 0;
    let settled = false;
    const finish = (result: SignedBody) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      raw.off("data", onData);
      raw.off("end", onEnd);
      raw.off("error", onClose);
      raw.off("close", onClose);
      chunks = [];
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      hmac.update(chunk);
      chunks.push(chunk);
    };
    const onEnd = () => {
      const digest = hmac.digest();
      if (!timingSafeEqual(digest, options.expected)) return finish({ ok: false, reason: "signature", received });
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received);
      finish({ ok: true, body });
    };
    const onClose = () => finish({ ok: false, reason: "aborted", received });
    const timer = setTimeout(() => {
      finish({ ok: false, reason: "timeout", received });
      // Not read any further: the answer is sent and the connection closed, so no more bytes arrive.
      raw.pause();
    }, options.timeoutMs);
    raw.on("data", onData);
    raw.once("end", onEnd);
    raw.once("error", onClose);
    raw.once("close", onClose);
  });
}

/**
 * How many bytes of bodies not yet verified may be held at once, shared by all requests: a request
 * takes its Content-Length before reading and gives it back once read. A request that does not fit
 * is refused at once (503) rather than queued, so an unauthenticated sender can make the process hold
 * at most `capacity` bytes (plus what the kernel and Node buffer per connection).
 */
export function createUnverifiedBudget(capacity: number) {
  let used = 0;
  return {
    /** A release function, or undefined when the bytes do not fit now. */
    take(bytes: number): (() => void) | undefined {
      if (used + bytes > capacity) return undefined;
      used += bytes;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        used -= bytes;
      };
    },
    get used() {
      return used;
    },
  };
}
