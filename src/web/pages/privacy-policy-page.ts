import { html, type SafeHtml } from "../html.ts";

export interface PrivacyPolicyFacts {
  contact: string | undefined;
  retentionDays: number;
  oidcName: string | undefined;
  sessionCookie: string;
  sessionHours: number;
}

/**
 * This project's privacy policy. Every sentence describes what the code does; the promises it makes
 * are listed in shared/notes/privacy-promises.md and each is covered by a test.
 */
export function privacyPolicyPage(facts: PrivacyPolicyFacts): SafeHtml {
  const contactLine = facts.contact
    ? html`<p>Write to this instance's operator at <strong>${contact(facts.contact)}</strong> about anything on this page.</p>`
    : html`<p class="card notice error">The operator of this instance has not published a privacy contact yet
(the <code>AMISTIO_PRIVACY_CONTACT</code> setting). Until they do, use the privacy request form after signing in.</p>`;
  return html`<h1>Privacy policy</h1>
<p>Amistio is open-source software. This page describes what this instance of it does with data about you.
The organisation that runs this instance (the operator) is responsible for it.</p>

<h2 id="contact">Contact</h2>
${contactLine}

<h2 id="collected">What Amistio keeps</h2>
<ul>
<li><strong>Your account:</strong> your name, email address and avatar address as your sign-in provider gives them,
the provider's stable account id, and your GitHub login when you use GitHub.</li>
<li><strong>Sign-in identities:</strong> which provider you used and its account id, with the access and refresh tokens
it issued. Tokens are stored encrypted and are used only to list the workspaces you can reach and to revoke access
when you delete your account.</li>
<li><strong>Workspaces:</strong> which GitHub App installations you can reach and whether you administer them, as GitHub reports;
the installation's account, settings and repository references; and, to plan, a copy of the text files on each
repository's default branch (the repository index), deleted when the repository leaves the installation.</li>
<li><strong>Work in a workspace:</strong> tasks (issue or pull request references and titles), plans, approval history,
run status, run logs and events, and the audit trail.</li>
<li><strong>Privacy requests</strong> you file, and the operator's notes on them.</li>
<li><strong>Technical data</strong> needed to run and secure the service: the server's own operational and error logs.
Amistio does not store your browser, operating system or location in its database.</li>
</ul>
<p>Nothing else is stored. Amistio never sees or stores a password.</p>

<h2 id="use">How it is used</h2>
<p>To provide the service: to sign you in, connect runners, generate plans, coordinate agent runs, show run history,
keep the audit trail, prevent abuse and troubleshoot. Nothing is sold, and there are no advertising profiles.</p>

<h2 id="sign-in">Signing in</h2>
<p>You sign in with GitHub${facts.oidcName ? html`, or with ${facts.oidcName} (OpenID Connect)` : ""}. Amistio receives your name,
email, avatar and a stable account id. You can link both to one account from the account page.</p>

<h2 id="ai">AI providers</h2>
<p>A workspace chooses whether plans are written by an AI provider and which one. What is sent (the task's text,
project context, prompts, plan content, logs and feedback) depends on that configuration. Amistio does not
intentionally send passwords, payment data or authentication secrets: secrets found in the text are redacted before any
request leaves. AI output is marked as such, and nothing it proposes runs until people approve it.</p>

<h2 id="cookies">Cookies and local storage</h2>
<p>Amistio sets one cookie, <code>${facts.sessionCookie}</code>. It is encrypted, cannot be read by scripts (HttpOnly),
is not sent with requests from other sites (SameSite=Lax), is sent only over HTTPS when this instance is served over
HTTPS, and expires after ${facts.sessionHours} hours. It holds your session (a random id naming the session record Amistio
keeps on its server, with when it started, expires and was last used; signing out deletes that record),
the secret behind the forms' anti-forgery tokens (CSRF), and, for a few minutes while you sign in, the values that tie the
provider's answer to your browser.</p>
<p>Your browser's local storage holds only your interface preferences: <code>amistio.theme</code> (light or dark) and
<code>amistio.onboarding</code> (whether you dismissed the getting-started box). There is no analytics and no
third-party script or font on these pages. The only image from elsewhere is your own GitHub avatar, shown next to your
login while you are signed in: your browser loads it from GitHub's avatar server (avatars.githubusercontent.com), without
telling it which Amistio page you are on.</p>

<h2 id="third-parties">Who else receives data</h2>
<p>Only the services a workspace configures and the actions its people run: GitHub (source control and sign-in),
${facts.oidcName ? html`${facts.oidcName} (sign-in), ` : ""}the workspace's AI model provider, the workspace's own runners and the agent programs
they run.</p>

<h2 id="retention">How long data is kept</h2>
<p>Run logs and events, finished background jobs and webhook delivery records are removed automatically
${facts.retentionDays} days after they were made. Your account is kept until you delete it. Audit records are kept to keep
the security trail intact; they refer to people only by a random pseudonym and hold no name, login or email.</p>

<h2 id="deletion">Deleting your account</h2>
<p>You can delete your account yourself on the account page; deletion is immediate and cannot be undone. Amistio first
revokes the tokens it holds (at GitHub, and at ${facts.oidcName ?? "your OpenID Connect provider"} where it supports revocation),
then erases your account, identities, tokens, sign-in sessions, workspace memberships and privacy requests. Tasks and approvals
you took part in stay in their workspaces without any link to you, except that work still awaiting approval keeps your GitHub
account id until it is decided, so that its approval rules still hold (you still cannot approve your own request); it is cleared
then. Audit records keep only a pseudonym that nothing maps to you any more.</p>
<p><strong>Revoking Amistio's access in your GitHub${facts.oidcName ? html` or ${facts.oidcName}` : ""} settings does not delete your account by itself.</strong>
Delete it here as well.</p>

<h2 id="rights">Your rights</h2>
<p>You can access and export your data (one JSON file from the account page), correct your name and email, and restrict,
object to or erase the processing of your data. For anything the pages do not do for you, file a privacy request: it is
tracked from open through in progress to completed or rejected, and you can follow its status. Being signed in is how
Amistio knows the request is yours.</p>`;
}

function contact(value: string): SafeHtml {
  if (/^[^\s@]+@[^\s@]+$/.test(value)) return html`<a href="mailto:${value}">${value}</a>`;
  if (/^https?:\/\//.test(value)) return html`<a href="${value}">${value}</a>`;
  return html`${value}`;
}
