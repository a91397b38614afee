import { html, type SafeHtml, safeHref } from "../html.ts";

interface PersonRef {
  login: string | null;
  name: string | null;
}

export interface TaskView {
  id: string;
  number: number;
  title: string;
  state: string;
  isPullRequest: boolean;
  createdAt: Date;
  repository: { fullName: string };
  requester: PersonRef | null;
  planVersions: {
    id: string;
    version: number;
    status: string;
    contentHash: string;
    source: string;
    createdAt: Date;
    approvals: { id: string; permission: string; createdAt: Date; approver: PersonRef | null }[];
  }[];
  runs: {
    id: string;
    status: string;
    conclusion: string | null;
    planVersionId: string;
    htmlUrl: string | null;
    pullRequestUrl: string | null;
    runnerName: string | null;
    createdAt: Date;
  }[];
}

export interface WorkspaceView {
  workspace: { id: string; accountLogin: string; status: string };
  role: string;
  tasks: TaskView[];
  /** Cursor of the next (older) page, if there is one. */
  next: string | undefined;
  paged: boolean;
  runsShown: number;
  /** Deliveries of this installation that failed for good, newest first (first page only). */
  failedDeliveries: { id: string; event: string; action: string | null; receivedAt: Date; error: string | null }[];
  /** Model tokens used this calendar month (UTC), by repository. */
  tokens: { since: Date; repositories: { fullName: string; used: number }[] };
}

export function personLabel(person: PersonRef | null): string {
  return person ? (person.login ?? person.name ?? "unnamed account") : "deleted or unknown account";
}

const when = (date: Date) => html`<time datetime="${date.toISOString()}">${date.toUTCString()}</time>`;

/** Tasks → plan versions → approvals → runs, newest task first. */
export function workspacePage(view: WorkspaceView): SafeHtml {
  const base = `/workspaces/${view.workspace.id}`;
  return html`<h1>${view.workspace.accountLogin}</h1>
<p>Status: ${view.workspace.status} · your role: ${view.role === "admin" ? "administrator" : "member"} ·
<a href="${base}/audit">Audit log</a></p>
${
  view.failedDeliveries.length === 0
    ? ""
    : html`<section class="problem" aria-labelledby="failed-deliveries">
<h2 id="failed-deliveries">Events Amistio gave up on</h2>
<p>Amistio tried these GitHub events several times and stopped. Type the command again on the issue, or ask the operator to
replay them (<code>npm run deliveries -- replay &lt;delivery&gt;</code>).</p>
<table>
<caption>Failed deliveries (the ${view.failedDeliveries.length} most recent)</caption>
<thead><tr><th scope="col">Received</th><th scope="col">Event</th><th scope="col">Delivery</th><th scope="col">Last error</th></tr></thead>
<tbody>
${view.failedDeliveries.map(
  (delivery) => html`<tr>
<td>${when(delivery.receivedAt)}</td>
<td>${delivery.event}${delivery.action ? `.${delivery.action}` : ""}</td>
<td class="mono">${delivery.id}</td>
<td>${(delivery.error ?? "").slice(0, 300)}</td>
</tr>`,
)}
</tbody>
</table>
</section>`
}
<h2 id="tokens">AI tokens this month</h2>
${
  view.tokens.repositories.length === 0
    ? html`<p>No AI planning tokens used since ${when(view.tokens.since)}.</p>`
    : html`<table>
<caption>Model tokens (input + output) used by plans since ${when(view.tokens.since)}, by repository</caption>
<thead><tr><th scope="col">Repository</th><th scope="col">Tokens</th></tr></thead>
<tbody>
${view.tokens.repositories.map((row) => html`<tr><td>${row.fullName}</td><td>${row.used.toLocaleString("en")}</td></tr>`)}
</tbody>
</table>`
}
<h2 id="tasks">Tasks</h2>
${view.tasks.length === 0 ? html`<p>${view.paged ? "No older tasks." : "No tasks yet: comment /amistio plan on an issue."}</p>` : ""}
${view.tasks.map((task) => {
  const versionById = new Map(task.planVersions.map((version) => [version.id, version.version]));
  return html`<article class="task" aria-labelledby="task-${task.id}">
<h3 id="task-${task.id}">${task.repository.fullName}#${task.number}: ${task.title}</h3>
<p class="muted">${task.isPullRequest ? "Pull request" : "Issue"} · state <strong>${task.state}</strong> ·
requested by ${personLabel(task.requester)} · ${when(task.createdAt)}</p>
${
  task.planVersions.length === 0
    ? html`<p>No plan yet.</p>`
    : html`<table>
<caption>Plan versions of ${task.repository.fullName}#${task.number}</caption>
<thead><tr><th scope="col">Version</th><th scope="col">Status</th><th scope="col">Hash</th><th scope="col">Approvals</th></tr></thead>
<tbody>
${task.planVersions.map(
  (version) => html`<tr>
<td>v${version.version} <span class="muted">(${version.source})</span></td>
<td>${version.status}</td>
<td class="mono">${version.contentHash.slice(0, 12)}</td>
<td>${
    version.approvals.length === 0
      ? html`<span class="muted">none</span>`
      : html`<ul>${version.approvals.map((approval) => html`<li>${personLabel(approval.approver)} (${approval.permission}), ${when(approval.createdAt)}</li>`)}</ul>`
  }</td>
</tr>`,
)}
</tbody>
</table>`
}
${
  task.runs.length === 0
    ? ""
    : html`<table>
<caption>Latest runs of ${task.repository.fullName}#${task.number}${task.runs.length === view.runsShown ? ` (the ${view.runsShown} most recent)` : ""}</caption>
<thead><tr><th scope="col">Started</th><th scope="col">Plan</th><th scope="col">Status</th><th scope="col">Runner</th><th scope="col">Links</th></tr></thead>
<tbody>
${task.runs.map((run) => {
  const workflow = safeHref(run.htmlUrl);
  const pull = safeHref(run.pullRequestUrl);
  return html`<tr>
<td>${when(run.createdAt)}</td>
<td>v${versionById.get(run.planVersionId) ?? "?"}</td>
<td>${run.status}${run.conclusion ? ` (${run.conclusion})` : ""}</td>
<td>${run.runnerName ?? html`<span class="muted">not assigned</span>`}</td>
<td>${workflow ? html`<a href="${workflow}">workflow run</a> ` : ""}${pull ? html`<a href="${pull}">pull request</a>` : ""}</td>
</tr>`;
})}
</tbody>
</table>`
}
</article>`;
})}
<nav class="pagination" aria-label="Task pages">
${view.paged ? html`<a href="${base}">Newest tasks</a>` : ""}
${view.next ? html`<a href="${base}?after=${encodeURIComponent(view.next)}">Older tasks</a>` : ""}
</nav>`;
}
