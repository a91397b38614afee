import { html, type SafeHtml } from "../html.ts";

export interface WorkspaceRow {
  id: string;
  accountLogin: string;
  accountType: string;
  status: string;
  role: string;
  refreshedAt: Date;
}

export interface WorkspacesView {
  workspaces: WorkspaceRow[];
  /** False when the person has no GitHub identity: GitHub decides which workspaces they see. */
  hasGithub: boolean;
  githubConfigured: boolean;
  csrfToken: string;
}

export function workspacesPage(view: WorkspacesView): SafeHtml {
  return html`<h1>Your workspaces</h1>
<section id="onboarding" class="card notice" aria-labelledby="onboarding-heading">
<h2 id="onboarding-heading">Getting started</h2>
<ol>
<li>Install the Amistio GitHub App on an organisation or your own account: each installation is a workspace.</li>
<li>Add the runner workflow to a repository (see the project's docs) and comment <code>/amistio plan</code> on an issue.</li>
<li>Approve the plan with <code>/amistio approve</code>; follow its runs and the audit log here.</li>
</ol>
<button type="button" id="onboarding-dismiss" class="secondary" hidden>Dismiss</button>
</section>
${
  view.workspaces.length === 0
    ? html`<p>You cannot reach any workspace yet.${view.hasGithub ? "" : " Workspaces come from GitHub: link your GitHub account on the account page."}</p>`
    : html`<table>
<caption>Installations of Amistio you can reach, as GitHub reported</caption>
<thead><tr><th scope="col">Workspace</th><th scope="col">Type</th><th scope="col">Your role</th><th scope="col">Status</th></tr></thead>
<tbody>
${view.workspaces.map(
  (workspace) => html`<tr>
<td><a href="/workspaces/${workspace.id}">${workspace.accountLogin}</a></td>
<td>${workspace.accountType === "User" ? "Personal account" : "Organisation"}</td>
<td>${workspace.role === "admin" ? "Administrator" : "Member"}</td>
<td>${workspace.status}</td>
</tr>`,
)}
</tbody>
</table>`
}
${
  view.hasGithub && view.githubConfigured
    ? html`<form method="post" action="/workspaces/refresh">
<input type="hidden" name="_csrf" value="${view.csrfToken}">
<button type="submit" class="secondary">Refresh from GitHub</button>
</form>`
    : ""
}`;
}
