// Site-wide behaviour that needs no framework: auto-submitting selects (the language switch).
document.querySelectorAll("select[data-autosubmit]").forEach((select) => {
  select.addEventListener("change", () => select.form.submit());
});
