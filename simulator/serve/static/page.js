// crisis-sim serve: the page's buttons (no inline script: the Content-Security-Policy allows
// scripts from this server only). "Open again" / "Try again" reload the page without the query.
window.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("button.restart").forEach((button) => {
    button.addEventListener("click", () => {
      window.location.href = window.location.pathname;
    });
  });
});
