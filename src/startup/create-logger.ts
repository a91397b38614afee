import { type Logger, pino } from "pino";

export interface CreateLoggerOptions {
  level: string;
  /** Pretty lines for people at a terminal; JSON (the default elsewhere) for log collectors. */
  format?: "json" | "pretty";
}

export function createLogger(options: CreateLoggerOptions): Logger {
  const pretty = options.format === "pretty" || (options.format === undefined && process.stdout.isTTY === true);
  return pino({
    name: "amistio",
    level: options.level,
    ...(pretty ? { transport: { target: "pino-pretty", options: { ignore: "pid,hostname" } } } : {}),
  });
}
