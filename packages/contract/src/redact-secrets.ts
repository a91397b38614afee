import { lintSource } from "@secretlint/core";
import { secretLintProfiler } from "@secretlint/profiler";
import { rules as recommendedRules } from "@secretlint/secretlint-rule-preset-recommend";

// secretlint 11 profiles every lint and keeps every mark forever, scanning them all on each new one
// (secretlint/secretlint#1633, fixed in 13, which needs Node 22). In a long-running worker that is a
// leak whose cost grows with every call, so marks are switched off.
secretLintProfiler.mark = () => {};

export interface RedactionFinding {
  /** Short rule name, e.g. `github`, `aws`, `privatekey`, `openai`, `slack`. */
  rule: string;
  count: number;
}

export interface RedactionResult {
  text: string;
  findings: RedactionFinding[];
}

const RULE_PREFIX = "@secretlint/secretlint-rule-";

type SecretlintConfig = Parameters<typeof lintSource>[0]["options"]["config"];

// The recommended preset's rules, registered one by one: secretlint 11 ignores `disabled` for a
// rule inside a preset, and one rule has to go.
const config: SecretlintConfig = {
  rules: recommendedRules
    // The text is untrusted: a `secretlint-disable` comment in an issue must not switch scanning off.
    .filter((rule) => rule.meta.id !== `${RULE_PREFIX}filter-comments`)
    .map((rule) => ({
      id: rule.meta.id,
      rule,
      // Off by default; an access key id next to its secret is half a credential.
      options: rule.meta.id === `${RULE_PREFIX}aws` ? { enableIDScanRule: true } : {},
    })),
};

// secretlint 11's AWS rule ends its secret-access-key pattern with `\b`, so a key ending in `/` or
// `+` followed by a space or line break goes unreported (about one key in 25, measured). This is the
// rule's own pattern, ending where the 40-character value ends instead; it only adds what the rule
// misses.
const AWS_SECRET_ACCESS_KEY =
  /["']?(?:AWS|aws|Aws)?_?(?:SECRET|secret|Secret)_?(?:ACCESS|access|Access)_?(?:KEY|key|Key)["']?\s*(?::|=>|=)\s*["']?([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])/g;

/**
 * Replaces every secret that secretlint's recommended rules find with `[REDACTED:<rule>]`.
 * Run on everything before it is sent to an AI provider.
 */
export async function redactSecrets(text: string): Promise<RedactionResult> {
  if (text === "") return { text, findings: [] };
  const result = await lintSource({
    source: { content: text, filePath: "amistio-input.txt", contentType: "text" },
    options: { config, noPhysicFilePath: true },
  });

  const spans: { start: number; end: number; rule: string }[] = [];
  for (const message of result.messages) {
    if (message.type !== "message") continue;
    const rule = message.ruleId.startsWith(RULE_PREFIX) ? message.ruleId.slice(RULE_PREFIX.length) : message.ruleId;
    let [start, end] = message.range;
    // Some rules report a range that starts at the key name but has the secret's length (the AWS
    // secret access key rule does), so also cover the secret itself where the message names it.
    for (const value of Object.values(message.data ?? {})) {
      if (typeof value !== "string" || value.length < 8) continue;
      const at = text.indexOf(value, Math.max(0, start - value.length));
      if (at !== -1 && at <= end) {
        start = Math.min(start, at);
        end = Math.max(end, at + value.length);
      }
    }
    spans.push({ start, end, rule });
  }
  for (const match of text.matchAll(AWS_SECRET_ACCESS_KEY)) {
    const start = (match.index ?? 0) + match[0].length - match[1]!.length;
    const end = start + match[1]!.length;
    if (!spans.some((span) => span.start <= start && span.end >= end)) spans.push({ start, end, rule: "aws" });
  }
  if (spans.length === 0) return { text, findings: [] };

  spans.sort((a, b) => a.start - b.start || b.end - a.end);
  const counts = new Map<string, number>();
  let redacted = "";
  let cursor = 0;
  for (const span of spans) {
    counts.set(span.rule, (counts.get(span.rule) ?? 0) + 1);
    if (span.end <= cursor) continue;
    const from = Math.max(span.start, cursor);
    // An overlapping span only extends the redaction already written.
    if (from === span.start) redacted += `${text.slice(cursor, from)}[REDACTED:${span.rule}]`;
    cursor = span.end;
  }
  redacted += text.slice(cursor);
  return { text: redacted, findings: [...counts].map(([rule, count]) => ({ rule, count })) };
}

/** Adds up findings from several redactions, per rule. */
export function mergeFindings(...lists: RedactionFinding[][]): RedactionFinding[] {
  const counts = new Map<string, number>();
  for (const list of lists) for (const f of list) counts.set(f.rule, (counts.get(f.rule) ?? 0) + f.count);
  return [...counts].map(([rule, count]) => ({ rule, count })).sort((a, b) => a.rule.localeCompare(b.rule));
}
