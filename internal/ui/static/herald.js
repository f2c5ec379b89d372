// Herald's pages work without JavaScript; this only adds conveniences.
// It is a file of its own because the Content-Security-Policy allows no
// inline script.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // A select marked data-autosubmit submits its form when it changes (the
  // form's own button is there for browsers without JavaScript).
  for (const el of document.querySelectorAll("select[data-autosubmit]")) {
    el.addEventListener("change", () => el.form.submit());
  }
});
