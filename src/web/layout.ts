import { html, type SafeHtml } from "./html.ts";
import { displayName, type Viewer } from "./viewer.ts";
import { webAssets } from "./web-assets.ts";

export interface LayoutOptions {
  title: string;
  /** The request path, to mark the current navigation entry. */
  path: string;
  viewer: Viewer | null;
  /** For the sign-out form, present whenever someone is signed in. */
  csrfToken: string | undefined;
  notice?: SafeHtml | string;
  body: SafeHtml;
}

/** Where GitHub serves avatars from: the one other origin pages may load anything (an image) from. */
export const GITHUB_AVATAR_ORIGIN = "https://avatars.githubusercontent.com";

/**
 * The avatar address to show, when it is one of GitHub's (https, its avatars host, no credentials or
 * port); anything else (another provider's picture, an Enterprise Server's, a crafted value) is not
 * shown and the login stands alone.
 */
export function githubAvatarUrl(value: string | null | undefined): string | undefined {
  if (!value) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.origin !== GITHUB_AVATAR_ORIGIN || url.username !== "" || url.password !== "") return undefined;
  // A small image is enough beside a login.
  url.searchParams.set("s", "48");
  url.hash = "";
  return url.href;
}

/** The page shell shared by every page: skip link, navigation, theme toggle, footer. */
export function layout(options: LayoutOptions): SafeHtml {
  const { viewer } = options;
  const avatar = viewer ? githubAvatarUrl(viewer.avatarUrl) : undefined;
  const link = (href: string, label: string) => {
    const current = options.path === href || (href !== "/" && options.path.startsWith(`${href}/`));
    return html`<li><a href="${href}"${current ? html` aria-current="page"` : ""}>${label}</a></li>`;
  };
  const links = viewer
    ? [
        link("/workspaces", "Workspaces"),
        link("/account", "Account"),
        link("/privacy/requests", "Privacy requests"),
        viewer.isAdmin ? link("/privacy/requests/manage", "Manage requests") : "",
      ]
    : [link("/", "Home"), link("/privacy", "Privacy policy")];
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${options.title} · Amistio</title>
<link rel="stylesheet" href="${webAssets.style.href}">
<script src="${webAssets.script.href}"></script>
</head>
<body>
<a class="skip" href="#main">Skip to main content</a>
<header class="site">
<div class="bar">
<a class="brand" href="/">Amistio</a>
<nav aria-label="Main"><ul>${links}</ul></nav>
<button type="button" id="theme-toggle" class="secondary" hidden>Change theme</button>
${
  viewer && options.csrfToken
    ? html`<div class="who">
${avatar ? html`<img class="avatar" src="${avatar}" alt="" width="24" height="24">` : ""}<span>Signed in as <strong id="signed-in-as">${signedInAs(viewer)}</strong></span>
<form class="inline" method="post" action="/auth/sign-out">
<input type="hidden" name="_csrf" value="${options.csrfToken}">
<button type="submit" class="secondary">Sign out</button>
</form>
</div>`
    : ""
}
</div>
</header>
<main id="main" tabindex="-1">
${options.notice ? html`<div class="card notice" role="status">${options.notice}</div>` : ""}
${options.body}
</main>
<footer class="site">
<div class="bar"><a href="/privacy">Privacy policy</a><span>Amistio: open-source, approved and audited work for coding agents.</span></div>
</footer>
</body>
</html>
`;
}

/** Who the header names: the GitHub login when there is one, else the person's own name or email. */
function signedInAs(viewer: Viewer): string {
  return viewer.login ?? displayName(viewer);
}
