// The only script on Amistio's pages: the theme toggle and the onboarding box. Both choices live in
// local storage, which holds nothing else (see the privacy policy).
(() => {
  const THEME = "amistio.theme";
  const ONBOARDING = "amistio.onboarding";
  const root = document.documentElement;
  const read = (key) => {
    try {
      return localStorage.getItem(key);
    } catch {
      return null;
    }
  };
  const write = (key, value) => {
    try {
      localStorage.setItem(key, value);
    } catch {
      // Storage can be disabled; the choice then lasts for this page only.
    }
  };

  const saved = read(THEME);
  // Set before the body is parsed, so a dark page never flashes light.
  if (saved === "light" || saved === "dark") root.dataset.theme = saved;
  const current = () => root.dataset.theme || (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");

  document.addEventListener("DOMContentLoaded", () => {
    const toggle = document.getElementById("theme-toggle");
    if (toggle) {
      const label = () => {
        const next = current() === "dark" ? "light" : "dark";
        toggle.textContent = `Use ${next} theme`;
      };
      label();
      toggle.hidden = false;
      toggle.addEventListener("click", () => {
        const next = current() === "dark" ? "light" : "dark";
        root.dataset.theme = next;
        write(THEME, next);
        label();
      });
    }
    const onboarding = document.getElementById("onboarding");
    if (onboarding) {
      if (read(ONBOARDING) === "dismissed") onboarding.hidden = true;
      const dismiss = document.getElementById("onboarding-dismiss");
      if (dismiss) {
        dismiss.hidden = false;
        dismiss.addEventListener("click", () => {
          onboarding.hidden = true;
          write(ONBOARDING, "dismissed");
          // The focused button just disappeared: keep keyboard users in the page, not at its top.
          document.getElementById("main")?.focus();
        });
      }
    }
  });
})();
