import { spawn } from "node:child_process";

export interface RunAgentOptions {
  command: string;
  args: string[];
  shell: boolean;
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Written to the agent's stdin, which is then closed. */
  stdin: string;
  timeoutMs: number;
  /** Each output line (stdout and stderr), cut to `maxLineChars`. */
  onLine?: (line: string) => void;
  /** Characters of output kept for the report: the last ones (default 64 KiB). */
  tailChars?: number;
  maxLineChars?: number;
  /** Between SIGTERM and SIGKILL when the time is up (default 10 s). */
  killGraceMs?: number;
}

export interface AgentOutcome {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** The last `tailChars` characters of output. */
  outputTail: string;
  /** All output, counted, not kept. */
  outputBytes: number;
  durationMs: number;
  /** Set when the command could not be started at all. */
  spawnError: string | null;
}

/**
 * Runs the agent in its own process group with a time limit: when the time is up the whole group
 * gets SIGTERM, then SIGKILL. Output is never held whole: lines are passed on as they come and only
 * a bounded tail is kept, so an agent printing 100 MB costs the runner no more memory than one
 * printing 1 KB.
 */
export function runAgent(options: RunAgentOptions): Promise<AgentOutcome> {
  const tailChars = options.tailChars ?? 64 * 1024;
  const maxLineChars = options.maxLineChars ?? 2_000;
  const killGraceMs = options.killGraceMs ?? 10_000;
  const started = Date.now();

  return new Promise((resolve) => {
    let tail = "";
    let outputBytes = 0;
    let timedOut = false;
    let spawnError: string | null = null;
    const partial = { stdout: "", stderr: "" };

    const child = spawn(
      options.shell ? "/bin/sh" : options.command,
      options.shell ? ["-c", options.command] : options.args,
      {
        cwd: options.cwd,
        env: options.env,
        detached: true,
        stdio: ["pipe", "pipe", "pipe"],
      },
    );

    const kill = (signal: NodeJS.Signals) => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, signal);
      } catch {
        // Already gone.
      }
    };
    let killTimer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      kill("SIGTERM");
      killTimer = setTimeout(() => kill("SIGKILL"), killGraceMs);
    }, options.timeoutMs);

    const take = (stream: "stdout" | "stderr") => (chunk: Buffer) => {
      outputBytes += chunk.length;
      const text = chunk.toString("utf8");
      tail = (tail + text).slice(-tailChars);
      if (!options.onLine) return;
      const lines = (partial[stream] + text).split("\n");
      // An endless line is cut, not accumulated.
      partial[stream] = (lines.pop() ?? "").slice(0, maxLineChars);
      for (const line of lines) options.onLine(line.slice(0, maxLineChars));
    };
    child.stdout.on("data", take("stdout"));
    child.stderr.on("data", take("stderr"));
    // An agent that never reads its input, or exits early, must not crash the runner.
    child.stdin.on("error", () => undefined);
    child.stdin.end(options.stdin);

    child.on("error", (error) => {
      spawnError = error.message;
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      clearTimeout(killTimer);
      // Anything the agent left running in its group goes with it.
      kill("SIGKILL");
      for (const rest of [partial.stdout, partial.stderr]) if (rest && options.onLine) options.onLine(rest);
      resolve({
        exitCode: code,
        signal,
        timedOut,
        outputTail: tail,
        outputBytes,
        durationMs: Date.now() - started,
        spawnError,
      });
    });
  });
}
