/** Untrusted text (plans, agent output, GitHub's messages) in a comment: only ever inside these. */

/** A fenced block that no line of `text` can close. */
export function fenced(text: string): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((match) => match[0].length));
  const fence = "`".repeat(longest + 1);
  return `${fence}text\n${text}\n${fence}`;
}

/** One line of untrusted text as a code span: no mentions, links or HTML can come out of it. */
export function codeSpan(text: string): string {
  const clean = text.replace(/\s*\r?\n\s*/g, " ").slice(0, 300);
  const longest = Math.max(0, ...[...clean.matchAll(/`+/g)].map((match) => match[0].length));
  const fence = "`".repeat(longest + 1);
  const pad = clean.startsWith("`") || clean.endsWith("`") ? " " : "";
  return `${fence}${pad}${clean}${pad}${fence}`;
}

/** The agent's last output lines, collapsed; nothing when there is none. */
export function agentOutput(tail: string | null | undefined): string[] {
  if (!tail) return [];
  return [
    "",
    "<details><summary>Agent output (last lines, secrets redacted)</summary>",
    "",
    fenced(tail),
    "",
    "</details>",
  ];
}
