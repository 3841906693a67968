// Progressive enhancement only: every form works without this file.
// Moves the focus to the first field with an error, so a screen reader hears it at once.
document.addEventListener("DOMContentLoaded", function () {
  var invalid = document.querySelector("[aria-invalid=true]");
  if (invalid) { invalid.focus(); }
});
